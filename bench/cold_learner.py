"""Cold computation latency of the six learner endpoints for a learner with a year of history
(issue 4 benchmark, target p95 < 50 ms).

Fills a fresh store (a SQLite file in a temporary directory; with `DATABASE_URL` set to
PostgreSQL, also a fresh schema there, dropped afterwards) with a simulated population of
`--learners` learners and 365 days of history, builds the app in process (`create_app`, no
upstream URLs: the on-demand refresh has no source to fan out to and costs nothing, no mock
fallback), and drives every learner endpoint through the ASGI app (httpx2.ASGITransport, no
network) for the steady learner with the most learning events + attempts in the year, over a
window of the whole year by default (`--window-days 0`: the endpoints' default 30 days). Every
request sends `Cache-Control: no-cache` as the subject, which makes the serving pipeline bypass
the response cache and recompute (store read + metric + rendering); the answer must not be
`cached`. Times are per request, end to end through the app's middleware and security chain.

    .venv/bin/python bench/cold_learner.py --learners 50 --runs 50 --profile
    DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/cold_learner.py --profile
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import secrets
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx2
from sqlalchemy import Engine, event, text
from sqlalchemy.ext.asyncio import create_async_engine

from learning_analytics.config import Settings
from learning_analytics.infrastructure.auth.tokens import TokenIssuer
from learning_analytics.infrastructure.db.engine import create_engine, create_session_factory
from learning_analytics.infrastructure.db.migrate import upgrade
from learning_analytics.infrastructure.db.repositories import SqlRecordWriter
from learning_analytics.presentation.app import create_app
from learning_analytics.presentation.routers.learner import ENDPOINTS
from learning_analytics.simulator.population import Population, generate_population
from learning_analytics.simulator.seed import load_population

HISTORY_DAYS = 365
TARGET_P95_MS = 50.0
PREFIX = "/api/v1/analytics/learner"


def pick_learner(population: Population) -> tuple[str, dict[str, int]]:
    """The steady learner with the most learning events + attempts in the year, and what they did
    (rows per kind of activity)."""
    best: tuple[int, str, dict[str, int]] | None = None
    for person in population.people:
        if person.archetype != "steady":
            continue
        activity = population.activity(person.user_id)
        counts = {
            "learning events": len(activity.learning_events),
            "assessment attempts": len(activity.assessment_attempts),
            "practice sessions": len(activity.practice_sessions),
            "assistant questions": len(activity.assistant_interactions),
        }
        weight = counts["learning events"] + counts["assessment attempts"]
        if best is None or weight > best[0]:
            best = (weight, person.user_id, counts)
    if best is None:
        raise SystemExit("no steady learner in the population: raise --learners")
    return best[1], best[2]


async def fill(url: str, schema: str | None, population: Population) -> float:
    await upgrade(url, schema=schema)
    connect_args = {"server_settings": {"search_path": schema}} if schema else {}
    engine = create_engine(url, connect_args=connect_args)
    started = time.perf_counter()
    try:
        writer = SqlRecordWriter(create_session_factory(engine))
        await load_population(writer, population, ingested_at=datetime.now(UTC))
    finally:
        await engine.dispose()
    return time.perf_counter() - started


class Timed:
    """Wraps a port to add the time spent in its coroutine methods to `clocks[label]`."""

    def __init__(self, inner: Any, label: str, clocks: dict[str, float]) -> None:
        self._inner = inner
        self._label = label
        self._clocks = clocks

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not asyncio.iscoroutinefunction(attribute):
            return attribute

        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await attribute(*args, **kwargs)
            finally:
                self._clocks[self._label] += time.perf_counter() - started

        return timed


PHASES = ("history read", "other reads", "refresh")
STATEMENTS = {"count": 0}


@event.listens_for(Engine, "before_cursor_execute")
def _count_statement(*_: Any) -> None:
    """Every SQL statement sent by any engine (the async engines run a sync Engine inside)."""
    STATEMENTS["count"] += 1


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


async def measure(
    label: str, url: str, schema: str | None, population: Population, args: argparse.Namespace
) -> None:
    loaded = await fill(url, schema, population)
    user_id, counts = pick_learner(population)
    user = population.user(user_id)
    assert user is not None
    secret = secrets.token_hex(32)
    settings = Settings(
        DATABASE_URL=url, DATABASE_SCHEMA=schema, REDIS_URL=None, JWT_SECRET=secret,
        AUTH_SERVICE_URL=None, MOCK_FALLBACK=False, RATE_LIMIT_STANDARD=10**9,
        LOG_LEVEL="WARNING", SYNC_INTERVAL_SECONDS=0,
    )  # fmt: skip
    app = create_app(settings, signing_secret=secret)
    token, _ = TokenIssuer(secret).issue(
        subject=user.id, email=user.email, roles=["learner"],
        organization_id=user.organization_id, now=datetime.now(UTC),
    )  # fmt: skip
    headers = {"Authorization": f"Bearer {token}", "Cache-Control": "no-cache"}
    params: dict[str, str] = {}
    if args.window_days:
        today = datetime.now(UTC).astimezone(ZoneInfo(user.timezone or "UTC")).date()
        start = today - timedelta(days=args.window_days - 1)
        params = {"from": start.isoformat(), "to": today.isoformat()}
    window = f"the last {args.window_days} days" if args.window_days else "the default (30 days)"
    print(f"\n== {label}: {args.learners} learners x {HISTORY_DAYS} days loaded in {loaded:.1f} s")
    did = ", ".join(f"{count} {kind}" for kind, count in counts.items())
    print(f"learner {user_id} (steady, {user.timezone}), in the year: {did}")
    print(f"query window: {window}; every request loads the learner's whole history")

    timings: dict[str, list[float]] = {}
    phases: dict[str, dict[str, float]] = {}
    clocks = dict.fromkeys(PHASES, 0.0)
    async with app.router.lifespan_context(app):
        services = app.state.services
        ports = {
            "histories": "history read",
            "users": "other reads",
            "activity": "other reads",
            "mastery_params": "other reads",
            "refresh": "refresh",
        }
        originals = {name: getattr(services, name) for name in ports}
        for name, phase in ports.items():
            setattr(services, name, Timed(originals[name], phase, clocks))
        statements: dict[str, float] = {}
        transport = httpx2.ASGITransport(app=app, raise_app_exceptions=True)
        async with httpx2.AsyncClient(transport=transport, base_url="http://api") as client:

            async def call(name: str) -> float:
                started = time.perf_counter()
                response = await client.get(
                    f"{PREFIX}/{name}/{user_id}", headers=headers, params=params
                )
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    raise SystemExit(f"{name}: {response.status_code} {response.text[:300]}")
                source = response.json()["meta"]["dataSource"]
                if source == "cached":
                    raise SystemExit(f"{name}: answered from the cache, not recomputed")
                return elapsed

            for name in ENDPOINTS:  # warm-up: imports, connections, first-call caches
                for _ in range(args.warmup):
                    await call(name)
            for name in ENDPOINTS:
                clocks.update(dict.fromkeys(PHASES, 0.0))
                sent = STATEMENTS["count"]
                timings[name] = [await call(name) for _ in range(args.runs)]
                phases[name] = {phase: clocks[phase] / args.runs for phase in PHASES}
                statements[name] = (STATEMENTS["count"] - sent) / args.runs

            print(f"\n{'endpoint':<24}{'runs':>6}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}"
                  f"  | mean ms: {'history':>8}{'other':>7}{'refresh':>8}{'rest':>7}"
                  f"{'SQL/req':>9}")  # fmt: skip
            for name, values in timings.items():
                ms = [v * 1000 for v in values]
                split = [phases[name][phase] * 1000 for phase in PHASES]
                rest = statistics.mean(ms) - sum(split)
                print(f"{name:<24}{len(ms):>6}{statistics.median(ms):>9.1f}"
                      f"{percentile(ms, 0.95):>9.1f}{max(ms):>9.1f}  |          "
                      f"{split[0]:>8.1f}{split[1]:>7.1f}{split[2]:>8.1f}{rest:>7.1f}"
                      f"{statements[name]:>9.1f}")  # fmt: skip
            print("history = the learner's whole history out of the store; other = profile, "
                  "last ingestion, BKT parameters; refresh = the on-demand refresh (no upstream "
                  "configured); rest = metric, rendering, middleware, auth, pipeline; SQL/req = "
                  "statements sent per request")  # fmt: skip
            worst = max(timings, key=lambda name: percentile(timings[name], 0.95))
            worst_p95 = percentile(timings[worst], 0.95) * 1000
            verdict = "meets" if worst_p95 < TARGET_P95_MS else "MISSES"
            print(f"slowest p95: {worst} {worst_p95:.1f} ms — {verdict} the target "
                  f"(p95 < {TARGET_P95_MS:.0f} ms)")  # fmt: skip

            if args.profile:
                for name, original in originals.items():  # profile the app, not the wrappers
                    setattr(services, name, original)
                profile = cProfile.Profile()
                profile.enable()
                for _ in range(args.runs):
                    await call(worst)
                profile.disable()
                print(f"\nwhere the time goes: {worst}, {args.runs} cold requests, "
                      f"top {args.top} functions by cumulative time (cProfile counts every "
                      f"resumption of a coroutine as a call, so ncalls and the cumulative times "
                      f"of the event loop frames overcount)")  # fmt: skip
                pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)


async def run(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    population = generate_population(
        seed=args.seed, learners=args.learners, history_days=HISTORY_DAYS, anchor=datetime.now(UTC)
    )
    print(f"population: {args.learners} learners, {HISTORY_DAYS} days of history, seed "
          f"{args.seed}, generated in {time.perf_counter() - started:.1f} s")  # fmt: skip
    sqlite = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'store.db'}"
    await measure("SQLite", sqlite, None, population, args)
    database_url = os.environ.get("DATABASE_URL", "")
    if database_url.startswith(("postgres://", "postgresql://")):
        database_url = "postgresql+asyncpg://" + database_url.split("://", 1)[1]
    if not database_url.startswith("postgresql"):
        print("\n(PostgreSQL skipped: DATABASE_URL is not set to a PostgreSQL server)")
        return
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        await measure(f"PostgreSQL (schema {schema})", database_url, schema, population, args)
    finally:
        plain = create_async_engine(database_url)
        async with plain.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await plain.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--learners", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=50, help="cold requests per endpoint")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured requests per endpoint")
    parser.add_argument(
        "--window-days", type=int, default=HISTORY_DAYS,
        help="query the last N local days (default: the whole year); 0: the endpoints' default",
    )  # fmt: skip
    parser.add_argument("--profile", action="store_true", help="cProfile the slowest endpoint")
    parser.add_argument("--top", type=int, default=15)
    args: Any = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
