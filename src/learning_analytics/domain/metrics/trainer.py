"""Trainer analytics (SPEC §10 Trainer): pure arithmetic over aggregates the store computed.

The store hands over sums and counts per course, per unit, per assessment and per enrolment of
the trainer's courses (SQL GROUP BY, `infrastructure/db/analytics.py`); everything here is
arithmetic on those: rates, medians from histograms, the health index, flags, risk levels and
the k-anonymity rule (SPEC §8.5). Formulas, units and worked examples: docs/metrics.md.

k-anonymity: a course with fewer than k enrolled learners is listed without any figure
(`suppressed`); totals over courses are taken over the shown courses only, so a suppressed
course cannot be recovered by subtraction; a rate whose denominator counts fewer than k people
is reported as null.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from learning_analytics.domain.errors import InsufficientDataError

ACTIVE_DAYS = 14  # "active" = a learning event in the course in the last 14 days
STALL_DAYS = 21  # an open enrolment without activity for 21 days has dropped off / stalled
INACTIVE_COURSE_DAYS = 30
STALL_FLAG_SHARE = 30.0  # % of the learners who reached a unit and stopped there
LOW_PASS_RATE = 40.0  # %
HEALTH_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("completion", 0.30),
    ("engagement", 0.25),
    ("assessment", 0.25),
    ("retention", 0.20),
)
PROGRESS_BANDS: tuple[tuple[str, float, float], ...] = (
    ("0-19", 0.0, 20.0),
    ("20-39", 20.0, 40.0),
    ("40-59", 40.0, 60.0),
    ("60-79", 60.0, 80.0),
    ("80-100", 80.0, 100.01),
)
SCORE_BANDS: tuple[tuple[str, float, float], ...] = (
    ("0-49", 0.0, 50.0),
    ("50-69", 50.0, 70.0),
    ("70-84", 70.0, 85.0),
    ("85-100", 85.0, 100.01),
)
NO_SCORE_BAND = "none"
RISK_LEVELS = ("low", "medium", "high", "critical")
AT_RISK_LIST = 50


def pct(part: float, whole: float) -> float | None:
    return None if whole <= 0 else round(100.0 * part / whole, 1)


def shown_pct(part: float, whole: int, *, k: int) -> float | None:
    """A rate over `whole` people, null below k people."""
    return None if whole < k else pct(part, whole)


def median_of_histogram(histogram: Sequence[tuple[int, int]]) -> float | None:
    """The median of the values described by (value, count) pairs."""
    total = sum(count for _, count in histogram)
    if total == 0:
        return None
    ordered = sorted(histogram)
    wanted = [(total - 1) // 2, total // 2]  # 0-based ranks of the middle value(s)
    values: list[float] = []
    seen = 0
    for value, count in ordered:
        while wanted and wanted[0] < seen + count:
            values.append(float(value))
            wanted.pop(0)
        seen += count
    return round(sum(values) / len(values), 1)


# --------------------------------------------------------------------------------------------
# Inputs: aggregates computed by the store


@dataclass(frozen=True, slots=True)
class CourseAggregate:
    """One course's figures over the trainer's window (see docs/metrics.md)."""

    course_id: str
    title: str
    enrolled: int  # enrolments not withdrawn, enrolled before the window's end
    completed: int
    progress_sum: float  # sum of progress % over the enrolled
    active_recent: int  # enrolled learners with a learning event in the last 14 days
    stalled: int  # open enrolments (not completed) without a learning event for 21 days
    attempts: int  # assessment attempts in the window
    passed: int
    score_sum: float
    scored_learners: int  # distinct learners with an attempt in the window
    last_activity_at: datetime | None
    completion_days: tuple[tuple[int, int], ...] = ()  # (whole days to complete, enrolments)


@dataclass(frozen=True, slots=True)
class UnitAggregate:
    course_id: str
    unit_id: str
    title: str
    position: int
    reached: int  # learners who completed this unit
    stalled: int  # ... whose furthest completed unit it is, course open, no activity 14 days


@dataclass(frozen=True, slots=True)
class AssessmentAggregate:
    course_id: str
    assessment_id: str
    attempts: int
    passed: int
    learners: int


@dataclass(frozen=True, slots=True)
class EnrollmentAggregate:
    """One enrolment of a trainer's course with its activity summed in SQL."""

    user_id: str
    course_id: str
    enrolled_at: datetime
    progress_pct: float
    completed: bool
    due_at: datetime | None
    last_activity_at: datetime | None
    attempts: int
    score_sum: float


