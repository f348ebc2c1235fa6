"""Comparison use cases (SPEC §10 Comparison), k-anonymous (SPEC §8.5).

Peer comparison (`GetPeerComparison`): the learner's velocity (current pace), average score,
engagement score and mastered-skill count against the same metrics of the OTHER learners of a
cohort — the learner's department, organisation, or a course the learner is enrolled in (then
every metric is computed on that course's records only, as the learner endpoints' `courseId`).
- One timezone and one window for everybody (requested, else the learner's zone, then the org's,
  UTC; `from`/`to` as on the learner endpoints), so every value measures the same days.
- The histories of the learner and the cohort are loaded in one batch; each member's metrics come
  from the same pure functions as the learner endpoints (mastery with the BKT parameters fitted
  on the learner's organisation, as the mastery endpoint, so both count the same skills as
  mastered). A member without enough data for a metric (the metric's own minimum-data rule)
  simply has no value for it; so does the learner, and such a metric is reported `unavailable`.
- `peer_comparison` then suppresses every metric with fewer than k other values, and refuses
  (InsufficientDataError) when none is left.
- Points are the ledger's points (SPEC §11) with `awarded_at` within the window's local days;
  not compared within a course (the ledger is not kept per course); the answer then lists
  them as unavailable with that reason.
- Computed from the store without an on-demand refresh (a comparison needs everybody's data as
  of the same sync); never mocked. `data_as_of` is when the newest row about the learner
  reached the store.

Skill demand (`GetSkillDemand`): `skill_demand` over the organisation's learners' skill profiles
now and 30 days ago, with its strategic targets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo
from typing import Literal, get_args
from zoneinfo import ZoneInfo

from learning_analytics.application.gamification import resolve_timezone
from learning_analytics.application.learner import LearnerQuery, only_course, resolve_window
from learning_analytics.application.mastery_params import MasteryParameters
from learning_analytics.application.ports import (
    ActivityRepository,
    Clock,
    CohortRepository,
    GamificationRepository,
    LearnerHistoryRepository,
    UserRepository,
)
from learning_analytics.domain.errors import (
    InsufficientDataError,
    InvalidInputError,
    NotFoundError,
)
from learning_analytics.domain.metrics.bkt import BktParams
from learning_analytics.domain.metrics.comparison import (
    DEFAULT_TOP,
    PeerComparison,
    SkillDemand,
    peer_comparison,
    skill_demand,
)
from learning_analytics.domain.metrics.learner import (
    LearnerHistory,
    Window,
    compute_engagement,
    compute_mastery,
    compute_performance,
    compute_velocity,
)
from learning_analytics.domain.policy import LearnerFacts

CohortKind = Literal["department", "org", "course"]
COHORT_KINDS: tuple[str, ...] = get_args(CohortKind)
SKILL_DEMAND_LOOKBACK = timedelta(days=30)
POINTS_REASON = "points are not compared within a course: the points ledger is not per course"
NO_LEDGER_REASON = "points are not compared: this deployment has no points ledger"


@dataclass(frozen=True, slots=True)
class PeerMetricSpec:
    name: str  # as on the wire
    unit: str
    value: Callable[[LearnerHistory, datetime, tzinfo, Window], float]


def _velocity(history: LearnerHistory, now: datetime, tz: tzinfo, window: Window) -> float:
    return compute_velocity(history, now=now, tz=tz, window=window).current_pace


def _average_score(history: LearnerHistory, now: datetime, tz: tzinfo, window: Window) -> float:
    return compute_performance(history, now=now, tz=tz, window=window).average_score


def _engagement(history: LearnerHistory, now: datetime, tz: tzinfo, window: Window) -> float:
    return compute_engagement(history, now=now, tz=tz, window=window).score


def _mastered(history: LearnerHistory, now: datetime, tz: tzinfo, window: Window) -> float:
    return float(compute_mastery(history, now=now, tz=tz, window=window).mastered_count)


PEER_METRICS: tuple[PeerMetricSpec, ...] = (
    PeerMetricSpec("velocity", "units/week", _velocity),
    PeerMetricSpec("averageScore", "%", _average_score),
    PeerMetricSpec("engagement", "score 0-100", _engagement),
    PeerMetricSpec("masteredSkills", "skills", _mastered),
)


def peer_metrics(bkt_params: Mapping[str, BktParams]) -> tuple[PeerMetricSpec, ...]:
    """PEER_METRICS with mastered skills counted with `bkt_params` (fitted per skill)."""

    def mastered(history: LearnerHistory, now: datetime, tz: tzinfo, window: Window) -> float:
        mastery = compute_mastery(history, now=now, tz=tz, window=window, params=bkt_params)
        return float(mastery.mastered_count)

    return tuple(
        PeerMetricSpec(spec.name, spec.unit, mastered) if spec.value is _mastered else spec
        for spec in PEER_METRICS
    )


@dataclass(frozen=True, slots=True)
class PeerQuery:
    """The peer comparison's query, validated: `course_id` goes with `cohort="course"` only."""

    cohort: CohortKind = "department"
    course_id: str | None = None
    window: LearnerQuery = field(default_factory=LearnerQuery)

    def __post_init__(self) -> None:
        if self.cohort not in COHORT_KINDS:
            raise InvalidInputError(
                f"cohort must be one of {', '.join(COHORT_KINDS)}", details="cohort"
            )
        if self.cohort == "course" and self.course_id is None:
            raise InvalidInputError("cohort=course needs a courseId", details="courseId")
        if self.cohort != "course" and self.course_id is not None:
            raise InvalidInputError("courseId goes with cohort=course only", details="courseId")


