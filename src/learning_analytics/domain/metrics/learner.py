"""Learner analytics (SPEC §10 Learner): pure functions over one learner's records.

Time convention, shared by every function here:
- `now` is an aware instant passed in (the clock port); nothing after it is ever counted.
- `tz` is the learner's timezone: days, weeks and "active days" are local to it.
- `window` is an inclusive range of local calendar dates [start, end]. It covers the instants
  from local midnight of `start` up to local midnight after `end`, cut at `now`. Its *covered
  days* run from `start` to min(end, today), today being now's local date (partly elapsed).
- Velocity, engagement, performance and content-effectiveness look at activity in the window.
  Skill-gap and mastery are states: they use every record up to the window's end (knowledge
  accumulates), so only `end` matters to them.

Minimum data (each raises InsufficientDataError with what is missing):
- no record at all for the learner;
- the seed rule for metrics that need history (velocity, engagement, performance,
  content-effectiveness): at least MIN_HISTORY (7 days) between the first activity in the window
  and `now`; an activity is a learning event, assessment attempt, practice session or assistant
  question;
- skill-gap needs at least one skill with a target; mastery at least one scored attempt;
  performance at least one graded (non-baseline) attempt in the window; content-effectiveness at
  least one learning event on a typed content unit in the window.

Every formula, with worked examples: docs/metrics.md.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

from learning_analytics.domain.errors import InsufficientDataError
from learning_analytics.domain.metrics import bkt
from learning_analytics.domain.records import (
    AssessmentAttempt,
    AssistantInteraction,
    Course,
    CourseUnit,
    Enrollment,
    LearningEvent,
    PracticeSession,
    SkillProfile,
    StrategicSkillTarget,
)

MIN_HISTORY = timedelta(days=7)

PACE_DAYS = 28  # currentPace: the last 4 weeks
TREND_DAYS = 14  # velocity trend: the last 2 weeks against the 2 before
SERIES_WEEKS = 12
VELOCITY_TREND_BAND = 0.10  # ±10 % change in pace is "steady"
DEFAULT_PACE = 3.0  # units/week expected on an open enrollment without a due date (org default)

ENGAGEMENT_MEDIUM = 40.0  # score at which the level is "medium"
ENGAGEMENT_HIGH = 70.0  # ... and "high"
ENGAGEMENT_TREND_BAND = 5.0  # score points of change that count as rising / falling

BASELINE_EXAM = "baseline"
POST_COURSE_EXAM = "post_course"
RECENT_ATTEMPTS = 10
TOP_SKILLS = 3
PERFORMANCE_TREND_BAND = 1.0  # points per attempt that count as improving / declining


@dataclass(frozen=True, slots=True)
class EngagementWeight:
    name: str
    unit: str
    reference: float  # the value that earns the full score of the component
    weight: float


# The reference values describe a committed learner: 5 active days a week, 3 hours of study, every
# content type of their courses, a practice session, an assessment and an assistant question a week.
ENGAGEMENT_COMPONENTS: tuple[EngagementWeight, ...] = (
    EngagementWeight("active_days", "share of days", 5 / 7, 0.30),
    EngagementWeight("time_spent", "hours/week", 3.0, 0.25),
    EngagementWeight("content_diversity", "share of content types", 1.0, 0.15),
    EngagementWeight("practice", "sessions/week", 1.0, 0.10),
    EngagementWeight("assessments", "attempts/week", 1.0, 0.10),
    EngagementWeight("assistant", "questions/week", 1.0, 0.10),
)


# --------------------------------------------------------------------------------------------
# Inputs


@dataclass(frozen=True, slots=True)
class Window:
    """An inclusive range of local calendar dates [start, end] (see the module docstring)."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise ValueError(f"window start {self.start} is after its end {self.end}")


@dataclass(frozen=True, slots=True)
class LearnerHistory:
    """The records of one learner that the metrics need (course data for their courses)."""

    user_id: str
    enrollments: tuple[Enrollment, ...] = ()
    courses: tuple[Course, ...] = ()
    course_units: tuple[CourseUnit, ...] = ()
    learning_events: tuple[LearningEvent, ...] = ()
    assessment_attempts: tuple[AssessmentAttempt, ...] = ()
    skill_profiles: tuple[SkillProfile, ...] = ()
    strategic_targets: tuple[StrategicSkillTarget, ...] = ()  # of the learner's organisation
    practice_sessions: tuple[PracticeSession, ...] = ()
    assistant_interactions: tuple[AssistantInteraction, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (
            self.enrollments
            or self.learning_events
            or self.assessment_attempts
            or self.skill_profiles
            or self.practice_sessions
            or self.assistant_interactions
        )

    def activity_instants(self) -> Iterator[datetime]:
        """Instants of everything that makes a day active (SPEC §10)."""
        yield from (event.occurred_at for event in self.learning_events)
        yield from (attempt.submitted_at for attempt in self.assessment_attempts)
        yield from (session.started_at for session in self.practice_sessions)
        yield from (question.asked_at for question in self.assistant_interactions)


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True, slots=True)
class WeekValue:
    week_start: date  # the ISO week's Monday, local
    value: float


