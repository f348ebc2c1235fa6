"""Learner analytics use case (SPEC §10 Learner): one parametrised use case for the six metrics.

On a cache miss the serving pipeline calls `GetLearnerMetric.execute`, which:
1. resolves the timezone (requested, else the user's, the org's, UTC) and the window
   (`from`/`to` local dates; default the last 30 days; at most 366 days);
2. refreshes the learner's data from the upstreams within the refresh budget;
3. loads the learner's history from the store and runs the metric's pure function with `now`
   from the clock (optionally on one course's records only); mastery gets the BKT parameters
   fitted on the learner's organisation (`application/mastery_params.py`) when it is known;
4. says where the numbers came from (`LearnerAnswer.data_source`):
   - `realtime` when the refresh reached every upstream, or when the store's newest data about
     the learner is within the freshness budget anyway;
   - `stale` otherwise, with `data_as_of` = when the newest row about the learner was ingested;
   - `mock` only when mock fallback is on and the store has nothing at all for the learner
     (no enrolment, activity or skill profile): the same metric over a generated history
     (`application/mock.py`), deterministic per learner. With mock fallback off, the metric's
     own minimum-data rule answers (InsufficientDataError).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, tzinfo
from typing import Generic, Literal, Protocol, TypeVar
from zoneinfo import ZoneInfo

from learning_analytics.application.gamification import resolve_timezone
from learning_analytics.application.mastery_params import MasteryParameters
from learning_analytics.application.mock import mock_history
from learning_analytics.application.ports import (
    ActivityRepository,
    Clock,
    LearnerHistoryRepository,
    UserRepository,
)
from learning_analytics.application.refresh import RefreshLearner
from learning_analytics.domain.errors import InsufficientDataError, InvalidInputError
from learning_analytics.domain.metrics.bkt import BktParams
from learning_analytics.domain.metrics.learner import (
    ContentEffectiveness,
    Engagement,
    LearnerHistory,
    Mastery,
    Performance,
    SkillGap,
    Velocity,
    Window,
    compute_content_effectiveness,
    compute_engagement,
    compute_mastery,
    compute_performance,
    compute_skill_gap,
    compute_velocity,
)

DEFAULT_WINDOW_DAYS = 30
MAX_WINDOW_DAYS = 366

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
LearnerSource = Literal["realtime", "stale", "mock"]


class MetricFunction(Protocol[R_co]):
    def __call__(
        self, history: LearnerHistory, *, now: datetime, tz: tzinfo, window: Window
    ) -> R_co: ...


@dataclass(frozen=True, slots=True)
class LearnerMetric(Generic[R]):
    name: str  # the route segment, e.g. "skill-gap"
    compute: MetricFunction[R]
    # The metric with fitted BKT parameters per skill, for the metrics that use BKT.
    with_bkt_params: Callable[[Mapping[str, BktParams]], MetricFunction[R]] | None = None


def mastery_with(params: Mapping[str, BktParams]) -> MetricFunction[Mastery]:
    """Mastery with `params` (fitted per skill); other skills use the default parameters."""

    def compute(history: LearnerHistory, *, now: datetime, tz: tzinfo, window: Window) -> Mastery:
        return compute_mastery(history, now=now, tz=tz, window=window, params=params)

    return compute


VELOCITY: LearnerMetric[Velocity] = LearnerMetric("velocity", compute_velocity)
SKILL_GAP: LearnerMetric[SkillGap] = LearnerMetric("skill-gap", compute_skill_gap)
ENGAGEMENT: LearnerMetric[Engagement] = LearnerMetric("engagement", compute_engagement)
MASTERY: LearnerMetric[Mastery] = LearnerMetric("mastery", compute_mastery, mastery_with)
PERFORMANCE: LearnerMetric[Performance] = LearnerMetric("performance", compute_performance)
CONTENT_EFFECTIVENESS: LearnerMetric[ContentEffectiveness] = LearnerMetric(
    "content-effectiveness", compute_content_effectiveness
)


@dataclass(frozen=True, slots=True)
class LearnerQuery:
    """The common query of the learner analytics, validated; None means "the default"."""

    start: date | None = None
    end: date | None = None
    tz: ZoneInfo | None = None
    course_id: str | None = None

    def __post_init__(self) -> None:
        if self.start is not None and self.end is not None:
            check_window(self.start, self.end)


def check_window(start: date, end: date) -> None:
    if start > end:
        raise InvalidInputError(f"'from' ({start}) is after 'to' ({end})", details="from")
    days = (end - start).days + 1
    if days > MAX_WINDOW_DAYS:
        raise InvalidInputError(
            f"The window spans {days} days; at most {MAX_WINDOW_DAYS} are allowed",
            details="from",
        )


def resolve_window(query: LearnerQuery, *, today: date) -> Window:
    """`to` defaults to today (local), `from` to 30 days ending on `to`."""
    end = query.end or today
    start = query.start or end - timedelta(days=DEFAULT_WINDOW_DAYS - 1)
    check_window(start, end)
    return Window(start, end)


def only_course(history: LearnerHistory, course_id: str) -> LearnerHistory:
    """The learner's records about one course: its enrolment, units, events, attempts and
    questions; practice sessions and skill profiles on the skills its units cover."""
    skills = {
        skill
        for unit in history.course_units
        if unit.course_id == course_id
        for skill in unit.skills
    }
    return replace(
        history,
        enrollments=tuple(e for e in history.enrollments if e.course_id == course_id),
        courses=tuple(c for c in history.courses if c.id == course_id),
        course_units=tuple(u for u in history.course_units if u.course_id == course_id),
        learning_events=tuple(e for e in history.learning_events if e.course_id == course_id),
        assessment_attempts=tuple(
            a for a in history.assessment_attempts if a.course_id == course_id
        ),
        skill_profiles=tuple(p for p in history.skill_profiles if p.skill_id in skills),
        practice_sessions=tuple(s for s in history.practice_sessions if s.skill_id in skills),
        assistant_interactions=tuple(
            q for q in history.assistant_interactions if q.course_id == course_id
        ),
    )


@dataclass(frozen=True, slots=True)
class LearnerAnswer(Generic[R]):
    value: R
    window: Window
    timezone: str
    data_source: LearnerSource
    data_as_of: datetime | None


class GetLearnerMetric(Generic[R]):
    """One learner metric, computed from the store after an on-demand refresh."""

    def __init__(
        self,
        metric: LearnerMetric[R],
        *,
        histories: LearnerHistoryRepository,
        users: UserRepository,
        activity: ActivityRepository,
        refresh: RefreshLearner,
        clock: Clock,
        freshness_budget: timedelta,
        mock_fallback: bool,
        mastery_params: MasteryParameters | None = None,
    ) -> None:
        self._metric = metric
        self._mastery_params = mastery_params
        self._histories = histories
        self._users = users
        self._activity = activity
        self._refresh = refresh
        self._clock = clock
        self._freshness_budget = freshness_budget
        self._mock_fallback = mock_fallback

    async def execute(
        self,
        *,
        user_id: str,
        query: LearnerQuery,
        request_id: str | None = None,
        organization_id: str | None = None,
    ) -> LearnerAnswer[R]:
        """`organization_id` (the learner's) selects the fitted BKT parameters; without it, or
        without `mastery_params`, BKT uses the default parameters."""
        profile = None if query.tz else await self._users.get_profile(user_id)
        tz = resolve_timezone(query.tz, profile)
        report = await self._refresh.execute(user_id, request_id=request_id)
        now = self._clock.now()
        window = resolve_window(query, today=now.astimezone(tz).date())
        # Whole history up to now: state metrics, first completions and before/after learning
        # gains all look back before the window.
        history = await self._histories.history(
            user_id, since=None, until=now + timedelta(microseconds=1)
        )
        if history.is_empty and self._mock_fallback:
            generated = mock_history(user_id, now=now, tz=tz, window=window)
            value = self._metric.compute(generated, now=now, tz=tz, window=window)
            return LearnerAnswer(value, window, tz.key, "mock", None)

        if query.course_id is not None:
            history = only_course(history, query.course_id)
            if not history.enrollments and not any(history.activity_instants()):
                raise InsufficientDataError(
                    f"{self._metric.name}: no enrolment or activity of this learner in course "
                    f"{query.course_id}",
                    details="courseId",
                )
        compute = await self._compute(organization_id)
        value = compute(history, now=now, tz=tz, window=window)
        as_of = await self._activity.last_ingested_at(user_id)
        fresh = as_of is not None and now - as_of <= self._freshness_budget
        source: LearnerSource = "realtime" if report.complete or fresh else "stale"
        return LearnerAnswer(value, window, tz.key, source, as_of)

    async def _compute(self, organization_id: str | None) -> MetricFunction[R]:
        metric = self._metric
        if metric.with_bkt_params is None or self._mastery_params is None or not organization_id:
            return metric.compute
        return metric.with_bkt_params(await self._mastery_params.for_organization(organization_id))