@dataclass(frozen=True, slots=True)
class UnavailableMetric:
    metric: str
    reason: str


@dataclass(frozen=True, slots=True)
class PeerAnswer:
    user_id: str
    cohort: CohortKind
    cohort_id: str
    others: int  # cohort members other than the learner
    window: Window
    timezone: str
    comparison: PeerComparison
    units: Mapping[str, str]
    unavailable: tuple[UnavailableMetric, ...]
    data_as_of: datetime | None


class GetPeerComparison:
    """A learner's metrics against the other learners of their cohort (see the module doc)."""

    def __init__(
        self,
        *,
        cohorts: CohortRepository,
        histories: LearnerHistoryRepository,
        users: UserRepository,
        activity: ActivityRepository,
        clock: Clock,
        k: int,
        mastery_params: MasteryParameters | None = None,
        ledger: GamificationRepository | None = None,
    ) -> None:
        self._ledger = ledger
        self._cohorts = cohorts
        self._histories = histories
        self._users = users
        self._activity = activity
        self._clock = clock
        self._k = k
        self._mastery_params = mastery_params

    async def _cohort(self, learner: LearnerFacts, query: PeerQuery) -> tuple[str, list[str]]:
        if query.cohort == "department":
            if learner.department_id is None:
                raise InsufficientDataError(
                    "peer comparison by department: the learner belongs to no department",
                    details="try cohort=org",
                )
            return learner.department_id, await self._cohorts.department_learners(
                learner.department_id
            )
        if query.cohort == "org":
            return learner.organization_id, await self._cohorts.organization_learners(
                learner.organization_id
            )
        course_id = query.course_id or ""
        members = await self._cohorts.course_learners(course_id)
        if learner.user_id not in members:
            raise InvalidInputError(
                f"the learner is not an enrolled learner of course {course_id}",
                details="courseId",
            )
        return course_id, members

    async def _points(
        self, ledger: GamificationRepository, user_ids: list[str], *, window: Window, tz: ZoneInfo
    ) -> dict[str, float]:
        """Each person's ledger points earned within the window's local days."""
        start = datetime.combine(window.start, time(), tz)
        end = datetime.combine(window.end + timedelta(days=1), time(), tz)
        awards = await ledger.awards(user_ids)
        return {
            uid: float(sum(a.points for a in awards.get(uid, ()) if start <= a.awarded_at < end))
            for uid in user_ids
        }

    async def execute(self, *, learner: LearnerFacts, query: PeerQuery) -> PeerAnswer:
        user_id = learner.user_id
        profile = None if query.window.tz else await self._users.get_profile(user_id)
        tz: ZoneInfo = resolve_timezone(query.window.tz, profile)
        now = self._clock.now()
        window = resolve_window(query.window, today=now.astimezone(tz).date())
        cohort_id, members = await self._cohort(learner, query)
        others = [member for member in members if member != user_id]
        histories = await self._histories.histories(
            [user_id, *others], since=None, until=now + timedelta(microseconds=1)
        )
        if query.course_id is not None:
            histories = {uid: only_course(h, query.course_id) for uid, h in histories.items()}

        specs = PEER_METRICS
        if self._mastery_params is not None:
            specs = peer_metrics(
                await self._mastery_params.for_organization(learner.organization_id)
            )
        mine, unavailable = _values(histories[user_id], specs, now=now, tz=tz, window=window)
        if not mine:
            raise InsufficientDataError(
                "peer comparison: the learner has no metric to compare",
                details="; ".join(f"{u.metric}: {u.reason}" for u in unavailable),
            )
        compared = [spec for spec in specs if spec.name in mine]
        cohort_values: dict[str, list[float]] = {spec.name: [] for spec in compared}
        for other in others:
            values, _ = _values(histories[other], compared, now=now, tz=tz, window=window)
            for name, value in values.items():
                cohort_values[name].append(value)
        if self._ledger is None:
            unavailable.append(UnavailableMetric("points", NO_LEDGER_REASON))
        elif query.course_id is not None:
            unavailable.append(UnavailableMetric("points", POINTS_REASON))
        else:
            points = await self._points(self._ledger, [user_id, *others], window=window, tz=tz)
            mine["points"] = points[user_id]
            cohort_values["points"] = [points[other] for other in others]
        comparison = peer_comparison(mine, cohort_values, k=self._k)
        return PeerAnswer(
            user_id=user_id,
            cohort=query.cohort,
            cohort_id=cohort_id,
            others=len(others),
            window=window,
            timezone=tz.key,
            comparison=comparison,
            units={**{spec.name: spec.unit for spec in PEER_METRICS}, "points": "points"},
            unavailable=tuple(unavailable),
            data_as_of=await self._activity.last_ingested_at(user_id),
        )


