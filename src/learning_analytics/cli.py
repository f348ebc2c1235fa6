"""The `learning-analytics` command."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from learning_analytics.config import ConfigurationError, Settings, get_settings
from learning_analytics.infrastructure.db import migrate as migrations
from learning_analytics.presentation.app import create_app
from learning_analytics.presentation.observability import configure_logging

app = typer.Typer(help="Learning Analytics: analytics API for a corporate learning platform.")
console = Console(stderr=True)

HostOption = Annotated[str, typer.Option(help="Interface to bind")]


def _settings() -> Settings:
    settings = get_settings()
    configure_logging(level=settings.log_level, json_logs=settings.log_json)
    return settings


def _server(asgi_app: object, *, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        asgi_app,  # type: ignore[arg-type]
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        timeout_graceful_shutdown=10,
    )
    return uvicorn.Server(config)


@app.command()
def serve(
    host: HostOption = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
) -> None:
    """Serve the API with configuration from the environment."""
    settings = _settings()
    try:
        api = create_app(settings)
    except ConfigurationError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from exc
    asyncio.run(_server(api, host=host, port=port).serve())


@app.command()
def migrate() -> None:
    """Apply the database migrations (DATABASE_URL) up to the newest."""
    settings = _settings()
    asyncio.run(migrations.upgrade(settings.database_url, schema=settings.database_schema))
    console.print("[green]database is at the newest migration[/green]")


def main() -> None:
    app()


_ = (datetime, UTC, Table)
