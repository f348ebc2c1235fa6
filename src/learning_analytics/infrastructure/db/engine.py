"""The database engine: embedded SQLite for a laptop, PostgreSQL in production."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

# How long an SQLite writer waits for another writer's lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 5000


def is_sqlite_url(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "sqlite"


def sqlite_file(database_url: str) -> Path | None:
    """The database file an SQLite URL names, or None for an in-memory database."""
    database = make_url(database_url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _set_sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets readers run while one writer writes; it persists in the file.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def create_engine(
    database_url: str, *, pool_size: int = 10, connect_args: dict[str, Any] | None = None
) -> AsyncEngine:
    """An async engine for `database_url` (`sqlite+aiosqlite://...` or `postgresql+asyncpg://...`).

    SQLite: the file's folder is created, and every connection gets WAL, foreign keys and a busy
    timeout. PostgreSQL: a pool of `pool_size` connections, checked before use.
    """
    args = dict(connect_args or {})
    if is_sqlite_url(database_url):
        path = sqlite_file(database_url)
        if path is None:
            # One shared connection, or every session would see its own empty database.
            engine = _create_async_engine(
                database_url,
                connect_args={"check_same_thread": False, **args},
                poolclass=StaticPool,
            )
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            engine = _create_async_engine(database_url, connect_args=args, pool_size=pool_size)
        event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
        return engine
    return _create_async_engine(
        database_url, connect_args=args, pool_size=pool_size, pool_pre_ping=True
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
