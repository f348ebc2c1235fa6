"""Bulk population loader for the scale benchmarks: 50 000 learners and ~10 M learning events.

Builds the simulator's world (`generate_population`) and loads it into a fresh PostgreSQL
database: organisations, departments, users, courses, enrolments, skill profiles, targets,
attempts, practice, assistant and feedback through the store's own writer (COPY into a staging
table, then upsert), and the learning events — the big table — by direct COPY
(asyncpg `copy_records_to_table`, 200 000 rows per batch), streamed learner by learner. The
events bypass the writer, and the writer runs without its per-write rollup upkeep
(`rollups=False`): the rollups (`activity_days`, `activity_unit_days`, `skill_gap_summaries`)
are rebuilt once at the end, then their indexes (`activity_days.compact`, as
`learning-analytics rebuild-rollup` does).

Event volume: the generator simulates ~67 study events per learner-year (~3.4 M for 50 000
learners). To reach the 10 M rows of the SPEC §14 target, each simulated study event with time
spent is accompanied by `progress` heartbeats, one per `--heartbeat` seconds of that time,
placed backwards inside the session, with 0 seconds spent (so hours, units completed and every
metric's numerator are the simulator's; only the row count, and therefore the scan cost, grows).
The heartbeat interval is calibrated on the first learners to land near `--events`.

    .venv/bin/python bench/load_scale.py --learners 50000 --events 10000000 \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/la_scale

Then `bench/org_analytics.py` against the same database. The database is dropped and
re-created (its name must start with "la_"), then migrated to the newest revision.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from learning_analytics.domain.records import LearningEvent
from learning_analytics.infrastructure.db import activity_days
from learning_analytics.infrastructure.db.engine import create_engine, create_session_factory
from learning_analytics.infrastructure.db.migrate import upgrade
from learning_analytics.infrastructure.db.repositories import SqlRecordWriter
from learning_analytics.simulator.population import Population, generate_population

SOURCE = "simulator"
EVENT_COLUMNS = [
    "id",
    "user_id",
    "course_id",
    "unit_id",
    "verb",
    "seconds_spent",
    "occurred_at",
    "source",
    "ingested_at",
]
COPY_BATCH = 200_000
WRITER_BATCH = 20_000
CALIBRATION_LEARNERS = 300


def plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def recreate_database(url: str) -> None:
    dsn = plain_dsn(url)
    base, name = dsn.rsplit("/", 1)
    if not name.startswith("la_"):
        raise SystemExit("refusing to drop a database whose name does not start with 'la_'")
    admin = await asyncpg.connect(f"{base}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


def heartbeat_interval(population: Population, *, learners: int, target_events: int) -> int:
    """Seconds of study per heartbeat so that events + heartbeats land near the target
    (calibrated on learners sampled evenly over the population)."""
    ids = [user.id for user in population.users if user.role == "learner"]
    sample = ids[:: max(1, len(ids) // CALIBRATION_LEARNERS)]
    sample_events = 0
    sample_seconds = 0
    for user_id in sample:
        activity = population.activity(user_id)
        sample_events += len(activity.learning_events)
        sample_seconds += sum(e.seconds_spent for e in activity.learning_events)
    extra = target_events / learners - sample_events / len(sample)
    if extra <= 0:
        return 0
    return max(30, int(sample_seconds / len(sample) / extra))


def event_rows(
    event: LearningEvent, *, interval: int, ingested_at: datetime
) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = [
        (
            event.id,
            event.user_id,
            event.course_id,
            event.unit_id,
            event.verb,
            event.seconds_spent,
            event.occurred_at,
            SOURCE,
            ingested_at,
        )
    ]
    if interval and event.seconds_spent >= interval:
        for beat in range(1, event.seconds_spent // interval + 1):
            rows.append(
                (
                    f"{event.id}-p{beat}",
                    event.user_id,
                    event.course_id,
                    event.unit_id,
                    "progress",
                    0,
                    event.occurred_at - timedelta(seconds=beat * interval),
                    SOURCE,
                    ingested_at,
                )
            )
    return rows


async def load(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    now = datetime.now(UTC).replace(microsecond=0)
    await recreate_database(args.database_url)
    await upgrade(args.database_url)
    population = generate_population(
        seed=args.seed, learners=args.learners, history_days=args.history_days, anchor=now
    )
    built = time.perf_counter()
    print(f"population built: {args.learners} learners in {built - started:.1f} s", flush=True)
    interval = heartbeat_interval(population, learners=args.learners, target_events=args.events)
    print(f"heartbeat every {interval} s of study", flush=True)

    engine = create_engine(args.database_url, pool_size=2)
    # No rollup upkeep per batch: the rollups are rebuilt once at the end.
    writer = SqlRecordWriter(create_session_factory(engine), rollups=False)
    stamp: dict[str, Any] = {"source": SOURCE, "ingested_at": now}
    await writer.upsert_organizations(population.organizations, **stamp)
    await writer.upsert_departments(population.departments, **stamp)
    await writer.upsert_teams(population.teams, **stamp)
    await writer.upsert_users(population.users, **stamp)
    await writer.upsert_courses(population.courses, **stamp)
    await writer.upsert_course_units(population.course_units, **stamp)
    await writer.upsert_enrollments(population.enrollments, **stamp)
    await writer.upsert_skill_profiles(population.skill_profiles, **stamp)
    await writer.upsert_strategic_skill_targets(population.strategic_skill_targets, **stamp)
    structure = time.perf_counter()
    print(f"structure loaded in {structure - built:.1f} s", flush=True)

    others: dict[str, Callable[..., Any]] = {
        "assessment_attempts": writer.upsert_assessment_attempts,
        "practice_sessions": writer.upsert_practice_sessions,
        "assistant_interactions": writer.upsert_assistant_interactions,
        "feedback": writer.upsert_feedback,
    }
    buffers: dict[str, list[Any]] = {table: [] for table in others}
    counts = dict.fromkeys([*others, "learning_events"], 0)
    connection = await asyncpg.connect(plain_dsn(args.database_url))
    events: list[tuple[Any, ...]] = []
    copy_seconds = 0.0

    async def copy_events() -> None:
        nonlocal copy_seconds
        if events:
            begin = time.perf_counter()
            await connection.copy_records_to_table(
                "learning_events", records=events, columns=EVENT_COLUMNS
            )
            copy_seconds += time.perf_counter() - begin
            counts["learning_events"] += len(events)
            events.clear()

    try:
        for index, activity in enumerate(population.iter_activity()):
            for event in activity.learning_events:
                events.extend(event_rows(event, interval=interval, ingested_at=now))
            if len(events) >= COPY_BATCH:
                await copy_events()
            for table, upsert in others.items():
                buffers[table].extend(getattr(activity, table))
                if len(buffers[table]) >= WRITER_BATCH:
                    counts[table] += await upsert(buffers[table], **stamp)
                    buffers[table] = []
            if index and index % 5000 == 0:
                elapsed = time.perf_counter() - structure
                print(
                    f"  {index} learners, {counts['learning_events']} events, {elapsed:.0f} s",
                    flush=True,
                )
        await copy_events()
        for table, upsert in others.items():
            if buffers[table]:
                counts[table] += await upsert(buffers[table], **stamp)
        rollup = time.perf_counter()
        learners = await activity_days.rebuild(create_session_factory(engine))
        print(
            f"activity_days rebuilt for {learners} learners in {time.perf_counter() - rollup:.1f} s"
            " (the events came by COPY, past the writer)",
            flush=True,
        )
        compacting = time.perf_counter()
        await activity_days.compact(engine)
        print(
            f"rollup indexes rebuilt and vacuumed in {time.perf_counter() - compacting:.1f} s",
            flush=True,
        )
        await writer.bump_data_version("global")
        analyze = time.perf_counter()
        await connection.execute("VACUUM ANALYZE")
        print(f"VACUUM ANALYZE in {time.perf_counter() - analyze:.1f} s", flush=True)
    finally:
        await connection.close()
        await engine.dispose()
    total = time.perf_counter() - started
    print(f"rows: {counts}")
    print(
        f"learning events: {counts['learning_events']} ({copy_seconds:.1f} s in COPY, "
        f"{counts['learning_events'] / max(copy_seconds, 1e-9):,.0f} rows/s)"
    )
    print(f"total {total:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--learners", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--history-days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--database-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/la_scale"
    )
    asyncio.run(load(parser.parse_args()))


if __name__ == "__main__":
    main()
