"""One contract suite for the store's SQL adapters, run on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from learning_analytics.application.ports import (
    ActivityRepository,
    MembershipRepository,
    RecordWriter,
    SyncStateRepository,
    UserProfile,
    UserRepository,
)
from learning_analytics.domain.records import (
    AssessmentAttempt,
    AssistantInteraction,
    Course,
    CourseUnit,
    Department,
    Enrollment,
    ExternalId,
    Feedback,
    LearningEvent,
    LearningPath,
    Organization,
    PracticeSession,
    SkillProfile,
    SkillScore,
    StrategicSkillTarget,
    SyncState,
    Team,
    User,
)
from learning_analytics.infrastructure.db import repositories
from learning_analytics.infrastructure.db.engine import create_engine
from learning_analytics.infrastructure.db.repositories import (
    SqlActivityRepository,
    SqlMembershipRepository,
    SqlRecordWriter,
    SqlSyncStateRepository,
    SqlUserRepository,
)
from learning_analytics.infrastructure.db.tables import (
    AssessmentSkillScoreRow,
    CourseUnitSkillRow,
    EnrollmentRow,
    LearningEventRow,
    LearningPathRow,
    PointsLedgerRow,
    RawPayloadRow,
    SkillProfileRow,
    StrategicSkillTargetRow,
    UserRow,
)

pytestmark = pytest.mark.anyio

Sessions = async_sessionmaker[AsyncSession]

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CEST = timezone(timedelta(hours=2))
SOURCE = "directory"


@pytest.fixture
def writer(session_factory: Sessions) -> RecordWriter:
    return SqlRecordWriter(session_factory)


def user(user_id: str, **changes: object) -> User:
    fields: dict[str, object] = {
        "id": user_id,
        "organization_id": "o-1",
        "email": f"{user_id}@example.com",
        "display_name": f"User {user_id}",
        "role": "learner",
    }
    fields.update(changes)
    return User(**fields)  # type: ignore[arg-type]


async def count(sessions: Sessions, model: type[object]) -> int:
    async with sessions() as session:
        total = await session.scalar(select(func.count()).select_from(model))
    return int(total or 0)


# --------------------------------------------------------------------------------------------
# Upserts


async def test_writing_the_same_batch_twice_leaves_the_same_rows(
    writer: RecordWriter, session_factory: Sessions
) -> None:
    batch = [user("u-1"), user("u-2")]

    assert await writer.upsert_users(batch, source=SOURCE, ingested_at=T0) == 2
    assert await writer.upsert_users(batch, source=SOURCE, ingested_at=T0) == 2

    assert await count(session_factory, UserRow) == 2


async def test_an_upsert_overwrites_every_field_and_the_stamp(
    writer: RecordWriter, session_factory: Sessions
) -> None:
    await writer.upsert_users(
        [user("u-1", team_id="t-1", timezone="Europe/Paris"), user("u-2")],
        source=SOURCE,
        ingested_at=T0,
    )
    later = T0 + timedelta(hours=1)

    await writer.upsert_users(
        [user("u-1", display_name="Renamed", role="manager", leaderboard_visible=False)],
        source="auth",
        ingested_at=later,
    )

    async with session_factory() as session:
        changed = await session.get_one(UserRow, "u-1")
        untouched = await session.get_one(UserRow, "u-2")
    assert (changed.display_name, changed.role, changed.leaderboard_visible) == (
        "Renamed",
        "manager",
        False,
    )
    assert changed.team_id is None  # the newest record is the truth, gaps included
    assert changed.timezone is None
    assert (changed.source, changed.ingested_at) == ("auth", later)
    assert (untouched.display_name, untouched.source, untouched.ingested_at) == (
        "User u-2",
        SOURCE,
        T0,
    )


async def test_within_one_batch_the_last_record_of_a_key_wins(
    writer: RecordWriter, session_factory: Sessions
) -> None:
    written = await writer.upsert_users(
        [user("u-1", display_name="First"), user("u-1", display_name="Second")],
        source=SOURCE,
        ingested_at=T0,
    )

    assert written == 1
    async with session_factory() as session:
        assert (await session.get_one(UserRow, "u-1")).display_name == "Second"


async def test_a_large_batch_is_written_whole(
    writer: RecordWriter, session_factory: Sessions
) -> None:
    events = [
        LearningEvent(
            id=f"e-{n}",
            user_id=f"u-{n % 7}",
            course_id="c-1",
            unit_id=f"l-{n % 11}",
            verb="completed",
            occurred_at=T0 + timedelta(minutes=n),
            seconds_spent=n,
        )
        for n in range(2 * repositories.MAX_ROWS_PER_CHUNK + 37)
    ]

    written = await writer.upsert_learning_events(events, source="content", ingested_at=T0)

    assert written == len(events)
    assert await count(session_factory, LearningEventRow) == len(events)
    async with session_factory() as session:
        total = await session.scalar(select(func.sum(LearningEventRow.seconds_spent)))
    assert total == sum(event.seconds_spent for event in events)


async def test_an_assessment_attempt_replaces_its_skill_scores(
    writer: RecordWriter, session_factory: Sessions
) -> None:
    def attempt(*scores: SkillScore, score: float) -> AssessmentAttempt:
        return AssessmentAttempt(
            id="a-1",
            user_id="u-1",
            course_id="c-1",
            assessment_id="x-1",
            score_pct=score,
            passed=score >= 60,
            submitted_at=T0,
            exam_type="post_course",
            skill_scores=scores,
        )

    await writer.upsert_assessment_attempts(
        [attempt(SkillScore("python", 40.0), SkillScore("sql", 70.0), score=55.0)],
        source="assessment",
        ingested_at=T0,
    )
    await writer.upsert_assessment_attempts(
        [attempt(SkillScore("sql", 90.0), SkillScore("git", 80.0), score=85.0)],
        source="assessment",
        ingested_at=T0,
    )

    async with session_factory() as session:
        rows = await session.execute(
            select(AssessmentSkillScoreRow.skill_id, AssessmentSkillScoreRow.score_pct)
        )
        scores = dict(rows.all())
    assert scores == {"sql": 90.0, "git": 80.0}


async def test_a_course_unit_replaces_its_skills(
    writer: RecordWriter, session_factory: Sessions
) -> None:
    def unit(unit_id: str, *skills: str) -> CourseUnit:
        return CourseUnit(
            id=unit_id,
            course_id="c-1",
            position=1,
            kind="content",
            title="Joins",
            content_type="video",
            parent_id="l-1",
            skills=skills,
        )

    await writer.upsert_courses(
        [Course(id="c-1", organization_id="o-1", title="SQL", trainer_id="t-1")],
        source="course-builder",
        ingested_at=T0,
    )
    await writer.upsert_course_units(
        [unit("k-1", "sql", "joins"), unit("k-2", "sql")], source="content", ingested_at=T0
    )
    await writer.upsert_course_units(
        [unit("k-1", "joins", "sets")], source="content", ingested_at=T0
    )

    async with session_factory() as session:
        rows = await session.execute(
            select(CourseUnitSkillRow.unit_id, CourseUnitSkillRow.skill_id)
        )
        pairs = {(unit_id, skill_id) for unit_id, skill_id in rows}
    assert pairs == {("k-1", "joins"), ("k-1", "sets"), ("k-2", "sql")}


async def test_natural_keys_upsert_skill_profiles_and_strategic_targets(
    writer: RecordWriter, session_factory: Sessions
) -> None:
    await writer.upsert_skill_profiles(
        [
            SkillProfile("u-1", "sql", current_level=2, updated_at=T0, target_level=4),
            SkillProfile("u-1", "git", current_level=1, updated_at=T0),
        ],
        source="skills",
        ingested_at=T0,
    )
    await writer.upsert_skill_profiles(
        [SkillProfile("u-1", "sql", current_level=3, updated_at=T0, target_level=4, verified=True)],
        source="skills",
        ingested_at=T0,
    )
    for _ in range(2):
        await writer.upsert_strategic_skill_targets(
            [StrategicSkillTarget("o-1", "sql", weight=2.0, target_level=4)],
            source="skills",
            ingested_at=T0,
        )

    async with session_factory() as session:
        sql = await session.get_one(SkillProfileRow, ("u-1", "sql"))
    assert (sql.current_level, sql.target_level, sql.verified) == (3, 4, True)
    assert await count(session_factory, SkillProfileRow) == 2
    assert await count(session_factory, StrategicSkillTargetRow) == 1


async def test_learning_path_steps_round_trip(
    writer: RecordWriter, session_factory: Sessions
) -> None:
    steps = ({"position": 1, "unitId": "l-1", "done": True}, {"position": 2, "note": None})
    await writer.upsert_learning_paths(
        [LearningPath(id="p-1", user_id="u-1", updated_at=T0, course_id="c-1", steps=steps)],
        source="learner-ai",
        ingested_at=T0,
    )

    async with session_factory() as session:
        stored = await session.get_one(LearningPathRow, "p-1")
    assert stored.steps == [dict(step) for step in steps]


async def test_a_naive_datetime_is_refused(writer: RecordWriter) -> None:
    naive = Enrollment(
        id="n-1", user_id="u-1", course_id="c-1", enrolled_at=datetime(2025, 3, 1, 12, 0)
    )

    with pytest.raises(StatementError, match="naive datetime"):
        await writer.upsert_enrollments([naive], source="course-builder", ingested_at=T0)


async def test_instants_round_trip_as_aware_utc(
    writer: RecordWriter, session_factory: Sessions
) -> None:
    enrolled = datetime(2025, 3, 1, 14, 30, 15, 123456, tzinfo=CEST)
    await writer.upsert_enrollments(
        [Enrollment(id="n-1", user_id="u-1", course_id="c-1", enrolled_at=enrolled)],
        source="course-builder",
        ingested_at=T0,
    )

    async with session_factory() as session:
        stored = await session.get_one(EnrollmentRow, "n-1")
    assert stored.enrolled_at == enrolled
    assert stored.enrolled_at.tzinfo is UTC
    assert stored.enrolled_at.hour == 12


# --------------------------------------------------------------------------------------------
# External ids


async def test_external_ids_map_per_source_and_kind(writer: RecordWriter) -> None:
    await writer.upsert_external_ids(
        [
            ExternalId("directory", "user", "emp-17", "u-1"),
            ExternalId("directory", "user", "emp-18", "u-2"),
            ExternalId("assessment", "user", "emp-17", "u-9"),
            ExternalId("directory", "course", "emp-17", "c-1"),
        ],
        ingested_at=T0,
    )
    await writer.upsert_external_ids(
        [ExternalId("directory", "user", "emp-18", "u-3")], ingested_at=T0
    )

    found = await writer.internal_ids(
        source="directory", kind="user", external_ids=["emp-17", "emp-18", "emp-404"]
    )

    assert found == {"emp-17": "u-1", "emp-18": "u-3"}
    assert await writer.internal_ids(source="directory", kind="user", external_ids=[]) == {}


# --------------------------------------------------------------------------------------------
# Membership facts (SPEC §8.3)


async def _organisation(writer: RecordWriter) -> None:
    await writer.upsert_organizations(
        [Organization("o-1", "Acme", timezone="Europe/Berlin"), Organization("o-2", "Other")],
        source=SOURCE,
        ingested_at=T0,
    )
    await writer.upsert_departments(
        [
            Department("d-1", "o-1", "Engineering", manager_id="m-dept"),
            Department("d-2", "o-1", "Sales", manager_id="m-sales"),
        ],
        source=SOURCE,
        ingested_at=T0,
    )
    await writer.upsert_teams(
        [Team("t-1", "d-1", "Platform", manager_id="m-team"), Team("t-2", "d-2", "Field")],
        source=SOURCE,
        ingested_at=T0,
    )
    await writer.upsert_users(
        [
            user("u-1", department_id="d-1", team_id="t-1", manager_id="m-direct"),
            user("u-2", team_id="t-2"),  # no department of their own: the team's counts
            user("u-3"),
            user("u-4", organization_id="o-unknown", department_id="d-gone", team_id="t-gone"),
        ],
        source=SOURCE,
        ingested_at=T0,
    )


async def test_learner_facts_gather_direct_department_and_team_managers(
    writer: RecordWriter, session_factory: Sessions
) -> None:
    await _organisation(writer)
    membership: MembershipRepository = SqlMembershipRepository(session_factory)

    facts = await membership.learner_facts("u-1")

    assert facts is not None
    assert (facts.user_id, facts.organization_id, facts.department_id, facts.team_id) == (
        "u-1",
        "o-1",
        "d-1",
        "t-1",
    )
    assert facts.manager_ids == {"m-direct", "m-dept", "m-team"}
    assert facts.trainer_ids == frozenset()


async def test_learner_facts_use_the_team_department_when_the_user_has_none(
    writer: RecordWriter, session_factory: Sessions
) -> None:
    await _organisation(writer)
    membership = SqlMembershipRepository(session_factory)

    facts = await membership.learner_facts("u-2")

    assert facts is not None
    assert facts.department_id == "d-2"
    assert facts.manager_ids == {"m-sales"}  # team t-2 has no manager


async def test_learner_facts_without_structure_or_with_dangling_ids(
    writer: RecordWriter, session_factory: Sessions
) -> None:
    await _organisation(writer)
    membership = SqlMembershipRepository(session_factory)

    alone = await membership.learner_facts("u-3")
    dangling = await membership.learner_facts("u-4")

    assert alone is not None
    assert (alone.department_id, alone.team_id, alone.manager_ids) == (None, None, frozenset())
    assert dangling is not None
    assert (dangling.organization_id, dangling.department_id, dangling.team_id) == (
        "o-unknown",
        "d-gone",
        "t-gone",
    )
    assert dangling.manager_ids == frozenset()


async def test_trainers_are_those_of_courses_the_learner_is_enrolled_in(
    writer: RecordWriter, session_factory: Sessions
) -> None:
    await _organisation(writer)
    await writer.upsert_courses(
        [
            Course("c-1", "o-1", "Python", trainer_id="tr-1"),
            Course("c-2", "o-1", "SQL", trainer_id="tr-2"),
            Course("c-3", "o-1", "Git"),  # no trainer
            Course("c-4", "o-1", "Go", trainer_id="tr-1"),
            Course("c-5", "o-1", "Rust", trainer_id="tr-5"),  # someone else's enrollment
        ],
        source="course-builder",
        ingested_at=T0,
    )
    await writer.upsert_enrollments(
        [
            Enrollment("n-1", "u-1", "c-1", enrolled_at=T0),
            Enrollment("n-2", "u-1", "c-2", enrolled_at=T0, withdrawn_at=T0 + timedelta(days=1)),
            Enrollment("n-3", "u-1", "c-3", enrolled_at=T0),
            Enrollment("n-4", "u-1", "c-4", enrolled_at=T0, completed_at=T0 + timedelta(days=9)),
            Enrollment("n-5", "u-1", "c-missing", enrolled_at=T0),
            Enrollment("n-6", "u-3", "c-5", enrolled_at=T0),
        ],
        source="course-builder",
        ingested_at=T0,
    )
    membership = SqlMembershipRepository(session_factory)

    facts = await membership.learner_facts("u-1")

    assert facts is not None
    assert facts.trainer_ids == {"tr-1"}


async def test_learner_facts_of_an_unknown_user_are_none(
    writer: RecordWriter, session_factory: Sessions
) -> None:
    await _organisation(writer)

    assert await SqlMembershipRepository(session_factory).learner_facts("u-404") is None


# --------------------------------------------------------------------------------------------
# Profiles


async def test_profile_carries_the_organisation_timezone(
    writer: RecordWriter, session_factory: Sessions
) -> None:
    await _organisation(writer)
    await writer.upsert_users(
        [user("u-5", timezone="Asia/Tokyo", leaderboard_visible=False, role="trainer")],
        source=SOURCE,
        ingested_at=T0,
    )
    users: UserRepository = SqlUserRepository(session_factory)

    assert await users.get_profile("u-5") == UserProfile(
        id="u-5",
        email="u-5@example.com",
        display_name="User u-5",
        role="trainer",
        organization_id="o-1",
        department_id=None,
        team_id=None,
        manager_id=None,
        timezone="Asia/Tokyo",
        organization_timezone="Europe/Berlin",
        leaderboard_visible=False,
    )
    profile = await users.get_profile("u-1")
    assert profile is not None
    assert (profile.department_id, profile.team_id, profile.manager_id) == (
        "d-1",
        "t-1",
        "m-direct",
    )
    unknown_org = await users.get_profile("u-4")
    assert unknown_org is not None
    assert unknown_org.organization_timezone is None
    assert await users.get_profile("u-404") is None


# --------------------------------------------------------------------------------------------
# Activity (SPEC §10 "active day")


async def _activity(writer: RecordWriter) -> None:
    at = T0
    await writer.upsert_learning_events(
        [
            LearningEvent(
                "e-1", "u-1", "c-1", "l-1", "started", occurred_at=at - timedelta(days=3)
            ),
            LearningEvent("e-2", "u-1", "c-1", "l-1", "completed", occurred_at=at),  # == since
            LearningEvent("e-3", "u-2", "c-1", "l-1", "completed", occurred_at=at),  # other user
        ],
        source="content",
        ingested_at=T0,
    )
    await writer.upsert_assessment_attempts(
        [
            AssessmentAttempt(
                "a-1",
                "u-1",
                "c-1",
                "x-1",
                score_pct=80.0,
                passed=True,
                submitted_at=datetime(2025, 3, 2, 10, 0, tzinfo=CEST),  # 08:00 UTC
            )
        ],
        source="assessment",
        ingested_at=T0,
    )
    await writer.upsert_practice_sessions(
        [
            PracticeSession("s-1", "u-1", started_at=at + timedelta(hours=5), completed=True),
            PracticeSession("s-2", "u-1", started_at=at + timedelta(days=2)),  # == until
        ],
        source="devlab",
        ingested_at=T0,
    )
    await writer.upsert_assistant_interactions(
        [AssistantInteraction("q-1", "u-1", asked_at=at + timedelta(days=1, minutes=1))],
        source="rag",
        ingested_at=T0,
    )
    await writer.upsert_feedback(  # feedback is not activity
        [Feedback("f-1", "u-1", "c-1", rating=5, submitted_at=at + timedelta(hours=1))],
        source="content",
        ingested_at=T0,
    )


async def test_activity_times_unite_the_four_activity_tables_in_order(
    writer: RecordWriter, session_factory: Sessions
) -> None:
    await _activity(writer)
    activity: ActivityRepository = SqlActivityRepository(session_factory)

    times = await activity.activity_times("u-1", since=T0, until=T0 + timedelta(days=2))

    assert list(times) == [
        T0,
        T0 + timedelta(hours=5),
        datetime(2025, 3, 2, 8, 0, tzinfo=UTC),
        T0 + timedelta(days=1, minutes=1),
    ]
    assert all(instant.tzinfo is UTC for instant in times)


async def test_activity_times_without_since_reach_back_to_the_start(
    writer: RecordWriter, session_factory: Sessions
) -> None:
    await _activity(writer)
    activity = SqlActivityRepository(session_factory)

    times = await activity.activity_times("u-1", since=None, until=T0 + timedelta(days=30))

    assert len(times) == 6
    assert times[0] == T0 - timedelta(days=3)
    assert times[-1] == T0 + timedelta(days=2)
    assert list(times) == sorted(times)
    assert await activity.activity_times("u-404", since=None, until=T0) == []


async def test_activity_bounds_compare_instants_not_local_clock_times(
    writer: RecordWriter, session_factory: Sessions
) -> None:
    await _activity(writer)
    activity = SqlActivityRepository(session_factory)

    # 13:59 CEST is 11:59 UTC, before the 12:00 UTC event; 14:00 CEST is the event itself.
    before = datetime(2025, 3, 1, 13, 59, tzinfo=CEST)
    at = datetime(2025, 3, 1, 14, 0, tzinfo=CEST)

    assert await activity.activity_times("u-1", since=before, until=at) == []
    assert await activity.activity_times("u-1", since=at, until=at + timedelta(minutes=1)) == [T0]


async def test_last_ingested_at_is_the_newest_row_about_the_user(
    writer: RecordWriter, session_factory: Sessions
) -> None:
    activity = SqlActivityRepository(session_factory)
    assert await activity.last_ingested_at("u-1") is None

    await writer.upsert_users([user("u-1"), user("u-2")], source=SOURCE, ingested_at=T0)
    assert await activity.last_ingested_at("u-1") == T0

    newest = T0 + timedelta(hours=3)
    await writer.upsert_skill_profiles(
        [SkillProfile("u-1", "sql", current_level=2, updated_at=T0)],
        source="skills",
        ingested_at=newest,
    )
    await writer.upsert_learning_events(
        [LearningEvent("e-1", "u-1", "c-1", None, "progress", occurred_at=T0)],
        source="content",
        ingested_at=T0 + timedelta(hours=1),
    )
    await writer.upsert_practice_sessions(
        [PracticeSession("s-9", "u-2", started_at=T0)],
        source="devlab",
        ingested_at=T0 + timedelta(days=1),  # another user's rows do not count
    )

    found = await activity.last_ingested_at("u-1")
    assert found == newest
    assert found is not None
    assert found.tzinfo is UTC


# --------------------------------------------------------------------------------------------
# Data versions, raw payloads, sync state, gamification constraints


async def test_data_versions_count_up_per_scope(writer: RecordWriter) -> None:
    assert await writer.get_data_version("org:o-1") == 0

    assert await writer.bump_data_version("org:o-1") == 1
    assert await writer.bump_data_version("org:o-1") == 2
    assert await writer.bump_data_version("user:u-1") == 1

    assert await writer.get_data_version("org:o-1") == 2
    assert await writer.get_data_version("user:u-1") == 1


async def test_raw_payloads_are_archived_as_received(
    writer: RecordWriter, session_factory: Sessions
) -> None:
    payload = '{"users": [{"id": "emp-17", "name": "Zoë"}]}'
    await writer.archive_raw_payload(source=SOURCE, fetched_at=T0, payload=payload)
    await writer.archive_raw_payload(source=SOURCE, fetched_at=T0, payload=payload)

    async with session_factory() as session:
        rows = (await session.scalars(select(RawPayloadRow))).all()
    assert [(row.source, row.fetched_at, row.payload) for row in rows] == [
        (SOURCE, T0, payload),
        (SOURCE, T0, payload),
    ]


async def test_sync_state_keeps_the_cursor_across_failures(session_factory: Sessions) -> None:
    states: SyncStateRepository = SqlSyncStateRepository(session_factory)
    assert await states.get("directory") is None

    await states.record_success("directory", cursor="page-7", at=T0)
    await states.record_failure("directory", error="timeout", at=T0 + timedelta(hours=1))

    assert await states.get("directory") == SyncState(
        source="directory",
        cursor="page-7",
        last_success_at=T0,
        last_error="timeout",
        last_error_at=T0 + timedelta(hours=1),
    )

    await states.record_success("directory", cursor="page-9", at=T0 + timedelta(hours=2))
    state = await states.get("directory")
    assert state is not None
    assert (state.cursor, state.last_success_at) == ("page-9", T0 + timedelta(hours=2))
    assert state.last_error == "timeout"


async def test_points_ledger_refuses_a_second_award_for_the_same_event(
    session_factory: Sessions,
) -> None:
    def award(source_event: str) -> PointsLedgerRow:
        return PointsLedgerRow(
            user_id="u-1",
            rule="lesson_completed",
            source_event=source_event,
            points=10,
            awarded_at=T0,
        )

    async with session_factory.begin() as session:
        session.add_all([award("e-1"), award("e-2")])

    with pytest.raises(IntegrityError):
        async with session_factory.begin() as session:
            session.add(award("e-1"))

    assert await count(session_factory, PointsLedgerRow) == 2


# --------------------------------------------------------------------------------------------
# The SQLite engine


async def test_sqlite_engine_creates_the_folder_and_sets_its_pragmas(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'var' / 'store.db'}"
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            pragmas = [
                (await connection.execute(text(f"PRAGMA {name}"))).scalar_one()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            ]
    finally:
        await engine.dispose()

    assert (tmp_path / "nested" / "var" / "store.db").exists()
    assert pragmas == ["wal", 1, 5000]


async def test_in_memory_sqlite_is_one_database_for_every_session() -> None:
    engine = create_engine("sqlite+aiosqlite://")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE probe (n INTEGER)"))
            await connection.execute(text("INSERT INTO probe VALUES (7)"))
        async with engine.connect() as other:
            assert (await other.execute(text("SELECT n FROM probe"))).scalar_one() == 7
    finally:
        await engine.dispose()


async def test_large_batches_upsert_in_bulk(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    # >= 200 rows take PostgreSQL's COPY path: inserts, then updates of every row.
    from learning_analytics.domain.records import LearningEvent
    from learning_analytics.infrastructure.db.tables import LearningEventRow

    writer = SqlRecordWriter(session_factory)
    t0 = datetime(2026, 3, 1, tzinfo=UTC)

    def events(seconds: int) -> list[LearningEvent]:
        return [
            LearningEvent(f"bulk-{i}", "u-bulk", "c-1", None, "completed", t0, seconds)
            for i in range(300)
        ]

    assert await writer.upsert_learning_events(events(10), source="s", ingested_at=t0) == 300
    assert await writer.upsert_learning_events(events(20), source="s", ingested_at=t0) == 300
    async with session_factory() as session:
        stored = (await session.scalars(select(LearningEventRow.seconds_spent))).all()
    assert sorted(set(stored)) == [20]
    assert len(stored) == 300
