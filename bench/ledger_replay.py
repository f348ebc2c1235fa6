"""Ledger replay benchmark (issue 6): a full `AwardPoints.replay()` over the store, events/s.

Migrates a fresh PostgreSQL schema (dropped afterwards) and fills it synthetically, in bulk,
inside the database (`INSERT ... SELECT` over `generate_series`; no sync): `--learners` learners
of one organisation (Europe/Berlin) and `--events` learning events between them, spread over
the last year, 60 % of them "completed" (the rest "started"), plus one assessment attempt and
one practice session per 20 events (secondary indexes built after the fill, `bench/_bulk.py`).
Then times the replay from an empty ledger: every learner's
whole history read in batches of 500, awards derived (rule table, daily caps in each learner's
zone, streak days) and appended with `INSERT ... ON CONFLICT DO NOTHING`. Prints events/s and
the ledger rows written, then replays again over the full ledger (nothing to add) and prints
that rate too.

    DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/ledger_replay.py --learners 50000 --events 10000000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid

from _bulk import fill
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from learning_analytics.application.gamification import AwardPoints
from learning_analytics.infrastructure.db.engine import create_engine, create_session_factory
from learning_analytics.infrastructure.db.gamification import SqlGamificationRepository
from learning_analytics.infrastructure.db.migrate import upgrade

FILL = [
    "INSERT INTO organizations (id, name, timezone, source, ingested_at) "
    "VALUES ('org-1', 'Bench', 'Europe/Berlin', 'bench', now())",
    "INSERT INTO users (id, organization_id, display_name, role, department_id, timezone, "
    "source, ingested_at) "
    "SELECT 'u-' || lpad(u::text, 6, '0'), 'org-1', 'Learner ' || u, 'learner', "
    "'dep-' || (u % 50 + 1), CASE WHEN u % 3 = 0 THEN 'America/New_York' END, 'bench', now() "
    "FROM generate_series(1, :learners) AS u",
    "INSERT INTO learning_events (id, user_id, course_id, unit_id, verb, seconds_spent, "
    "occurred_at, source, ingested_at) "
    "SELECT 'ev-' || e, 'u-' || lpad((e % :learners + 1)::text, 6, '0'), 'c-' || (e % 40), "
    "'unit-' || (e % 400), CASE WHEN e % 5 < 3 THEN 'completed' ELSE 'started' END, 300, "
    "now() - random() * interval '365 days', 'bench', now() "
    "FROM generate_series(1, :events) AS e",
    "INSERT INTO assessment_attempts (id, user_id, course_id, assessment_id, score_pct, passed, "
    "submitted_at, source, ingested_at) "
    "SELECT 'at-' || e, 'u-' || lpad((e % :learners + 1)::text, 6, '0'), 'c-' || (e % 40), "
    "'exam-' || (e % 40), (e::bigint * 7919 % 101)::float, e::bigint * 7919 % 101 >= 60, "
    "now() - random() * interval '365 days', 'bench', now() "
    "FROM generate_series(1, :events / 20) AS e",
    "INSERT INTO practice_sessions (id, user_id, started_at, completed, won, seconds, source, "
    "ingested_at) "
    "SELECT 'ps-' || e, 'u-' || lpad((e % :learners + 1)::text, 6, '0'), "
    "now() - random() * interval '365 days', e % 4 <> 0, e % 3 = 0, 600, 'bench', now() "
    "FROM generate_series(1, :events / 20) AS e",
]


async def run(database_url: str, *, learners: int, events: int) -> None:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    connect_args = {"server_settings": {"search_path": schema}}
    await upgrade(database_url, schema=schema)
    engine = create_engine(database_url, pool_size=2, connect_args=connect_args)
    try:
        started = time.perf_counter()
        await fill(
            engine,
            FILL,
            {"learners": learners, "events": events},
            ["users", "learning_events", "assessment_attempts", "practice_sessions"],
        )
        total = events + 2 * (events // 20)
        print(
            f"filled {learners:,} learners, {total:,} events "
            f"({events:,} learning events) in {time.perf_counter() - started:.1f} s"
        )
        award = AwardPoints(store=SqlGamificationRepository(create_session_factory(engine)))
        began = time.perf_counter()
        report = await award.replay()
        elapsed = time.perf_counter() - began
        print(
            f"replay from an empty ledger: {total:,} events in {elapsed:.1f} s = "
            f"{total / elapsed:,.0f} events/s; {report.added:,} ledger rows added"
        )
        began = time.perf_counter()
        again = await award.replay()
        elapsed = time.perf_counter() - began
        print(
            f"replay over the full ledger: {elapsed:.1f} s = {total / elapsed:,.0f} events/s; "
            f"{again.added} rows added"
        )
    finally:
        await engine.dispose()
        plain = create_async_engine(database_url)
        async with plain.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await plain.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--learners", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgresql"):
        raise SystemExit("set DATABASE_URL to a PostgreSQL database (postgresql+asyncpg://...)")
    asyncio.run(run(database_url, learners=args.learners, events=args.events))


if __name__ == "__main__":
    main()
