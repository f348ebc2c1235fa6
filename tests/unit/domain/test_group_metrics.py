"""Pure trainer and organisation arithmetic (domain/metrics/trainer.py, organization.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from learning_analytics.domain.errors import InsufficientDataError
from learning_analytics.domain.metrics.organization import (
    DepartmentHeadcount,
    WeekAggregate,
    learning_velocity,
    shown_departments,
    trend_of,
)
from learning_analytics.domain.metrics.trainer import (
    CourseAggregate,
    EnrollmentAggregate,
    HealthComponents,
    UnitAggregate,
    course_health,
    course_performance,
    enrollment_risk,
    health_score,
    median_of_histogram,
    student_distribution,
)

NOW = datetime(2026, 6, 29, tzinfo=UTC)


@pytest.mark.parametrize(
    ("histogram", "median"),
    [
        ([], None),
        ([(10, 1)], 10.0),
        ([(10, 1), (20, 1)], 15.0),
        ([(30, 1), (10, 2), (20, 2)], 20.0),  # 10 10 20 20 30
        ([(5, 3), (9, 1)], 5.0),  # 5 5 5 9
    ],
)
def test_median_of_histogram(histogram: list[tuple[int, int]], median: float | None) -> None:
    assert median_of_histogram(histogram) == median


def course(**changes: object) -> CourseAggregate:
    values: dict[str, object] = {
        "course_id": "c",
        "title": "C",
        "enrolled": 10,
        "completed": 6,
        "progress_sum": 700.0,
        "active_recent": 4,
        "stalled": 2,
        "attempts": 20,
        "passed": 15,
        "score_sum": 1500.0,
        "scored_learners": 8,
        "last_activity_at": NOW - timedelta(days=2),
        "completion_days": ((10, 2), (12, 3), (30, 1)),
    }
    values.update(changes)
    return CourseAggregate(**values)  # type: ignore[arg-type]


def test_course_performance_median_with_enough_completers() -> None:
    (row,) = course_performance([course()], k=5).courses
    # 10 10 12 12 12 30 -> median 12
    assert (row.completion_rate, row.average_progress, row.median_days_to_complete) == (
        60.0,
        70.0,
        12.0,
    )
    assert (row.average_score, row.pass_rate) == (75.0, 75.0)


def test_health_score_renormalises_missing_components() -> None:
    full = HealthComponents(completion=60, engagement=40, assessment=80, retention=90)
    assert health_score(full) == pytest.approx(0.3 * 60 + 0.25 * 40 + 0.25 * 80 + 0.2 * 90)
    partial = HealthComponents(completion=60, engagement=40, assessment=None, retention=90)
    assert health_score(partial) == round((0.3 * 60 + 0.25 * 40 + 0.2 * 90) / 0.75, 1)
    assert health_score(HealthComponents(None, None, None, None)) is None


def test_stall_and_inactivity_flags() -> None:
    quiet = course(last_activity_at=NOW - timedelta(days=31))
    units = [
        UnitAggregate("c", "u1", "One", 1, reached=10, stalled=1),
        UnitAggregate("c", "u2", "Two", 2, reached=9, stalled=4),  # 44.4 % > 30 %
        UnitAggregate("c", "u3", "Three", 3, reached=3, stalled=2),  # < k reached: no share
    ]
    (row,) = course_health([quiet], units, [], now=NOW, k=5).courses
    assert [(f.kind, f.subject) for f in row.flags] == [
        ("unit-stall", "u2"),
        ("no-recent-activity", "c"),
    ]
    assert [s.stall_share for s in row.funnel] == [10.0, 44.4, None]


def test_risk_points_and_main_factor() -> None:
    base = EnrollmentAggregate("u", "c", NOW - timedelta(days=60), 30.0, False, None, None, 0, 0.0)
    assert enrollment_risk(base, now=NOW) == (2, "inactive", 60)
    slowing = EnrollmentAggregate(
        "u", "c", NOW - timedelta(days=60), 30.0, False, NOW - timedelta(days=1),
        NOW - timedelta(days=15), 2, 80.0,
    )  # fmt: skip
    # 15 days quiet (1) + overdue (2) + average 40 % (1): overdue is the main factor.
    assert enrollment_risk(slowing, now=NOW) == (4, "overdue", 15)


def test_distribution_below_k_is_insufficient_data() -> None:
    rows = [
        EnrollmentAggregate(f"u{i}", "c", NOW, 10.0, False, None, NOW, 0, 0.0) for i in range(4)
    ]
    with pytest.raises(InsufficientDataError):
        student_distribution(rows, now=NOW, k=5)


def test_trend_band() -> None:
    assert trend_of(11.0, 10.0, up="up", down="down") == "steady"
    assert trend_of(11.5, 10.0, up="up", down="down") == "up"
    assert trend_of(8.9, 10.0, up="up", down="down") == "down"
    assert trend_of(1.0, 0.0, up="up", down="down") == "up"
    assert trend_of(None, 1.0, up="up", down="down") is None


def test_velocity_trend_and_suppressed_departments_left_out() -> None:
    heads = [
        DepartmentHeadcount("a", "A", 10),
        DepartmentHeadcount("b", "B", 2),
    ]
    shown, hidden = shown_departments(heads, k=5)
    assert ([d.department_id for d in shown], [d.department_id for d in hidden]) == (["a"], ["b"])
    weeks = [
        WeekAggregate("a", week, 5, units, 3600 * 5) for week, units in enumerate((10, 10, 12, 13))
    ] + [WeekAggregate("b", 3, 100, 1000, 1)]
    result = learning_velocity(
        shown=shown,
        suppressed=hidden,
        weeks=weeks,
        window_activity=[],
        week_starts=["w0", "w1", "w2", "w3"],
        window_weeks=4.0,
        k=5,
    )
    # (2.4 + 2.6) against (2 + 2): +25 % -> accelerating; department b never counted.
    assert result.trend == "accelerating"
    assert [w.units_completed for w in result.weeks] == [10, 10, 12, 13]
    with pytest.raises(InsufficientDataError):
        learning_velocity(
            shown=[],
            suppressed=hidden,
            weeks=[],
            window_activity=[],
            week_starts=[],
            window_weeks=4.0,
            k=5,
        )
