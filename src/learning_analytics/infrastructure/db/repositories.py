"""SQL adapters of the store ports, one code path for SQLite and PostgreSQL.

Writes are `INSERT ... ON CONFLICT DO UPDATE` (both dialects have it), in chunks, so ingestion
is an idempotent upsert (SPEC §4). Reads are a few explicit queries per use case.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import (
    JSON,
    ColumnElement,
    Select,
    Table,
    delete,
    func,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from learning_analytics.application.ports import UserProfile
from learning_analytics.domain.policy import LearnerFacts
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
    StrategicSkillTarget,
    SyncState,
    Team,
    User,
)
from learning_analytics.infrastructure.db import activity_days
from learning_analytics.infrastructure.db.tables import (
    AssessmentAttemptRow,
    AssessmentSkillScoreRow,
    AssistantInteractionRow,
    Base,
    CourseRow,
    CourseUnitRow,
    CourseUnitSkillRow,
    DataVersionRow,
    DepartmentRow,
    EnrollmentRow,
    ExternalIdRow,
    FeedbackRow,
    LearningEventRow,
    LearningPathRow,
    OrganizationRow,
    PracticeSessionRow,
    RawPayloadRow,
    SkillProfileRow,
    StrategicSkillTargetRow,
    SyncStateRow,
    TeamRow,
    UserRow,
)

Sessions = async_sessionmaker[AsyncSession]
Row = dict[str, Any]
R = TypeVar("R")

# PostgreSQL (asyncpg) allows 32767 bind parameters per statement, SQLite 32766; stay below both.
MAX_PARAMETERS = 30_000
MAX_ROWS_PER_CHUNK = 1_000
COPY_MIN_ROWS = 200  # below this, a multi-row INSERT is as fast as COPY


class UnsupportedDatabaseError(RuntimeError):
    """The store runs on SQLite or PostgreSQL only."""


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def _chunks(rows: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _insert(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise UnsupportedDatabaseError(f"no upsert for the {dialect!r} database")


def _distinct_by_key(rows: Iterable[Row], key: Sequence[str]) -> list[Row]:
    """One row per key, the last one given (a batch may repeat a record; the newest wins)."""
    by_key: dict[tuple[Any, ...], Row] = {}
    for row in rows:
        values = tuple(row[column] for column in key)
        by_key.pop(values, None)  # re-insert so the order is that of the last occurrence
        by_key[values] = row
    return list(by_key.values())


async def _upsert(
    session: AsyncSession,
    table: Table,
    rows: Sequence[Row],
    *,
    update: Sequence[str] | None = None,
) -> int:
    """Insert `rows`, or update the stored rows with the same primary key.

    `update` names the columns a conflict overwrites (default: every non-key column given).
    Returns the number of distinct keys written.
    """
    key = [column.name for column in table.primary_key.columns]
    distinct = _distinct_by_key(rows, key)
    if not distinct:
        return 0
    columns = list(distinct[0])
    overwrite = [c for c in (update if update is not None else columns) if c not in key]
    dialect = _dialect(session)
    if dialect == "postgresql" and len(distinct) >= COPY_MIN_ROWS and _copyable(table):
        await _copy_upsert(session, table, distinct, key=key, columns=columns, overwrite=overwrite)
        return len(distinct)
    per_chunk = max(1, min(MAX_ROWS_PER_CHUNK, MAX_PARAMETERS // len(columns)))
    for chunk in _chunks(distinct, per_chunk):
        statement = _insert(dialect, table)
        if overwrite:
            upsert = statement.on_conflict_do_update(
                index_elements=key,
                set_={column: statement.excluded[column] for column in overwrite},
            )
        else:
            upsert = statement.on_conflict_do_nothing(index_elements=key)
        await session.execute(upsert, list(chunk))
    return len(distinct)


async def _upsert_activity(
    session: AsyncSession, model: type[Base], rows: Sequence[Row], *, rollups: bool
) -> int:
    """Upsert activity rows and, with `rollups`, recompute the activity rollup's buckets they
    touch (where they land, and where the same ids were before), in the same transaction."""
    if not rollups:
        return await _upsert(session, _table(model), rows)
    source = activity_days.SOURCE_OF[model]
    ids = [row["id"] for row in rows]
    before = await session.run_sync(
        lambda s: activity_days.stored_touches(s.connection(), model, ids)
    )
    written = await _upsert(session, _table(model), rows)
    at = source.at.key
    touches = [*before, *((row["user_id"], row[at]) for row in rows)]
    await session.run_sync(lambda s: activity_days.refresh(s.connection(), touches))
    return written


# Rows that decide where learners' rollup rows belong (organisation, timezone): for each, the
# rollup home of the written ids, and the learners a changed one moves.
HOMES: dict[type[Base], tuple[Callable[..., dict[str, Any]], Callable[..., list[str]]]] = {
    OrganizationRow: (
        activity_days.organization_zone_keys,
        activity_days.users_of_organizations,
    ),
    UserRow: (activity_days.home_keys_of_users, lambda _connection, ids: list(ids)),
}


async def _upsert_homes(session: AsyncSession, model: type[Base], rows: Sequence[Row]) -> int:
    """Upsert organisations or users, and recompute the rollup rows of the learners whose home
    (organisation or its timezone) the write changed, in the same transaction."""
    keys, members = HOMES[model]
    ids = sorted({row["id"] for row in rows})
    before = await session.run_sync(lambda s: keys(s.connection(), ids))
    written = await _upsert(session, _table(model), rows)
    after = await session.run_sync(lambda s: keys(s.connection(), ids))
    moved = [i for i in ids if before[i] != after[i]]
    if moved:

        def recompute(s: Session) -> None:
            activity_days.recompute_users(s.connection(), members(s.connection(), moved))

        await session.run_sync(recompute)
    return written


def _copyable(table: Table) -> bool:
    """COPY sends values as they are: only tables whose columns need no conversion."""
    return all(not isinstance(column.type, JSON) for column in table.columns)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def _copy_upsert(
    session: AsyncSession,
    table: Table,
    rows: Sequence[Row],
    *,
    key: Sequence[str],
    columns: Sequence[str],
    overwrite: Sequence[str],
) -> None:
    """PostgreSQL bulk upsert: COPY the rows into a session-private temporary table, then one
    INSERT ... SELECT ... ON CONFLICT. An order of magnitude faster than multi-row INSERTs for
    sync-sized batches, in the same transaction as the rest of the write."""
    connection = await session.connection()
    # SQLAlchemy opens the driver's transaction lazily, at its first statement: open it now, so
    # the COPY and the INSERT belong to the session's transaction (and commit or roll back
    # with the rest of the write).
    await connection.exec_driver_sql("SELECT 1")
    driver = (await connection.get_raw_connection()).driver_connection
    if driver is None or not driver.is_in_transaction():
        raise UnsupportedDatabaseError("COPY needs the session's open transaction")
    staging = _quoted(f"staging_{table.name}")
    names = ", ".join(_quoted(c) for c in columns)
    conflict = ", ".join(_quoted(c) for c in key)
    action = (
        "DO UPDATE SET " + ", ".join(f"{_quoted(c)} = EXCLUDED.{_quoted(c)}" for c in overwrite)
        if overwrite
        else "DO NOTHING"
    )
    await driver.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {staging} "
        f"(LIKE {_quoted(table.name)} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    await driver.copy_records_to_table(
        f"staging_{table.name}",
        records=[tuple(row[c] for c in columns) for row in rows],
        columns=list(columns),
    )
    await driver.execute(
        # Every name here comes from our own table metadata, quoted; values travel by COPY.
        f"INSERT INTO {_quoted(table.name)} ({names}) SELECT {names} FROM {staging} "  # noqa: S608
        f"ON CONFLICT ({conflict}) {action}"
    )
    await driver.execute(f"TRUNCATE {staging}")


async def _replace_children(
    session: AsyncSession,
    table: Table,
    *,
    parent_column: str,
    parent_ids: Sequence[str],
    rows: Sequence[Row],
) -> None:
    """Make the children of `parent_ids` exactly `rows`."""
    parent = table.c[parent_column]
    for chunk in _chunks(parent_ids, MAX_ROWS_PER_CHUNK):
        await session.execute(delete(table).where(parent.in_(chunk)))
    await _upsert(session, table, rows)


def _row(record: Any, *, exclude: Iterable[str] = (), **stamp: Any) -> Row:
    """A dataclass record as a row: its fields (less `exclude`) plus the `stamp` columns."""
    skipped = set(exclude)
    row = {f.name: getattr(record, f.name) for f in fields(record) if f.name not in skipped}
    row.update(stamp)
    return row


# --------------------------------------------------------------------------------------------
# Reads


class SqlMembershipRepository:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def learner_facts(self, user_id: str) -> LearnerFacts | None:
        # A user without a department of their own belongs to their team's department.
        department_id = func.coalesce(UserRow.department_id, TeamRow.department_id)
        membership = (
            select(
                UserRow.organization_id,
                department_id.label("department_id"),
                UserRow.team_id,
                UserRow.manager_id.label("direct_manager_id"),
                DepartmentRow.manager_id.label("department_manager_id"),
                TeamRow.manager_id.label("team_manager_id"),
            )
            .select_from(UserRow)
            .outerjoin(TeamRow, TeamRow.id == UserRow.team_id)
            .outerjoin(DepartmentRow, DepartmentRow.id == department_id)
            .where(UserRow.id == user_id)
        )
        trainers = (
            select(CourseRow.trainer_id)
            .distinct()
            .join(EnrollmentRow, EnrollmentRow.course_id == CourseRow.id)
            .where(
                EnrollmentRow.user_id == user_id,
                EnrollmentRow.withdrawn_at.is_(None),
                CourseRow.trainer_id.is_not(None),
            )
        )
        async with self._sessions() as session:
            found = (await session.execute(membership)).one_or_none()
            if found is None:
                return None
            trainer_ids = frozenset(
                trainer for trainer in (await session.scalars(trainers)) if trainer is not None
            )
        managers = (found.direct_manager_id, found.department_manager_id, found.team_manager_id)
        return LearnerFacts(
            user_id=user_id,
            organization_id=found.organization_id,
            department_id=found.department_id,
            team_id=found.team_id,
            manager_ids=frozenset(manager for manager in managers if manager is not None),
            trainer_ids=trainer_ids,
        )


class SqlUserRepository:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def get_profile(self, user_id: str) -> UserProfile | None:
        query = (
            select(UserRow, OrganizationRow.timezone)
            .outerjoin(OrganizationRow, OrganizationRow.id == UserRow.organization_id)
            .where(UserRow.id == user_id)
        )
        async with self._sessions() as session:
            found = (await session.execute(query)).one_or_none()
        if found is None:
            return None
        user, organization_timezone = found
        return UserProfile(
            id=user.id,
            email=user.email,
            display_name=user.display_name,
            role=user.role,
            organization_id=user.organization_id,
            department_id=user.department_id,
            team_id=user.team_id,
            manager_id=user.manager_id,
            timezone=user.timezone,
            organization_timezone=organization_timezone,
            leaderboard_visible=user.leaderboard_visible,
        )


# What counts as activity (SPEC §10 "active day"), as (instant column, user column) pairs.
_ACTIVITY: tuple[tuple[Any, Any], ...] = (
    (LearningEventRow.occurred_at, LearningEventRow.user_id),
    (AssessmentAttemptRow.submitted_at, AssessmentAttemptRow.user_id),
    (PracticeSessionRow.started_at, PracticeSessionRow.user_id),
    (AssistantInteractionRow.asked_at, AssistantInteractionRow.user_id),
)

# Every table with rows about one user, as (ingested_at column, user column) pairs.
_ABOUT_USER: tuple[tuple[Any, Any], ...] = (
    (UserRow.ingested_at, UserRow.id),
    (EnrollmentRow.ingested_at, EnrollmentRow.user_id),
    (LearningEventRow.ingested_at, LearningEventRow.user_id),
    (AssessmentAttemptRow.ingested_at, AssessmentAttemptRow.user_id),
    (PracticeSessionRow.ingested_at, PracticeSessionRow.user_id),
    (AssistantInteractionRow.ingested_at, AssistantInteractionRow.user_id),
    (FeedbackRow.ingested_at, FeedbackRow.user_id),
    (SkillProfileRow.ingested_at, SkillProfileRow.user_id),
    (LearningPathRow.ingested_at, LearningPathRow.user_id),
)


class SqlActivityRepository:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def activity_times(
        self, user_id: str, *, since: datetime | None, until: datetime
    ) -> Sequence[datetime]:
        def instants(at: Any, user: Any) -> Select[datetime]:
            conditions: list[ColumnElement[bool]] = [user == user_id, at < until]
            if since is not None:
                conditions.append(at >= since)
            return select(at.label("at")).where(*conditions)

        union = union_all(*(instants(at, user) for at, user in _ACTIVITY))
        query = union.order_by(union.selected_columns.at)
        async with self._sessions() as session:
            return list((await session.scalars(query)).all())

    async def last_ingested_at(self, user_id: str) -> datetime | None:
        newest = union_all(
            *(select(func.max(at).label("at")).where(user == user_id) for at, user in _ABOUT_USER)
        ).subquery()
        async with self._sessions() as session:
            found: datetime | None = await session.scalar(select(func.max(newest.c.at)))
        return found


# --------------------------------------------------------------------------------------------
# Writes


class SqlRecordWriter:
    """Batch idempotent upserts of canonical records (the `RecordWriter` port).

    It keeps the rollups (`activity_days`, `activity_unit_days`, `skill_gap_summaries`) exact in
    the same transaction as every write. `rollups=False` is for a bulk load that rebuilds them
    once at the end (`activity_days.rebuild`): until then the organisation figures read stale
    rollups, so no API should be serving from the store meanwhile."""

    def __init__(self, sessions: Sessions, *, rollups: bool = True) -> None:
        self._sessions = sessions
        self._rollups = rollups

    async def _write(
        self, model: type[Base], records: Sequence[Any], *, source: str, ingested_at: datetime
    ) -> int:
        rows = [_row(record, source=source, ingested_at=ingested_at) for record in records]
        async with self._sessions.begin() as session:
            if model in activity_days.SOURCE_OF:
                return await _upsert_activity(session, model, rows, rollups=self._rollups)
            if model in HOMES and self._rollups:
                return await _upsert_homes(session, model, rows)
            return await _upsert(session, _table(model), rows)

    async def upsert_organizations(
        self, records: Sequence[Organization], *, source: str, ingested_at: datetime
    ) -> int:
        return await self._write(OrganizationRow, records, source=source, ingested_at=ingested_at)

    async def upsert_departments(
        self, records: Sequence[Department], *, source: str, ingested_at: datetime
    ) -> int:
        return await self._write(DepartmentRow, records, source=source, ingested_at=ingested_at)

    async def upsert_teams(
        self, records: Sequence[Team], *, source: str, ingested_at: datetime
    ) -> int:
        return await self._write(TeamRow, records, source=source, ingested_at=ingested_at)

    async def upsert_users(
        self, records: Sequence[User], *, source: str, ingested_at: datetime
    ) -> int:
        return await self._write(UserRow, records, source=source, ingested_at=ingested_at)

    async def upsert_external_ids(
        self, records: Sequence[ExternalId], *, ingested_at: datetime
    ) -> int:
        rows = [_row(record, ingested_at=ingested_at) for record in records]
        async with self._sessions.begin() as session:
            return await _upsert(session, _table(ExternalIdRow), rows)

    async def upsert_courses(
        self, records: Sequence[Course], *, source: str, ingested_at: datetime
    ) -> int:
        return await self._write(CourseRow, records, source=source, ingested_at=ingested_at)

    async def upsert_course_units(
        self, records: Sequence[CourseUnit], *, source: str, ingested_at: datetime
    ) -> int:
        stamp = {"source": source, "ingested_at": ingested_at}
        units = [_row(unit, exclude=("skills",), **stamp) for unit in records]
        skills = [
            {"unit_id": unit.id, "skill_id": skill, **stamp}
            for unit in _distinct_records(records, lambda unit: unit.id)
            for skill in unit.skills
        ]
        async with self._sessions.begin() as session:
            written = await _upsert(session, _table(CourseUnitRow), units)
            await _replace_children(
                session,
                _table(CourseUnitSkillRow),
                parent_column="unit_id",
                parent_ids=sorted({unit.id for unit in records}),
                rows=skills,
            )
        return written

    async def upsert_enrollments(
        self, records: Sequence[Enrollment], *, source: str, ingested_at: datetime
    ) -> int:
        return await self._write(EnrollmentRow, records, source=source, ingested_at=ingested_at)

    async def upsert_learning_events(
        self, records: Sequence[LearningEvent], *, source: str, ingested_at: datetime
    ) -> int:
        return await self._write(LearningEventRow, records, source=source, ingested_at=ingested_at)

    async def upsert_assessment_attempts(
        self, records: Sequence[AssessmentAttempt], *, source: str, ingested_at: datetime
    ) -> int:
        stamp = {"source": source, "ingested_at": ingested_at}
        attempts = [_row(attempt, exclude=("skill_scores",), **stamp) for attempt in records]
        scores = [
            {"attempt_id": attempt.id, "skill_id": s.skill_id, "score_pct": s.score_pct, **stamp}
            for attempt in _distinct_records(records, lambda attempt: attempt.id)
            for s in attempt.skill_scores
        ]
        async with self._sessions.begin() as session:
            written = await _upsert_activity(
                session, AssessmentAttemptRow, attempts, rollups=self._rollups
            )
            await _replace_children(
                session,
                _table(AssessmentSkillScoreRow),
                parent_column="attempt_id",
                parent_ids=sorted({attempt.id for attempt in records}),
                rows=scores,
            )
        return written

    async def upsert_skill_profiles(
        self, records: Sequence[SkillProfile], *, source: str, ingested_at: datetime
    ) -> int:
        rows = [_row(record, source=source, ingested_at=ingested_at) for record in records]
        users = sorted({record.user_id for record in records})
        async with self._sessions.begin() as session:
            written = await _upsert(session, _table(SkillProfileRow), rows)
            if self._rollups:
                await session.run_sync(
                    lambda s: activity_days.refresh_skill_gaps(s.connection(), users)
                )
        return written

    async def upsert_strategic_skill_targets(
        self, records: Sequence[StrategicSkillTarget], *, source: str, ingested_at: datetime
    ) -> int:
        return await self._write(
            StrategicSkillTargetRow, records, source=source, ingested_at=ingested_at
        )

    async def upsert_learning_paths(
        self, records: Sequence[LearningPath], *, source: str, ingested_at: datetime
    ) -> int:
        rows = [
            _row(
                path,
                exclude=("steps",),
                steps=[dict(step) for step in path.steps],
                source=source,
                ingested_at=ingested_at,
            )
            for path in records
        ]
        async with self._sessions.begin() as session:
            return await _upsert(session, _table(LearningPathRow), rows)

    async def upsert_practice_sessions(
        self, records: Sequence[PracticeSession], *, source: str, ingested_at: datetime
    ) -> int:
        return await self._write(
            PracticeSessionRow, records, source=source, ingested_at=ingested_at
        )

    async def upsert_assistant_interactions(
        self, records: Sequence[AssistantInteraction], *, source: str, ingested_at: datetime
    ) -> int:
        return await self._write(
            AssistantInteractionRow, records, source=source, ingested_at=ingested_at
        )

    async def upsert_feedback(
        self, records: Sequence[Feedback], *, source: str, ingested_at: datetime
    ) -> int:
        return await self._write(FeedbackRow, records, source=source, ingested_at=ingested_at)

    async def internal_ids(
        self, *, source: str, kind: str, external_ids: Sequence[str]
    ) -> dict[str, str]:
        found: dict[str, str] = {}
        wanted = sorted(set(external_ids))
        async with self._sessions() as session:
            for chunk in _chunks(wanted, MAX_ROWS_PER_CHUNK):
                query = select(ExternalIdRow.external_id, ExternalIdRow.internal_id).where(
                    ExternalIdRow.source == source,
                    ExternalIdRow.kind == kind,
                    ExternalIdRow.external_id.in_(chunk),
                )
                found.update(
                    (external, internal) for external, internal in await session.execute(query)
                )
        return found

    async def archive_raw_payload(self, *, source: str, fetched_at: datetime, payload: str) -> None:
        async with self._sessions.begin() as session:
            session.add(RawPayloadRow(source=source, fetched_at=fetched_at, payload=payload))

    async def bump_data_version(self, scope: str) -> int:
        table = _table(DataVersionRow)
        async with self._sessions.begin() as session:
            statement = _insert(_dialect(session), table).values(scope=scope, version=1)
            bump = statement.on_conflict_do_update(
                index_elements=[table.c.scope], set_={"version": table.c.version + 1}
            ).returning(table.c.version)
            version: int = (await session.execute(bump)).scalar_one()
        return version

    async def get_data_version(self, scope: str) -> int:
        async with self._sessions() as session:
            version = await session.scalar(
                select(DataVersionRow.version).where(DataVersionRow.scope == scope)
            )
        return version or 0


class SqlSyncStateRepository:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def get(self, source: str) -> SyncState | None:
        async with self._sessions() as session:
            row = await session.get(SyncStateRow, source)
        if row is None:
            return None
        return SyncState(
            source=row.source,
            cursor=row.cursor,
            last_success_at=row.last_success_at,
            last_error=row.last_error,
            last_error_at=row.last_error_at,
        )

    async def record_success(self, source: str, *, cursor: str | None, at: datetime) -> None:
        await self._save(source, {"cursor": cursor, "last_success_at": at})

    async def record_failure(self, source: str, *, error: str, at: datetime) -> None:
        await self._save(source, {"last_error": error, "last_error_at": at})

    async def _save(self, source: str, changes: Mapping[str, Any]) -> None:
        async with self._sessions.begin() as session:
            await _upsert(
                session, _table(SyncStateRow), [{"source": source, **changes}], update=list(changes)
            )


def _distinct_records(records: Sequence[R], key: Callable[[R], str]) -> list[R]:
    """The last record per key, as `_distinct_by_key` keeps for the parent rows."""
    return list({key(record): record for record in records}.values())
