"""Trainer and organisation aggregates out of the store (SPEC §9 layer 4, §10).

Every figure is a GROUP BY in the database — per course, unit, assessment or enrolment of a
trainer's courses; per department (and week) of an organisation — so no request loads people's
records into Python. The same SQLAlchemy Core queries run on SQLite and PostgreSQL (`sqltime`
compiles the few dialect-specific pieces). Days are local calendar days of the request's
timezone, weeks 7 of them counted back from the window's end (docs/metrics.md).

Organisation activity figures read the per-learner day rollup (`activity_days`) when the request
is in the organisation's own timezone and not filtered by course; otherwise the activity rows,
with the same definitions (a test checks both paths give the same numbers).

A learner's department is their own, else their team's, else "" (unassigned), as in
`cohorts.py`. Index choices, from EXPLAIN on 50 000 learners / 9.1 M events: see
migrations/versions/0003_org_analytics.py.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Subquery,
    and_,
    case,
    distinct,
    func,
    literal,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from learning_analytics.application.ports import OrganizationScope, TimeRange
from learning_analytics.domain.metrics.organization import (
    UNASSIGNED,
    ActivityAggregate,
    CultureAggregate,
    DepartmentAggregate,
    DepartmentHeadcount,
    EffortAggregate,
    SkillTargetAggregate,
    WeekAggregate,
)
from learning_analytics.domain.metrics.trainer import (
    ACTIVE_DAYS,
    STALL_DAYS,
    AssessmentAggregate,
    CourseAggregate,
    EnrollmentAggregate,
    GainAggregate,
    RateAggregate,
    UnitAggregate,
)
from learning_analytics.domain.models import Role
from learning_analytics.domain.timezones import day_number, local_day_number, offset_segments
from learning_analytics.infrastructure.db.sqltime import (
    DistinctSmallCount,
    Epoch,
    floor_div,
    local_day,
)
from learning_analytics.infrastructure.db.tables import (
    ActivityDayRow,
    ActivityUnitDayRow,
    AssessmentAttemptRow,
    AssistantInteractionRow,
    CourseRow,
    CourseUnitRow,
    CourseUnitSkillRow,
    DepartmentRow,
    EnrollmentRow,
    FeedbackRow,
    LearningEventRow,
    OrganizationRow,
    PracticeSessionRow,
    SkillGapSummaryRow,
    SkillProfileRow,
    StrategicSkillTargetRow,
    SyncStateRow,
    TeamRow,
    UserRow,
)

LEARNER = Role.LEARNER.value
AnySelect = Select[*tuple[Any, ...]]
DAY = 86_400
UNASSIGNED_NAME = "Unassigned"
WORK_MEM = "64MB"  # per aggregate query on PostgreSQL, for this transaction only
EVENT = LearningEventRow
ATTEMPT = AssessmentAttemptRow
DAYS = ActivityDayRow
UNIT_DAYS = ActivityUnitDayRow


def _zone(window: TimeRange) -> tzinfo:
    return window.start.tzinfo or UTC


def _day_numbers(window: TimeRange) -> tuple[int, int]:
    """The local days [first, after) of a window of local midnights."""
    return day_number(window.start.date()), day_number(window.end.date())


def _local_day(column: Any, window: TimeRange) -> ColumnElement[int]:
    """The number of the local date (in the window's zone) of an instant inside the window."""
    return local_day(column, offset_segments(_zone(window), window.start, window.end))


def _week(day: Any, anchor: datetime) -> ColumnElement[int]:
    """Index of the 7-local-day week of the day number `day` (at or after the local date of
    `anchor`) counted from that date: integer division on both databases."""
    offset: ColumnElement[int] = day - literal(day_number(anchor.date()))
    return offset // 7


def _rolled_up(scope: OrganizationScope) -> bool:
    """Whether the per-learner day rollup answers for this scope: it keeps the organisation's
    local days of all courses (a course filter or another timezone reads the activity rows)."""
    return scope.organization_zone and scope.course_id is None


def _rollup_window(scope: OrganizationScope) -> ColumnElement[bool]:
    """The rollup rows of the scope's organisation and window."""
    first, after = _day_numbers(scope.window)
    return and_(DAYS.organization_id == scope.organization_id, DAYS.day >= first, DAYS.day < after)


def _department() -> ColumnElement[str]:
    return func.coalesce(UserRow.department_id, TeamRow.department_id, literal(UNASSIGNED))


def _in_departments(departments: Sequence[str]) -> ColumnElement[bool]:
    """`_department() IN departments`, spelt out per column: PostgreSQL estimates a filter on a
    COALESCE at 0.5 % of the rows and then probes indexes learner by learner; on the columns
    it uses their statistics (30 000 learners estimated as such, so hash joins)."""
    shown = list(departments)
    own = UserRow.department_id
    conditions = [own.in_(shown), and_(own.is_(None), TeamRow.department_id.in_(shown))]
    if UNASSIGNED in shown:
        conditions.append(and_(own.is_(None), TeamRow.department_id.is_(None)))
    return or_(*conditions)


def _of_department(user: Any, department_id: str | None) -> ColumnElement[bool]:
    """`user` is in the department (their own, else their team's); true without a filter."""
    if department_id is None:
        return true()
    members = (
        select(UserRow.id)
        .outerjoin(TeamRow, TeamRow.id == UserRow.team_id)
        .where(_in_departments([department_id]))
    )
    within: ColumnElement[bool] = user.in_(members)
    return within


def _learners(scope: OrganizationScope) -> Subquery:
    """The scope's learners with their department."""
    return (
        select(UserRow.id.label("user_id"), _department().label("department_id"))
        .select_from(UserRow)
        .outerjoin(TeamRow, TeamRow.id == UserRow.team_id)
        .where(
            UserRow.role == LEARNER,
            UserRow.organization_id == scope.organization_id,
            _in_departments(scope.departments),
        )
        .subquery("learners")
    )


def _events(scope: OrganizationScope, learners: Subquery, window: TimeRange) -> AnySelect:
    query = (
        select()
        .select_from(EVENT)
        .join(learners, learners.c.user_id == EVENT.user_id)
        .where(EVENT.occurred_at >= window.start, EVENT.occurred_at < window.end)
    )
    if scope.course_id is not None:
        query = query.where(EVENT.course_id == scope.course_id)
    return query


def _within(column: Any, window: TimeRange) -> ColumnElement[bool]:
    return and_(column >= window.start, column < window.end)


def _on_course(query: Any, column: Any, course_id: str | None) -> Any:
    return query if course_id is None else query.where(column == course_id)


def _weeks_with(day: Any, amount: Any, anchor: datetime) -> ColumnElement[int]:
    """How many of the window's weeks 0..weeks-1 (counted from `anchor`'s local date; at most 53
    for a 366-day window) have a row with `amount` > 0 on day number `day`: an aggregate, so a
    learner's weeks are counted in the same single aggregation as the rest."""
    week = case((amount > 0, _week(day, anchor)), else_=None)
    return DistinctSmallCount(week)


def _recent_in_rollup(scope: OrganizationScope, learners: Subquery) -> AnySelect:
    """The learner's rollup days with a learning event in [as_of - STALL_DAYS, as_of): the days
    strictly between hold only such events; on the first and the last day the day's last and
    first event instants say whether one falls inside."""
    window = scope.window
    since = window.as_of - timedelta(days=STALL_DAYS)
    zone = _zone(window)
    first, last = local_day_number(since, zone), local_day_number(window.as_of, zone)
    return select(DAYS.user_id).where(
        DAYS.user_id == learners.c.user_id,
        DAYS.organization_id == scope.organization_id,
        DAYS.events > 0,
        DAYS.day >= first,  # bounds the index range; the OR below decides the edge days
        DAYS.day <= last,
        or_(
            and_(DAYS.day > first, DAYS.day < last),
            and_(DAYS.day == first, DAYS.last_event_at >= since),
            and_(DAYS.day == last, DAYS.first_event_at < window.as_of),
        ),
    )


def _unit_seconds(scope: OrganizationScope, learners: Subquery, window: TimeRange) -> AnySelect:
    """Learning seconds per unit ("" or NULL: on no unit) of the scope's learners in `window`:
    from the per-unit day rollup when it answers for the scope, else from the learning events."""
    if _rolled_up(scope):
        first, after = _day_numbers(window)
        return (
            select(UNIT_DAYS.unit_id, func.sum(UNIT_DAYS.seconds).label("seconds"))
            .join(learners, learners.c.user_id == UNIT_DAYS.user_id)
            .where(
                UNIT_DAYS.organization_id == scope.organization_id,
                UNIT_DAYS.day >= first,
                UNIT_DAYS.day < after,
            )
            .group_by(UNIT_DAYS.unit_id)
        )
    return (
        _events(scope, learners, window)
        .add_columns(EVENT.unit_id, func.sum(EVENT.seconds_spent).label("seconds"))
        .group_by(EVENT.unit_id)
    )


def _effort(
    scope: OrganizationScope, learners: Subquery, window: TimeRange, *, per_skill: bool
) -> Any:
    """Learning seconds of `window`: one row with skill_id NULL for all of it, plain and
    weighted (each unit by the heaviest strategic target it teaches), then, with `per_skill`,
    one row per strategic skill with the seconds on the units teaching it. The per-unit sums
    are computed once (a CTE), and only the units of the window are joined to the skills they
    teach (also once, a second CTE), not every unit of the catalogue."""
    per_unit = _unit_seconds(scope, learners, window).cte("per_unit")
    target = StrategicSkillTargetRow
    taught = (
        select(per_unit.c.unit_id, per_unit.c.seconds, target.skill_id, target.weight)
        .join(CourseUnitSkillRow, CourseUnitSkillRow.unit_id == per_unit.c.unit_id)
        .join(
            target,
            and_(
                target.skill_id == CourseUnitSkillRow.skill_id,
                target.organization_id == scope.organization_id,
            ),
        )
        .cte("taught")
    )
    weighted = (
        select((func.max(taught.c.seconds) * func.max(taught.c.weight)).label("seconds"))
        .group_by(taught.c.unit_id)
        .subquery("weighted")
    )
    totals = select(
        literal(None, String()).label("skill_id"),
        select(func.sum(per_unit.c.seconds)).scalar_subquery().label("seconds"),
        select(func.sum(weighted.c.seconds)).scalar_subquery().label("weighted"),
    )
    if not per_skill:
        return totals
    skills = select(taught.c.skill_id, func.sum(taught.c.seconds), literal(0.0)).group_by(
        taught.c.skill_id
    )
    return union_all(totals, skills)


def _learning_days(scope: OrganizationScope, learners: Subquery) -> Subquery:
    """(user_id, day, units, seconds): each learner's local days with learning events in the
    window: rollup rows when the rollup answers for the scope, else the events summed per day."""
    if _rolled_up(scope):
        return (
            select(DAYS.user_id, DAYS.day, DAYS.units, DAYS.seconds)
            .where(_rollup_window(scope), DAYS.events > 0)
            .subquery("learning_days")
        )
    day = _local_day(EVENT.occurred_at, scope.window)
    return (
        _events(scope, learners, scope.window)
        .add_columns(
            EVENT.user_id,
            day.label("day"),
            func.sum(_completed_unit()).label("units"),
            func.sum(EVENT.seconds_spent).label("seconds"),
        )
        .group_by(EVENT.user_id, day)
        .subquery("learning_days")
    )


def _activity_days(scope: OrganizationScope) -> Subquery:
    """(user_id, day, acts, social, seconds) rows of the window: learning acts (events, attempts,
    questions, practice), social acts (questions, feedback, practice) and learning seconds;
    rollup rows when the rollup answers for the scope, else one row per activity row (practice
    has no course: with a course filter it counts neither as activity nor as social)."""
    if _rolled_up(scope):
        return (
            select(
                DAYS.user_id,
                DAYS.day,
                (DAYS.events + DAYS.attempts + DAYS.questions + DAYS.practice).label("acts"),
                (DAYS.questions + DAYS.feedback + DAYS.practice).label("social"),
                DAYS.seconds,
            )
            .where(_rollup_window(scope))
            .subquery("activity_days")
        )
    window = scope.window
    zero, one = literal(0), literal(1)

    def part(user: Any, at: Any, course: Any, acts: Any, social: Any, seconds: Any = zero) -> Any:
        columns = (at.label("at"), acts.label("acts"), social.label("social"))
        query = select(user, *columns, seconds.label("seconds")).where(_within(at, window))
        return _on_course(query, course, scope.course_id)

    parts = [
        part(EVENT.user_id, EVENT.occurred_at, EVENT.course_id, one, zero, EVENT.seconds_spent),
        part(ATTEMPT.user_id, ATTEMPT.submitted_at, ATTEMPT.course_id, one, zero),
        part(
            AssistantInteractionRow.user_id,
            AssistantInteractionRow.asked_at,
            AssistantInteractionRow.course_id,
            one,
            one,
        ),
        part(FeedbackRow.user_id, FeedbackRow.submitted_at, FeedbackRow.course_id, zero, one),
    ]
    if scope.course_id is None:  # practice has no course
        parts.append(
            part(PracticeSessionRow.user_id, PracticeSessionRow.started_at, None, one, one)
        )
    acts = union_all(*parts).subquery("acts")
    return select(
        acts.c.user_id,
        _local_day(acts.c.at, window).label("day"),
        acts.c.acts,
        acts.c.social,
        acts.c.seconds,
    ).subquery("activity_days")


def _completed_unit() -> ColumnElement[int]:
    return case((and_(EVENT.verb == "completed", EVENT.unit_id.is_not(None)), 1), else_=0)


def _int(value: Any) -> int:
    return int(value or 0)


def _float(value: Any) -> float:
    return float(value or 0.0)


class SqlAnalyticsRepository:
    """Both analytics ports (trainer, organisation) over one session factory."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def _rows(self, query: Any) -> Sequence[Any]:
        async with self._sessions() as session:
            if session.get_bind().dialect.name == "postgresql":
                # Room for the aggregates' hash tables (the default 4 MB spills to disk); no
                # parallel workers: an endpoint already runs its queries side by side, and
                # workers only add processes competing for the same cores; no JIT, whose
                # compilation (30-40 ms a query here) costs more than it saves at this size
                # (bench/README.md).
                await session.execute(
                    text(
                        "SELECT set_config('work_mem', :work_mem, true),"
                        " set_config('max_parallel_workers_per_gather', '0', true),"
                        " set_config('jit', 'off', true)"
                    ),
                    {"work_mem": WORK_MEM},
                )
            rows: Sequence[Any] = (await session.execute(query)).all()
        return rows

    async def _each(self, *queries: Any) -> list[Sequence[Any]]:
        """The queries' rows, each query on its own connection, concurrently."""
        return list(await asyncio.gather(*(self._rows(query) for query in queries)))

    # ---------------------------------------------------------------------------------------
    # Trainer

    async def trainer_courses(
        self, trainer_id: str, *, course_id: str | None = None
    ) -> list[tuple[str, str]]:
        query = select(CourseRow.id, CourseRow.title).where(CourseRow.trainer_id == trainer_id)
        if course_id is not None:
            query = query.where(CourseRow.id == course_id)
        return [(row.id, row.title) for row in await self._rows(query.order_by(CourseRow.id))]

    def _last_activity(self, course_ids: Sequence[str], window: TimeRange) -> Subquery:
        """Each (learner, course)'s latest learning event before `as_of`."""
        return (
            select(
                EVENT.user_id,
                EVENT.course_id,
                func.max(EVENT.occurred_at).label("last_at"),
            )
            .where(EVENT.course_id.in_(course_ids), EVENT.occurred_at < window.as_of)
            .group_by(EVENT.user_id, EVENT.course_id)
            .subquery("last_activity")
        )

    async def course_aggregates(
        self, course_ids: Sequence[str], window: TimeRange, *, department_id: str | None = None
    ) -> list[CourseAggregate]:
        if not course_ids:
            return []
        last = self._last_activity(course_ids, window)
        enrollment = EnrollmentRow
        recent = window.as_of - timedelta(days=ACTIVE_DAYS)
        stall = window.as_of - timedelta(days=STALL_DAYS)
        completed = and_(enrollment.completed_at.is_not(None), enrollment.completed_at < window.end)
        enrollments = (
            select(
                enrollment.course_id,
                func.count().label("enrolled"),
                func.sum(case((completed, 1), else_=0)).label("completed"),
                func.sum(enrollment.progress_pct).label("progress_sum"),
                func.sum(case((last.c.last_at >= recent, 1), else_=0)).label("active"),
                func.sum(
                    case(
                        (
                            and_(
                                ~completed,
                                func.coalesce(last.c.last_at, enrollment.enrolled_at) < stall,
                            ),
                            1,
                        ),
                        else_=0,
                    )
                ).label("stalled"),
                func.max(last.c.last_at).label("last_at"),
            )
            .select_from(enrollment)
            .outerjoin(
                last,
                and_(
                    last.c.user_id == enrollment.user_id, last.c.course_id == enrollment.course_id
                ),
            )
            .where(
                enrollment.course_id.in_(course_ids),
                enrollment.withdrawn_at.is_(None),
                enrollment.enrolled_at < window.end,
                _of_department(enrollment.user_id, department_id),
            )
            .group_by(enrollment.course_id)
        )
        attempts = (
            select(
                ATTEMPT.course_id,
                func.count().label("attempts"),
                func.sum(case((ATTEMPT.passed, 1), else_=0)).label("passed"),
                func.sum(ATTEMPT.score_pct).label("score_sum"),
                func.count(distinct(ATTEMPT.user_id)).label("learners"),
            )
            .where(
                ATTEMPT.course_id.in_(course_ids),
                ATTEMPT.submitted_at >= window.start,
                ATTEMPT.submitted_at < window.end,
                _of_department(ATTEMPT.user_id, department_id),
            )
            .group_by(ATTEMPT.course_id)
        )
        days = floor_div(Epoch(enrollment.completed_at) - Epoch(enrollment.enrolled_at), DAY)
        durations = (
            select(enrollment.course_id, days.label("days"), func.count().label("n"))
            .where(
                enrollment.course_id.in_(course_ids),
                enrollment.withdrawn_at.is_(None),
                enrollment.completed_at.is_not(None),
                enrollment.completed_at < window.end,
                enrollment.completed_at >= enrollment.enrolled_at,
                _of_department(enrollment.user_id, department_id),
            )
            .group_by(enrollment.course_id, days)
        )
        title_rows, enrollment_rows, attempt_rows, duration_rows = await self._each(
            select(CourseRow.id, CourseRow.title).where(CourseRow.id.in_(course_ids)),
            enrollments,
            attempts,
            durations,
        )
        titles = {row.id: row.title for row in title_rows}
        by_course = {row.course_id: row for row in enrollment_rows}
        scored = {row.course_id: row for row in attempt_rows}
        histogram: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for row in duration_rows:
            histogram[row.course_id].append((int(row.days), int(row.n)))
        result: list[CourseAggregate] = []
        for course_id in sorted(titles):
            e = by_course.get(course_id)
            a = scored.get(course_id)
            result.append(
                CourseAggregate(
                    course_id=course_id,
                    title=titles[course_id],
                    enrolled=_int(e.enrolled) if e else 0,
                    completed=_int(e.completed) if e else 0,
                    progress_sum=_float(e.progress_sum) if e else 0.0,
                    active_recent=_int(e.active) if e else 0,
                    stalled=_int(e.stalled) if e else 0,
                    attempts=_int(a.attempts) if a else 0,
                    passed=_int(a.passed) if a else 0,
                    score_sum=_float(a.score_sum) if a else 0.0,
                    scored_learners=_int(a.learners) if a else 0,
                    last_activity_at=e.last_at if e else None,
                    completion_days=tuple(sorted(histogram.get(course_id, ()))),
                )
            )
        return result

    async def unit_aggregates(
        self, course_ids: Sequence[str], window: TimeRange, *, department_id: str | None = None
    ) -> list[UnitAggregate]:
        if not course_ids:
            return []
        done = and_(
            EVENT.course_id.in_(course_ids),
            EVENT.verb == "completed",
            EVENT.occurred_at < window.as_of,
            _of_department(EVENT.user_id, department_id),
        )
        reached = (
            select(EVENT.unit_id, func.count(distinct(EVENT.user_id)).label("reached"))
            .where(done, EVENT.unit_id.is_not(None))
            .group_by(EVENT.unit_id)
        )
        furthest = (
            select(
                EVENT.user_id,
                EVENT.course_id,
                func.max(CourseUnitRow.position).label("position"),
            )
            .join(CourseUnitRow, CourseUnitRow.id == EVENT.unit_id)
            .where(done)
            .group_by(EVENT.user_id, EVENT.course_id)
            .subquery("furthest")
        )
        last = self._last_activity(course_ids, window)
        quiet_since = window.as_of - timedelta(days=ACTIVE_DAYS)
        stalled = (
            select(furthest.c.course_id, furthest.c.position, func.count().label("stalled"))
            .select_from(furthest)
            .join(
                EnrollmentRow,
                and_(
                    EnrollmentRow.user_id == furthest.c.user_id,
                    EnrollmentRow.course_id == furthest.c.course_id,
                ),
            )
            .join(
                last,
                and_(
                    last.c.user_id == furthest.c.user_id, last.c.course_id == furthest.c.course_id
                ),
            )
            .where(
                EnrollmentRow.withdrawn_at.is_(None),
                or_(
                    EnrollmentRow.completed_at.is_(None),
                    EnrollmentRow.completed_at >= window.as_of,
                ),
                last.c.last_at < quiet_since,
            )
            .group_by(furthest.c.course_id, furthest.c.position)
        )
        units = select(
            CourseUnitRow.id,
            CourseUnitRow.course_id,
            CourseUnitRow.title,
            CourseUnitRow.position,
        ).where(CourseUnitRow.course_id.in_(course_ids), CourseUnitRow.kind == "content")
        reached_rows, stalled_rows, unit_rows = await self._each(reached, stalled, units)
        reached_by_unit = {r.unit_id: _int(r.reached) for r in reached_rows}
        stalled_at = {(r.course_id, int(r.position)): _int(r.stalled) for r in stalled_rows}
        return [
            UnitAggregate(
                course_id=u.course_id,
                unit_id=u.id,
                title=u.title,
                position=u.position,
                reached=reached_by_unit.get(u.id, 0),
                stalled=stalled_at.get((u.course_id, u.position), 0),
            )
            for u in sorted(unit_rows, key=lambda u: (u.course_id, u.position, u.id))
        ]

    async def assessment_aggregates(
        self, course_ids: Sequence[str], window: TimeRange, *, department_id: str | None = None
    ) -> list[AssessmentAggregate]:
        if not course_ids:
            return []
        query = (
            select(
                ATTEMPT.course_id,
                ATTEMPT.assessment_id,
                func.count().label("attempts"),
                func.sum(case((ATTEMPT.passed, 1), else_=0)).label("passed"),
                func.count(distinct(ATTEMPT.user_id)).label("learners"),
            )
            .where(
                ATTEMPT.course_id.in_(course_ids),
                ATTEMPT.submitted_at >= window.start,
                ATTEMPT.submitted_at < window.end,
                _of_department(ATTEMPT.user_id, department_id),
            )
            .group_by(ATTEMPT.course_id, ATTEMPT.assessment_id)
            .order_by(ATTEMPT.course_id, ATTEMPT.assessment_id)
        )
        return [
            AssessmentAggregate(
                r.course_id, r.assessment_id, _int(r.attempts), _int(r.passed), _int(r.learners)
            )
            for r in await self._rows(query)
        ]

    async def enrollment_aggregates(
        self, course_ids: Sequence[str], window: TimeRange, *, department_id: str | None = None
    ) -> list[EnrollmentAggregate]:
        if not course_ids:
            return []
        last = self._last_activity(course_ids, window)
        scores = (
            select(
                ATTEMPT.user_id,
                ATTEMPT.course_id,
                func.count().label("attempts"),
                func.sum(ATTEMPT.score_pct).label("score_sum"),
            )
            .where(
                ATTEMPT.course_id.in_(course_ids),
                ATTEMPT.submitted_at >= window.start,
                ATTEMPT.submitted_at < window.end,
            )
            .group_by(ATTEMPT.user_id, ATTEMPT.course_id)
            .subquery("scores")
        )
        e = EnrollmentRow
        query = (
            select(
                e.user_id,
                e.course_id,
                e.enrolled_at,
                e.progress_pct,
                e.completed_at,
                e.due_at,
                last.c.last_at,
                scores.c.attempts,
                scores.c.score_sum,
            )
            .select_from(e)
            .join(UserRow, and_(UserRow.id == e.user_id, UserRow.role == LEARNER))
            .outerjoin(last, and_(last.c.user_id == e.user_id, last.c.course_id == e.course_id))
            .outerjoin(
                scores, and_(scores.c.user_id == e.user_id, scores.c.course_id == e.course_id)
            )
            .where(
                e.course_id.in_(course_ids),
                e.withdrawn_at.is_(None),
                e.enrolled_at < window.end,
                _of_department(e.user_id, department_id),
            )
            .order_by(e.course_id, e.user_id)
        )
        return [
            EnrollmentAggregate(
                user_id=r.user_id,
                course_id=r.course_id,
                enrolled_at=r.enrolled_at,
                progress_pct=_float(r.progress_pct),
                completed=r.completed_at is not None and r.completed_at < window.end,
                due_at=r.due_at,
                last_activity_at=r.last_at,
                attempts=_int(r.attempts),
                score_sum=_float(r.score_sum),
            )
            for r in await self._rows(query)
        ]

    async def gain_aggregates(
        self, course_ids: Sequence[str], window: TimeRange, *, department_id: str | None = None
    ) -> list[GainAggregate]:
        if not course_ids:
            return []
        post_in_window = and_(
            ATTEMPT.exam_type == "post_course", ATTEMPT.submitted_at >= window.start
        )
        per_learner = (
            select(
                ATTEMPT.course_id,
                func.avg(case((ATTEMPT.exam_type == "baseline", ATTEMPT.score_pct))).label("pre"),
                func.avg(case((post_in_window, ATTEMPT.score_pct))).label("post"),
            )
            .where(
                ATTEMPT.course_id.in_(course_ids),
                ATTEMPT.submitted_at < window.end,
                _of_department(ATTEMPT.user_id, department_id),
            )
            .group_by(ATTEMPT.user_id, ATTEMPT.course_id)
            .subquery("per_learner")
        )
        query = (
            select(
                per_learner.c.course_id,
                func.count().label("learners"),
                func.sum(per_learner.c.pre).label("pre_sum"),
                func.sum(per_learner.c.post).label("post_sum"),
            )
            .where(per_learner.c.pre.is_not(None), per_learner.c.post.is_not(None))
            .group_by(per_learner.c.course_id)
            .order_by(per_learner.c.course_id)
        )
        return [
            GainAggregate(r.course_id, _int(r.learners), _float(r.pre_sum), _float(r.post_sum))
            for r in await self._rows(query)
        ]

    async def organization_rates(self, organization_id: str, window: TimeRange) -> RateAggregate:
        e = EnrollmentRow
        enrollments = (
            select(
                func.count().label("enrolled"),
                func.sum(
                    case(
                        (and_(e.completed_at.is_not(None), e.completed_at < window.end), 1), else_=0
                    )
                ).label("completed"),
            )
            .join(CourseRow, CourseRow.id == e.course_id)
            .where(
                CourseRow.organization_id == organization_id,
                e.withdrawn_at.is_(None),
                e.enrolled_at < window.end,
            )
        )
        attempts = (
            select(
                func.count().label("attempts"),
                func.sum(case((ATTEMPT.passed, 1), else_=0)).label("passed"),
            )
            .join(CourseRow, CourseRow.id == ATTEMPT.course_id)
            .where(
                CourseRow.organization_id == organization_id,
                ATTEMPT.submitted_at >= window.start,
                ATTEMPT.submitted_at < window.end,
            )
        )
        (enrolled,), (scored,) = await self._each(enrollments, attempts)
        return RateAggregate(
            enrolled=_int(enrolled.enrolled),
            completed=_int(enrolled.completed),
            attempts=_int(scored.attempts),
            passed=_int(scored.passed),
        )

    # ---------------------------------------------------------------------------------------
    # Organisation

    async def organization_timezone(self, organization_id: str) -> tuple[bool, str | None]:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(OrganizationRow.timezone).where(OrganizationRow.id == organization_id)
                )
            ).one_or_none()
            if row is not None:
                return True, row.timezone
            member = await session.scalar(
                select(UserRow.id).where(UserRow.organization_id == organization_id).limit(1)
            )
        return member is not None, None

    async def department_headcounts(self, organization_id: str) -> list[DepartmentHeadcount]:
        department = _department()
        counts = (
            select(department.label("department_id"), func.count().label("headcount"))
            .select_from(UserRow)
            .outerjoin(TeamRow, TeamRow.id == UserRow.team_id)
            .where(UserRow.role == LEARNER, UserRow.organization_id == organization_id)
            .group_by(department)
        )
        names = select(DepartmentRow.id, DepartmentRow.name).where(
            DepartmentRow.organization_id == organization_id
        )
        async with self._sessions() as session:
            named = dict((await session.execute(names)).all())
            rows = (await session.execute(counts)).all()
        found = {r.department_id: _int(r.headcount) for r in rows}
        for department_id in named:
            found.setdefault(department_id, 0)
        return [
            DepartmentHeadcount(
                department_id=department_id,
                name=UNASSIGNED_NAME
                if department_id == UNASSIGNED
                else named.get(department_id, department_id),
                headcount=headcount,
            )
            for department_id, headcount in sorted(found.items())
        ]

    async def managed_departments(self, manager_id: str) -> frozenset[str]:
        direct = select(DepartmentRow.id).where(DepartmentRow.manager_id == manager_id)
        through_team = select(TeamRow.department_id).where(TeamRow.manager_id == manager_id)
        async with self._sessions() as session:
            found = (await session.scalars(union_all(direct, through_team))).all()
        return frozenset(found)

    async def weekly_activity(
        self, scope: OrganizationScope, *, anchor: datetime
    ) -> list[WeekAggregate]:
        learners = _learners(scope)
        days = _learning_days(scope, learners)
        week = _week(days.c.day, anchor)
        # Two hash aggregations (per learner-week, then per department-week) instead of a
        # COUNT(DISTINCT), which PostgreSQL computes by sorting every row.
        per_user = (
            select(
                days.c.user_id,
                week.label("week"),
                func.sum(days.c.units).label("units"),
                func.sum(days.c.seconds).label("seconds"),
            )
            .group_by(days.c.user_id, week)
            .subquery("per_user")
        )
        query = (
            select(
                learners.c.department_id,
                per_user.c.week,
                func.count().label("active"),
                func.sum(per_user.c.units).label("units"),
                func.sum(per_user.c.seconds).label("seconds"),
            )
            .join(learners, learners.c.user_id == per_user.c.user_id)
            .group_by(learners.c.department_id, per_user.c.week)
        )
        return [
            WeekAggregate(
                r.department_id, int(r.week), _int(r.active), _int(r.units), _int(r.seconds)
            )
            for r in await self._rows(query)
        ]

    async def window_activity(self, scope: OrganizationScope) -> list[ActivityAggregate]:
        learners = _learners(scope)
        days = _learning_days(scope, learners)
        per_user = (
            select(
                days.c.user_id,
                func.count().label("days"),
                func.sum(days.c.units).label("units"),
                func.sum(days.c.seconds).label("seconds"),
            )
            .group_by(days.c.user_id)
            .subquery("per_user")
        )
        query = (
            select(
                learners.c.department_id,
                func.count().label("active"),
                func.sum(per_user.c.days).label("active_days"),
                func.sum(per_user.c.units).label("units"),
                func.sum(per_user.c.seconds).label("seconds"),
            )
            .join(learners, learners.c.user_id == per_user.c.user_id)
            .group_by(learners.c.department_id)
        )
        return [
            ActivityAggregate(
                r.department_id,
                _int(r.active),
                _int(r.active_days),
                _int(r.units),
                _int(r.seconds),
            )
            for r in await self._rows(query)
        ]

    async def strategic_aggregates(
        self, scope: OrganizationScope, *, previous: TimeRange
    ) -> tuple[list[SkillTargetAggregate], EffortAggregate, EffortAggregate]:
        learners = _learners(scope)
        target = StrategicSkillTargetRow
        profile = SkillProfileRow
        gap = case(
            (
                target.target_level > profile.current_level,
                target.target_level - profile.current_level,
            ),
            else_=0,
        )
        profiles = (
            select(
                target.skill_id,
                func.count().label("learners"),
                func.sum(case((profile.current_level >= target.target_level, 1), else_=0)).label(
                    "at_target"
                ),
                func.sum(gap).label("gap_sum"),
            )
            .select_from(profile)
            .join(learners, learners.c.user_id == profile.user_id)
            .join(
                target,
                and_(
                    target.skill_id == profile.skill_id,
                    target.organization_id == scope.organization_id,
                ),
            )
            .group_by(target.skill_id)
        )
        targets = select(target).where(target.organization_id == scope.organization_id)
        target_result, profile_rows, current_rows, previous_rows = await self._each(
            targets,
            profiles,
            _effort(scope, learners, scope.window, per_skill=True),
            _effort(scope, learners, previous, per_skill=False),
        )
        target_rows = [row[0] for row in target_result]
        by_skill = {r.skill_id: r for r in profile_rows}
        seconds = {r.skill_id: _int(r.seconds) for r in current_rows if r.skill_id is not None}
        heaviest = max((float(t.weight) for t in target_rows), default=1.0) or 1.0

        def effort(rows: Sequence[Any]) -> EffortAggregate:
            totals = next((r for r in rows if r.skill_id is None), None)
            if totals is None:
                return EffortAggregate(0, 0.0)
            return EffortAggregate(_int(totals.seconds), _float(totals.weighted) / heaviest)

        skills = [
            SkillTargetAggregate(
                skill_id=row.skill_id,
                weight=row.weight,
                target_level=row.target_level,
                learners=_int(found.learners) if found else 0,
                at_target=_int(found.at_target) if found else 0,
                gap_sum=_int(found.gap_sum) if found else 0,
                seconds=seconds.get(row.skill_id, 0),
            )
            for row in sorted(target_rows, key=lambda t: t.skill_id)
            for found in [by_skill.get(row.skill_id)]
        ]
        return skills, effort(current_rows), effort(previous_rows)

    async def department_aggregates(self, scope: OrganizationScope) -> list[DepartmentAggregate]:
        learners = _learners(scope)
        window = scope.window
        e = EnrollmentRow
        done = and_(e.completed_at.is_not(None), e.completed_at < window.end)
        # Per learner first, then per department: no COUNT(DISTINCT), which sorts every row.
        per_learner = (
            select(
                learners.c.department_id,
                e.user_id,
                func.count().label("enrollments"),
                func.sum(case((done, 1), else_=0)).label("completed"),
            )
            .join(learners, learners.c.user_id == e.user_id)
            .where(e.withdrawn_at.is_(None), e.enrolled_at < window.end)
            .group_by(learners.c.department_id, e.user_id)
        )
        if scope.course_id is not None:
            per_learner = per_learner.where(e.course_id == scope.course_id)
        enrolled = per_learner.subquery("enrolled")
        enrollments = select(
            enrolled.c.department_id,
            func.sum(enrolled.c.enrollments).label("enrollments"),
            func.sum(enrolled.c.completed).label("completed"),
            func.count().label("learners"),
        ).group_by(enrolled.c.department_id)
        attempts = (
            select(
                learners.c.department_id,
                func.count().label("attempts"),
                func.sum(ATTEMPT.score_pct).label("score_sum"),
                func.count(distinct(ATTEMPT.user_id)).label("learners"),
            )
            .select_from(ATTEMPT)
            .join(learners, learners.c.user_id == ATTEMPT.user_id)
            .where(ATTEMPT.submitted_at >= window.start, ATTEMPT.submitted_at < window.end)
            .group_by(learners.c.department_id)
        )
        if scope.course_id is not None:
            attempts = attempts.where(ATTEMPT.course_id == scope.course_id)
        if _rolled_up(scope):
            scored = (
                select(
                    DAYS.user_id,
                    func.sum(DAYS.attempts).label("attempts"),
                    func.sum(DAYS.score_sum).label("score_sum"),
                )
                .where(_rollup_window(scope), DAYS.attempts > 0)
                .group_by(DAYS.user_id)
                .subquery("scored")
            )
            attempts = (
                select(
                    learners.c.department_id,
                    func.sum(scored.c.attempts).label("attempts"),
                    func.sum(scored.c.score_sum).label("score_sum"),
                    func.count().label("learners"),
                )
                .join(learners, learners.c.user_id == scored.c.user_id)
                .group_by(learners.c.department_id)
            )
        # Per-learner gap summaries kept with the profiles (one row per learner, not per skill).
        g = SkillGapSummaryRow
        gaps = (
            select(
                learners.c.department_id,
                func.sum(g.gap_sum).label("gap_sum"),
                func.sum(g.profiles).label("profiles"),
                func.count().label("learners"),
            )
            .join(learners, learners.c.user_id == g.user_id)
            .where(g.profiles > 0)
            .group_by(learners.c.department_id)
        )
        # Correlated EXISTS / NOT EXISTS: semi- and anti-joins (a NOT IN over a large subquery
        # is evaluated row by row on PostgreSQL).
        open_enrollment = select(e.user_id).where(
            e.user_id == learners.c.user_id, e.completed_at.is_(None), e.withdrawn_at.is_(None)
        )
        recent = select(EVENT.user_id).where(
            EVENT.user_id == learners.c.user_id,
            EVENT.occurred_at >= window.as_of - timedelta(days=STALL_DAYS),
            EVENT.occurred_at < window.as_of,
        )
        if scope.course_id is not None:
            open_enrollment = open_enrollment.where(e.course_id == scope.course_id)
            recent = recent.where(EVENT.course_id == scope.course_id)
        if _rolled_up(scope):
            recent = _recent_in_rollup(scope, learners)
        at_risk = (
            select(learners.c.department_id, func.count().label("at_risk"))
            .where(open_enrollment.exists(), ~recent.exists())
            .group_by(learners.c.department_id)
        )
        activities, enrollment_rows, attempt_rows, gap_rows, risk_rows = await asyncio.gather(
            self.window_activity(scope),
            *(self._rows(q) for q in (enrollments, attempts, gaps, at_risk)),
        )
        activity = {a.department_id: a for a in activities}
        by_enrollment = {r.department_id: r for r in enrollment_rows}
        by_attempt = {r.department_id: r for r in attempt_rows}
        by_gap = {r.department_id: r for r in gap_rows}
        by_risk = {r.department_id: _int(r.at_risk) for r in risk_rows}
        result: list[DepartmentAggregate] = []
        for department_id in sorted(scope.departments):
            act = activity.get(department_id)
            enr = by_enrollment.get(department_id)
            att = by_attempt.get(department_id)
            gap = by_gap.get(department_id)
            result.append(
                DepartmentAggregate(
                    department_id=department_id,
                    active_learners=act.active_learners if act else 0,
                    active_days=act.active_days if act else 0,
                    seconds=act.seconds if act else 0,
                    enrollments=_int(enr.enrollments) if enr else 0,
                    completed_enrollments=_int(enr.completed) if enr else 0,
                    enrolled_learners=_int(enr.learners) if enr else 0,
                    attempts=_int(att.attempts) if att else 0,
                    score_sum=_float(att.score_sum) if att else 0.0,
                    scored_learners=_int(att.learners) if att else 0,
                    gap_sum=_int(gap.gap_sum) if gap else 0,
                    gap_profiles=_int(gap.profiles) if gap else 0,
                    gap_learners=_int(gap.learners) if gap else 0,
                    at_risk=by_risk.get(department_id, 0),
                )
            )
        return result

    async def culture_aggregates(
        self, scope: OrganizationScope, *, weeks: int
    ) -> list[CultureAggregate]:
        learners = _learners(scope)
        window = scope.window
        anchor = window.end - timedelta(days=7 * weeks)
        half = (weeks + 1) // 2
        days = _activity_days(scope)
        per_user = (
            select(
                days.c.user_id,
                _weeks_with(days.c.day, days.c.acts, anchor).label("weeks"),
                func.sum(days.c.social).label("social"),
                func.sum(days.c.seconds).label("seconds"),
            )
            .group_by(days.c.user_id)
            .subquery("per_user")
        )
        habits = (
            select(
                learners.c.department_id,
                func.sum(case((per_user.c.weeks > 0, 1), else_=0)).label("active"),
                func.sum(case((per_user.c.weeks >= half, 1), else_=0)).label("consistent"),
                func.sum(case((per_user.c.social > 0, 1), else_=0)).label("collaborating"),
                func.sum(per_user.c.seconds).label("seconds"),
            )
            .join(per_user, per_user.c.user_id == learners.c.user_id)
            .group_by(learners.c.department_id)
        )

        # One ordering per learner (one sort): the first and the last score of the window.
        def in_order(value: Any) -> Any:
            return value.over(
                partition_by=ATTEMPT.user_id,
                order_by=(ATTEMPT.submitted_at, ATTEMPT.id),
                rows=(None, None),
            )

        ordered = _on_course(
            select(
                ATTEMPT.user_id,
                in_order(func.first_value(ATTEMPT.score_pct)).label("first_score"),
                in_order(func.last_value(ATTEMPT.score_pct)).label("last_score"),
            ).where(_within(ATTEMPT.submitted_at, window)),
            ATTEMPT.course_id,
            scope.course_id,
        ).subquery("ordered")
        scores = (
            select(
                ordered.c.user_id,
                func.max(ordered.c.first_score).label("first_score"),
                func.max(ordered.c.last_score).label("last_score"),
            )
            .group_by(ordered.c.user_id)
            .having(func.count() >= 2)
            .subquery("scores")
        )
        growth = (
            select(
                learners.c.department_id,
                func.count().label("measured"),
                func.sum(case((scores.c.last_score > scores.c.first_score, 1), else_=0)).label(
                    "growing"
                ),
            )
            .join(scores, scores.c.user_id == learners.c.user_id)
            .group_by(learners.c.department_id)
        )
        habit_rows, growth_rows = await self._each(habits, growth)
        by_habit = {r.department_id: r for r in habit_rows}
        by_growth = {r.department_id: r for r in growth_rows}
        result: list[CultureAggregate] = []
        for department_id in sorted(scope.departments):
            habit = by_habit.get(department_id)
            grow = by_growth.get(department_id)
            result.append(
                CultureAggregate(
                    department_id=department_id,
                    active_learners=_int(habit.active) if habit else 0,
                    consistent_learners=_int(habit.consistent) if habit else 0,
                    seconds=_int(habit.seconds) if habit else 0,
                    collaborating_learners=_int(habit.collaborating) if habit else 0,
                    growth_measured=_int(grow.measured) if grow else 0,
                    growing_learners=_int(grow.growing) if grow else 0,
                )
            )
        return result

    async def last_sync_at(self) -> datetime | None:
        async with self._sessions() as session:
            return await session.scalar(select(func.max(SyncStateRow.last_success_at)))
