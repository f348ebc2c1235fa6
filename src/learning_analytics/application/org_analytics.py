"""Trainer and organisation analytics use cases (SPEC §10 Trainer, Organisation).

On a cache miss the serving pipeline calls one of these, which:
1. resolves the timezone (requested, else the organisation's, else UTC) and the window (`from`/
   `to` local dates; default the last 30 days; at most 366), as instants [start, end) and
   `as_of` = min(end, now) for "recent" figures;
2. asks the store for sums and counts (SQL GROUP BY, `TrainerAnalyticsRepository` /
   `OrganizationAnalyticsRepository`) — never per-person records, except the per-enrolment
   summaries of one trainer's courses that the at-risk list is made of;
3. runs the pure arithmetic of `domain/metrics/trainer.py` / `organization.py`, with k-anonymity.

Organisation figures never fan out to the upstreams: they are as fresh as the last sync, which
`data_as_of` reports. Organisation scoping (SPEC §8.5): the store is asked only about departments
with at least k learners, so no total can reveal a suppressed department (see the domain module).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from learning_analytics.application.learner import LearnerQuery, resolve_window
from learning_analytics.application.ports import (
    Clock,
    OrganizationAnalyticsRepository,
    OrganizationScope,
    TimeRange,
    TrainerAnalyticsRepository,
)
from learning_analytics.domain.errors import InsufficientDataError, NotFoundError
from learning_analytics.domain.metrics.learner import Window
from learning_analytics.domain.metrics.organization import (
    DepartmentAnalytics,
    DepartmentHeadcount,
    LearningCulture,
    LearningVelocity,
    StrategicAlignment,
    department_analytics,
    learning_culture,
    learning_velocity,
    require_shown,
    shown_departments,
    strategic_alignment,
)
from learning_analytics.domain.metrics.trainer import (
    STALL_DAYS,
    CourseHealth,
    CoursePerformance,
    StudentDistribution,
    TeachingEffectiveness,
    course_health,
    course_performance,
    student_distribution,
    teaching_effectiveness,
)
from learning_analytics.domain.timezones import same_local_days, zone_named

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class AnalyticsQuery:
    """The common filters, validated: None means "the default" / "all"."""

    start: date | None = None
    end: date | None = None
    tz: ZoneInfo | None = None
    course_id: str | None = None
    department_id: str | None = None


@dataclass(frozen=True, slots=True)
class Answer(Generic[R]):
    subject_id: str  # the trainer or the organisation
    window: Window
    timezone: str
    result: R
    data_as_of: datetime | None


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tz)


def time_range(window: Window, tz: ZoneInfo, *, now: datetime) -> TimeRange:
    start = _midnight(window.start, tz)
    end = _midnight(window.end + timedelta(days=1), tz)
    return TimeRange(start=start, end=end, as_of=min(end, now))


def previous_range(current: TimeRange) -> TimeRange:
    length = current.end - current.start
    return TimeRange(start=current.start - length, end=current.start, as_of=current.start)


def weeks_of(window: Window) -> int:
    return math.ceil(((window.end - window.start).days + 1) / 7)


def week_starts(window: Window) -> list[str]:
    """First local date inside the window of each 7-day week ending on `window.end`."""
    weeks = weeks_of(window)
    after = window.end + timedelta(days=1)
    return [
        max(after - timedelta(days=7 * (weeks - index)), window.start).isoformat()
        for index in range(weeks)
    ]


def _zone(requested: ZoneInfo | None, name: str | None) -> ZoneInfo:
    return requested if requested is not None else zone_named(name)


class TrainerAnalytics:
    """The four trainer metrics over the courses `trainer_id` owns."""

    def __init__(
        self,
        *,
        trainers: TrainerAnalyticsRepository,
        organizations: OrganizationAnalyticsRepository,
        clock: Clock,
        k: int,
    ) -> None:
        self._trainers = trainers
        self._organizations = organizations
        self._clock = clock
        self._k = k

    async def _setup(
        self, trainer_id: str, organization_id: str, query: AnalyticsQuery
    ) -> tuple[list[str], Window, ZoneInfo, TimeRange]:
        _, zone_name = await self._organizations.organization_timezone(organization_id)
        tz = _zone(query.tz, zone_name)
        now = self._clock.now()
        window = resolve_window(
            LearnerQuery(start=query.start, end=query.end), today=now.astimezone(tz).date()
        )
        courses = await self._trainers.trainer_courses(trainer_id, course_id=query.course_id)
        if query.course_id is not None and not courses:
            raise NotFoundError("No such course among the trainer's courses")
        if query.department_id is not None:
            departments = await self._organizations.department_headcounts(organization_id)
            if query.department_id not in {d.department_id for d in departments}:
                raise NotFoundError("No such department in the organisation")
        return [c for c, _ in courses], window, tz, time_range(window, tz, now=now)

    async def _answer(self, trainer_id: str, window: Window, tz: ZoneInfo, result: R) -> Answer[R]:
        return Answer(trainer_id, window, tz.key, result, await self._organizations.last_sync_at())

    async def course_performance(
        self, trainer_id: str, organization_id: str, query: AnalyticsQuery
    ) -> Answer[CoursePerformance]:
        ids, window, tz, span = await self._setup(trainer_id, organization_id, query)
        courses = await self._trainers.course_aggregates(
            ids, span, department_id=query.department_id
        )
        return await self._answer(trainer_id, window, tz, course_performance(courses, k=self._k))

    async def course_health(
        self, trainer_id: str, organization_id: str, query: AnalyticsQuery
    ) -> Answer[CourseHealth]:
        ids, window, tz, span = await self._setup(trainer_id, organization_id, query)
        courses, units, assessments = await asyncio.gather(
            self._trainers.course_aggregates(ids, span, department_id=query.department_id),
            self._trainers.unit_aggregates(ids, span, department_id=query.department_id),
            self._trainers.assessment_aggregates(ids, span, department_id=query.department_id),
        )
        result = course_health(courses, units, assessments, now=span.as_of, k=self._k)
        return await self._answer(trainer_id, window, tz, result)

    async def student_distribution(
        self, trainer_id: str, organization_id: str, query: AnalyticsQuery
    ) -> Answer[StudentDistribution]:
        ids, window, tz, span = await self._setup(trainer_id, organization_id, query)
        enrollments = await self._trainers.enrollment_aggregates(
            ids, span, department_id=query.department_id
        )
        result = student_distribution(enrollments, now=span.as_of, k=self._k)
        return await self._answer(trainer_id, window, tz, result)

    async def teaching_effectiveness(
        self, trainer_id: str, organization_id: str, query: AnalyticsQuery
    ) -> Answer[TeachingEffectiveness]:
        ids, window, tz, span = await self._setup(trainer_id, organization_id, query)
        courses, gains, baseline = await asyncio.gather(
            self._trainers.course_aggregates(ids, span, department_id=query.department_id),
            self._trainers.gain_aggregates(ids, span, department_id=query.department_id),
            self._trainers.organization_rates(organization_id, span),
        )
        result = teaching_effectiveness(courses, gains, baseline, k=self._k)
        return await self._answer(trainer_id, window, tz, result)


@dataclass(frozen=True, slots=True)
class _OrgContext:
    window: Window
    tz: ZoneInfo
    shown: list[DepartmentHeadcount]
    suppressed: list[DepartmentHeadcount]
    scope: OrganizationScope


class OrganizationAnalytics:
    """The four organisation metrics of `organization_id`."""

    def __init__(
        self, *, organizations: OrganizationAnalyticsRepository, clock: Clock, k: int
    ) -> None:
        self._organizations = organizations
        self._clock = clock
        self._k = k

    async def _setup(self, organization_id: str, query: AnalyticsQuery) -> _OrgContext:
        known, zone_name = await self._organizations.organization_timezone(organization_id)
        if not known:
            raise NotFoundError("No such organisation")
        tz = _zone(query.tz, zone_name)
        now = self._clock.now()
        window = resolve_window(
            LearnerQuery(start=query.start, end=query.end), today=now.astimezone(tz).date()
        )
        headcounts = await self._organizations.department_headcounts(organization_id)
        shown, suppressed = shown_departments(headcounts, k=self._k)
        if query.department_id is not None:
            if query.department_id not in {d.department_id for d in headcounts}:
                raise NotFoundError("No such department in the organisation")
            shown = [d for d in shown if d.department_id == query.department_id]
            suppressed = [d for d in suppressed if d.department_id == query.department_id]
            if not shown:
                raise InsufficientDataError(
                    f"the department has fewer than {self._k} learners", details="k-anonymity"
                )
        require_shown(shown, k=self._k)
        span = time_range(window, tz, now=now)
        scope = OrganizationScope(
            organization_id=organization_id,
            departments=tuple(d.department_id for d in shown),
            window=span,
            course_id=query.course_id,
            organization_zone=_organization_days(span, tz, zone_named(zone_name)),
        )
        return _OrgContext(window, tz, shown, suppressed, scope)

    async def _answer(self, organization_id: str, context: _OrgContext, result: R) -> Answer[R]:
        return Answer(
            organization_id,
            context.window,
            context.tz.key,
            result,
            await self._organizations.last_sync_at(),
        )

    async def learning_velocity(
        self, organization_id: str, query: AnalyticsQuery
    ) -> Answer[LearningVelocity]:
        context = await self._setup(organization_id, query)
        scope = context.scope
        weeks = weeks_of(context.window)
        anchor = scope.window.end - timedelta(days=7 * weeks)
        weekly, activity = await asyncio.gather(
            self._organizations.weekly_activity(scope, anchor=anchor),
            self._organizations.window_activity(scope),
        )
        days = (context.window.end - context.window.start).days + 1
        result = learning_velocity(
            shown=context.shown,
            suppressed=context.suppressed,
            weeks=weekly,
            window_activity=activity,
            week_starts=week_starts(context.window),
            window_weeks=days / 7,
            k=self._k,
        )
        return await self._answer(organization_id, context, result)

    async def strategic_alignment(
        self, organization_id: str, query: AnalyticsQuery
    ) -> Answer[StrategicAlignment]:
        context = await self._setup(organization_id, query)
        scope = context.scope
        skills, effort, previous = await self._organizations.strategic_aggregates(
            scope, previous=previous_range(scope.window)
        )
        result = strategic_alignment(
            shown=context.shown, skills=skills, effort=effort, previous_effort=previous, k=self._k
        )
        return await self._answer(organization_id, context, result)

    async def department_analytics(
        self,
        organization_id: str,
        query: AnalyticsQuery,
        *,
        visible: frozenset[str] | None = None,
    ) -> Answer[DepartmentAnalytics]:
        context = await self._setup(organization_id, query)
        aggregates = await self._organizations.department_aggregates(context.scope)
        result = department_analytics(
            shown=context.shown,
            suppressed=context.suppressed,
            aggregates=aggregates,
            window_days=(context.window.end - context.window.start).days + 1,
            k=self._k,
            visible=visible,
        )
        return await self._answer(organization_id, context, result)

    async def learning_culture(
        self, organization_id: str, query: AnalyticsQuery
    ) -> Answer[LearningCulture]:
        context = await self._setup(organization_id, query)
        scope = context.scope
        weeks = weeks_of(context.window)
        current, previous = await asyncio.gather(
            self._organizations.culture_aggregates(scope, weeks=weeks),
            self._organizations.culture_aggregates(_previous(scope), weeks=weeks),
        )
        days = (context.window.end - context.window.start).days + 1
        result = learning_culture(
            shown=context.shown,
            suppressed=context.suppressed,
            current=current,
            previous=previous,
            window_weeks=days / 7,
            k=self._k,
        )
        return await self._answer(organization_id, context, result)


def _organization_days(span: TimeRange, tz: ZoneInfo, organization_tz: ZoneInfo) -> bool:
    """Whether the request's local days are the organisation's over every instant the figures
    read: the window, the one before it (trends, the weeks' anchor) and the at-risk look-back.
    Then the store may answer from what it keeps per organisation-local day; another zone with
    the same offsets there (Paris for a Berlin organisation) counts the same days."""
    if tz.key == organization_tz.key:
        return True
    since = min(previous_range(span).start, span.as_of - timedelta(days=STALL_DAYS))
    until = max(span.end, span.as_of) + timedelta(days=1)
    return same_local_days(tz, organization_tz, since, until)


def _previous(scope: OrganizationScope) -> OrganizationScope:
    """The same scope over the window of the same length just before."""
    return replace(scope, window=previous_range(scope.window))