@dataclass(frozen=True, slots=True)
class GainAggregate:
    """Learners of a course with a baseline and a post-course score (averages per learner)."""

    course_id: str
    learners: int
    pre_sum: float
    post_sum: float


@dataclass(frozen=True, slots=True)
class RateAggregate:
    enrolled: int
    completed: int
    attempts: int
    passed: int


# --------------------------------------------------------------------------------------------
# course-performance


@dataclass(frozen=True, slots=True)
class CoursePerformanceRow:
    course_id: str
    title: str
    suppressed: bool
    enrolled: int | None = None
    active: int | None = None
    completion_rate: float | None = None
    average_progress: float | None = None
    average_score: float | None = None
    pass_rate: float | None = None
    median_days_to_complete: float | None = None


@dataclass(frozen=True, slots=True)
class CoursePerformance:
    k: int
    courses: tuple[CoursePerformanceRow, ...]


def course_performance(courses: Sequence[CourseAggregate], *, k: int) -> CoursePerformance:
    rows: list[CoursePerformanceRow] = []
    for course in sorted(courses, key=lambda c: c.course_id):
        if course.enrolled < k:
            rows.append(CoursePerformanceRow(course.course_id, course.title, suppressed=True))
            continue
        scored = course.scored_learners >= k and course.attempts > 0
        rows.append(
            CoursePerformanceRow(
                course_id=course.course_id,
                title=course.title,
                suppressed=False,
                enrolled=course.enrolled,
                active=course.active_recent,
                completion_rate=pct(course.completed, course.enrolled),
                average_progress=round(course.progress_sum / course.enrolled, 1),
                average_score=round(course.score_sum / course.attempts, 1) if scored else None,
                pass_rate=pct(course.passed, course.attempts) if scored else None,
                median_days_to_complete=median_of_histogram(course.completion_days)
                if course.completed >= k
                else None,
            )
        )
    return CoursePerformance(k=k, courses=tuple(rows))


# --------------------------------------------------------------------------------------------
# course-health


@dataclass(frozen=True, slots=True)
class HealthComponents:
    completion: float | None
    engagement: float | None
    assessment: float | None
    retention: float | None


@dataclass(frozen=True, slots=True)
class FunnelStep:
    unit_id: str
    title: str
    position: int
    reached: int
    stalled: int
    stall_share: float | None  # % of `reached`, null when fewer than k reached the unit


@dataclass(frozen=True, slots=True)
class HealthFlag:
    kind: str  # unit-stall | low-pass-rate | no-recent-activity
    subject: str  # the unit, assessment or course concerned
    value: float | None
    message: str


@dataclass(frozen=True, slots=True)
class CourseHealthRow:
    course_id: str
    title: str
    suppressed: bool
    health_score: float | None = None
    status: str | None = None  # healthy >= 70 | watch >= 50 | at-risk
    components: HealthComponents | None = None
    drop_off_rate: float | None = None
    funnel: tuple[FunnelStep, ...] = ()
    flags: tuple[HealthFlag, ...] = ()


@dataclass(frozen=True, slots=True)
class CourseHealth:
    k: int
    courses: tuple[CourseHealthRow, ...]


def health_score(components: HealthComponents) -> float | None:
    """Weighted mean of the available components (weights renormalised over them)."""
    present: list[tuple[float, float]] = [
        (getattr(components, name), weight)
        for name, weight in HEALTH_WEIGHTS
        if getattr(components, name) is not None
    ]
    total = sum(weight for _, weight in present)
    if not present or total == 0:
        return None
    return round(sum(value * weight for value, weight in present) / total, 1)


def health_status(score: float | None) -> str | None:
    if score is None:
        return None
    return "healthy" if score >= 70 else "watch" if score >= 50 else "at-risk"


