"""Drop-off features and labels (SPEC §10 Predictive): pure functions over one learner's records.

Every feature describes one (learner, enrollment, as-of instant) and is counted from the
learner's own enrollment date (rolling enrollment, never fixed terms): nothing before
`enrolled_at` and nothing after `as_of` is ever looked at. Days are 24-hour spans counted back
from `as_of` (day 0 is the 24 hours before it), so a feature does not depend on a timezone.
No demographic attribute is used (no department, role, organisation or timezone).

"Course activity" is the enrollment's own activity: learning events on the course and
assessment attempts on it. "Any activity" also counts other courses, practice and the assistant.

Label (`dropped_off`): the enrollment is still open at `as_of`, and in the following
`inactivity_days` (21 by default) there is no course activity and no completion. It can only be
known when the data reaches `as_of + inactivity_days`.

Every definition with its unit: docs/metrics.md, "Predictive".
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from learning_analytics.domain.metrics.learner import (
    LearnerHistory,
    _due_at,
    _first_completions,
    _is_open,
    _learning_units,
    least_squares_slope,
)
from learning_analytics.domain.records import Enrollment

DAY = timedelta(days=1)
DEFAULT_INACTIVITY_DAYS = 21
SNAPSHOT_STEP_DAYS = 7  # training snapshots: one per week since enrolling
PACE_WINDOW_DAYS = 28
MAX_PACE_RATIO = 3.0  # pace against required pace is capped here (and used when none is due)
MAX_DUE_SHARE = 2.0
SCORE_TREND_ATTEMPTS = 5

FEATURE_NAMES: tuple[str, ...] = (
    "days_since_last_activity",
    "days_since_any_activity",
    "active_days_7",
    "active_days_14",
    "active_days_28",
    "active_share_28",
    "engagement_trend",
    "hours_14",
    "progress_pct",
    "pace_per_week",
    "required_pace_per_week",
    "pace_ratio",
    "attempts",
    "mean_score",
    "score_trend",
    "failed_attempts",
    "days_since_enrollment",
    "due_elapsed_share",
)

# What a higher value of each feature means for the learner, for explanations (True: higher is
# better, i.e. usually lowers the risk).
HIGHER_IS_BETTER: dict[str, bool] = {
    "days_since_last_activity": False,
    "days_since_any_activity": False,
    "active_days_7": True,
    "active_days_14": True,
    "active_days_28": True,
    "active_share_28": True,
    "engagement_trend": True,
    "hours_14": True,
    "progress_pct": True,
    "pace_per_week": True,
    "required_pace_per_week": False,
    "pace_ratio": True,
    "attempts": True,
    "mean_score": True,
    "score_trend": True,
    "failed_attempts": False,
    "days_since_enrollment": False,
    "due_elapsed_share": False,
}


@dataclass(frozen=True, slots=True)
class EnrollmentFeatures:
    user_id: str
    enrollment_id: str
    course_id: str
    as_of: datetime
    values: tuple[float, ...]  # in FEATURE_NAMES order

    def get(self, name: str) -> float:
        return self.values[FEATURE_NAMES.index(name)]

    def as_dict(self) -> dict[str, float]:
        return dict(zip(FEATURE_NAMES, self.values, strict=True))


@dataclass(frozen=True, slots=True)
class Example:
    """One training snapshot: features of an enrollment at `as_of`, and what happened next."""

    features: EnrollmentFeatures
    enrolled_at: datetime
    week: int  # whole weeks since enrolling at as_of (1 = one week in)
    label: bool  # dropped off in the next inactivity_days


class _Timeline:
    """Sorted course-activity instants of one enrollment, and the learner's any-activity."""

    def __init__(self, history: LearnerHistory, enrollment: Enrollment) -> None:
        course = enrollment.course_id
        self.course_events = sorted(
            (e for e in history.learning_events if e.course_id == course),
            key=lambda e: e.occurred_at,
        )
        self.attempts = sorted(
            (a for a in history.assessment_attempts if a.course_id == course),
            key=lambda a: a.submitted_at,
        )
        self.course_instants = sorted(
            [e.occurred_at for e in self.course_events] + [a.submitted_at for a in self.attempts]
        )
        self.any_instants = sorted(history.activity_instants())

    def course_between(self, start: datetime, end: datetime) -> list[datetime]:
        """Course activity in [start, end]."""
        low = bisect.bisect_left(self.course_instants, start)
        high = bisect.bisect_right(self.course_instants, end)
        return self.course_instants[low:high]


def _active_days(instants: Iterable[datetime], *, as_of: datetime, first: int, last: int) -> int:
    """Distinct days d (d = whole days between the instant and as_of) with first <= d < last."""
    days = {int((as_of - moment) / DAY) for moment in instants}
    return sum(1 for d in days if first <= d < last)


def _days(span: timedelta) -> float:
    return round(span / DAY, 4)


def enrollment_features(
    history: LearnerHistory, enrollment: Enrollment, *, as_of: datetime
) -> EnrollmentFeatures:
    """The features of one enrollment at `as_of` (see FEATURE_NAMES and docs/metrics.md)."""
    return _features(history, enrollment, _Timeline(history, enrollment), as_of=as_of)


