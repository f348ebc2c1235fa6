"""Sync throughput (issue 3 benchmark): events/s from the simulator into the store, end to end.

Starts the simulated platform on a loopback port (its own thread and event loop), migrates a
fresh PostgreSQL schema (or SQLite file), runs one full sync round of every collection and
reports rows/s per source and in total, with where the time goes (HTTP+validation vs writes).

    DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/sync_throughput.py --learners 10000

`--transport educore` pulls the same platform through its fake Coordinator instead (signed
envelopes both ways, the siblings' formats, one source at a time as the educore transport runs).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import uvicorn
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from learning_analytics.application.ports import RecordWriter, SourcePage
from learning_analytics.application.sync import SyncSources
from learning_analytics.infrastructure.db.engine import create_engine, create_session_factory
from learning_analytics.infrastructure.db.migrate import upgrade
from learning_analytics.infrastructure.db.repositories import (
    SqlRecordWriter,
    SqlSyncStateRepository,
)
from learning_analytics.infrastructure.educore.catalog import coordinator_registry, educore_sources
from learning_analytics.infrastructure.educore.coordinator import DirectoryToken
from learning_analytics.infrastructure.educore.signing import (
    EnvelopeSigner,
    SignatureVerifier,
    generate_key_pair,
)
from learning_analytics.infrastructure.upstreams.catalog import FACTORIES, rest_collections
from learning_analytics.infrastructure.upstreams.http import UpstreamPolicy, UpstreamRegistry
from learning_analytics.presentation.state import SystemClock
from learning_analytics.simulator.app import create_simulator_app
from learning_analytics.simulator.coordinator import CoordinatorConfig
from learning_analytics.simulator.population import generate_population


class TimedSource:
    """Wraps a collection to split its time into fetching (HTTP + validation) and writing."""

    def __init__(self, inner: Any, clocks: dict[str, float]) -> None:
        self.inner = inner
        self.name = inner.name
        self.clocks = clocks

    async def fetch(self, **kwargs: Any) -> SourcePage:
        started = time.perf_counter()
        try:
            return await self.inner.fetch(**kwargs)  # type: ignore[no-any-return]
        finally:
            self.clocks["fetch"] += time.perf_counter() - started

    async def write(self, writer: RecordWriter, page: SourcePage, *, ingested_at: datetime) -> int:
        started = time.perf_counter()
        try:
            return await self.inner.write(writer, page, ingested_at=ingested_at)  # type: ignore[no-any-return]
        finally:
            self.clocks["write"] += time.perf_counter() - started


OURS_PRIVATE, OURS_PUBLIC = generate_key_pair()
COORDINATOR_PRIVATE, COORDINATOR_PUBLIC = generate_key_pair()
SERVICE = "learning-analytics-service"
TOKEN = "bench-directory-token"  # noqa: S105 (the fake Directory's admin token)


COORDINATOR = CoordinatorConfig(
    caller_keys={SERVICE: OURS_PUBLIC}, signing_key=COORDINATOR_PRIVATE, directory_token=TOKEN
)


def serve_simulator(learners: int) -> tuple[str, uvicorn.Server, threading.Thread]:
    started = time.perf_counter()
    population = generate_population(learners=learners, anchor=datetime.now(UTC))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_simulator_app(population, coordinator=COORDINATOR), host="127.0.0.1",
                       port=port, log_config=None, access_log=False)
    )  # fmt: skip
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    print(f"simulator: {learners} learners ready in {time.perf_counter() - started:.1f} s")
    return f"http://127.0.0.1:{port}", server, thread


async def run(database_url: str, simulator: str, *, transport: str) -> None:
    schema = None
    connect_args: dict[str, Any] = {}
    if database_url.startswith("postgresql"):
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        connect_args = {"server_settings": {"search_path": schema}}
    await upgrade(database_url, schema=schema)
    engine = create_engine(database_url, pool_size=5, connect_args=connect_args)
    sessions = create_session_factory(engine)
    clocks = {"fetch": 0.0, "write": 0.0}
    policy = UpstreamPolicy(total_timeout=120, read_timeout=120, max_response_bytes=2**30)
    if transport == "educore":
        registry = coordinator_registry(f"{simulator}/coordinator", policy=policy)
        inner: list[Any] = educore_sources(
            registry,
            signer=EnvelopeSigner(OURS_PRIVATE, SERVICE),
            verifier=SignatureVerifier(COORDINATOR_PUBLIC),
            clock=SystemClock(),
            directory_token=DirectoryToken(value=TOKEN),
        )
    else:
        urls = {name: f"{simulator}/{name}" for name in FACTORIES}
        registry = UpstreamRegistry(urls, policy=policy)
        inner = list(rest_collections(registry))
    try:
        sources = [TimedSource(source, clocks) for source in inner]
        sync = SyncSources(
            sources=sources,
            writer=SqlRecordWriter(sessions),
            state=SqlSyncStateRepository(sessions),
            clock=SystemClock(),
            concurrency=1 if transport == "educore" else 3,
        )
        started = time.perf_counter()
        reports = await sync.execute()
        elapsed = time.perf_counter() - started
    finally:
        await registry.close()
        await engine.dispose()
        if schema:
            plain = create_async_engine(database_url)
            async with plain.begin() as connection:
                await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            await plain.dispose()
    total = sum(r.rows for r in reports)
    events = sum(r.rows for r in reports if r.source == "content-studio.learning-events")
    print(f"\n{'source':<36}{'rows':>10}{'pages':>7}{'seconds':>9}{'rows/s':>10}")
    for r in reports:
        print(f"{r.source:<36}{r.rows:>10}{r.pages:>7}{r.seconds:>9.2f}{r.rows / r.seconds:>10.0f}")
    print(f"\nall sources: {total} rows in {elapsed:.2f} s = {total / elapsed:,.0f} rows/s "
          f"(learning events: {events})")  # fmt: skip
    busy = clocks["fetch"] + clocks["write"]
    how = "1 source at a time" if transport == "educore" else "3 concurrent sources"
    print(f"time in fetch (HTTP + JSON + validation + mapping): {clocks['fetch']:.1f} s "
          f"({clocks['fetch'] / busy:.0%}); in writes (upserts): {clocks['write']:.1f} s "
          f"({clocks['write'] / busy:.0%}), summed over {how}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--learners", type=int, default=10000)
    parser.add_argument("--transport", choices=["rest", "educore"], default="rest")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./var/bench-sync.db")
    url, server, thread = serve_simulator(args.learners)
    try:
        asyncio.run(run(database_url, url, transport=args.transport))
    finally:
        server.should_exit = True
        thread.join(timeout=10)


if __name__ == "__main__":
    main()
