"""The per-learner local-day rollup (`activity_days`) on SQLite and PostgreSQL.

The oracle is Python: each written record's local date in its learner's organisation zone
(zoneinfo), summed. Checked after first writes, after re-ingesting rows moved to another learner
and instant, after a learner changes organisation and an organisation its timezone, and after a
rebuild. Then the organisation aggregates read from the rollup must equal those read from the
activity rows, over a window that crosses the end of summer time.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import pytest
from sqlalchemy import delete, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from learning_analytics.application.org_analytics import previous_range, time_range, weeks_of
from learning_analytics.application.ports import OrganizationScope
from learning_analytics.cli import app
from learning_analytics.config import get_settings
from learning_analytics.domain.metrics.learner import Window
from learning_analytics.domain.metrics.organization import UNASSIGNED
from learning_analytics.domain.records import (
    AssessmentAttempt,
    AssistantInteraction,
    CourseUnit,
    Department,
    Enrollment,
    Feedback,
    LearningEvent,
    Organization,
    PracticeSession,
    SkillProfile,
    StrategicSkillTarget,
    Team,
    User,
)
from learning_analytics.domain.timezones import local_day_number, zone_named
from learning_analytics.infrastructure.db import activity_days
from learning_analytics.infrastructure.db.analytics import SqlAnalyticsRepository
from learning_analytics.infrastructure.db.engine import create_engine
from learning_analytics.infrastructure.db.repositories import SqlRecordWriter
from learning_analytics.infrastructure.db.tables import (
    ROLLUP_SUMS,
    ActivityDayRow,
    ActivityUnitDayRow,
    SkillGapSummaryRow,
)
from tests.conftest import Database

pytestmark = pytest.mark.anyio

BERLIN = "Europe/Berlin"
STAMP = {"source": "test", "ingested_at": datetime(2026, 11, 20, tzinfo=UTC)}
# Around the end of summer time in Berlin (2026-10-25 01:00 UTC) and around local midnights.
START = datetime(2026, 10, 10, tzinfo=UTC)
LEARNERS = [f"l-{n:02d}" for n in range(12)]


def _instant(rng: random.Random) -> datetime:
    day = START + timedelta(days=rng.randrange(30))
    # Most instants within two hours of a UTC or Berlin midnight, where the zones disagree.
    hour = rng.choice([21, 22, 23, 0, 1, 2, 12])
    return day.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60))


class World:
    """What was written, for the oracle."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        self.org_zone = {"org-b": BERLIN, "org-u": None}
        self.org_of = {user: ("org-b" if n < 9 else "org-u") for n, user in enumerate(LEARNERS)}
        self.department_of = {user: f"d-{n % 3}" for n, user in enumerate(LEARNERS)}
        pick = LEARNERS.__getitem__
        self.events = [
            LearningEvent(
                f"ev-{n}",
                pick(rng.randrange(len(LEARNERS))),
                "c-1",
                rng.choice([None, "u-1", "u-2"]),
                rng.choice(["started", "completed", "progress"]),
                _instant(rng),
                rng.randrange(0, 900),
            )
            for n in range(160)
        ]
        self.attempts = [
            AssessmentAttempt(
                f"at-{n}",
                pick(rng.randrange(len(LEARNERS))),
                "c-1",
                "a-1",
                float(rng.randrange(101)),
                rng.random() < 0.5,
                _instant(rng),
            )
            for n in range(40)
        ]
        self.practice = [
            PracticeSession(f"ps-{n}", pick(rng.randrange(len(LEARNERS))), _instant(rng))
            for n in range(30)
        ]
        self.questions = [
            AssistantInteraction(f"q-{n}", pick(rng.randrange(len(LEARNERS))), _instant(rng))
            for n in range(30)
        ]
        self.feedback = [
            Feedback(f"fb-{n}", pick(rng.randrange(len(LEARNERS))), "c-1", 4, _instant(rng))
            for n in range(20)
        ]

    def users(self) -> list[User]:
        return [
            User(u, self.org_of[u], None, None, "learner", self.department_of[u]) for u in LEARNERS
        ]

    def expected_units(self) -> dict[tuple[str, int, str], tuple[str, int]]:
        """(learner, day, unit or "") -> (organisation, seconds) of events with time spent."""
        rows: dict[tuple[str, int, str], tuple[str, int]] = {}
        for e in self.events:
            if e.seconds_spent <= 0:
                continue
            organization = self.org_of[e.user_id]
            day = local_day_number(e.occurred_at, zone_named(self.org_zone.get(organization)))
            key = (e.user_id, day, e.unit_id or "")
            rows[key] = (organization, rows.get(key, ("", 0))[1] + e.seconds_spent)
        return rows

    def expected(self) -> dict[tuple[str, int], dict[str, Any]]:
        rows: dict[tuple[str, int], dict[str, Any]] = defaultdict(
            lambda: dict.fromkeys(ROLLUP_SUMS, 0) | {"first_event_at": None, "last_event_at": None}
        )

        def bucket(user: str, at: datetime) -> dict[str, Any]:
            organization = self.org_of[user]
            zone = zone_named(self.org_zone.get(organization))
            row = rows[(user, local_day_number(at, zone))]
            row["organization_id"] = organization
            return row

        for e in self.events:
            row = bucket(e.user_id, e.occurred_at)
            row["events"] += 1
            row["units"] += int(e.verb == "completed" and e.unit_id is not None)
            row["seconds"] += e.seconds_spent
            first, last = row["first_event_at"], row["last_event_at"]
            row["first_event_at"] = min(first, e.occurred_at) if first else e.occurred_at
            row["last_event_at"] = max(last, e.occurred_at) if last else e.occurred_at
        for a in self.attempts:
            row = bucket(a.user_id, a.submitted_at)
            row["attempts"] += 1
            row["score_sum"] += a.score_pct
        for p in self.practice:
            bucket(p.user_id, p.started_at)["practice"] += 1
        for q in self.questions:
            bucket(q.user_id, q.asked_at)["questions"] += 1
        for f in self.feedback:
            bucket(f.user_id, f.submitted_at)["feedback"] += 1
        return dict(rows)


