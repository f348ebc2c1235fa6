"""Where the time of the organisation endpoints goes: every SQL statement of each use case, timed.

Runs the four organisation use cases (`OrganizationAnalytics`, org-1, the default 30-day window)
against a PostgreSQL database filled by `bench/load_scale.py`, capturing each statement the
store sends (SQLAlchemy cursor events, no change to the code measured). For each statement it
reports
- `in app`: its time inside the use case, where an endpoint's queries run concurrently on the
  pool (on a 2-core box they compete for the CPU), and
- `alone`: the median of `--replays` sequential re-executions of the same SQL and parameters
  on one connection (with the repository's settings: its `work_mem`, no parallel workers, no
  JIT), i.e. its cost without competition. The sum of `alone` over an endpoint is the work any
  plan has to beat.

`--explain 0.1` also prints `EXPLAIN (ANALYZE, BUFFERS)` of every statement that took 100 ms or
more in the app.

    .venv/bin/python bench/org_query_breakdown.py \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/la_scale
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy import event

from learning_analytics.application.org_analytics import AnalyticsQuery, OrganizationAnalytics
from learning_analytics.infrastructure.db.analytics import WORK_MEM, SqlAnalyticsRepository
from learning_analytics.infrastructure.db.engine import create_engine, create_session_factory

USE_CASES = ("learning_velocity", "strategic_alignment", "department_analytics", "learning_culture")


class WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class Capture:
    """The SELECT statements sent while `active`, with their in-app durations."""

    active: bool = False
    statements: list[tuple[str, tuple[Any, ...], float]] = field(default_factory=list)

    def attach(self, sync_engine: Any) -> None:
        @event.listens_for(sync_engine, "before_cursor_execute")
        def before(conn: Any, *_: Any) -> None:
            conn.info.setdefault("started", []).append(time.perf_counter())

        @event.listens_for(sync_engine, "after_cursor_execute")
        def after(conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
            elapsed = time.perf_counter() - conn.info["started"].pop()
            if self.active and statement.lstrip().upper().startswith(("SELECT", "WITH")):
                self.statements.append((statement, tuple(parameters or ()), elapsed))


async def replay(
    dsn: str, statement: str, parameters: tuple[Any, ...], runs: int, *, explain: bool = False
) -> float:
    connection = await asyncpg.connect(dsn)
    try:
        # The session settings the repository sets per transaction (SqlAnalyticsRepository._rows).
        await connection.execute(
            f"SET work_mem = '{WORK_MEM}'; SET max_parallel_workers_per_gather = 0; SET jit = off"
        )
        if explain:
            plan = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", *parameters)
            print("\n".join(row[0] for row in plan))
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            await connection.fetch(statement, *parameters)
            times.append(time.perf_counter() - started)
    finally:
        await connection.close()
    return statistics.median(times)


def label(statement: str) -> str:
    return " ".join(statement.split())[:100]


async def run(args: argparse.Namespace) -> None:
    dsn = args.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    engine = create_engine(args.database_url)
    capture = Capture()
    capture.attach(engine.sync_engine)
    organization = OrganizationAnalytics(
        organizations=SqlAnalyticsRepository(create_session_factory(engine)),
        clock=WallClock(),
        k=5,
    )
    try:
        for name in args.use_cases:
            use_case = getattr(organization, name)
            await use_case("org-1", AnalyticsQuery())  # warm-up
            capture.statements.clear()
            capture.active = True
            started = time.perf_counter()
            await use_case("org-1", AnalyticsQuery())
            total = time.perf_counter() - started
            capture.active = False
            rows = [
                (
                    await replay(
                        dsn, statement, parameters, args.replays, explain=in_app >= args.explain
                    ),
                    in_app,
                    statement,
                )
                for statement, parameters, in_app in capture.statements
            ]
            alone = sum(r[0] for r in rows)
            print(f"== {name}: {total * 1000:.0f} ms in app, sum alone {alone * 1000:.0f} ms")
            for seconds, in_app, statement in sorted(rows, key=lambda r: r[0], reverse=True):
                print(f"  alone {seconds * 1000:7.1f} ms  in app {in_app * 1000:7.1f} ms  "
                      f"{label(statement)}")  # fmt: skip
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--replays", type=int, default=3)
    parser.add_argument(
        "--explain",
        type=float,
        default=float("inf"),
        metavar="SECONDS",
        help="print EXPLAIN (ANALYZE, BUFFERS) of the statements that took this long in the app",
    )
    parser.add_argument("--use-cases", nargs="+", default=list(USE_CASES), choices=USE_CASES)
    parser.add_argument(
        "--database-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/la_scale"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