def _features(
    history: LearnerHistory, enrollment: Enrollment, timeline: _Timeline, *, as_of: datetime
) -> EnrollmentFeatures:
    start = enrollment.enrolled_at
    enrolled = max(as_of - start, timedelta(0))
    enrolled_days = enrolled / DAY
    course_activity = timeline.course_between(start, as_of)

    last_course = course_activity[-1] if course_activity else start
    any_before = bisect.bisect_right(timeline.any_instants, as_of)
    any_since = [m for m in timeline.any_instants[:any_before] if m >= start]
    last_any = any_since[-1] if any_since else start

    active = {n: _active_days(course_activity, as_of=as_of, first=0, last=n) for n in (7, 14, 28)}
    previous_14 = _active_days(course_activity, as_of=as_of, first=14, last=28)
    covered_28 = max(1, min(PACE_WINDOW_DAYS, int(-(-enrolled_days // 1))))
    seconds_14 = sum(
        e.seconds_spent
        for e in timeline.course_events
        if start <= e.occurred_at <= as_of and as_of - e.occurred_at < 14 * DAY
    )

    units = _learning_units(history.course_units).get(enrollment.course_id, set())
    completions = _first_completions(timeline.course_events, until=as_of)
    done = [at for unit, (_, at) in completions.items() if unit in units and at >= start]
    total = len(units)
    progress = 100.0 * len(done) / total if total else 0.0
    pace_days = max(1.0, min(float(PACE_WINDOW_DAYS), enrolled_days))
    recent_done = sum(1 for at in done if as_of - at < timedelta(days=pace_days))
    pace = recent_done / pace_days * 7
    course = next((c for c in history.courses if c.id == enrollment.course_id), None)
    due = _due_at(enrollment, course)
    remaining = max(0, total - len(done))
    if due is not None and due > as_of:
        required = remaining / max((due - as_of) / DAY / 7, 1 / 7)
    elif due is not None:
        required = float(remaining)  # overdue: everything left, within a week
    else:
        required = 0.0
    ratio = MAX_PACE_RATIO if required == 0 else min(MAX_PACE_RATIO, pace / required)
    if due is not None and due > start:
        due_share = min(MAX_DUE_SHARE, (as_of - start) / (due - start))
    else:
        due_share = 0.0

    attempts = [a for a in timeline.attempts if start <= a.submitted_at <= as_of]
    scores = [a.score_pct for a in attempts]
    mean_score = sum(scores) / len(scores) if scores else 0.0
    trend = least_squares_slope(scores[-SCORE_TREND_ATTEMPTS:]) or 0.0
    failed = sum(1 for a in attempts if not a.passed)

    values = (
        _days(as_of - last_course),
        _days(as_of - last_any),
        float(active[7]),
        float(active[14]),
        float(active[28]),
        round(active[28] / covered_28, 4),
        float(active[14] - previous_14),
        round(seconds_14 / 3600, 4),
        round(progress, 4),
        round(pace, 4),
        round(required, 4),
        round(ratio, 4),
        float(len(attempts)),
        round(mean_score, 4),
        round(trend, 4),
        float(failed),
        round(enrolled_days, 4),
        round(due_share, 4),
    )
    return EnrollmentFeatures(
        user_id=history.user_id,
        enrollment_id=enrollment.id,
        course_id=enrollment.course_id,
        as_of=as_of,
        values=values,
    )


def dropped_off(
    history: LearnerHistory,
    enrollment: Enrollment,
    *,
    as_of: datetime,
    inactivity_days: int = DEFAULT_INACTIVITY_DAYS,
) -> bool:
    """The label: open at `as_of`, then no course activity and no completion within
    (as_of, as_of + inactivity_days]."""
    return _dropped(enrollment, _Timeline(history, enrollment), as_of, inactivity_days)


def _dropped(
    enrollment: Enrollment, timeline: _Timeline, as_of: datetime, inactivity_days: int
) -> bool:
    horizon = as_of + timedelta(days=inactivity_days)
    if enrollment.completed_at is not None and enrollment.completed_at <= horizon:
        return False
    after = timeline.course_between(as_of, horizon)
    return not [moment for moment in after if moment > as_of]


def open_enrollments(history: LearnerHistory, *, at: datetime) -> tuple[Enrollment, ...]:
    return tuple(e for e in history.enrollments if _is_open(e, at))


def training_examples(
    histories: Iterable[LearnerHistory],
    *,
    data_end: datetime,
    inactivity_days: int = DEFAULT_INACTIVITY_DAYS,
    step_days: int = SNAPSHOT_STEP_DAYS,
) -> list[Example]:
    """Weekly snapshots of every enrollment whose outcome is known by `data_end`.

    A snapshot is taken `step_days`, 2 x `step_days`, ... after enrolling while the enrollment
    is open and the learner has not already been inactive on it for `inactivity_days` (those
    have dropped off already: nothing left to predict), and only when its label is observable
    (`as_of + inactivity_days <= data_end`).
    """
    examples: list[Example] = []
    horizon = timedelta(days=inactivity_days)
    for history in histories:
        for enrollment in history.enrollments:
            timeline = _Timeline(history, enrollment)
            week = 1
            while True:
                as_of = enrollment.enrolled_at + timedelta(days=step_days * week)
                if as_of + horizon > data_end or not _is_open(enrollment, as_of):
                    break
                features = _features(history, enrollment, timeline, as_of=as_of)
                if features.get("days_since_last_activity") < inactivity_days:
                    label = _dropped(enrollment, timeline, as_of, inactivity_days)
                    examples.append(Example(features, enrollment.enrolled_at, week, label))
                week += 1
    return examples


def feature_matrix(rows: Sequence[EnrollmentFeatures]) -> list[list[float]]:
    return [list(row.values) for row in rows]