async def _write_all(writer: SqlRecordWriter, world: World) -> None:
    await writer.upsert_organizations(
        [Organization(org, org, zone) for org, zone in world.org_zone.items()], **STAMP
    )
    await writer.upsert_course_units(
        [
            CourseUnit("u-1", "c-1", 1, "content", "One", skills=("python",)),
            CourseUnit("u-2", "c-1", 2, "content", "Two", skills=("python", "sql")),
        ],
        **STAMP,
    )
    await writer.upsert_strategic_skill_targets(
        [
            StrategicSkillTarget("org-b", "python", 1.0, 4),
            StrategicSkillTarget("org-b", "sql", 0.5, 3),
        ],
        **STAMP,
    )
    await writer.upsert_departments(
        [Department(f"d-{n}", "org-b", f"Department {n}") for n in range(3)], **STAMP
    )
    await writer.upsert_users(world.users(), **STAMP)
    await writer.upsert_enrollments(
        [
            Enrollment(f"en-{n}", user, "c-1", START - timedelta(days=20), completed_at=done)
            for n, user in enumerate(LEARNERS)
            for done in [None if n % 4 else START + timedelta(days=n)]
        ],
        **STAMP,
    )
    await writer.upsert_learning_events(world.events, **STAMP)
    await writer.upsert_assessment_attempts(world.attempts, **STAMP)
    await writer.upsert_practice_sessions(world.practice, **STAMP)
    await writer.upsert_assistant_interactions(world.questions, **STAMP)
    await writer.upsert_feedback(world.feedback, **STAMP)


async def _stored(sessions: async_sessionmaker[AsyncSession]) -> dict[tuple[str, int], Any]:
    async with sessions() as session:
        rows = (await session.execute(select(ActivityDayRow))).scalars().all()
    return {
        (r.user_id, r.day): {
            **{name: getattr(r, name) for name in ROLLUP_SUMS},
            "first_event_at": r.first_event_at,
            "last_event_at": r.last_event_at,
            "organization_id": r.organization_id,
        }
        for r in rows
    }


async def _stored_units(sessions: async_sessionmaker[AsyncSession]) -> dict[Any, Any]:
    async with sessions() as session:
        rows = (await session.execute(select(ActivityUnitDayRow))).scalars().all()
    return {(r.user_id, r.day, r.unit_id): (r.organization_id, r.seconds) for r in rows}


