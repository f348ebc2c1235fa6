"""Latency of the three predictive endpoints, computed (cache bypassed) and from the cache.

Fills a fresh SQLite store (a temporary directory) with a simulated population of `--learners`
learners and 365 days of history, builds the app in process (`create_app`, no upstream URLs: the
on-demand refresh costs nothing; the shipped default model), and drives
`GET /api/v1/analytics/predictive/{drop-off-risk,forecast,recommendations}/{userId}` through the
ASGI app (httpx2.ASGITransport, no network) for the demo learner (one open enrollment, a year of
history). Computed: every request sends `Cache-Control: no-cache` as the subject (the serving
pipeline recomputes: store read, features, model or bootstrap, rendering); cached: the same
requests without it. Limits are raised so nothing is refused.

    .venv/bin/python bench/predictive_cold.py --learners 50 --runs 50
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2

from learning_analytics.config import Settings
from learning_analytics.infrastructure.auth.tokens import TokenIssuer
from learning_analytics.infrastructure.db.engine import create_engine, create_session_factory
from learning_analytics.infrastructure.db.migrate import upgrade
from learning_analytics.infrastructure.db.repositories import SqlRecordWriter
from learning_analytics.presentation.app import create_app
from learning_analytics.simulator.population import DEMO_LEARNER_EMAIL, generate_population
from learning_analytics.simulator.seed import load_population

HISTORY_DAYS = 365
PREFIX = "/api/v1/analytics/predictive"
KINDS = ("drop-off-risk", "forecast", "recommendations")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


async def run(args: argparse.Namespace) -> None:
    population = generate_population(
        seed=args.seed, learners=args.learners, history_days=HISTORY_DAYS, anchor=datetime.now(UTC)
    )
    url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'store.db'}"
    await upgrade(url, schema=None)
    engine = create_engine(url)
    try:
        await load_population(
            SqlRecordWriter(create_session_factory(engine)), population,
            ingested_at=datetime.now(UTC),
        )  # fmt: skip
    finally:
        await engine.dispose()
    user = population.user_by_email(DEMO_LEARNER_EMAIL)
    assert user is not None
    secret = secrets.token_hex(32)
    settings = Settings(
        DATABASE_URL=url, REDIS_URL=None, JWT_SECRET=secret, AUTH_SERVICE_URL=None,
        MOCK_FALLBACK=False, RATE_LIMIT_STANDARD=10**9, RATE_LIMIT_PREDICTIVE=10**9,
        LOG_LEVEL="WARNING", SYNC_INTERVAL_SECONDS=0,
    )  # fmt: skip
    app = create_app(settings, signing_secret=secret)
    token, _ = TokenIssuer(secret).issue(
        subject=user.id, email=user.email, roles=["learner"],
        organization_id=user.organization_id, now=datetime.now(UTC),
    )  # fmt: skip
    bearer = {"Authorization": f"Bearer {token}"}
    print(f"{args.learners} learners x {HISTORY_DAYS} days (seed {args.seed}); demo learner "
          f"{user.id}; {args.runs} requests per endpoint and mode")  # fmt: skip
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app, raise_app_exceptions=True)
        async with httpx2.AsyncClient(transport=transport, base_url="http://api") as client:

            async def call(kind: str, headers: dict[str, str]) -> float:
                started = time.perf_counter()
                response = await client.get(f"{PREFIX}/{kind}/{user.id}", headers=headers)
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    raise SystemExit(f"{kind}: {response.status_code} {response.text[:300]}")
                return elapsed

            print(f"\n{'endpoint':<18}{'mode':<10}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
            for kind in KINDS:
                for mode, headers in (
                    ("computed", {**bearer, "Cache-Control": "no-cache"}),
                    ("cached", bearer),
                ):
                    for _ in range(args.warmup):
                        await call(kind, headers)
                    ms = [await call(kind, headers) * 1000 for _ in range(args.runs)]
                    print(f"{kind:<18}{mode:<10}{statistics.median(ms):>9.1f}"
                          f"{percentile(ms, 0.95):>9.1f}{max(ms):>9.1f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--learners", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=3)
    args: Any = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