def course_health(
    courses: Sequence[CourseAggregate],
    units: Sequence[UnitAggregate],
    assessments: Sequence[AssessmentAggregate],
    *,
    now: datetime,
    k: int,
) -> CourseHealth:
    rows: list[CourseHealthRow] = []
    for course in sorted(courses, key=lambda c: c.course_id):
        if course.enrolled < k:
            rows.append(CourseHealthRow(course.course_id, course.title, suppressed=True))
            continue
        drop_off = pct(course.stalled, course.enrolled)
        components = HealthComponents(
            completion=pct(course.completed, course.enrolled),
            engagement=pct(course.active_recent, course.enrolled),
            assessment=pct(course.passed, course.attempts) if course.scored_learners >= k else None,
            retention=None if drop_off is None else round(100.0 - drop_off, 1),
        )
        score = health_score(components)
        funnel = tuple(
            FunnelStep(
                unit_id=unit.unit_id,
                title=unit.title,
                position=unit.position,
                reached=unit.reached,
                stalled=unit.stalled,
                stall_share=shown_pct(unit.stalled, unit.reached, k=k),
            )
            for unit in sorted(units, key=lambda u: (u.position, u.unit_id))
            if unit.course_id == course.course_id
        )
        flags: list[HealthFlag] = [
            HealthFlag(
                "unit-stall",
                step.unit_id,
                step.stall_share,
                f"{step.stall_share} % of the learners who reached '{step.title}' stopped there",
            )
            for step in funnel
            if step.stall_share is not None and step.stall_share > STALL_FLAG_SHARE
        ]
        for assessment in sorted(assessments, key=lambda a: a.assessment_id):
            if assessment.course_id != course.course_id or assessment.learners < k:
                continue
            rate = pct(assessment.passed, assessment.attempts)
            if rate is not None and rate < LOW_PASS_RATE:
                flags.append(
                    HealthFlag(
                        "low-pass-rate",
                        assessment.assessment_id,
                        rate,
                        f"pass rate {rate} % is below {LOW_PASS_RATE:g} %",
                    )
                )
        last = course.last_activity_at
        if last is None or last < now - timedelta(days=INACTIVE_COURSE_DAYS):
            flags.append(
                HealthFlag(
                    "no-recent-activity",
                    course.course_id,
                    None if last is None else float((now - last).days),
                    f"no learning activity in the last {INACTIVE_COURSE_DAYS} days",
                )
            )
        rows.append(
            CourseHealthRow(
                course_id=course.course_id,
                title=course.title,
                suppressed=False,
                health_score=score,
                status=health_status(score),
                components=components,
                drop_off_rate=drop_off,
                funnel=funnel,
                flags=tuple(flags),
            )
        )
    return CourseHealth(k=k, courses=tuple(rows))


# --------------------------------------------------------------------------------------------
# student-distribution


@dataclass(frozen=True, slots=True)
class Band:
    band: str
    count: int


@dataclass(frozen=True, slots=True)
class AtRiskLearner:
    user_id: str
    course_id: str
    risk: str
    main_factor: str
    inactive_days: int


@dataclass(frozen=True, slots=True)
class StudentDistribution:
    k: int
    learners: int
    enrollments: int
    progress_bands: tuple[Band, ...]
    score_bands: tuple[Band, ...]
    risk_levels: tuple[Band, ...]  # open enrolments by risk level, plus "completed"
    at_risk: tuple[AtRiskLearner, ...]


def _band(value: float, bands: tuple[tuple[str, float, float], ...]) -> str:
    for name, low, high in bands:
        if low <= value < high:
            return name
    return bands[-1][0] if value >= bands[-1][1] else bands[0][0]


def enrollment_risk(
    enrollment: EnrollmentAggregate, *, now: datetime
) -> tuple[int, str | None, int]:
    """(risk points, main factor, inactive days) of an open enrolment (see docs/metrics.md)."""
    since = enrollment.last_activity_at or enrollment.enrolled_at
    inactive = max(0, (now - since).days)
    factors: list[tuple[int, str]] = []
    if inactive >= STALL_DAYS:
        factors.append((2, "inactive"))
    elif inactive >= ACTIVE_DAYS:
        factors.append((1, "slowing-down"))
    if enrollment.due_at is not None and enrollment.due_at < now:
        factors.append((2, "overdue"))
    if enrollment.attempts > 0 and enrollment.score_sum / enrollment.attempts < 50.0:
        factors.append((1, "low-scores"))
    points = sum(weight for weight, _ in factors)
    main = max(factors, key=lambda f: f[0])[1] if factors else None
    return points, main, inactive


def risk_level(points: int) -> str:
    return RISK_LEVELS[min(points, len(RISK_LEVELS) - 1)]