async def _assert_world(sessions: async_sessionmaker[AsyncSession], world: World) -> None:
    _assert_matches(await _stored(sessions), world.expected())
    assert await _stored_units(sessions) == world.expected_units()


def _assert_matches(stored: dict[Any, Any], expected: dict[Any, Any]) -> None:
    assert sorted(stored) == sorted(expected)
    for key, want in expected.items():
        got = stored[key]
        assert got["score_sum"] == pytest.approx(want["score_sum"]), key
        assert {k: v for k, v in got.items() if k != "score_sum"} == {
            k: v for k, v in want.items() if k != "score_sum"
        }, key


@pytest.fixture
def writer(session_factory: async_sessionmaker[AsyncSession]) -> SqlRecordWriter:
    return SqlRecordWriter(session_factory)


async def test_the_writer_keeps_the_rollup_equal_to_the_activity_rows(
    writer: SqlRecordWriter, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world = World(seed=5)
    await _write_all(writer, world)
    expected = world.expected()
    assert any(row["events"] and row["attempts"] for row in expected.values())
    await _assert_world(session_factory, world)


async def test_re_ingested_rows_leave_their_old_bucket(
    writer: SqlRecordWriter, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world = World(seed=6)
    await _write_all(writer, world)
    rng = random.Random(7)
    moved_events = [
        replace(
            e, user_id=LEARNERS[(LEARNERS.index(e.user_id) + 1) % 12], occurred_at=_instant(rng)
        )
        for e in world.events[:25]
    ]
    moved_feedback = [
        replace(f, submitted_at=f.submitted_at + timedelta(days=3)) for f in world.feedback[:5]
    ]
    world.events[:25] = moved_events
    world.feedback[:5] = moved_feedback
    await writer.upsert_learning_events(moved_events, **STAMP)
    await writer.upsert_feedback(moved_feedback, **STAMP)
    await _assert_world(session_factory, world)


async def test_zone_changes_move_a_learners_days(
    writer: SqlRecordWriter, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world = World(seed=8)
    await _write_all(writer, world)
    # A learner moves from the Berlin organisation to the one without a timezone ...
    world.org_of["l-00"] = "org-u"
    await writer.upsert_users(world.users()[:1], **STAMP)
    await _assert_world(session_factory, world)
    # ... and that organisation takes New York's time.
    world.org_zone["org-u"] = "America/New_York"
    await writer.upsert_organizations([Organization("org-u", "org-u", "America/New_York")], **STAMP)
    await _assert_world(session_factory, world)


async def test_activity_of_a_learner_not_yet_known_is_moved_when_they_arrive(
    writer: SqlRecordWriter, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world = World(seed=9)
    await writer.upsert_organizations([Organization("org-b", "org-b", BERLIN)], **STAMP)
    await writer.upsert_learning_events(world.events, **STAMP)  # learners unknown: UTC days
    await writer.upsert_users(world.users(), **STAMP)
    world.attempts = world.practice = world.questions = world.feedback = []  # type: ignore[assignment]
    world.org_zone = {"org-b": BERLIN}
    await _assert_world(session_factory, world)


async def test_rebuild_restores_the_rollup(
    writer: SqlRecordWriter, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world = World(seed=10)
    await _write_all(writer, world)
    async with session_factory.begin() as session:
        await session.execute(delete(ActivityDayRow).where(ActivityDayRow.user_id != "l-03"))
        await session.execute(delete(ActivityUnitDayRow))
        stale = {"user_id": "ghost", "day": 1, "organization_id": "org-b", "events": 1}
        await session.execute(insert(ActivityDayRow), [stale])
    assert await activity_days.rebuild(session_factory, batch=5) == len(LEARNERS) + 1
    await _assert_world(session_factory, world)


async def test_a_bulk_writer_leaves_the_rollups_to_one_rebuild(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """`rollups=False` (the scale loader's writer) writes the records and no rollup row and no
    skill-gap summary; the rebuild at the end of the load makes them what the writer would
    have kept."""
    bulk = SqlRecordWriter(session_factory, rollups=False)
    world = World(seed=14)
    await _write_all(bulk, world)
    world.org_of["l-00"] = "org-u"  # a move recomputes the learner's days when rollups are kept
    await bulk.upsert_users(world.users()[:1], **STAMP)
    when = datetime(2026, 11, 1, tzinfo=UTC)
    await bulk.upsert_skill_profiles([SkillProfile("l-00", "python", 1, when, 3)], **STAMP)
    assert await _stored(session_factory) == {}
    assert await _stored_units(session_factory) == {}
    async with session_factory() as session:
        assert (await session.execute(select(SkillGapSummaryRow))).all() == []
    await activity_days.rebuild(session_factory)
    await _assert_world(session_factory, world)
    async with session_factory() as session:
        gaps = (await session.execute(select(SkillGapSummaryRow))).scalars().all()
    assert [(g.user_id, g.gap_sum, g.profiles) for g in gaps] == [("l-00", 2, 1)]


def _scope(
    world_window: Window, *, rolled_up: bool, departments: Sequence[str]
) -> OrganizationScope:
    tz = ZoneInfo(BERLIN)
    return OrganizationScope(
        organization_id="org-b",
        departments=tuple(departments),
        window=time_range(world_window, tz, now=datetime(2026, 12, 1, tzinfo=UTC)),
        organization_zone=rolled_up,
    )


async def test_rollup_and_activity_rows_give_the_same_organisation_aggregates(
    writer: SqlRecordWriter, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world = World(seed=11)
    await _write_all(writer, world)
    since = datetime(2026, 10, 15, 22, tzinfo=UTC)  # as_of - STALL_DAYS: 10-16 00:00 in Berlin
    as_of = datetime(2026, 11, 5, 23, tzinfo=UTC)  # 2026-11-06 00:00 in Berlin
    edges = {
        "edge-a": since - timedelta(seconds=1),
        "edge-b": since,
        "edge-c": as_of,
        "edge-d": as_of - timedelta(seconds=1),
    }
    await writer.upsert_users(
        [User(user, "org-b", None, None, "learner", "d-0") for user in edges], **STAMP
    )
    await writer.upsert_enrollments(
        [Enrollment(f"en-{user}", user, "c-1", START) for user in edges], **STAMP
    )
    await writer.upsert_learning_events(
        [
            LearningEvent(f"ev-{user}", user, "c-1", None, "progress", at)
            for user, at in edges.items()
        ],
        **STAMP,
    )
    repository = SqlAnalyticsRepository(session_factory)
    window = Window(date(2026, 10, 12), date(2026, 11, 5))  # crosses 2026-10-25
    weeks = weeks_of(window)
    answers = []
    for rolled_up in (True, False):
        scope = _scope(window, rolled_up=rolled_up, departments=["d-0", "d-1", "d-2"])
        anchor = scope.window.end - timedelta(days=7 * weeks)
        answers.append(
            (
                sorted(await repository.window_activity(scope), key=lambda a: a.department_id),
                sorted(
                    await repository.weekly_activity(scope, anchor=anchor),
                    key=lambda w: (w.department_id, w.week),
                ),
                await repository.culture_aggregates(scope, weeks=weeks),
                await repository.department_aggregates(scope),
                await repository.strategic_aggregates(scope, previous=previous_range(scope.window)),
            )
        )
    rollup, rows = answers
    assert rollup == rows
    activity = rollup[0]
    assert sum(a.active_learners for a in activity) == 9 + 3  # Berlin learners, edges a, b, d
    assert sum(w.active_learners for w in rollup[1]) > 9  # more than one week each
    skills, effort, before = rollup[4]
    assert all(skill.seconds > 0 for skill in skills)
    assert 0 < effort.weighted_seconds < effort.seconds
    assert before.seconds > 0  # the window before starts 2026-09-17: some events on 10-10..11
    # At risk: an open enrolment and no learning event in [as_of - 21 days, as_of), as_of =
    # 2026-11-06 00:00 Berlin: edge-a (a second before) and edge-c (at as_of) only.
    assert sum(d.at_risk for d in rollup[3]) == 2


async def test_departments_come_from_the_learner_else_their_team_else_unassigned(
    writer: SqlRecordWriter, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await writer.upsert_organizations([Organization("org-t", "T", "UTC")], **STAMP)
    await writer.upsert_teams([Team("t-1", "d-2", "Team")], **STAMP)
    await writer.upsert_users(
        [
            User("own", "org-t", None, None, "learner", "d-1", team_id="t-1"),
            User("team", "org-t", None, None, "learner", None, team_id="t-1"),
            User("none", "org-t", None, None, "learner"),
        ],
        **STAMP,
    )
    moment = datetime(2026, 11, 2, 12, tzinfo=UTC)
    await writer.upsert_learning_events(
        [
            LearningEvent(f"e-{user}", user, "c-1", None, "progress", moment, 60)
            for user in ("own", "team", "none")
        ],
        **STAMP,
    )
    repository = SqlAnalyticsRepository(session_factory)
    for rolled_up in (True, False):
        scope = OrganizationScope(
            organization_id="org-t",
            departments=("d-2", UNASSIGNED),
            window=time_range(
                Window(date(2026, 11, 1), date(2026, 11, 7)),
                ZoneInfo("UTC"),
                now=datetime(2026, 12, 1, tzinfo=UTC),
            ),
            organization_zone=rolled_up,
        )
        found = {
            a.department_id: a.active_learners for a in await repository.window_activity(scope)
        }
        assert found == {"d-2": 1, UNASSIGNED: 1}, rolled_up


async def test_skill_gap_summaries_follow_the_profiles(
    writer: SqlRecordWriter, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    when = datetime(2026, 11, 1, tzinfo=UTC)
    await writer.upsert_skill_profiles(
        [
            SkillProfile("g-1", "python", 1, when, 4),  # gap 3
            SkillProfile("g-1", "sql", 4, when, 3),  # above target: 0
            SkillProfile("g-1", "css", 2, when),  # no target: not counted
            SkillProfile("g-2", "python", 0, when, 2),
        ],
        **STAMP,
    )
    await writer.upsert_skill_profiles([SkillProfile("g-2", "python", 2, when, 2)], **STAMP)

    async def summaries() -> dict[str, tuple[int, int]]:
        async with session_factory() as session:
            rows = (await session.execute(select(SkillGapSummaryRow))).scalars().all()
        return {r.user_id: (r.gap_sum, r.profiles) for r in rows}

    assert await summaries() == {"g-1": (3, 2), "g-2": (0, 1)}
    async with session_factory.begin() as session:
        await session.execute(delete(SkillGapSummaryRow))
    await activity_days.rebuild(session_factory)
    assert await summaries() == {"g-1": (3, 2), "g-2": (0, 1)}


async def test_a_recomputation_of_thousands_of_learners_takes_one_lock(
    writer: SqlRecordWriter,
    session_factory: async_sessionmaker[AsyncSession],
    database: Database,
) -> None:
    """Past LOCKS_PER_TRANSACTION learners one exclusive "everyone" lock replaces the
    per-learner ones (a migration or rebuild must not fill PostgreSQL's lock table); a small
    write holds the shared one plus a lock per learner."""
    world = World(seed=12)
    await _write_all(writer, world)
    many = [*LEARNERS, *(f"nobody-{n}" for n in range(2 * activity_days.LOCKS_PER_TRANSACTION))]
    locks = text(
        "SELECT classid = CAST(:everyone AS oid) AS everyone, mode FROM pg_locks"
        " WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
    ).bindparams(everyone=activity_days.LOCK_NAMESPACE)
    for users, expected in (
        (many, {(True, "ExclusiveLock"): 1}),
        (LEARNERS, {(True, "ShareLock"): 1, (False, "ExclusiveLock"): len(LEARNERS)}),
    ):
        async with session_factory.begin() as session:
            await session.run_sync(
                lambda s, chosen=users: activity_days.recompute_users(s.connection(), chosen)
            )
            if database.kind == "postgres":
                held = Counter(tuple(row) for row in (await session.execute(locks)).all())
                assert dict(held) == expected
    await _assert_world(session_factory, world)


async def test_learner_locks_are_per_schema(postgres_url: str, unique_prefix: str) -> None:
    """Advisory locks belong to the whole database: a writer of the same learner in the same
    schema waits (here: times out), one in another schema (another store) does not."""
    schemas = [f"{unique_prefix}_a", f"{unique_prefix}_b"]
    plain = create_engine(postgres_url)
    engines = {
        schema: create_engine(
            postgres_url, connect_args={"server_settings": {"search_path": schema}}
        )
        for schema in schemas
    }
    try:
        async with plain.begin() as connection:
            for schema in schemas:
                await connection.execute(text(f'CREATE SCHEMA "{schema}"'))

        async def lock_error(schema: str) -> str | None:
            async with engines[schema].begin() as other:
                await other.execute(text("SET LOCAL lock_timeout = '300ms'"))
                try:
                    await other.run_sync(lambda c: activity_days._lock(c, ["l-00", "l-01"]))
                except DBAPIError as error:
                    return str(error)
            return None

        async with engines[schemas[0]].begin() as holder:
            await holder.run_sync(lambda c: activity_days._lock(c, ["l-01"]))
            assert await lock_error(schemas[1]) is None
            assert "lock timeout" in (await lock_error(schemas[0]) or "")
    finally:
        async with plain.begin() as connection:
            for schema in schemas:
                await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        for engine in (plain, *engines.values()):
            await engine.dispose()


async def test_compaction_rebuilds_the_rollup_indexes_and_keeps_the_rows(
    writer: SqlRecordWriter,
    session_factory: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    database: Database,
) -> None:
    """On PostgreSQL `compact` swaps every rollup index for a freshly built one (a new file
    node) no larger than the one a rebuild left behind, and the rows stay what they were; on
    SQLite it does nothing and says so."""
    world = World(seed=13)
    await _write_all(writer, world)
    await activity_days.rebuild(session_factory, batch=3)
    await activity_days.rebuild(session_factory, batch=3)  # dead entries in every index
    indexes = text(
        "SELECT i.relname, i.relfilenode, pg_relation_size(i.oid) FROM pg_index x"
        " JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid"
        " WHERE t.relname IN ('activity_days', 'activity_unit_days', 'skill_gap_summaries')"
        " AND t.relnamespace = to_regnamespace(current_schema())::oid"
    )

    async def index_files() -> dict[str, tuple[int, int]]:
        async with session_factory() as session:
            return {name: (node, size) for name, node, size in await session.execute(indexes)}

    before = await index_files() if database.kind == "postgres" else {}
    assert await activity_days.compact(engine) is (database.kind == "postgres")
    if database.kind == "postgres":
        after = await index_files()
        assert set(after) == set(before)
        assert len(after) >= 6
        for name, (node, size) in after.items():
            assert node != before[name][0], name
            assert size <= before[name][1], name
        visible = text(
            "SELECT relname, relallvisible FROM pg_class WHERE relname IN"
            " ('activity_days', 'activity_unit_days')"
            " AND relnamespace = to_regnamespace(current_schema())::oid"
        )
        async with session_factory() as session:
            vacuumed = dict((await session.execute(visible)).all())
        assert vacuumed.keys() == {"activity_days", "activity_unit_days"}
        assert all(pages > 0 for pages in vacuumed.values()), vacuumed  # only VACUUM sets it
    await _assert_world(session_factory, world)


async def test_the_rebuild_command_recomputes_then_compacts(
    writer: SqlRecordWriter,
    session_factory: async_sessionmaker[AsyncSession],
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`learning-analytics rebuild-rollup` against the test's store: the rollups come back, the
    recomputation is reported, and on PostgreSQL so is the index rebuild (never on SQLite)."""
    world = World(seed=15)
    await _write_all(writer, world)
    async with session_factory.begin() as session:
        await session.execute(delete(ActivityDayRow))
        await session.execute(delete(ActivityUnitDayRow))
    monkeypatch.setenv("DATABASE_URL", database.url)
    if database.schema is None:
        monkeypatch.delenv("DATABASE_SCHEMA", raising=False)
    else:
        monkeypatch.setenv("DATABASE_SCHEMA", database.schema)
    get_settings.cache_clear()
    try:
        result = await anyio.to_thread.run_sync(lambda: CliRunner().invoke(app, ["rebuild-rollup"]))
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert f"activity_days recomputed for {len(LEARNERS)} learners" in result.output
    assert ("rollup indexes rebuilt and vacuumed" in result.output) is (database.kind == "postgres")
    await _assert_world(session_factory, world)
