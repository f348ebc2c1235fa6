"""Leaderboard benchmark (issue 6): an organisation of 50 000 learners, weekly period, p95.

Migrates a fresh PostgreSQL schema (dropped afterwards) and fills it synthetically, in bulk,
inside the database (`INSERT ... SELECT` over `generate_series`, no sync and no AwardPoints): one
organisation (Europe/Berlin) with `--learners` learners in 50 departments, and
`--rows-per-learner` points-ledger rows per learner spread uniformly over the last
`--history-days` days (rule "lesson_completed", 10 points each); the per-period totals
(`points_periods`, what `append_awards` keeps with the ledger) are then summed from that ledger
in one `INSERT ... SELECT ... GROUP BY` per period in Europe/Berlin time. Secondary indexes are
built after the fill (`bench/_bulk.py`), then `VACUUM ANALYZE`. It prints the query plan and
times the weekly leaderboard exactly as the endpoint computes it
(`SqlGamificationRepository.leaderboard`: the organisation's members' totals of this week,
RANK() window, top 10 plus the caller's own row; a different caller each time) — uncached (the
response cache is not involved) but warm (the database's buffers hold the data after the first
runs). It also times the department-scoped weekly board. Target: p95 < 100 ms.

    DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/leaderboard.py --learners 50000 --rows-per-learner 200
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
import uuid
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from _bulk import fill
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from learning_analytics.application.ports import LeaderboardScope
from learning_analytics.domain.gamification.leaderboard import period_bounds, period_start_day
from learning_analytics.infrastructure.db.engine import create_engine, create_session_factory
from learning_analytics.infrastructure.db.gamification import SqlGamificationRepository
from learning_analytics.infrastructure.db.migrate import upgrade

FILL = [
    "INSERT INTO organizations (id, name, timezone, source, ingested_at) "
    "VALUES ('org-1', 'Bench', 'Europe/Berlin', 'bench', now())",
    "INSERT INTO departments (id, organization_id, name, source, ingested_at) "
    "SELECT 'dep-' || d, 'org-1', 'Department ' || d, 'bench', now() "
    "FROM generate_series(1, 50) AS d",
    "INSERT INTO users (id, organization_id, display_name, role, department_id, "
    "leaderboard_visible, source, ingested_at) "
    "SELECT 'u-' || lpad(u::text, 6, '0'), 'org-1', 'Learner ' || u, 'learner', "
    "'dep-' || (u % 50 + 1), u % 10 <> 0, 'bench', now() "
    "FROM generate_series(1, :learners) AS u",
    "INSERT INTO points_ledger (user_id, rule, source_event, points, awarded_at) "
    "SELECT 'u-' || lpad(u::text, 6, '0'), 'lesson_completed', 'ev-' || u || '-' || k, 10, "
    "now() - random() * make_interval(days => :days) "
    "FROM generate_series(1, :learners) AS u, generate_series(1, :rows) AS k",
    *(
        # constant SQL fragments of this script only
        "INSERT INTO points_periods (organization_id, period, period_start, user_id, points) "  # noqa: S608
        f"SELECT 'org-1', '{period}', {start}, user_id, sum(points) FROM points_ledger "
        "GROUP BY 3, user_id"
        for period, start in (
            ("week", "date_trunc('week', awarded_at AT TIME ZONE 'Europe/Berlin')::date"),
            ("month", "date_trunc('month', awarded_at AT TIME ZONE 'Europe/Berlin')::date"),
            ("all", "DATE '1970-01-01'"),
        )
    ),
]


async def run(database_url: str, *, learners: int, rows: int, days: int, runs: int) -> None:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    connect_args = {"server_settings": {"search_path": schema}}
    await upgrade(database_url, schema=schema)
    engine = create_engine(database_url, pool_size=2, connect_args=connect_args)
    try:
        started = time.perf_counter()
        await fill(
            engine,
            FILL,
            {"learners": learners, "rows": rows, "days": days},
            ["points_ledger", "points_periods", "users"],
        )
        print(
            f"filled {learners} learners, {learners * rows:,} ledger rows "
            f"in {time.perf_counter() - started:.1f} s"
        )
        store = SqlGamificationRepository(create_session_factory(engine))
        now = datetime.now(UTC)
        zone = ZoneInfo("Europe/Berlin")
        bounds = period_bounds("week", now=now, tz=zone)
        week = period_start_day("week", at=now, tz=zone)
        async with engine.connect() as connection:
            in_week = await connection.scalar(
                text(
                    "SELECT count(*) FROM points_ledger WHERE awarded_at >= :s AND awarded_at < :e"
                ),
                {"s": bounds.start, "e": bounds.end},
            )
        print(f"ledger rows in this week: {in_week:,}")
        await print_plan(engine, week)
        for label, scope in (
            ("organisation", LeaderboardScope("org-1")),
            ("department", LeaderboardScope("org-1", department_id="dep-7")),
        ):
            timings = []
            for i in range(runs + 5):
                caller = f"u-{random.randint(1, learners):06d}"
                began = time.perf_counter()
                board = await store.leaderboard(
                    scope, period="week", period_start=week, limit=10, caller_id=caller
                )
                elapsed = time.perf_counter() - began
                if i >= 5:  # the first runs warm the buffers
                    timings.append(elapsed * 1000)
            timings.sort()
            p50 = statistics.median(timings)
            p95 = timings[int(len(timings) * 0.95) - 1]
            print(
                f"weekly {label} leaderboard, {runs} runs: p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
                f"max {timings[-1]:.1f} ms (participants {board.participants:,}; "
                "target p95 < 100 ms)"
            )
    finally:
        await engine.dispose()
        plain = create_async_engine(database_url)
        async with plain.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await plain.dispose()


async def print_plan(engine: AsyncEngine, week: date) -> None:
    """EXPLAIN of the organisation's weekly totals ranked: one index-only range scan of
    (organisation, period, start, points, user), already in rank order."""
    query = (
        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "
        "SELECT p.user_id, p.points, rank() OVER (ORDER BY p.points DESC), count(*) OVER () "
        "FROM points_periods p WHERE p.organization_id = 'org-1' "
        "AND p.period = 'week' AND p.period_start = :week AND p.points > 0"
    )
    async with engine.connect() as connection:
        plan = await connection.execute(text(query), {"week": week})
        print("\n".join(f"  {line}" for (line,) in plan))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--learners", type=int, default=50_000)
    parser.add_argument("--rows-per-learner", type=int, default=200)
    parser.add_argument("--history-days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgresql"):
        raise SystemExit("set DATABASE_URL to a PostgreSQL database (postgresql+asyncpg://...)")
    asyncio.run(
        run(
            database_url,
            learners=args.learners,
            rows=args.rows_per_learner,
            days=args.history_days,
            runs=args.runs,
        )
    )


if __name__ == "__main__":
    main()
