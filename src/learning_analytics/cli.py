"""The `learning-analytics` command."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from learning_analytics.application.gamification import AwardPoints
from learning_analytics.application.sync import SourceReport, SyncSources
from learning_analytics.config import ConfigurationError, Settings, get_settings
from learning_analytics.domain.gamification.rules import RuleTable
from learning_analytics.infrastructure.cache.redis import RedisResponseCache
from learning_analytics.infrastructure.db import migrate as migrations
from learning_analytics.infrastructure.db.engine import create_engine, create_session_factory
from learning_analytics.infrastructure.db.gamification import SqlGamificationRepository
from learning_analytics.infrastructure.db.repositories import (
    SqlRecordWriter,
    SqlSyncStateRepository,
)
from learning_analytics.infrastructure.upstreams.catalog import rest_collections
from learning_analytics.infrastructure.upstreams.http import UpstreamPolicy, UpstreamRegistry
from learning_analytics.presentation.app import create_app
from learning_analytics.presentation.observability import configure_logging
from learning_analytics.presentation.state import SystemClock
from learning_analytics.simulator.app import create_simulator_app
from learning_analytics.simulator.population import Population, demo_logins, generate_population

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


@app.command()
def sync() -> None:
    """Pull every configured upstream into the store once (incremental; exit 1 if a source
    failed, after the others finished)."""
    settings = _settings()
    reports = asyncio.run(_sync(settings))
    if not reports:
        console.print("[yellow]no upstream is configured (set DIRECTORY_URL, ...)[/yellow]")
        raise typer.Exit(code=2)
    if not all(report.ok for report in reports):
        raise typer.Exit(code=1)


async def _sync(settings: Settings) -> list[SourceReport]:
    engine = create_engine(settings.database_url, connect_args=settings.database_connect_args)
    sessions = create_session_factory(engine)
    cache = (
        RedisResponseCache.from_url(settings.redis_url, prefix=settings.redis_key_prefix)
        if settings.redis_url
        else None
    )
    registry = UpstreamRegistry(
        settings.upstream_urls,
        policy=UpstreamPolicy(total_timeout=max(settings.upstream_timeout_seconds, 5.0)),
        service_token=settings.service_token,
    )
    try:
        sources = rest_collections(registry)
        if not sources:
            return []
        use_case = SyncSources(
            sources=sources,
            writer=SqlRecordWriter(sessions),
            state=SqlSyncStateRepository(sessions),
            clock=SystemClock(),
            cache=cache,
            after_write=AwardPoints(
                store=SqlGamificationRepository(sessions),
                rules=RuleTable.with_overrides(settings.gamification_rules),
                cache=cache,
            ).since,
        )
        with Progress(
            TextColumn("[bold]sync[/bold] {task.description:<34}"),
            BarColumn(),
            TextColumn("{task.completed:>9} rows"),
            console=console,
        ) as bar:
            tasks = {source.name: bar.add_task(source.name, total=None) for source in sources}

            def advance(source: str, rows: int) -> None:
                bar.update(tasks[source], advance=rows)

            reports = await use_case.execute(progress=advance)
    finally:
        await registry.close()
        if cache is not None:
            await cache.close()
        await engine.dispose()
    _print_sync_summary(reports)
    return reports


def _print_sync_summary(reports: list[SourceReport]) -> None:
    table = Table(title="Sync")
    for column in ("source", "status", "pages", "rows", "seconds", "error"):
        table.add_column(
            column, justify="right" if column in {"pages", "rows", "seconds"} else "left"
        )
    for report in reports:
        table.add_row(
            report.source,
            "[green]ok[/green]" if report.ok else "[red]failed[/red]",
            str(report.pages),
            str(report.rows),
            f"{report.seconds:.2f}",
            report.error or "",
        )
    console.print(table)
    total = sum(report.rows for report in reports)
    failed = [report.source for report in reports if not report.ok]
    console.print(
        f"{total} rows written"
        + (f"; failed: {', '.join(failed)} (retried next round)" if failed else "")
    )


@app.command()
def simulate(
    host: HostOption = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the simulated platform")] = 8100,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic population")] = 7,
    learners: Annotated[int, typer.Option(min=1, help="Number of learners")] = 200,
    history_days: Annotated[int, typer.Option(min=7, help="Days of history")] = 120,
    password: Annotated[str, typer.Option(help="Password of every simulated user")] = "demo",
) -> None:
    """Serve the simulated platform (the upstream services) on one port."""
    _settings()
    population = _generate(
        seed=seed, learners=learners, history_days=history_days, password=password
    )
    asyncio.run(_server(create_simulator_app(population), host=host, port=port).serve())


@app.command()
def demo(
    host: HostOption = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the API")] = 8000,
    simulator_port: Annotated[int, typer.Option(help="Port of the simulated platform")] = 8100,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic population")] = 7,
    learners: Annotated[int, typer.Option(min=1, help="Number of learners")] = 200,
) -> None:
    """What `make run` does: migrate, fill the store from the simulated platform, start the
    simulator and the API, and print the demo logins."""
    settings = _settings()
    if settings.is_production:
        console.print("[red]`demo` is for demo mode only (APP_ENV=demo)[/red]")
        raise typer.Exit(code=2)
    asyncio.run(
        _demo(settings, host=host, port=port, sim_port=simulator_port, seed=seed, learners=learners)
    )


def _generate(*, seed: int, learners: int, history_days: int, password: str) -> Population:
    with console.status(f"generating {learners} simulated learners (seed {seed})"):
        return generate_population(
            seed=seed,
            learners=learners,
            history_days=history_days,
            anchor=datetime.now(UTC),
            password=password,
        )


async def _demo(
    settings: Settings, *, host: str, port: int, sim_port: int, seed: int, learners: int
) -> None:
    await migrations.upgrade(settings.database_url, schema=settings.database_schema)
    population = _generate(seed=seed, learners=learners, history_days=120, password="demo")
    sim_url = f"http://{host}:{sim_port}"
    simulator = _server(create_simulator_app(population), host=host, port=sim_port)
    simulator_task = asyncio.create_task(simulator.serve())
    while not simulator.started and not simulator_task.done():
        await asyncio.sleep(0.05)
    # The demo is an EDUCORE platform of its own: every upstream URL points into the simulator
    # (unless set explicitly), and the store is filled the way production fills it: by sync.
    simulated = {
        "auth_service_url": f"{sim_url}/auth",
        "directory_url": f"{sim_url}/directory",
        "course_builder_url": f"{sim_url}/course-builder",
        "content_studio_url": f"{sim_url}/content-studio",
        "assessment_url": f"{sim_url}/assessment",
        "skills_engine_url": f"{sim_url}/skills-engine",
        "learner_ai_url": f"{sim_url}/learner-ai",
        "devlab_url": f"{sim_url}/devlab",
        "rag_url": f"{sim_url}/rag",
    }
    api_settings = settings.model_copy(
        update={name: getattr(settings, name) or url for name, url in simulated.items()}
    )
    try:
        await _sync(api_settings)
        await _award_everyone(api_settings)
        _print_logins(population, api_url=f"http://{host}:{port}", sim_url=sim_url)
        await _server(create_app(api_settings), host=host, port=port).serve()
    finally:
        simulator.should_exit = True
        await simulator_task


async def _award_everyone(settings: Settings) -> None:
    """Points for every learner in the store (a full replay adds only what is missing), so a
    demo store synced before gamification existed gets its ledger too."""
    engine = create_engine(settings.database_url, connect_args=settings.database_connect_args)
    try:
        store = SqlGamificationRepository(create_session_factory(engine))
        rules = RuleTable.with_overrides(settings.gamification_rules)
        report = await AwardPoints(store=store, rules=rules).replay()
    finally:
        await engine.dispose()
    console.print(f"points: {report.added} new awards for {report.users} users")


def _print_logins(population: Population, *, api_url: str, sim_url: str) -> None:
    table = Table(title="Demo logins (password: demo)")
    table.add_column("role")
    table.add_column("email")
    table.add_column("user id")
    for label, email in demo_logins(population).items():
        user = population.user_by_email(email)
        table.add_row(label, email, user.id if user else "")
    console.print(table)
    console.print(f"API: {api_url}   docs: {api_url}/docs   simulated platform: {sim_url}")
    console.print(
        f"try: curl -s -X POST {api_url}/api/v1/auth/login -H 'content-type: application/json' "
        """-d '{"email":"learner@org1.example","password":"demo"}'"""
    )


def main() -> None:
    app()
