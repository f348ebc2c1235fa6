"""Alembic, driven from code: no alembic.ini, the same migrations on SQLite and PostgreSQL.

`upgrade(url)` is what `learning-analytics migrate` runs. With `schema` (PostgreSQL only) the
migrations run inside that schema, created when missing, so tests can isolate themselves.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from learning_analytics.infrastructure.db.engine import is_sqlite_url, sqlite_file

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")

T = TypeVar("T")


class MigrationSetupError(ValueError):
    """The migrations cannot run as asked (e.g. a schema on SQLite, or an unsafe schema name)."""


def alembic_config(connection: Connection | None = None) -> Config:
    """A configuration pointing at the packaged migrations; env.py migrates `connection`."""
    config = Config()
    # ConfigParser interpolation would read a "%" in the path as an interpolation marker.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade(database_url: str, *, schema: str | None = None, revision: str = "head") -> None:
    """Migrate the database (or `schema` in it) to `revision`, by default the newest."""

    def run(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), revision)

    await _with_connection(database_url, schema=schema, create_schema=True, work=run)


async def current_revision(database_url: str, *, schema: str | None = None) -> str | None:
    """The revision the database (or `schema`) is at; None before the first migration."""

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    return await _with_connection(database_url, schema=schema, create_schema=False, work=read)


async def _with_connection(
    database_url: str,
    *,
    schema: str | None,
    create_schema: bool,
    work: Callable[[Connection], T],
) -> T:
    sqlite = is_sqlite_url(database_url)
    if schema is not None and sqlite:
        raise MigrationSetupError("SQLite has no schemas: use another database file instead")
    if sqlite:
        path = sqlite_file(database_url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
    # A connection of its own, closed afterwards: `SET search_path` must not leak into a pool.
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            if schema is not None:
                await _enter_schema(connection, schema, create=create_schema)
            return await connection.run_sync(work)
    finally:
        await engine.dispose()


async def _enter_schema(connection: AsyncConnection, schema: str, *, create: bool) -> None:
    if not _SCHEMA_NAME.fullmatch(schema):
        raise MigrationSetupError(f"unsafe schema name {schema!r}")
    quoted = connection.dialect.identifier_preparer.quote_identifier(schema)
    if create:
        await connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {quoted}"))
    await connection.execute(text(f"SET search_path TO {quoted}"))
