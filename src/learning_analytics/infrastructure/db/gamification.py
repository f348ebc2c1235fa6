"""SQL of gamification (SPEC §11), one code path for SQLite and PostgreSQL.

The ledger is append-only: awards go in with `INSERT ... ON CONFLICT DO NOTHING` on the
(user, rule, source event) key, so appending the same award twice stores it once. The rows
actually added (`RETURNING`) are summed per user into their week, month and all-time totals
(`points_periods`, in the organisation's timezone) in the same transaction, so the totals are
always the ledger's sums. Leaderboards rank those totals in SQL (a window function over one row
per member); no list of people is loaded into Python.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Result,
    Select,
    and_,
    case,
    func,
    or_,
    select,
    union,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from learning_analytics.application.ports import (
    LeaderboardRow,
    LeaderboardScope,
    LeaderboardSlice,
)
from learning_analytics.domain.gamification.events import (
    AttemptFact,
    LearnerEvents,
    Occurrence,
    PracticeFact,
)
from learning_analytics.domain.gamification.leaderboard import Period, period_start_days
from learning_analytics.domain.gamification.rules import Award
from learning_analytics.domain.timezones import zone_named
from learning_analytics.infrastructure.db.repositories import (
    MAX_ROWS_PER_CHUNK,
    _chunks,
    _dialect,
    _insert,
    _table,
)
from learning_analytics.infrastructure.db.tables import (
    AssessmentAttemptRow,
    AssistantInteractionRow,
    CourseRow,
    DepartmentRow,
    EnrollmentRow,
    FeedbackRow,
    LearningEventRow,
    OrganizationRow,
    PointsLedgerRow,
    PointsPeriodRow,
    PracticeSessionRow,
    SkillProfileRow,
    TeamRow,
    UserAchievementRow,
    UserRow,
)

Sessions = async_sessionmaker[AsyncSession]

# Tables whose rows earn points or make a day active, as (ingested_at, user id) columns.
_GAMIFIED: tuple[tuple[Any, Any], ...] = (
    (LearningEventRow.ingested_at, LearningEventRow.user_id),
    (AssessmentAttemptRow.ingested_at, AssessmentAttemptRow.user_id),
    (PracticeSessionRow.ingested_at, PracticeSessionRow.user_id),
    (AssistantInteractionRow.ingested_at, AssistantInteractionRow.user_id),
    (FeedbackRow.ingested_at, FeedbackRow.user_id),
    (EnrollmentRow.ingested_at, EnrollmentRow.user_id),
    (SkillProfileRow.ingested_at, SkillProfileRow.user_id),
)
AWARD_COLUMNS = ("user_id", "rule", "source_event", "points", "awarded_at")


class SqlGamificationRepository:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    # ---------------------------------------------------------------------------------------
    # Awarding

    async def users_touched_since(self, since: datetime) -> list[str]:
        touched = union(*(select(user).where(at >= since) for at, user in _GAMIFIED))
        async with self._sessions() as session:
            return sorted(str(user) for user in await session.scalars(touched))

    async def user_ids_after(self, after: str | None, *, limit: int) -> list[str]:
        query = select(UserRow.id).order_by(UserRow.id).limit(limit)
        if after is not None:
            query = query.where(UserRow.id > after)
        async with self._sessions() as session:
            return list(await session.scalars(query))

    async def learner_events(self, user_ids: Sequence[str]) -> dict[str, LearnerEvents]:
        parts: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
        async with self._sessions() as session:
            for chunk in _chunks(sorted(set(user_ids)), MAX_ROWS_PER_CHUNK):
                await _load_events(session, chunk, parts)
        return {
            user: LearnerEvents(
                user_id=user,
                lessons=tuple(found["lessons"]),
                courses=tuple(found["courses"]),
                assessments=tuple(found["assessments"]),
                skills_at_target=tuple(found["skills"]),
                practice=tuple(found["practice"]),
                feedback=tuple(found["feedback"]),
                questions=tuple(found["questions"]),
                activity=tuple(found["activity"]),
            )
            for user in user_ids
            for found in (parts[user],)
        }

    async def timezones(self, user_ids: Sequence[str]) -> dict[str, str | None]:
        found: dict[str, str | None] = {}
        async with self._sessions() as session:
            for chunk in _chunks(sorted(set(user_ids)), MAX_ROWS_PER_CHUNK):
                query = (
                    select(UserRow.id, UserRow.timezone, OrganizationRow.timezone)
                    .outerjoin(OrganizationRow, OrganizationRow.id == UserRow.organization_id)
                    .where(UserRow.id.in_(chunk))
                )
                for user, own, organization in await session.execute(query):
                    found[user] = own or organization
        return found

    async def awards(self, user_ids: Sequence[str]) -> dict[str, list[Award]]:
        found: dict[str, list[Award]] = defaultdict(list)
        ledger = PointsLedgerRow
        async with self._sessions() as session:
            for chunk in _chunks(sorted(set(user_ids)), MAX_ROWS_PER_CHUNK):
                query = select(
                    ledger.user_id,
                    ledger.rule,
                    ledger.source_event,
                    ledger.points,
                    ledger.awarded_at,
                ).where(ledger.user_id.in_(chunk))
                for row in await session.execute(query):
                    found[row.user_id].append(Award(*row))
        return dict(found)

    async def append_awards(self, awards: Sequence[Award]) -> int:
        if not awards:
            return 0
        table = _table(PointsLedgerRow)
        rows = [
            {
                "user_id": a.user_id,
                "rule": a.rule,
                "source_event": a.source_event,
                "points": a.points,
                "awarded_at": a.awarded_at,
            }
            for a in awards
        ]
        added: list[tuple[str, int, datetime]] = []
        async with self._sessions.begin() as session:
            dialect = _dialect(session)
            # One statement compiled once, sent in multi-row batches by SQLAlchemy
            # ("insertmanyvalues"); RETURNING yields only the rows the conflict did not skip.
            statement = (
                _insert(dialect, table)
                .on_conflict_do_nothing(index_elements=["user_id", "rule", "source_event"])
                .returning(table.c.user_id, table.c.points, table.c.awarded_at)
            )
            for chunk in _chunks(rows, MAX_ROWS_PER_CHUNK):
                result = await session.execute(statement, list(chunk))
                added.extend(tuple(row) for row in result)
            await _add_to_periods(session, added)
        return len(added)

    # ---------------------------------------------------------------------------------------
    # Reading the ledger

    async def points(
        self, user_id: str, *, periods: Sequence[tuple[datetime, datetime]]
    ) -> tuple[int, list[int]]:
        ledger = PointsLedgerRow
        sums = [func.coalesce(func.sum(ledger.points), 0)] + [
            func.coalesce(
                func.sum(
                    case(
                        (and_(ledger.awarded_at >= start, ledger.awarded_at < end), ledger.points),
                        else_=0,
                    )
                ),
                0,
            )
            for start, end in periods
        ]
        async with self._sessions() as session:
            row = (await session.execute(select(*sums).where(ledger.user_id == user_id))).one()
        return int(row[0]), [int(value) for value in row[1:]]

    def _members(self, scope: LeaderboardScope) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = [UserRow.organization_id == scope.organization_id]
        if scope.department_id is not None:
            # A user without a department of their own belongs to their team's department.
            teams = select(TeamRow.id).where(TeamRow.department_id == scope.department_id)
            conditions.append(
                or_(
                    UserRow.department_id == scope.department_id,
                    and_(UserRow.department_id.is_(None), UserRow.team_id.in_(teams)),
                )
            )
        if scope.course_id is not None:
            enrolled = select(EnrollmentRow.user_id).where(
                EnrollmentRow.course_id == scope.course_id, EnrollmentRow.withdrawn_at.is_(None)
            )
            conditions.append(UserRow.id.in_(enrolled))
        return conditions

    async def leaderboard(
        self,
        scope: LeaderboardScope,
        *,
        period: Period,
        period_start: date,
        limit: int,
        caller_id: str | None,
    ) -> LeaderboardSlice:
        totals_row = PointsPeriodRow
        window: list[ColumnElement[bool]] = [
            totals_row.organization_id == scope.organization_id,
            totals_row.period == period,
            totals_row.period_start == period_start,
            totals_row.points > 0,
        ]
        totals = self._totals(scope, window).cte("totals")
        ranked = select(
            totals.c.user_id,
            totals.c.points,
            func.rank().over(order_by=totals.c.points.desc()).label("rank"),
            func.count().over().label("participants"),
        ).cte("ranked")
        wanted: ColumnElement[bool] = ranked.c.rank <= limit
        if caller_id is not None:
            wanted = wanted | (ranked.c.user_id == caller_id)
        query: Select[Any] = (
            select(
                ranked.c.rank,
                ranked.c.user_id,
                UserRow.display_name,
                UserRow.leaderboard_visible,
                ranked.c.points,
                ranked.c.participants,
            )
            .join(UserRow, UserRow.id == ranked.c.user_id)
            .where(wanted)
            .order_by(ranked.c.rank, ranked.c.user_id)
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        if rows:
            participants = int(rows[0].participants)
        else:  # with a positive limit, no rank-1 row means nobody has points
            participants = await self._participants(scope, window) if limit == 0 else 0
        entries = [
            LeaderboardRow(
                rank=int(row.rank),
                user_id=row.user_id,
                display_name=row.display_name,
                visible=bool(row.leaderboard_visible),
                points=int(row.points),
            )
            for row in rows
        ]
        caller = next((entry for entry in entries if entry.user_id == caller_id), None)
        top = tuple(entry for entry in entries if entry.rank <= limit)[:limit]
        return LeaderboardSlice(top=top, participants=participants, caller=caller)

    def _totals(
        self, scope: LeaderboardScope, window: Sequence[ColumnElement[bool]]
    ) -> Select[str, int]:
        """The scope's (user, points) of the period. The organisation's board needs no join:
        its totals are the points earned in the organisation."""
        query = select(PointsPeriodRow.user_id, PointsPeriodRow.points).where(*window)
        if scope.department_id is not None or scope.course_id is not None:
            query = query.join(UserRow, UserRow.id == PointsPeriodRow.user_id).where(
                *self._members(scope)
            )
        return query

    async def _participants(
        self, scope: LeaderboardScope, window: Sequence[ColumnElement[bool]]
    ) -> int:
        query = select(func.count()).select_from(self._totals(scope, window).subquery())
        async with self._sessions() as session:
            return int(await session.scalar(query) or 0)

    async def in_scope(self, user_id: str, scope: LeaderboardScope) -> bool:
        query = select(UserRow.id).where(UserRow.id == user_id, *self._members(scope))
        async with self._sessions() as session:
            return await session.scalar(query) is not None

    async def organization_timezone(self, organization_id: str) -> str | None:
        async with self._sessions() as session:
            zone: str | None = await session.scalar(
                select(OrganizationRow.timezone).where(OrganizationRow.id == organization_id)
            )
        return zone

    async def department_organization(self, department_id: str) -> str | None:
        async with self._sessions() as session:
            found: str | None = await session.scalar(
                select(DepartmentRow.organization_id).where(DepartmentRow.id == department_id)
            )
        return found

    async def course_organization(self, course_id: str) -> str | None:
        async with self._sessions() as session:
            found: str | None = await session.scalar(
                select(CourseRow.organization_id).where(CourseRow.id == course_id)
            )
        return found

    # ---------------------------------------------------------------------------------------
    # Preferences and achievements

    async def set_leaderboard_visible(self, user_id: str, *, visible: bool) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(UserRow).where(UserRow.id == user_id).values(leaderboard_visible=visible)
            )
        return _rowcount(result) > 0

    async def earned_achievements(self, user_id: str) -> dict[str, datetime]:
        query = select(UserAchievementRow.achievement_code, UserAchievementRow.earned_at).where(
            UserAchievementRow.user_id == user_id
        )
        async with self._sessions() as session:
            return {row.achievement_code: row.earned_at for row in await session.execute(query)}

    async def record_achievements(self, user_id: str, earned: Mapping[str, datetime]) -> int:
        if not earned:
            return 0
        table = _table(UserAchievementRow)
        rows = [
            {"user_id": user_id, "achievement_code": code, "earned_at": at}
            for code, at in sorted(earned.items())
        ]
        async with self._sessions.begin() as session:
            statement = (
                _insert(_dialect(session), table)
                .values(rows)
                .on_conflict_do_nothing(index_elements=["user_id", "achievement_code"])
            )
            result = await session.execute(statement)
        return _rowcount(result)


async def _add_to_periods(
    session: AsyncSession, added: Sequence[tuple[str, int, datetime]]
) -> None:
    """Add the points of new ledger rows to their week, month and all-time totals, in the
    periods of each user's organisation (its timezone)."""
    if not added:
        return
    homes: dict[str, tuple[str, str | None]] = {}
    for chunk in _chunks(sorted({user for user, _, _ in added}), MAX_ROWS_PER_CHUNK):
        query = (
            select(UserRow.id, UserRow.organization_id, OrganizationRow.timezone)
            .outerjoin(OrganizationRow, OrganizationRow.id == UserRow.organization_id)
            .where(UserRow.id.in_(chunk))
        )
        homes.update((user, (org, zone)) for user, org, zone in await session.execute(query))
    zones = {name: zone_named(name) for _, name in homes.values()}
    totals: dict[tuple[str, str, date, str], int] = defaultdict(int)
    for user, points, at in added:
        if user not in homes:
            continue  # not (yet) known to the store: no organisation to rank in
        organization, zone_name = homes[user]
        for period, start in period_start_days(at=at, tz=zones[zone_name]):
            totals[organization, period, start, user] += points
    table = _table(PointsPeriodRow)
    rows = [
        {"organization_id": o, "period": p, "period_start": s, "user_id": u, "points": n}
        for (o, p, s, u), n in sorted(totals.items())
    ]
    statement = _insert(_dialect(session), table)
    upsert = statement.on_conflict_do_update(
        index_elements=["organization_id", "period", "period_start", "user_id"],
        set_={"points": table.c.points + statement.excluded.points},
    )
    for chunk in _chunks(rows, MAX_ROWS_PER_CHUNK):
        await session.execute(upsert, list(chunk))


