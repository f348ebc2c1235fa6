"""Completion forecast (domain/predictive/forecast.py): known-answer intervals.

Constant pace: every bootstrap draw has the same mean, so the interval collapses onto the
expected date. Noisy pace [2, 4] over 2 weeks: a draw's mean is 2, 3 or 4 units/week with
probabilities 1/4, 1/2, 1/4, i.e. 12 remaining units take 42, 28 or 21 days; the nearest-rank
10th, 50th and 90th percentiles of 2000 draws are 21, 28 and 42 days (each end holds ~500
draws, far from the 200th and 1800th ranks), and P(done within 30 days) = P(mean >= 3) = 3/4.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from learning_analytics.domain.metrics.learner import LearnerHistory
from learning_analytics.domain.predictive.forecast import (
    bootstrap_days,
    forecast_enrollment,
    nearest_rank,
    projected_score,
)
from learning_analytics.domain.records import (
    AssessmentAttempt,
    Course,
    CourseUnit,
    Enrollment,
    LearningEvent,
)

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def history(
    completions_days_ago: list[float],
    *,
    units: int,
    enrolled_days: float,
    due_days: float | None,
    scores: tuple[float, ...] = (),
) -> tuple[LearnerHistory, Enrollment]:
    enrollment = Enrollment(
        "e-1",
        "u1",
        "c-1",
        NOW - timedelta(days=enrolled_days),
        due_at=None if due_days is None else NOW + timedelta(days=due_days),
    )
    return (
        LearnerHistory(
            user_id="u1",
            enrollments=(enrollment,),
            courses=(Course("c-1", "org", "C"),),
            course_units=tuple(
                CourseUnit(f"u{i}", "c-1", i, "content", f"U{i}") for i in range(units)
            ),
            learning_events=tuple(
                LearningEvent(
                    f"ev{i}", "u1", "c-1", f"u{i}", "completed", NOW - timedelta(days=days), 600
                )
                for i, days in enumerate(completions_days_ago)
            ),
            assessment_attempts=tuple(
                AssessmentAttempt(
                    f"a{i}", "u1", "c-1", "as", score, score >= 70, NOW - timedelta(days=10 - i)
                )
                for i, score in enumerate(scores)
            ),
        ),
        enrollment,
    )


def test_constant_pace_collapses_the_interval() -> None:
    # 2 units in each of the last 4 weeks, 12 units, 8 done: 4 left at 2/week = 14 days.
    days_ago = [1, 2, 8, 9, 15, 16, 22, 23]
    learner, enrollment = history(days_ago, units=12, enrolled_days=28.5, due_days=20)
    result = forecast_enrollment(learner, enrollment, now=NOW)
    assert result.weekly_counts == (2, 2, 2, 2)
    assert result.pace_per_week == 2.0
    assert result.units_remaining == 4
    assert result.expected_completion == NOW + timedelta(days=14)
    assert result.interval_low == result.interval_high == NOW + timedelta(days=14)
    assert result.probability_by_due == 1.0
    assert result.reason is None


def test_noisy_pace_known_quantiles() -> None:
    # Weeks (oldest first): 2 then 4 units; 18 units, 6 done: 12 left.
    days_ago = [8, 9, 1, 2, 3, 4]
    learner, enrollment = history(days_ago, units=18, enrolled_days=14.5, due_days=30)
    result = forecast_enrollment(learner, enrollment, now=NOW)
    assert result.weekly_counts == (2, 4)
    assert result.pace_per_week == 3.0
    assert result.interval_low == NOW + timedelta(days=21)
    assert result.expected_completion == NOW + timedelta(days=28)
    assert result.interval_high == NOW + timedelta(days=42)
    assert result.probability_by_due == pytest.approx(0.75, abs=0.04)
    # Seeded: the same inputs give the same answer.
    assert forecast_enrollment(learner, enrollment, now=NOW) == result


def test_bootstrap_with_idle_weeks_can_be_open_ended() -> None:
    days = bootstrap_days((0, 1), 5, rng=random.Random(1), samples=2000)
    # Means 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4: 5 units take inf, 70 or 35 days.
    assert nearest_rank(days, 0.1) == 35.0
    assert nearest_rank(days, 0.9) == float("inf")  # a quarter of the draws never finish
    learner, enrollment = history([3], units=6, enrolled_days=14.5, due_days=None)
    result = forecast_enrollment(learner, enrollment, now=NOW)
    assert result.weekly_counts == (0, 1)
    assert result.interval_high is None
    assert result.probability_by_due is None


@pytest.mark.parametrize(
    ("days_ago", "units", "enrolled", "reason"),
    [
        ([1], 5, 10, "fewer than 2 whole weeks of pace (enrollment and learner)"),
        ([], 5, 30, "no unit completed in the last 4 weeks"),
        ([1, 2], 0, 30, "the course's units are unknown"),
    ],
)
def test_unknown_pace_gives_no_forecast(
    days_ago: list[float], units: int, enrolled: float, reason: str
) -> None:
    learner, enrollment = history(days_ago, units=units, enrolled_days=enrolled, due_days=10)
    result = forecast_enrollment(learner, enrollment, now=NOW)
    assert (result.pace_per_week, result.expected_completion, result.reason) == (None, None, reason)


def test_projected_score() -> None:
    assert projected_score([]) is None
    assert projected_score([50.0, 60.0, 70.0]) == 70.0  # mean 60 + slope 10
    assert projected_score([90.0, 95.0, 100.0]) == 100.0  # clipped
    learner, enrollment = history([1, 8], units=4, enrolled_days=15, due_days=None,
                                  scores=(40.0, 60.0))  # fmt: skip
    assert forecast_enrollment(learner, enrollment, now=NOW).projected_score == 70.0


def test_a_new_enrollment_uses_the_learners_pace_on_all_courses() -> None:
    """Enrolled 10 days ago in c-2 (one whole week); the learner completed c-1 units in the
    weeks before (enrolled in c-1 30 days ago): weekly counts over 4 weeks on all courses."""
    learner, old = history([8, 15, 16, 22, 1], units=6, enrolled_days=30, due_days=None)
    new = Enrollment("e-2", "u1", "c-2", NOW - timedelta(days=10))
    learner = LearnerHistory(
        user_id="u1",
        enrollments=(old, new),
        courses=(*learner.courses, Course("c-2", "org", "D")),
        course_units=(
            *learner.course_units,
            *(CourseUnit(f"d{i}", "c-2", i, "content", f"D{i}") for i in range(4)),
        ),
        learning_events=(
            *learner.learning_events,
            LearningEvent("evd", "u1", "c-2", "d0", "completed", NOW - timedelta(days=2), 60),
        ),
    )
    result = forecast_enrollment(learner, new, now=NOW)
    assert result.pace_basis == "learner"
    assert result.weekly_counts == (1, 2, 1, 2)  # c-1 and c-2 units together
    assert result.units_remaining == 3
    assert result.pace_per_week == 1.5
    own = forecast_enrollment(learner, old, now=NOW)
    assert (own.pace_basis, own.weekly_counts) == ("enrollment", (1, 2, 1, 1))
