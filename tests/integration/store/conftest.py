"""The store's databases: every store test runs on SQLite and on PostgreSQL.

SQLite gets a fresh file per test; PostgreSQL a fresh schema per test (named by `unique_prefix`),
dropped afterwards, so concurrent runs never see each other's rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as create_plain_engine
from sqlalchemy.pool import NullPool

from learning_analytics.infrastructure.db.engine import create_engine, create_session_factory
from learning_analytics.infrastructure.db.migrate import upgrade

DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@dataclass(frozen=True)
class Database:
    """Where one test's store lives: a URL and, on PostgreSQL, the schema to work in."""

    kind: str  # sqlite | postgres
    url: str
    schema: str | None

    @property
    def connect_args(self) -> dict[str, Any]:
        if self.schema is None:
            return {}
        return {"server_settings": {"search_path": self.schema}}


async def _drop_schema(url: str, schema: str) -> None:
    engine = create_plain_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        await engine.dispose()


@pytest.fixture(params=DATABASES)
async def empty_database(
    request: pytest.FixtureRequest, tmp_path: Path, unique_prefix: str
) -> AsyncIterator[Database]:
    """A database nothing has been migrated into yet."""
    if request.param == "sqlite":
        yield Database("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'var' / 'store.db'}", None)
        return
    url: str = request.getfixturevalue("postgres_url")
    try:
        yield Database("postgres", url, unique_prefix)
    finally:
        await _drop_schema(url, unique_prefix)


@pytest.fixture
async def database(empty_database: Database) -> Database:
    """A database migrated to the newest revision."""
    await upgrade(empty_database.url, schema=empty_database.schema)
    return empty_database


@pytest.fixture
def database_url(database: Database) -> str:
    """URL of the migrated database (on PostgreSQL, connect with `database_connect_args`)."""
    return database.url


@pytest.fixture
def database_connect_args(database: Database) -> dict[str, Any]:
    """Driver arguments that put a connection in the test's schema (empty on SQLite)."""
    return database.connect_args


@pytest.fixture
async def engine(
    database_url: str, database_connect_args: dict[str, Any]
) -> AsyncIterator[AsyncEngine]:
    the_engine = create_engine(database_url, pool_size=5, connect_args=database_connect_args)
    try:
        yield the_engine
    finally:
        await the_engine.dispose()


@pytest.fixture
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(engine)
