"""Where a cache hit's time goes: the velocity endpoint driven in process (no network, no
server), timed and then profiled with cProfile.

    .venv/bin/python bench/hit_profile.py --requests 3000 --top 25
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import secrets
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from learning_analytics.config import Settings
from learning_analytics.infrastructure.auth.tokens import TokenIssuer
from learning_analytics.infrastructure.db.engine import create_engine, create_session_factory
from learning_analytics.infrastructure.db.migrate import upgrade
from learning_analytics.infrastructure.db.repositories import SqlRecordWriter
from learning_analytics.presentation.app import create_app
from learning_analytics.simulator.population import DEMO_LEARNER_EMAIL, generate_population
from learning_analytics.simulator.seed import load_population


async def main(requests: int, top: int) -> None:
    url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'store.db'}"
    await upgrade(url)
    population = generate_population(learners=50, anchor=datetime.now(UTC))
    engine = create_engine(url)
    await load_population(
        SqlRecordWriter(create_session_factory(engine)), population, ingested_at=datetime.now(UTC)
    )
    await engine.dispose()
    learner = population.user_by_email(DEMO_LEARNER_EMAIL)
    assert learner is not None
    secret = secrets.token_hex(32)
    settings = Settings(
        DATABASE_URL=url, REDIS_URL=None, JWT_SECRET=secret, RATE_LIMIT_STANDARD=10**9,
        LOG_LEVEL="WARNING", SYNC_INTERVAL_SECONDS=0,
    )  # fmt: skip
    app = create_app(settings)
    token, _ = TokenIssuer(secret).issue(
        subject=learner.id, email=learner.email, roles=["learner"],
        organization_id=learner.organization_id, now=datetime.now(UTC),
    )  # fmt: skip
    path = f"/api/v1/analytics/learner/velocity/{learner.id}"
    headers = [(b"host", b"api"), (b"authorization", f"Bearer {token}".encode())]

    async with app.router.lifespan_context(app):

        async def one() -> None:
            scope: dict[str, Any] = {
                "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
                "query_string": b"", "root_path": "", "headers": headers,
                "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {},
            }  # fmt: skip
            sent: list[dict[str, Any]] = []

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message: dict[str, Any]) -> None:
                sent.append(message)

            await app(scope, receive, send)
            assert sent[0]["status"] == 200, sent

        await one()  # the miss that fills the cache
        started = time.perf_counter()
        for _ in range(requests):
            await one()
        elapsed = time.perf_counter() - started
        print(f"{requests} cache hits in process: {elapsed / requests * 1e6:.0f} µs each "
              f"({requests / elapsed:,.0f} req/s on one core, no network)")  # fmt: skip
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(requests):
            await one()
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(top)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.top))