def student_distribution(
    enrollments: Sequence[EnrollmentAggregate], *, now: datetime, k: int
) -> StudentDistribution:
    learners = {e.user_id for e in enrollments}
    if len(learners) < k:
        raise InsufficientDataError(
            f"the distribution needs at least {k} learners in the selected courses",
            details="k-anonymity",
        )
    progress = dict.fromkeys((b[0] for b in PROGRESS_BANDS), 0)
    scores = dict.fromkeys([*(b[0] for b in SCORE_BANDS), NO_SCORE_BAND], 0)
    risks = dict.fromkeys([*RISK_LEVELS, "completed"], 0)
    worst: dict[str, tuple[int, int, AtRiskLearner]] = {}
    for enrollment in enrollments:
        progress[_band(enrollment.progress_pct, PROGRESS_BANDS)] += 1
        if enrollment.attempts:
            scores[_band(enrollment.score_sum / enrollment.attempts, SCORE_BANDS)] += 1
        else:
            scores[NO_SCORE_BAND] += 1
        if enrollment.completed:
            risks["completed"] += 1
            continue
        points, factor, inactive = enrollment_risk(enrollment, now=now)
        level = risk_level(points)
        risks[level] += 1
        if points >= 2 and factor is not None:
            entry = AtRiskLearner(enrollment.user_id, enrollment.course_id, level, factor, inactive)
            current = worst.get(enrollment.user_id)
            if current is None or (points, inactive) > current[:2]:
                worst[enrollment.user_id] = (points, inactive, entry)
    at_risk = sorted(worst.values(), key=lambda w: (-w[0], -w[1], w[2].user_id))
    return StudentDistribution(
        k=k,
        learners=len(learners),
        enrollments=len(enrollments),
        progress_bands=tuple(Band(name, count) for name, count in progress.items()),
        score_bands=tuple(Band(name, count) for name, count in scores.items()),
        risk_levels=tuple(Band(name, count) for name, count in risks.items()),
        at_risk=tuple(entry for _, _, entry in at_risk[:AT_RISK_LIST]),
    )


# --------------------------------------------------------------------------------------------
# teaching-effectiveness


@dataclass(frozen=True, slots=True)
class CourseEffectiveness:
    course_id: str
    title: str
    suppressed: bool
    learners_measured: int | None = None
    average_pre: float | None = None
    average_post: float | None = None
    learning_gain: float | None = None  # percentage points, post - pre
    completion_rate: float | None = None
    pass_rate: float | None = None


@dataclass(frozen=True, slots=True)
class RateComparison:
    trainer: float | None
    organization: float | None
    difference: float | None  # percentage points, trainer - organisation


@dataclass(frozen=True, slots=True)
class TeachingEffectiveness:
    k: int
    learning_gain: float | None
    learners_measured: int
    completion_rate: RateComparison
    pass_rate: RateComparison
    courses: tuple[CourseEffectiveness, ...]


def _compare(trainer: float | None, organization: float | None) -> RateComparison:
    difference = (
        None if trainer is None or organization is None else round(trainer - organization, 1)
    )
    return RateComparison(trainer, organization, difference)


def teaching_effectiveness(
    courses: Sequence[CourseAggregate],
    gains: Sequence[GainAggregate],
    baseline: RateAggregate,
    *,
    k: int,
) -> TeachingEffectiveness:
    gain_by_course = {gain.course_id: gain for gain in gains}
    rows: list[CourseEffectiveness] = []
    shown = [course for course in courses if course.enrolled >= k]
    for course in sorted(courses, key=lambda c: c.course_id):
        if course.enrolled < k:
            rows.append(CourseEffectiveness(course.course_id, course.title, suppressed=True))
            continue
        gain = gain_by_course.get(course.course_id)
        measured = gain is not None and gain.learners >= k
        rows.append(
            CourseEffectiveness(
                course_id=course.course_id,
                title=course.title,
                suppressed=False,
                learners_measured=gain.learners if gain is not None else 0,
                average_pre=round(gain.pre_sum / gain.learners, 1) if gain and measured else None,
                average_post=round(gain.post_sum / gain.learners, 1) if gain and measured else None,
                learning_gain=round((gain.post_sum - gain.pre_sum) / gain.learners, 1)
                if gain and measured
                else None,
                completion_rate=pct(course.completed, course.enrolled),
                pass_rate=pct(course.passed, course.attempts)
                if course.scored_learners >= k
                else None,
            )
        )
    shown_ids = {course.course_id for course in shown}
    shown_gains = [g for g in gains if g.course_id in shown_ids]
    measured_total = sum(g.learners for g in shown_gains)
    overall_gain = (
        round(sum(g.post_sum - g.pre_sum for g in shown_gains) / measured_total, 1)
        if measured_total >= k
        else None
    )
    enrolled = sum(c.enrolled for c in shown)
    scored = sum(c.scored_learners for c in shown)
    return TeachingEffectiveness(
        k=k,
        learning_gain=overall_gain,
        learners_measured=measured_total,
        completion_rate=_compare(
            pct(sum(c.completed for c in shown), enrolled),
            shown_pct(baseline.completed, baseline.enrolled, k=k),
        ),
        pass_rate=_compare(
            pct(sum(c.passed for c in shown), sum(c.attempts for c in shown))
            if scored >= k
            else None,
            pct(baseline.passed, baseline.attempts),
        ),
        courses=tuple(rows),
    )