@dataclass(frozen=True, slots=True)
class CourseVelocity:
    course_id: str
    units_completed: int  # in the last 4 weeks
    current_pace: float  # units/week over the last 4 weeks
    units_done: int  # all time, up to the window's end
    units_total: int | None  # None when the course's units are unknown
    units_remaining: int | None
    due_at: datetime | None
    target_pace: float | None  # None when not open or the units are unknown
    on_track: bool | None


@dataclass(frozen=True, slots=True)
class Velocity:
    as_of: date
    current_pace: float  # units/week
    target_pace: float  # units/week, summed over open enrollments
    on_track: bool
    units_completed: int  # in the last 4 weeks
    recent_pace: float  # units/week over the last 2 weeks
    previous_pace: float | None  # units/week over the 2 weeks before; None when not covered
    trend: str | None  # accelerating | steady | decelerating; None when not covered
    trend_change_pct: float | None
    series: tuple[WeekValue, ...]  # units completed per ISO week, oldest first
    by_course: tuple[CourseVelocity, ...]


@dataclass(frozen=True, slots=True)
class SkillGapItem:
    skill_id: str
    current_level: int
    target_level: int
    gap: int
    strategic: bool
    weight: float
    priority: float


@dataclass(frozen=True, slots=True)
class SkillGap:
    as_of: date
    skills: tuple[SkillGapItem, ...]  # by priority, highest first
    untargeted_skills: tuple[str, ...]  # skills in the profile without any target
    skills_with_target: int
    skills_at_target: int
    at_target_pct: float
    total_gap: int
    total_priority: float


@dataclass(frozen=True, slots=True)
class EngagementComponent:
    name: str
    value: float
    unit: str
    reference: float
    score: float  # min(1, value / reference)
    weight: float
    points: float  # 100 * weight * score


@dataclass(frozen=True, slots=True)
class Engagement:
    start: date
    end: date  # the last covered day
    days: int
    score: float  # 0-100
    level: str  # low | medium | high
    components: tuple[EngagementComponent, ...]
    previous_score: float | None  # the window of equal length just before; None if not enrolled
    trend: str | None  # rising | stable | falling


@dataclass(frozen=True, slots=True)
class SkillMastery:
    skill_id: str
    p_mastery: float
    mastered: bool
    evidence_count: int
    correct_count: int
    last_evidence_at: datetime
    last_evidence_date: date  # local
    fitted_params: bool  # True when fitted parameters were given for the skill


@dataclass(frozen=True, slots=True)
class Mastery:
    as_of: date
    skills: tuple[SkillMastery, ...]  # by p_mastery, highest first
    mastered_count: int
    threshold: float


@dataclass(frozen=True, slots=True)
class SkillAverage:
    skill_id: str
    average_score: float
    attempts: int


@dataclass(frozen=True, slots=True)
class CoursePerformance:
    course_id: str
    attempts: int  # graded
    average_score: float | None  # None without graded attempts
    pass_rate: float | None  # %
    learning_gain: float | None  # last post-course score - first baseline score, in points


@dataclass(frozen=True, slots=True)
class AttemptSummary:
    attempt_id: str
    assessment_id: str
    course_id: str | None
    exam_type: str | None
    score_pct: float
    passed: bool
    submitted_at: datetime


@dataclass(frozen=True, slots=True)
class Performance:
    start: date
    end: date
    attempts: int  # graded (non-baseline) attempts in the window
    average_score: float  # %
    pass_rate: float  # %
    passed: int
    trend_slope: float | None  # score points per attempt; None with fewer than 2 attempts
    trend: str | None  # improving | stable | declining
    skills: tuple[SkillAverage, ...]  # by average, best first
    best_skills: tuple[SkillAverage, ...]
    weakest_skills: tuple[SkillAverage, ...]  # weakest first
    by_course: tuple[CoursePerformance, ...]
    recent_attempts: tuple[AttemptSummary, ...]  # newest first, baselines included


@dataclass(frozen=True, slots=True)
class ContentTypeEffect:
    content_type: str
    seconds_spent: int
    hours_spent: float
    units_started: int
    units_completed: int
    completion_rate: float  # %
    learning_gain: float | None  # mean score change in points; None without before/after pairs
    gain_samples: int