def _values(
    history: LearnerHistory,
    specs: Sequence[PeerMetricSpec],
    *,
    now: datetime,
    tz: tzinfo,
    window: Window,
) -> tuple[dict[str, float], list[UnavailableMetric]]:
    """The metrics one person has enough data for, and why the others are missing."""
    values: dict[str, float] = {}
    missing: list[UnavailableMetric] = []
    for spec in specs:
        try:
            values[spec.name] = spec.value(history, now, tz, window)
        except InsufficientDataError as exc:
            missing.append(UnavailableMetric(spec.name, exc.message))
    return values, missing


@dataclass(frozen=True, slots=True)
class SkillDemandAnswer:
    organization_id: str
    demand: SkillDemand
    strategic_skills: frozenset[str]
    compared_with: datetime | None  # the instant of the earlier snapshot, when there is one
    data_as_of: datetime | None


class GetSkillDemand:
    """Per skill of an organisation: demand, supply, ratio and trend vs 30 days ago, top N."""

    def __init__(self, *, cohorts: CohortRepository, clock: Clock, k: int) -> None:
        self._cohorts = cohorts
        self._clock = clock
        self._k = k

    async def execute(self, *, organization_id: str, top: int = DEFAULT_TOP) -> SkillDemandAnswer:
        previous_at = self._clock.now() - SKILL_DEMAND_LOOKBACK
        skills = await self._cohorts.organization_skills(organization_id, previous_at=previous_at)
        if skills is None:
            raise NotFoundError("No such organisation")
        # No trend yet: the store keeps each learner's current skill profile only, so "30 days
        # ago" would be the profiles nobody updated since — a biased sample that makes every
        # skill look rising. The trend stays null until profile history is kept.
        demand = skill_demand(
            skills.profiles,
            strategic_targets=skills.strategic_targets,
            previous_profiles=None,
            k=self._k,
            top=top,
        )
        return SkillDemandAnswer(
            organization_id=organization_id,
            demand=demand,
            strategic_skills=frozenset(t.skill_id for t in skills.strategic_targets),
            compared_with=None,
            data_as_of=skills.data_as_of,
        )