def _rowcount(result: Result[Any]) -> int:
    """Rows an INSERT/UPDATE changed (a conflict skipped by DO NOTHING changes none)."""
    return max(int(cast(CursorResult[Any], result).rowcount), 0)


async def _load_events(
    session: AsyncSession, users: Sequence[str], parts: dict[str, dict[str, list[Any]]]
) -> None:
    events = select(
        LearningEventRow.user_id,
        LearningEventRow.id,
        LearningEventRow.verb,
        LearningEventRow.occurred_at,
    ).where(LearningEventRow.user_id.in_(users))
    for user, event, verb, at in await session.execute(events):
        parts[user]["activity"].append(at)
        if verb == "completed":
            parts[user]["lessons"].append(Occurrence(event, at))
    courses = select(
        EnrollmentRow.user_id, EnrollmentRow.course_id, EnrollmentRow.completed_at
    ).where(EnrollmentRow.user_id.in_(users), EnrollmentRow.completed_at.is_not(None))
    for user, course, completed_at in await session.execute(courses):
        if completed_at is not None:
            parts[user]["courses"].append(Occurrence(course, completed_at))
    attempts = select(
        AssessmentAttemptRow.user_id,
        AssessmentAttemptRow.id,
        AssessmentAttemptRow.assessment_id,
        AssessmentAttemptRow.submitted_at,
        AssessmentAttemptRow.score_pct,
        AssessmentAttemptRow.passed,
    ).where(AssessmentAttemptRow.user_id.in_(users))
    for user, attempt, assessment, at, score, passed in await session.execute(attempts):
        parts[user]["assessments"].append(
            AttemptFact(attempt, assessment, at, float(score), bool(passed))
        )
        parts[user]["activity"].append(at)
    skills = select(SkillProfileRow.user_id, SkillProfileRow.skill_id, SkillProfileRow.updated_at)
    skills = skills.where(
        SkillProfileRow.user_id.in_(users),
        SkillProfileRow.target_level.is_not(None),
        SkillProfileRow.current_level >= SkillProfileRow.target_level,
    )
    for user, skill, at in await session.execute(skills):
        parts[user]["skills"].append(Occurrence(skill, at))
    practice = select(
        PracticeSessionRow.user_id,
        PracticeSessionRow.id,
        PracticeSessionRow.started_at,
        PracticeSessionRow.completed,
        PracticeSessionRow.won,
    ).where(PracticeSessionRow.user_id.in_(users))
    for user, session_id, at, completed, won in await session.execute(practice):
        parts[user]["practice"].append(PracticeFact(session_id, at, bool(completed), bool(won)))
        parts[user]["activity"].append(at)
    feedback = select(FeedbackRow.user_id, FeedbackRow.id, FeedbackRow.submitted_at).where(
        FeedbackRow.user_id.in_(users)
    )
    for user, feedback_id, at in await session.execute(feedback):
        parts[user]["feedback"].append(Occurrence(feedback_id, at))
    questions = select(AssistantInteractionRow.user_id, AssistantInteractionRow.asked_at).where(
        AssistantInteractionRow.user_id.in_(users)
    )
    for user, at in await session.execute(questions):
        parts[user]["questions"].append(at)
        parts[user]["activity"].append(at)