@dataclass(frozen=True, slots=True)
class ContentEffectiveness:
    start: date
    end: date
    content_types: tuple[ContentTypeEffect, ...]  # in ranking order
    ranking: tuple[str, ...]  # what works for you, best first


# --------------------------------------------------------------------------------------------
# Time frame


@dataclass(frozen=True, slots=True)
class _Frame:
    window: Window
    now: datetime
    tz: tzinfo
    lo: datetime  # local midnight of window.start
    day_end: datetime  # local midnight after window.end
    as_of: datetime  # min(day_end, now)
    last_day: date  # min(window.end, today)

    @classmethod
    def of(cls, window: Window, *, now: datetime, tz: tzinfo) -> _Frame:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        day_end = _midnight(window.end + timedelta(days=1), tz)
        return cls(
            window=window,
            now=now,
            tz=tz,
            lo=_midnight(window.start, tz),
            day_end=day_end,
            as_of=min(day_end, now),
            last_day=min(window.end, now.astimezone(tz).date()),
        )

    @property
    def days(self) -> int:
        return max(0, (self.last_day - self.window.start).days + 1)

    def contains(self, moment: datetime) -> bool:
        return self.lo <= moment < self.day_end and moment <= self.now

    def local(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()

    def covered(self, first: date, last: date) -> int:
        """How many days of [first, last] are covered days of the window."""
        return max(0, (min(last, self.last_day) - max(first, self.window.start)).days + 1)

    def previous(self) -> _Frame:
        days = self.days
        window = Window(
            self.window.start - timedelta(days=days), self.window.start - timedelta(days=1)
        )
        return _Frame.of(window, now=self.now, tz=self.tz)


def _midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz)


def _require_data(history: LearnerHistory, metric: str) -> None:
    if history.is_empty:
        raise InsufficientDataError(
            f"{metric}: there is no learning data for this learner",
            details="no enrollment, learning event, assessment, skill profile, practice session "
            "or assistant question",
        )


def _require_history(history: LearnerHistory, frame: _Frame, metric: str) -> None:
    first = min((t for t in history.activity_instants() if frame.contains(t)), default=None)
    window = f"{frame.window.start} to {frame.window.end}"
    if first is None:
        raise InsufficientDataError(
            f"{metric}: no activity in the window {window}",
            details="needs a learning event, assessment attempt, practice session or assistant "
            "question in the window",
        )
    elapsed = frame.now - first
    if elapsed < MIN_HISTORY:
        missing = MIN_HISTORY - elapsed
        raise InsufficientDataError(
            f"{metric} needs {MIN_HISTORY.days} days of history since the first activity in the "
            f"window; the first was {_days(elapsed)} days ago, {_days(missing)} more days needed",
            details=f"first activity in the window at {first.isoformat()}",
        )


def _days(span: timedelta) -> str:
    return f"{span.total_seconds() / 86400:.1f}"


def _per_week(count: float, days: int) -> float:
    return count * 7 / days if days > 0 else 0.0


