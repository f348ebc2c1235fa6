"""Shared fixtures: the real services every run uses.

`DATABASE_URL` (PostgreSQL) and `REDIS_URL` name the real servers, by default the machine's own
at 127.0.0.1; a suite that needs one fails when it does not answer, it is never skipped.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
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
from tests.servers import free_port

# The machine's own servers (SPEC; `.ci/run` starts them when they are not answering): every
# run exercises PostgreSQL and Redis, none skips them.
DEFAULT_SERVICES = {
    "DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def _service(variable: str, prefix: tuple[str, ...]) -> str:
    value = os.environ.get(variable) or DEFAULT_SERVICES[variable]
    if not value.startswith(prefix):
        pytest.fail(f"{variable}={value!r} must name a real {prefix[0]} server")
    return value


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """Base URL of the real PostgreSQL server (database `test`)."""
    url = _service("DATABASE_URL", ("postgresql", "postgres"))
    if url.startswith(("postgres://", "postgresql://")):
        url = "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the real Redis server."""
    return _service("REDIS_URL", ("redis://", "rediss://"))


@pytest.fixture
def unique_prefix() -> str:
    """A prefix no other test (or concurrent run) uses: for Redis keys and schema names."""
    return f"t{uuid.uuid4().hex[:12]}"


# ---------------------------------------------------------------------------------------
# The store: every store-backed test runs on SQLite and on PostgreSQL. SQLite gets a fresh file
# per test; PostgreSQL a fresh schema per test (named by `unique_prefix`), dropped afterwards, so
# concurrent runs never see each other's rows.

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


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated to the newest revision; tests get copies (migrating each costs
    a second)."""
    path = tmp_path_factory.mktemp("template") / "store.db"
    # In a thread of its own: this may be first requested from inside a running event loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, upgrade(f"sqlite+aiosqlite:///{path}")).result()
    for suffix in ("-wal", "-shm"):
        assert not path.with_name(path.name + suffix).exists(), "template not checkpointed"
    return path


@pytest.fixture
async def database(empty_database: Database, request: pytest.FixtureRequest) -> Database:
    """A database migrated to the newest revision."""
    if empty_database.kind == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = Path(empty_database.url.removeprefix("sqlite+aiosqlite:///"))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, target)
    else:
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


# ---------------------------------------------------------------------------------------
# A redis-server of a test's own, to stop mid-test (outage behaviour).


class RedisServer:
    """A throwaway redis-server this test can stop and start again on the same port."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not on PATH")
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        # Fixed arguments, no shell: nothing untrusted reaches the command line.
        self.process = subprocess.Popen(  # noqa: S603
            [
                self.binary,
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--daemonize", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while not await self._answers():
            if time.monotonic() > deadline:
                pytest.fail(f"redis-server on port {self.port} did not start")
            await asyncio.sleep(0.02)

    async def _answers(self) -> bool:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return False
        try:
            writer.write(b"PING\r\n")
            return await reader.readline() == b"+PONG\r\n"
        finally:
            writer.close()
            await writer.wait_closed()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=5)
            self.process = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        yield server
    finally:
        server.stop()
