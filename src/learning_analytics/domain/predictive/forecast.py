"""Completion forecast per open enrollment (SPEC §10 Predictive), pure and seeded.

For one open enrollment at `now`:
- weekly pace sample: units of the course completed (first completions) in each of the last
  `weeks` whole 7-day spans before `now`, counted from the enrollment date: weeks = min(8, whole
  weeks since enrolling). An enrollment younger than 2 whole weeks uses the learner's own pace
  on all their courses instead (weeks counted from their first enrollment; `pace_basis`
  "learner"). Pace is unknown (no forecast) with fewer than 2 whole weeks either way, without
  known course units, or with no unit completed in those weeks;
- bootstrap: BOOTSTRAP_SAMPLES times, draw `weeks` weekly counts with replacement and take their
  mean; each mean gives a completion time = remaining units / mean x 7 days (never, for a mean
  of 0). The RNG is seeded by (user, enrollment): the same inputs give the same answer;
- expected completion = the median completion time, 80 % interval = the 10th and 90th
  percentiles (nearest rank; an infinite bound is reported as open: None);
- probability of finishing by the due date = share of draws completing by it;
- projected final score = clip(mean of the last 3 scores + least-squares slope of the last 5,
  0, 100) over the enrollment's assessment attempts; None without attempts.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from learning_analytics.domain.metrics.learner import (
    LearnerHistory,
    _due_at,
    _first_completions,
    _learning_units,
    least_squares_slope,
)
from learning_analytics.domain.records import Enrollment

BOOTSTRAP_SAMPLES = 2000
MAX_WEEKS = 8
MIN_WEEKS = 2
LOW_QUANTILE = 0.10
HIGH_QUANTILE = 0.90
WEEK = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class EnrollmentForecast:
    enrollment_id: str
    course_id: str
    units_total: int
    units_done: int
    units_remaining: int
    weekly_counts: tuple[int, ...]  # oldest week first
    pace_basis: str  # enrollment | learner (all courses, while the enrollment is under 2 weeks)
    pace_per_week: float | None  # mean of weekly_counts; None when pace is unknown
    expected_completion: datetime | None
    interval_low: datetime | None
    interval_high: datetime | None  # None: open-ended (some draws never finish)
    due_at: datetime | None
    probability_by_due: float | None
    projected_score: float | None
    reason: str | None  # why there is no forecast


def nearest_rank(sorted_values: list[float], q: float) -> float:
    index = max(0, math.ceil(q * len(sorted_values)) - 1)
    return sorted_values[min(index, len(sorted_values) - 1)]


def projected_score(scores: list[float]) -> float | None:
    if not scores:
        return None
    recent = scores[-3:]
    slope = least_squares_slope(scores[-5:]) or 0.0
    return round(min(100.0, max(0.0, sum(recent) / len(recent) + slope)), 2)


def weekly_completions(
    history: LearnerHistory, *, now: datetime, since: datetime, course_id: str | None
) -> tuple[int, ...]:
    """Units first completed in each of the last min(8, whole weeks since `since`) 7-day spans
    before `now`, oldest first: on one course, or on any course (`course_id` None)."""
    learning = _learning_units(history.course_units)
    if course_id is None:
        units = set().union(*learning.values()) if learning else set()
    else:
        units = learning.get(course_id, set())
    weeks = min(MAX_WEEKS, int((now - since) / WEEK))
    if weeks <= 0:
        return ()
    events = [e for e in history.learning_events if course_id is None or e.course_id == course_id]
    counts = [0] * weeks
    for unit, (_, at) in _first_completions(events, until=now).items():
        if unit not in units or at < since:
            continue
        back = int((now - at) / WEEK)
        if back < weeks:
            counts[weeks - 1 - back] += 1
    return tuple(counts)


def _weekly_pace(
    history: LearnerHistory, enrollment: Enrollment, *, now: datetime
) -> tuple[tuple[int, ...], str]:
    """(weekly counts, basis): the enrollment's own when it has MIN_WEEKS whole weeks, else the
    learner's on all their courses since their first enrollment."""
    own = weekly_completions(
        history, now=now, since=enrollment.enrolled_at, course_id=enrollment.course_id
    )
    if len(own) >= MIN_WEEKS:
        return own, "enrollment"
    first = min(e.enrolled_at for e in history.enrollments)
    learner = weekly_completions(history, now=now, since=first, course_id=None)
    if len(learner) >= MIN_WEEKS and sum(learner) > 0:
        return learner, "learner"
    return own, "enrollment"


def bootstrap_days(
    counts: tuple[int, ...], remaining: int, *, rng: random.Random, samples: int
) -> list[float]:
    """Sorted completion times in days (math.inf for a draw with no progress)."""
    n = len(counts)
    days = []
    for _ in range(samples):
        mean = sum(rng.choice(counts) for _ in range(n)) / n
        days.append(math.inf if mean == 0 else remaining / mean * 7)
    days.sort()
    return days


def forecast_enrollment(
    history: LearnerHistory,
    enrollment: Enrollment,
    *,
    now: datetime,
    samples: int = BOOTSTRAP_SAMPLES,
) -> EnrollmentForecast:
    units = _learning_units(history.course_units).get(enrollment.course_id, set())
    events = [e for e in history.learning_events if e.course_id == enrollment.course_id]
    done = sum(
        1
        for unit, (_, at) in _first_completions(events, until=now).items()
        if unit in units and at >= enrollment.enrolled_at
    )
    total = len(units)
    remaining = max(0, total - done)
    counts, basis = _weekly_pace(history, enrollment, now=now)
    course = next((c for c in history.courses if c.id == enrollment.course_id), None)
    due = _due_at(enrollment, course)
    scores = [
        a.score_pct
        for a in sorted(history.assessment_attempts, key=lambda a: a.submitted_at)
        if a.course_id == enrollment.course_id and enrollment.enrolled_at <= a.submitted_at <= now
    ]
    base = {
        "enrollment_id": enrollment.id,
        "course_id": enrollment.course_id,
        "units_total": total,
        "units_done": done,
        "units_remaining": remaining,
        "weekly_counts": counts,
        "pace_basis": basis,
        "due_at": due,
        "projected_score": projected_score(scores),
    }
    reason = None
    if total == 0:
        reason = "the course's units are unknown"
    elif len(counts) < MIN_WEEKS:
        reason = f"fewer than {MIN_WEEKS} whole weeks of pace (enrollment and learner)"
    elif sum(counts) == 0:
        reason = f"no unit completed in the last {len(counts)} weeks"
    if reason is not None:
        return EnrollmentForecast(
            **base,  # type: ignore[arg-type]
            pace_per_week=None,
            expected_completion=None,
            interval_low=None,
            interval_high=None,
            probability_by_due=None,
            reason=reason,
        )
    rng = random.Random(f"{history.user_id}:{enrollment.id}")  # noqa: S311 - not for security
    days = bootstrap_days(counts, remaining, rng=rng, samples=samples)

    def at(q: float) -> datetime | None:
        value = nearest_rank(days, q)
        return None if math.isinf(value) else now + timedelta(days=value)

    by_due = None
    if due is not None:
        by_due = round(
            sum(1 for d in days if now + timedelta(days=min(d, 36500)) <= due) / samples, 4
        )
    return EnrollmentForecast(
        **base,  # type: ignore[arg-type]
        pace_per_week=round(sum(counts) / len(counts), 4),
        expected_completion=at(0.5),
        interval_low=at(LOW_QUANTILE),
        interval_high=at(HIGH_QUANTILE),
        probability_by_due=by_due,
        reason=None,
    )