def _pct(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


# --------------------------------------------------------------------------------------------
# Velocity


def _learning_units(units: Iterable[CourseUnit]) -> dict[str, set[str]]:
    """Per course, the units that get completed: content items, or lessons when it has none."""
    content: defaultdict[str, set[str]] = defaultdict(set)
    lessons: defaultdict[str, set[str]] = defaultdict(set)
    for unit in units:
        if unit.kind == "content":
            content[unit.course_id].add(unit.id)
        elif unit.kind == "lesson":
            lessons[unit.course_id].add(unit.id)
    return {course: content.get(course) or lessons[course] for course in {*content, *lessons}}


def _first_completions(
    events: Iterable[LearningEvent], *, until: datetime
) -> dict[str, tuple[str, datetime]]:
    """unit id -> (course id, instant of its first completion at or before `until`)."""
    first: dict[str, tuple[str, datetime]] = {}
    for event in events:
        if event.verb != "completed" or event.unit_id is None or event.occurred_at > until:
            continue
        known = first.get(event.unit_id)
        if known is None or event.occurred_at < known[1]:
            first[event.unit_id] = (event.course_id, event.occurred_at)
    return first


def _due_at(enrollment: Enrollment, course: Course | None) -> datetime | None:
    if enrollment.due_at is not None:
        return enrollment.due_at
    if course is None:
        return None
    if course.due_at is not None:
        return course.due_at
    if course.default_due_days is not None:
        return enrollment.enrolled_at + timedelta(days=course.default_due_days)
    return None


def _is_open(enrollment: Enrollment, at: datetime) -> bool:
    return (
        enrollment.enrolled_at <= at
        and (enrollment.completed_at is None or enrollment.completed_at > at)
        and (enrollment.withdrawn_at is None or enrollment.withdrawn_at > at)
    )


def _pace_trend(recent: float, previous: float | None) -> tuple[str | None, float | None]:
    if previous is None:
        return None, None
    if previous == 0:
        return ("accelerating" if recent > 0 else "steady"), None
    change = (recent - previous) / previous
    if change > VELOCITY_TREND_BAND:
        label = "accelerating"
    elif change < -VELOCITY_TREND_BAND:
        label = "decelerating"
    else:
        label = "steady"
    return label, round(100.0 * change, 1)


def compute_velocity(
    history: LearnerHistory,
    *,
    now: datetime,
    tz: tzinfo,
    window: Window,
    default_pace: float = DEFAULT_PACE,
) -> Velocity:
    """Units completed per week, against the pace the open enrollments need.

    A unit counts once, on the local day of its first completion. Paces divide by the covered
    days of each span (so a window shorter than 4 weeks is not diluted) and multiply by 7.
    Target pace per open enrollment = remaining units / max(1, weeks until due) — an overdue
    course asks for its remaining units within a week — or `default_pace` without a due date.
    """
    _require_data(history, "velocity")
    frame = _Frame.of(window, now=now, tz=tz)
    _require_history(history, frame, "velocity")

    completions = _first_completions(history.learning_events, until=frame.as_of)
    per_day: Counter[date] = Counter()
    per_course_day: defaultdict[str, Counter[date]] = defaultdict(Counter)
    for course_id, moment in completions.values():
        if frame.contains(moment):
            day = frame.local(moment)
            per_day[day] += 1
            per_course_day[course_id][day] += 1

    def count(days: Counter[date], first: date, last: date) -> int:
        return sum(n for day, n in days.items() if first <= day <= last)

    last = frame.last_day
    pace_first = last - timedelta(days=PACE_DAYS - 1)
    pace_days = frame.covered(pace_first, last)
    units_completed = count(per_day, pace_first, last)
    recent_first = last - timedelta(days=TREND_DAYS - 1)
    recent_days = frame.covered(recent_first, last)
    recent_pace = _per_week(count(per_day, recent_first, last), recent_days)
    previous_last = recent_first - timedelta(days=1)
    previous_days = frame.covered(pace_first, previous_last)
    previous_pace = (
        _per_week(count(per_day, pace_first, previous_last), previous_days)
        if previous_days
        else None
    )
    trend, change = _pace_trend(recent_pace, previous_pace)

    last_monday = last - timedelta(days=last.weekday())
    series = tuple(
        WeekValue(monday, float(count(per_day, monday, monday + timedelta(days=6))))
        for monday in (
            last_monday - timedelta(weeks=back) for back in range(SERIES_WEEKS - 1, -1, -1)
        )
        if monday + timedelta(days=6) >= window.start
    )

    by_course = _course_velocities(
        history,
        frame=frame,
        completions=completions,
        per_course_day=per_course_day,
        pace_first=pace_first,
        pace_days=pace_days,
        default_pace=default_pace,
    )
    current_pace = _per_week(units_completed, pace_days)
    target_pace = sum(course.target_pace or 0.0 for course in by_course)
    return Velocity(
        as_of=last,
        current_pace=round(current_pace, 2),
        target_pace=round(target_pace, 2),
        on_track=round(current_pace, 2) >= round(target_pace, 2),
        units_completed=units_completed,
        recent_pace=round(recent_pace, 2),
        previous_pace=None if previous_pace is None else round(previous_pace, 2),
        trend=trend,
        trend_change_pct=change,
        series=series,
        by_course=by_course,
    )


def _course_velocities(
    history: LearnerHistory,
    *,
    frame: _Frame,
    completions: Mapping[str, tuple[str, datetime]],
    per_course_day: Mapping[str, Counter[date]],
    pace_first: date,
    pace_days: int,
    default_pace: float,
) -> tuple[CourseVelocity, ...]:
    courses = {course.id: course for course in history.courses}
    learning_units = _learning_units(history.course_units)
    done_by_course: defaultdict[str, set[str]] = defaultdict(set)
    for unit_id, (course_id, _) in completions.items():
        done_by_course[course_id].add(unit_id)
    latest: dict[str, Enrollment] = {}
    for enrollment in sorted(history.enrollments, key=lambda e: e.enrolled_at):
        if enrollment.enrolled_at <= frame.as_of:
            latest[enrollment.course_id] = enrollment

    course_ids = sorted(
        {c for c, e in latest.items() if _is_open(e, frame.as_of)} | set(per_course_day)
    )
    result: list[CourseVelocity] = []
    for course_id in course_ids:
        completed = sum(
            n for day, n in per_course_day.get(course_id, Counter()).items() if day >= pace_first
        )
        units = learning_units.get(course_id)
        done = done_by_course[course_id]
        units_done = len(done & units) if units else len(done)
        total = len(units) if units else None
        remaining = None if total is None else max(0, total - units_done)
        current = latest.get(course_id)
        due = None if current is None else _due_at(current, courses.get(course_id))
        target: float | None = None
        if current is not None and _is_open(current, frame.as_of):
            if due is None:
                target = default_pace if remaining is None or remaining > 0 else 0.0
            elif remaining is not None:
                weeks_left = max(7.0, (due - frame.as_of).total_seconds() / 86400) / 7
                target = remaining / weeks_left
        pace = round(_per_week(completed, pace_days), 2)
        result.append(
            CourseVelocity(
                course_id=course_id,
                units_completed=completed,
                current_pace=pace,
                units_done=units_done,
                units_total=total,
                units_remaining=remaining,
                due_at=due,
                target_pace=None if target is None else round(target, 2),
                on_track=None if target is None else pace >= round(target, 2),
            )
        )
    return tuple(result)


# --------------------------------------------------------------------------------------------
# Skill gap


def strategic_weights(targets: Iterable[StrategicSkillTarget]) -> dict[str, float]:
    """Priority multiplier per strategic skill: 1 + its strategic weight (others: 1.0).

    `1 +` keeps a strategic skill at least as urgent as a non-strategic one with the same gap
    (strategic weights are fractions, e.g. 0.4-1.0).
    """
    return {target.skill_id: round(1.0 + target.weight, 4) for target in targets}


def latest_profiles(
    profiles: Iterable[SkillProfile], *, until: datetime | None = None
) -> dict[tuple[str, str], SkillProfile]:
    """The latest profile per (user, skill), optionally among those updated at or before `until`."""
    latest: dict[tuple[str, str], SkillProfile] = {}
    for profile in profiles:
        if until is not None and profile.updated_at > until:
            continue
        key = (profile.user_id, profile.skill_id)
        known = latest.get(key)
        if known is None or profile.updated_at > known.updated_at:
            latest[key] = profile
    return latest


def target_level(
    profile: SkillProfile, strategic: Mapping[str, StrategicSkillTarget]
) -> int | None:
    """The learner's own target, else the organisation's strategic target for the skill."""
    if profile.target_level is not None:
        return profile.target_level
    target = strategic.get(profile.skill_id)
    return None if target is None else target.target_level


def compute_skill_gap(
    history: LearnerHistory, *, now: datetime, tz: tzinfo, window: Window
) -> SkillGap:
    """gap = max(0, target - current); priority = gap * (1 + strategic weight, or 1.0)."""
    _require_data(history, "skill-gap")
    frame = _Frame.of(window, now=now, tz=tz)
    profiles = latest_profiles(history.skill_profiles, until=frame.as_of)
    strategic = {target.skill_id: target for target in history.strategic_targets}
    weights = strategic_weights(history.strategic_targets)
    items: list[SkillGapItem] = []
    untargeted: list[str] = []
    for profile in profiles.values():
        target = target_level(profile, strategic)
        if target is None:
            untargeted.append(profile.skill_id)
            continue
        gap = max(0, target - profile.current_level)
        weight = weights.get(profile.skill_id, 1.0)
        items.append(
            SkillGapItem(
                skill_id=profile.skill_id,
                current_level=profile.current_level,
                target_level=target,
                gap=gap,
                strategic=profile.skill_id in strategic,
                weight=weight,
                priority=round(gap * weight, 2),
            )
        )
    if not items:
        raise InsufficientDataError(
            "skill-gap needs at least one skill with a target level",
            details=f"{len(untargeted)} skills in the profile, none with a personal or "
            "strategic target",
        )
    items.sort(key=lambda item: (-item.priority, -item.gap, item.skill_id))
    at_target = sum(1 for item in items if item.gap == 0)
    return SkillGap(
        as_of=frame.last_day,
        skills=tuple(items),
        untargeted_skills=tuple(sorted(untargeted)),
        skills_with_target=len(items),
        skills_at_target=at_target,
        at_target_pct=_pct(at_target, len(items)),
        total_gap=sum(item.gap for item in items),
        total_priority=round(sum(item.priority for item in items), 2),
    )


# --------------------------------------------------------------------------------------------
# Engagement


def _engagement_values(history: LearnerHistory, frame: _Frame) -> dict[str, float]:
    days = frame.days
    units = {unit.id: unit for unit in history.course_units}
    enrolled = {enrollment.course_id for enrollment in history.enrollments}
    events = [event for event in history.learning_events if frame.contains(event.occurred_at)]
    sessions = [s for s in history.practice_sessions if frame.contains(s.started_at)]
    attempts = [a for a in history.assessment_attempts if frame.contains(a.submitted_at)]
    questions = [q for q in history.assistant_interactions if frame.contains(q.asked_at)]

    active = {frame.local(t) for t in history.activity_instants() if frame.contains(t)}
    seconds = sum(e.seconds_spent for e in events) + sum(s.seconds for s in sessions)
    consumed = {
        unit.content_type
        for event in events
        if event.unit_id is not None
        and (unit := units.get(event.unit_id)) is not None
        and unit.content_type is not None
    }
    available = {
        unit.content_type
        for unit in history.course_units
        if unit.content_type is not None and unit.course_id in enrolled
    } | consumed
    return {
        "active_days": len(active) / days if days else 0.0,
        "time_spent": _per_week(seconds / 3600, days),
        "content_diversity": len(consumed) / len(available) if available else 0.0,
        "practice": _per_week(len(sessions), days),
        "assessments": _per_week(len(attempts), days),
        "assistant": _per_week(len(questions), days),
    }


def _engagement(values: Mapping[str, float]) -> tuple[float, tuple[EngagementComponent, ...]]:
    """The score (from unrounded points) and its components."""
    components = []
    total = 0.0
    for spec in ENGAGEMENT_COMPONENTS:
        value = values[spec.name]
        score = min(1.0, value / spec.reference)
        points = 100.0 * spec.weight * score
        total += points
        components.append(
            EngagementComponent(
                name=spec.name,
                value=round(value, 3),
                unit=spec.unit,
                reference=round(spec.reference, 3),
                score=round(score, 3),
                weight=spec.weight,
                points=round(points, 1),
            )
        )
    return round(total, 1), tuple(components)


def compute_engagement(
    history: LearnerHistory, *, now: datetime, tz: tzinfo, window: Window
) -> Engagement:
    """score = Σ 100 * weight * min(1, value / reference) over ENGAGEMENT_COMPONENTS.

    Rates per week divide by covered days / 7. The previous window has the same number of
    covered days and ends the day before `window.start`; it is None when the learner had no
    enrollment and no activity before `window.start`.
    """
    _require_data(history, "engagement")
    frame = _Frame.of(window, now=now, tz=tz)
    _require_history(history, frame, "engagement")
    score, components = _engagement(_engagement_values(history, frame))

    known_since = min(
        [e.enrolled_at for e in history.enrollments] + list(history.activity_instants())
    )
    previous_score: float | None = None
    trend: str | None = None
    if known_since < frame.lo:
        previous_score, _ = _engagement(_engagement_values(history, frame.previous()))
        delta = score - previous_score
        trend = (
            "rising"
            if delta > ENGAGEMENT_TREND_BAND
            else "falling"
            if delta < -ENGAGEMENT_TREND_BAND
            else "stable"
        )
    level = "low"
    if score >= ENGAGEMENT_HIGH:
        level = "high"
    elif score >= ENGAGEMENT_MEDIUM:
        level = "medium"
    return Engagement(
        start=window.start,
        end=frame.last_day,
        days=frame.days,
        score=score,
        level=level,
        components=components,
        previous_score=previous_score,
        trend=trend,
    )


# --------------------------------------------------------------------------------------------
# Mastery


def compute_mastery(
    history: LearnerHistory,
    *,
    now: datetime,
    tz: tzinfo,
    window: Window,
    params: Mapping[str, bkt.BktParams] | None = None,
    default_params: bkt.BktParams = bkt.DEFAULT_PARAMS,
    threshold: float = bkt.CORRECT_THRESHOLD,
) -> Mastery:
    """BKT P(known) per skill over every skill score submitted up to the window's end.

    `params` holds fitted parameters per skill (bkt.fit_skills over the store); other skills
    use `default_params`.
    """
    _require_data(history, "mastery")
    frame = _Frame.of(window, now=now, tz=tz)
    attempts = sorted(
        (a for a in history.assessment_attempts if a.submitted_at <= frame.as_of),
        key=lambda attempt: (attempt.submitted_at, attempt.id),
    )
    evidence = bkt.evidence_by_skill(attempts, threshold=threshold)
    if not evidence:
        raise InsufficientDataError(
            "mastery needs at least one assessment attempt with skill scores",
            details=f"{len(attempts)} attempts up to {frame.last_day}, none scored per skill",
        )
    last_seen: dict[str, datetime] = {}
    for attempt in attempts:
        for skill_score in attempt.skill_scores:
            last_seen[skill_score.skill_id] = attempt.submitted_at
    fitted = params or {}
    skills = []
    for skill_id, observations in evidence.items():
        skill_params = fitted.get(skill_id, default_params)
        p_known = bkt.trace(observations, skill_params)[-1]
        skills.append(
            SkillMastery(
                skill_id=skill_id,
                p_mastery=round(p_known, 4),
                mastered=p_known >= bkt.MASTERY_THRESHOLD,
                evidence_count=len(observations),
                correct_count=sum(observations),
                last_evidence_at=last_seen[skill_id],
                last_evidence_date=frame.local(last_seen[skill_id]),
                fitted_params=skill_id in fitted,
            )
        )
    skills.sort(key=lambda skill: (-skill.p_mastery, skill.skill_id))
    return Mastery(
        as_of=frame.last_day,
        skills=tuple(skills),
        mastered_count=sum(1 for skill in skills if skill.mastered),
        threshold=bkt.MASTERY_THRESHOLD,
    )


# --------------------------------------------------------------------------------------------
# Performance


def least_squares_slope(values: list[float]) -> float | None:
    """Slope of the least-squares line through (i, values[i]): Σ(x-x̄)(y-ȳ) / Σ(x-x̄)²."""
    n = len(values)
    if n < 2:
        return None
    mean_x = (n - 1) / 2
    mean_y = sum(values) / n
    numerator = sum((i - mean_x) * (y - mean_y) for i, y in enumerate(values))
    denominator = sum((i - mean_x) ** 2 for i in range(n))
    return numerator / denominator


def _learning_gain(attempts: list[AssessmentAttempt]) -> float | None:
    baselines = [a for a in attempts if a.exam_type == BASELINE_EXAM]
    posts = [a for a in attempts if a.exam_type == POST_COURSE_EXAM]
    if not baselines or not posts or posts[-1].submitted_at < baselines[0].submitted_at:
        return None
    return round(posts[-1].score_pct - baselines[0].score_pct, 1)


def compute_performance(
    history: LearnerHistory, *, now: datetime, tz: tzinfo, window: Window
) -> Performance:
    """Scores of graded attempts in the window; baseline exams only feed the learning gain.

    A baseline is taken before studying, so it measures prior knowledge, not performance: it is
    left out of the average, pass rate, trend and skill averages, and kept for the per-course
    learning gain (last post-course score - first baseline score) and the recent attempts.
    """
    _require_data(history, "performance")
    frame = _Frame.of(window, now=now, tz=tz)
    _require_history(history, frame, "performance")
    in_window = sorted(
        (a for a in history.assessment_attempts if frame.contains(a.submitted_at)),
        key=lambda attempt: (attempt.submitted_at, attempt.id),
    )
    graded = [a for a in in_window if a.exam_type != BASELINE_EXAM]
    if not graded:
        raise InsufficientDataError(
            "performance needs at least one graded assessment attempt in the window",
            details=f"{len(in_window)} attempts in the window, all baseline exams",
        )
    scores = [a.score_pct for a in graded]
    passed = sum(1 for a in graded if a.passed)
    slope = least_squares_slope(scores)
    trend = None
    if slope is not None:
        trend = (
            "improving"
            if slope > PERFORMANCE_TREND_BAND
            else "declining"
            if slope < -PERFORMANCE_TREND_BAND
            else "stable"
        )

    per_skill: defaultdict[str, list[float]] = defaultdict(list)
    for attempt in graded:
        for skill_score in attempt.skill_scores:
            per_skill[skill_score.skill_id].append(skill_score.score_pct)
    skills = sorted(
        (
            SkillAverage(skill, round(sum(values) / len(values), 1), len(values))
            for skill, values in per_skill.items()
        ),
        key=lambda s: (-s.average_score, s.skill_id),
    )

    per_course: defaultdict[str, list[AssessmentAttempt]] = defaultdict(list)
    for attempt in in_window:
        if attempt.course_id is not None:
            per_course[attempt.course_id].append(attempt)
    by_course = []
    for course_id in sorted(per_course):
        course_attempts = per_course[course_id]
        course_graded = [a for a in course_attempts if a.exam_type != BASELINE_EXAM]
        graded_scores = [a.score_pct for a in course_graded]
        by_course.append(
            CoursePerformance(
                course_id=course_id,
                attempts=len(course_graded),
                average_score=round(sum(graded_scores) / len(graded_scores), 1)
                if graded_scores
                else None,
                pass_rate=_pct(sum(1 for a in course_graded if a.passed), len(course_graded))
                if course_graded
                else None,
                learning_gain=_learning_gain(course_attempts),
            )
        )

    recent = tuple(
        AttemptSummary(
            attempt_id=a.id,
            assessment_id=a.assessment_id,
            course_id=a.course_id,
            exam_type=a.exam_type,
            score_pct=a.score_pct,
            passed=a.passed,
            submitted_at=a.submitted_at,
        )
        for a in reversed(in_window[-RECENT_ATTEMPTS:])
    )
    return Performance(
        start=window.start,
        end=frame.last_day,
        attempts=len(graded),
        average_score=round(sum(scores) / len(scores), 1),
        pass_rate=_pct(passed, len(graded)),
        passed=passed,
        trend_slope=None if slope is None else round(slope, 2),
        trend=trend,
        skills=tuple(skills),
        best_skills=tuple(skills[:TOP_SKILLS]),
        weakest_skills=tuple(reversed(skills[-TOP_SKILLS:])),
        by_course=tuple(by_course),
        recent_attempts=recent,
    )


# --------------------------------------------------------------------------------------------
# Content effectiveness


@dataclass(slots=True)
class _TypeTally:
    seconds: int = 0
    started: set[str] = field(default_factory=set)
    completed: set[str] = field(default_factory=set)
    gains: list[float] = field(default_factory=list)


class _SkillTimeline:
    """Per skill, the (instant, score) observations in time order, for before/after lookups."""

    def __init__(self, attempts: Iterable[AssessmentAttempt], *, until: datetime) -> None:
        observed: defaultdict[str, list[tuple[datetime, float]]] = defaultdict(list)
        for attempt in sorted(attempts, key=lambda a: (a.submitted_at, a.id)):
            if attempt.submitted_at > until:
                continue
            for skill_score in attempt.skill_scores:
                observed[skill_score.skill_id].append((attempt.submitted_at, skill_score.score_pct))
        self._times = {skill: [t for t, _ in rows] for skill, rows in observed.items()}
        self._scores = {skill: [s for _, s in rows] for skill, rows in observed.items()}

    def gain(self, skill: str, at: datetime) -> float | None:
        """First score after `at` minus the last score at or before it."""
        times = self._times.get(skill)
        if not times:
            return None
        cut = bisect.bisect_right(times, at)
        if cut == 0 or cut == len(times):
            return None
        scores = self._scores[skill]
        return scores[cut] - scores[cut - 1]


def compute_content_effectiveness(
    history: LearnerHistory, *, now: datetime, tz: tzinfo, window: Window
) -> ContentEffectiveness:
    """Per content type: time, completion rate and learning gain; ranked by gain.

    Learning gain of one completed unit on one of its skills = the first skill score submitted
    after the unit's first completion in the window minus the last one at or before it (scores
    after the window's end count, up to `now`). A content type's gain is the mean over its
    (unit, skill) pairs that have both scores. Every unit consumed between two attempts shares the
    same score change: the gain is an association, not a controlled effect.
    """
    _require_data(history, "content-effectiveness")
    frame = _Frame.of(window, now=now, tz=tz)
    _require_history(history, frame, "content-effectiveness")
    units = {unit.id: unit for unit in history.course_units}
    tallies: defaultdict[str, _TypeTally] = defaultdict(_TypeTally)
    first_done: dict[str, tuple[CourseUnit, datetime]] = {}
    for event in sorted(history.learning_events, key=lambda e: (e.occurred_at, e.id)):
        if not frame.contains(event.occurred_at) or event.unit_id is None:
            continue
        unit = units.get(event.unit_id)
        if unit is None or unit.content_type is None:
            continue
        tally = tallies[unit.content_type]
        tally.seconds += event.seconds_spent
        tally.started.add(unit.id)
        if event.verb == "completed" and unit.id not in first_done:
            first_done[unit.id] = (unit, event.occurred_at)
            tally.completed.add(unit.id)
    if not tallies:
        raise InsufficientDataError(
            "content-effectiveness needs learning events on content units in the window",
            details="no event in the window refers to a unit with a content type",
        )

    timeline = _SkillTimeline(history.assessment_attempts, until=now)
    for unit, completed_at in first_done.values():
        gains = tallies[unit.content_type or ""].gains
        for skill in unit.skills:
            gain = timeline.gain(skill, completed_at)
            if gain is not None:
                gains.append(gain)

    effects = [
        ContentTypeEffect(
            content_type=content_type,
            seconds_spent=tally.seconds,
            hours_spent=round(tally.seconds / 3600, 2),
            units_started=len(tally.started),
            units_completed=len(tally.completed),
            completion_rate=_pct(len(tally.completed), len(tally.started)),
            learning_gain=round(sum(tally.gains) / len(tally.gains), 2) if tally.gains else None,
            gain_samples=len(tally.gains),
        )
        for content_type, tally in tallies.items()
    ]
    effects.sort(
        key=lambda e: (
            e.learning_gain is None,
            -(e.learning_gain or 0.0),
            -e.completion_rate,
            e.content_type,
        )
    )
    return ContentEffectiveness(
        start=window.start,
        end=frame.last_day,
        content_types=tuple(effects),
        ranking=tuple(effect.content_type for effect in effects),
    )
