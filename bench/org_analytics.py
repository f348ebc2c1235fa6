"""Trainer and organisation endpoints at scale (issue 5 benchmark, SPEC §14: p95 < 300 ms warm).

Runs against a PostgreSQL database filled by `bench/load_scale.py` (50 000 learners, ~10 M
learning events). Builds the app in process (`create_app`, no upstreams, no scheduled sync,
in-process response cache) and drives the eight endpoints through the ASGI app
(httpx2.ASGITransport, no network) as a platform admin:
- warm: `Cache-Control: no-cache`, so the serving pipeline recomputes every time (the store's
  buffers are warm after the warm-up requests) — the SQL aggregation cost;
- cached: the same request without it, answered from the response cache.
Trainer endpoints are asked for the demo trainer (trainer@org1.example), organisation
endpoints for org-1, over the default window (the last 30 days). Then, when the database has
materialised views, the time of `REFRESH MATERIALIZED VIEW CONCURRENTLY` of each.

    .venv/bin/python bench/load_scale.py --learners 50000 --events 10000000
    .venv/bin/python bench/org_analytics.py --runs 30 \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/la_scale
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import time
from datetime import UTC, datetime

import asyncpg
import httpx2

from learning_analytics.config import Settings
from learning_analytics.infrastructure.auth.tokens import TokenIssuer
from learning_analytics.presentation.app import create_app
from learning_analytics.simulator.population import DEMO_TRAINER_EMAIL

TARGET_P95_MS = 300.0
TRAINER = (
    "course-performance",
    "course-health",
    "student-distribution",
    "teaching-effectiveness",
)
ORGANIZATION = (
    "learning-velocity",
    "strategic-alignment",
    "department-analytics",
    "learning-culture",
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def facts(dsn: str) -> tuple[str, dict[str, int]]:
    connection = await asyncpg.connect(dsn)
    try:
        trainer = await connection.fetchval(
            "SELECT id FROM users WHERE email = $1", DEMO_TRAINER_EMAIL
        )
        sizes = {
            "org-1 learners": await connection.fetchval(
                "SELECT count(*) FROM users WHERE role = 'learner' AND organization_id = 'org-1'"
            ),
            "learners": await connection.fetchval(
                "SELECT count(*) FROM users WHERE role = 'learner'"
            ),
            "learning_events": await connection.fetchval("SELECT count(*) FROM learning_events"),
        }
    finally:
        await connection.close()
    return str(trainer), {k: int(v) for k, v in sizes.items()}


async def refresh_views(dsn: str) -> dict[str, float]:
    connection = await asyncpg.connect(dsn)
    timings: dict[str, float] = {}
    try:
        views = await connection.fetch("SELECT matviewname FROM pg_matviews ORDER BY 1")
        for row in views:
            started = time.perf_counter()
            await connection.execute(
                f'REFRESH MATERIALIZED VIEW CONCURRENTLY "{row["matviewname"]}"'
            )
            timings[row["matviewname"]] = time.perf_counter() - started
    finally:
        await connection.close()
    return timings


async def run(args: argparse.Namespace) -> None:
    dsn = args.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    trainer_id, sizes = await facts(dsn)
    print("store:", ", ".join(f"{k} {v:,}" for k, v in sizes.items()))
    secret = secrets.token_hex(32)
    settings = Settings(
        DATABASE_URL=args.database_url, REDIS_URL=None, JWT_SECRET=secret,
        AUTH_SERVICE_URL=None, MOCK_FALLBACK=False, RATE_LIMIT_STANDARD=10**9,
        LOG_LEVEL="WARNING", SYNC_INTERVAL_SECONDS=0,
    )  # fmt: skip
    app = create_app(settings, signing_secret=secret)
    token, _ = TokenIssuer(secret).issue(
        subject="bench-admin", email=None, roles=["admin"], organization_id=None,
        now=datetime.now(UTC),
    )  # fmt: skip
    auth = {"Authorization": f"Bearer {token}"}
    query = f"?{args.query}" if args.query else ""
    paths = [f"/api/v1/analytics/trainer/{m}/{trainer_id}" for m in TRAINER] + [
        f"/api/v1/analytics/organization/{m}/org-1{query}" for m in ORGANIZATION
    ]
    results: list[tuple[str, list[float], list[float]]] = []
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app, raise_app_exceptions=True)
        async with httpx2.AsyncClient(
            transport=transport, base_url="http://api", timeout=120
        ) as client:

            async def call(path: str, *, fresh: bool) -> float:
                headers = {**auth, "Cache-Control": "no-cache"} if fresh else auth
                started = time.perf_counter()
                response = await client.get(path, headers=headers)
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    raise SystemExit(f"{path}: {response.status_code} {response.text[:300]}")
                source = response.json()["meta"]["dataSource"]
                if (source == "cached") == fresh:
                    raise SystemExit(f"{path}: unexpected dataSource {source}")
                return elapsed * 1000

            for path in paths:
                for _ in range(args.warmup):
                    await call(path, fresh=True)
                warm = [await call(path, fresh=True) for _ in range(args.runs)]
                cached = [await call(path, fresh=False) for _ in range(args.cached_runs)]
                results.append((path.split("/analytics/")[1], warm, cached))
                print(
                    f"{results[-1][0]:<55} warm p50 {statistics.median(warm):7.1f} "
                    f"p95 {percentile(warm, 0.95):7.1f} ms | cached p50 "
                    f"{statistics.median(cached):5.2f} p95 {percentile(cached, 0.95):5.2f} ms",
                    flush=True,
                )
    worst = max(percentile(warm, 0.95) for _, warm, _ in results)
    verdict = "meets" if worst < TARGET_P95_MS else "misses"
    print(f"worst warm p95 {worst:.1f} ms: {verdict} the {TARGET_P95_MS:.0f} ms target")
    views = await refresh_views(dsn)
    for name, seconds in views.items():
        print(f"REFRESH MATERIALIZED VIEW CONCURRENTLY {name}: {seconds:.2f} s")
    if not views:
        print("no materialised views in this database")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--cached-runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument(
        "--database-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/la_scale"
    )
    parser.add_argument(
        "--query",
        default="",
        help="query string for the organisation endpoints, e.g. tz=UTC (another timezone than "
        "the organisation's reads the activity rows, not the rollups)",
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
