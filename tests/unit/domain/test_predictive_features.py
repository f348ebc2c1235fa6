"""Drop-off features and labels (domain/predictive/features.py): known answers on a hand-built
history, counted from the learner's own enrollment date.

as_of = 2026-03-01 12:00 UTC. The learner has two enrollments:
- e-old in c-a, enrolled 2026-01-01 (59.5 days before), due 2026-03-31 12:00; units a1-a4.
- e-new in c-b, enrolled 2026-02-22 12:00: 7 days before as_of, i.e. in the middle of the 14-
  and 28-day windows; due 2026-03-29 12:00 (28 days after as_of); units b1-b6.
Activity (days before as_of):
  c-b: b1 completed 6.5, b2 completed 4.5, b2 again 2.5 (not a new unit), b3 started 0.5
       (each 1800 s); attempts 5.5 (60 %, failed) and 1.5 (80 %, passed);
  c-a: a1 completed 40 (before the c-b enrollment), a2 completed 20;
  a practice session 0.25 days before (any activity, on no course);
  c-b: an event 8 days before as_of, i.e. BEFORE enrolling in c-b: never counted for e-new.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from learning_analytics.domain.metrics.learner import LearnerHistory
from learning_analytics.domain.predictive.features import (
    FEATURE_NAMES,
    dropped_off,
    enrollment_features,
    training_examples,
)
from learning_analytics.domain.records import (
    AssessmentAttempt,
    Course,
    CourseUnit,
    Enrollment,
    LearningEvent,
    PracticeSession,
)

AS_OF = datetime(2026, 3, 1, 12, tzinfo=UTC)


def ago(days: float) -> datetime:
    return AS_OF - timedelta(days=days)


def event(n: int, course: str, unit: str, days: float, verb: str = "completed") -> LearningEvent:
    return LearningEvent(f"ev-{n}", "u1", course, unit, verb, ago(days), 1800)


OLD = Enrollment("e-old", "u1", "c-a", datetime(2026, 1, 1, tzinfo=UTC),
                 due_at=datetime(2026, 3, 31, 12, tzinfo=UTC))  # fmt: skip
NEW = Enrollment("e-new", "u1", "c-b", ago(7), due_at=AS_OF + timedelta(days=28))
HISTORY = LearnerHistory(
    user_id="u1",
    enrollments=(OLD, NEW),
    courses=(Course("c-a", "org", "A"), Course("c-b", "org", "B")),
    course_units=(
        *(CourseUnit(f"a{i}", "c-a", i, "content", f"A{i}") for i in range(1, 5)),
        *(CourseUnit(f"b{i}", "c-b", i, "content", f"B{i}") for i in range(1, 7)),
    ),
    learning_events=(
        event(1, "c-b", "b1", 6.5),
        event(2, "c-b", "b2", 4.5),
        event(3, "c-b", "b2", 2.5),
        event(4, "c-b", "b3", 0.5, "started"),
        event(5, "c-a", "a1", 40),
        event(6, "c-a", "a2", 20),
        event(7, "c-b", "b6", 8),
    ),
    assessment_attempts=(
        AssessmentAttempt("at-1", "u1", "c-b", "as-1", 60.0, False, ago(5.5)),
        AssessmentAttempt("at-2", "u1", "c-b", "as-1", 80.0, True, ago(1.5)),
    ),
    practice_sessions=(PracticeSession("p-1", "u1", ago(0.25)),),
)


def test_mid_window_enrollment_counts_only_from_its_own_date() -> None:
    features = enrollment_features(HISTORY, NEW, as_of=AS_OF).as_dict()
    assert list(features) == list(FEATURE_NAMES)
    assert features["days_since_last_activity"] == 0.5
    assert features["days_since_any_activity"] == 0.25
    # Course activity days back: 6 (b1), 5 (attempt), 4 (b2), 2 (b2 again), 1 (attempt), 0 (b3).
    assert features["active_days_7"] == 6
    assert features["active_days_14"] == 6
    assert features["active_days_28"] == 6
    assert features["active_share_28"] == pytest.approx(6 / 7, abs=1e-4)  # 7 days enrolled, not 28
    assert features["engagement_trend"] == 6  # nothing in days 14-27: enrolled 7 days ago
    assert features["hours_14"] == 2.0  # four events of 1800 s; the one before enrolling is out
    assert features["progress_pct"] == pytest.approx(100 * 2 / 6, abs=1e-4)  # b1, b2; not b6
    assert features["pace_per_week"] == 2.0  # 2 units in 7 days
    assert features["required_pace_per_week"] == 1.0  # 4 left, 4 weeks to the due date
    assert features["pace_ratio"] == 2.0
    assert features["attempts"] == 2
    assert features["mean_score"] == 70.0
    assert features["score_trend"] == 20.0
    assert features["failed_attempts"] == 1
    assert features["days_since_enrollment"] == 7.0
    assert features["due_elapsed_share"] == 0.2  # 7 of 35 days


def test_older_enrollment_features() -> None:
    features = enrollment_features(HISTORY, OLD, as_of=AS_OF).as_dict()
    assert features["days_since_last_activity"] == 20.0
    assert features["active_days_28"] == 1
    assert features["active_share_28"] == pytest.approx(1 / 28, abs=1e-4)
    assert features["engagement_trend"] == -1  # 0 in the last 14 days, 1 in the 14 before
    assert features["progress_pct"] == 50.0
    assert features["pace_per_week"] == 0.25  # 1 unit in the last 28 days
    assert features["required_pace_per_week"] == pytest.approx(2 / (30 / 7), abs=1e-4)
    assert features["pace_ratio"] == pytest.approx(0.25 / (2 / (30 / 7)), abs=1e-3)
    assert features["attempts"] == 0
    assert features["mean_score"] == 0.0
    assert features["days_since_enrollment"] == 59.5
    assert features["due_elapsed_share"] == pytest.approx(59.5 / 89.5, abs=1e-4)


def test_nothing_after_as_of_is_seen() -> None:
    later = LearnerHistory(
        **{
            **{f: getattr(HISTORY, f) for f in ("user_id", "enrollments", "courses", "course_units",
                                                "assessment_attempts", "practice_sessions")},
            "learning_events": (*HISTORY.learning_events, event(9, "c-b", "b4", -1)),
        }
    )  # fmt: skip
    assert enrollment_features(later, NEW, as_of=AS_OF) == enrollment_features(
        HISTORY, NEW, as_of=AS_OF
    )


def test_label_no_activity_for_21_days_without_completing() -> None:
    # e-old: last activity 20 days before as_of; from 21 days before, the next 21 days hold a2.
    assert dropped_off(HISTORY, OLD, as_of=ago(21)) is False
    # From 19.5 days before as_of nothing happens on c-a for 21 days.
    assert dropped_off(HISTORY, OLD, as_of=ago(19.5)) is True
    assert dropped_off(HISTORY, OLD, as_of=ago(19.5), inactivity_days=30) is True
    # A completion within the horizon is not a drop-off.
    done = Enrollment("e-old", "u1", "c-a", OLD.enrolled_at, completed_at=ago(10))
    assert dropped_off(HISTORY, done, as_of=ago(19.5)) is False


def test_training_snapshots_weekly_from_enrolling_with_observable_labels() -> None:
    examples = training_examples([HISTORY], data_end=AS_OF)
    # e-old, enrolled Jan 1: weeks 1-5 (Jan 8 ... Feb 5); week 6 (Feb 12) + 21 days is past the
    # data. a1 (Jan 20) or a2 (Feb 9) follows every one of them within 21 days.
    assert [(e.features.enrollment_id, e.week, e.label) for e in examples] == [
        ("e-old", week, False) for week in range(1, 6)
    ]
    later = training_examples([HISTORY], data_end=AS_OF + timedelta(days=30))
    # Up to Mar 31: weeks 6-8 of e-old are followed by 21 idle days (dropped off); week 9
    # (Mar 5) is already 24 days idle: nothing left to predict, skipped. e-new (Feb 22 12:00):
    # weeks 1 and 2, nothing follows them.
    assert [(e.features.enrollment_id, e.week, e.label) for e in later] == [
        *(("e-old", week, week >= 6) for week in range(1, 9)),
        ("e-new", 1, True),
        ("e-new", 2, True),
    ]
