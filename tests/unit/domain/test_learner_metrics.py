"""Learner analytics (SPEC §10 Learner): hand-computed values, the arithmetic in comments.

Unless a test says otherwise: timezone UTC, now = Sunday 2026-03-01 18:00 UTC, window
2026-02-02 (a Monday) .. 2026-03-01, i.e. 28 covered days = exactly the last 4 weeks; the last
2 weeks are Feb 16 .. Mar 1, the 2 before Feb 2 .. Feb 15.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from learning_analytics.domain.errors import InsufficientDataError
from learning_analytics.domain.metrics.bkt import BktParams
from learning_analytics.domain.metrics.learner import (
    LearnerHistory,
    Window,
    compute_content_effectiveness,
    compute_engagement,
    compute_mastery,
    compute_performance,
    compute_skill_gap,
    compute_velocity,
    least_squares_slope,
)
from learning_analytics.domain.records import (
    AssessmentAttempt,
    AssistantInteraction,
    Course,
    CourseUnit,
    Enrollment,
    LearningEvent,
    PracticeSession,
    SkillProfile,
    SkillScore,
    StrategicSkillTarget,
)

UTC_ZONE = ZoneInfo("UTC")
TOKYO = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 3, 1, 18, tzinfo=UTC)
WINDOW = Window(date(2026, 2, 2), date(2026, 3, 1))
ENROLLED = datetime(2026, 1, 20, 9, tzinfo=UTC)


def utc(day: str, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=UTC)


def units(count: int, course: str = "c1", content_type: str = "video") -> tuple[CourseUnit, ...]:
    return tuple(
        CourseUnit(
            id=f"{course}-u{i:02d}",
            course_id=course,
            position=i,
            kind="content",
            title=f"unit {i}",
            content_type=content_type,
        )
        for i in range(1, count + 1)
    )


_event_ids = iter(range(1, 1_000_000))


def event(
    unit: str | None, at: datetime, verb: str = "completed", seconds: int = 0, course: str = "c1"
) -> LearningEvent:
    return LearningEvent(
        id=f"le-{next(_event_ids)}",
        user_id="u1",
        course_id=course,
        unit_id=unit,
        verb=verb,
        occurred_at=at,
        seconds_spent=seconds,
    )


def attempt(
    number: int,
    at: datetime,
    score: float,
    *,
    passed: bool | None = None,
    exam_type: str | None = "quiz",
    skills: Sequence[tuple[str, float]] = (),
    course: str | None = "c1",
) -> AssessmentAttempt:
    return AssessmentAttempt(
        id=f"aa-{number:03d}",
        user_id="u1",
        course_id=course,
        assessment_id=f"x{number}",
        score_pct=score,
        passed=score >= 70 if passed is None else passed,
        submitted_at=at,
        exam_type=exam_type,
        skill_scores=tuple(SkillScore(skill, value) for skill, value in skills),
    )


def enrollment(
    course: str = "c1",
    *,
    due_at: datetime | None = None,
    completed_at: datetime | None = None,
    enrolled_at: datetime = ENROLLED,
) -> Enrollment:
    return Enrollment(
        id=f"e-{course}",
        user_id="u1",
        course_id=course,
        enrolled_at=enrolled_at,
        due_at=due_at,
        completed_at=completed_at,
    )


def history(**records: Any) -> LearnerHistory:
    return LearnerHistory(user_id="u1", **{k: tuple(v) for k, v in records.items()})


HISTORY_METRICS: list[Callable[..., object]] = [
    compute_velocity,
    compute_engagement,
    compute_performance,
    compute_content_effectiveness,
]
ALL_METRICS: list[Callable[..., object]] = [*HISTORY_METRICS, compute_skill_gap, compute_mastery]


# --------------------------------------------------------------------------------------------
# Minimum data


@pytest.mark.parametrize("metric", ALL_METRICS)
def test_no_data_at_all_is_insufficient(metric: Callable[..., object]) -> None:
    with pytest.raises(InsufficientDataError, match="no learning data"):
        metric(history(), now=NOW, tz=UTC_ZONE, window=WINDOW)


def rich_history(first: datetime) -> LearnerHistory:
    """A bit of everything, the first activity at `first` and the rest 1 hour later."""
    later = first + timedelta(hours=1)
    return history(
        enrollments=[enrollment()],
        course_units=units(3),
        learning_events=[event("c1-u01", first, seconds=600), event("c1-u02", later)],
        assessment_attempts=[attempt(1, later, 80.0, skills=[("python", 80.0)])],
    )


@pytest.mark.parametrize("metric", HISTORY_METRICS)
@pytest.mark.parametrize(
    ("first", "enough"),
    [
        # one day of data: the first activity 1 day before now
        (NOW - timedelta(days=1), False),
        # one second short of 7 days
        (NOW - timedelta(days=7) + timedelta(seconds=1), False),
        # exactly 7 days: enough
        (NOW - timedelta(days=7), True),
        (NOW - timedelta(days=20), True),
    ],
)
def test_history_metrics_need_7_days_since_the_first_activity_in_the_window(
    metric: Callable[..., object], first: datetime, enough: bool
) -> None:
    learner = rich_history(first)
    if enough:
        metric(learner, now=NOW, tz=UTC_ZONE, window=WINDOW)
    else:
        with pytest.raises(InsufficientDataError, match="needs 7 days of history") as caught:
            metric(learner, now=NOW, tz=UTC_ZONE, window=WINDOW)
        assert "more days needed" in caught.value.message


@pytest.mark.parametrize("metric", HISTORY_METRICS)
def test_activity_only_before_the_window_is_insufficient(metric: Callable[..., object]) -> None:
    learner = rich_history(utc("2026-01-10"))
    with pytest.raises(InsufficientDataError, match="no activity in the window"):
        metric(learner, now=NOW, tz=UTC_ZONE, window=WINDOW)


def test_a_window_must_not_end_before_it_starts() -> None:
    with pytest.raises(ValueError, match="after its end"):
        Window(date(2026, 3, 2), date(2026, 3, 1))


# --------------------------------------------------------------------------------------------
# Velocity


def completions(*days: str) -> list[LearningEvent]:
    return [event(f"c1-u{i:02d}", utc(day)) for i, day in enumerate(days, start=1)]


def test_velocity_worked_example() -> None:
    # 10 units; u01 done before the window (Jan 25); in the window 2 in the first half (Feb 3,
    # Feb 10) and 4 in the last two weeks (Feb 17, 20, 24, 27); u02 completed again on Feb 28
    # counts once.
    events = [
        *completions("2026-01-25", "2026-02-03", "2026-02-10"),
        *(event(f"c1-u{i:02d}", utc(d)) for i, d in [(4, "2026-02-17"), (5, "2026-02-20")]),
        *(event(f"c1-u{i:02d}", utc(d)) for i, d in [(6, "2026-02-24"), (7, "2026-02-27")]),
        event("c1-u02", utc("2026-02-28")),
    ]
    learner = history(
        enrollments=[enrollment(due_at=NOW + timedelta(days=28))],
        course_units=units(10),
        learning_events=events,
    )
    velocity = compute_velocity(learner, now=NOW, tz=UTC_ZONE, window=WINDOW)
    # currentPace: 6 units / 28 days * 7 = 1.5 units/week
    assert (velocity.current_pace, velocity.units_completed) == (1.5, 6)
    # last 2 weeks 4 / 14 * 7 = 2.0; the 2 before 2 / 14 * 7 = 1.0: +100 % -> accelerating
    assert (velocity.recent_pace, velocity.previous_pace) == (2.0, 1.0)
    assert (velocity.trend, velocity.trend_change_pct) == ("accelerating", 100.0)
    # done 7 of 10 (u01..u07) -> 3 remaining, due in 28 days = 4 weeks: 3 / 4 = 0.75/week
    assert velocity.target_pace == 0.75
    assert velocity.on_track is True
    (course,) = velocity.by_course
    assert (course.units_done, course.units_total, course.units_remaining) == (7, 10, 3)
    assert (course.current_pace, course.target_pace, course.on_track) == (1.5, 0.75, True)
    # ISO weeks overlapping the window (the week of Jan 26 ends Feb 1, before it): Feb 3 | Feb
    # 10 | Feb 17, 20 | Feb 24, 27
    assert [(w.week_start, w.value) for w in velocity.series] == [
        (date(2026, 2, 2), 1.0),
        (date(2026, 2, 9), 1.0),
        (date(2026, 2, 16), 2.0),
        (date(2026, 2, 23), 2.0),
    ]
    assert velocity.as_of == date(2026, 3, 1)


@pytest.mark.parametrize(
    ("previous", "recent", "trend", "change"),
    [
        # 2 -> 4 units per fortnight: +100 %
        (2, 4, "accelerating", 100.0),
        # equal pace
        (4, 4, "steady", 0.0),
        # 10 -> 11 is +10 %: still inside the ±10 % band
        (10, 11, "steady", 10.0),
        # 10 -> 12 is +20 %
        (10, 12, "accelerating", 20.0),
        # 10 -> 9 is -10 %: steady; 10 -> 8 is -20 %: decelerating
        (10, 9, "steady", -10.0),
        (10, 8, "decelerating", -20.0),
        # nothing before: any progress accelerates, no percentage of zero
        (0, 3, "accelerating", None),
        (0, 0, "steady", None),
    ],
)
def test_velocity_trend_table(previous: int, recent: int, trend: str, change: float | None) -> None:
    # previous units on Feb 3 (first half), recent ones on Feb 17 (second half)
    days = ["2026-02-03"] * previous + ["2026-02-17"] * recent
    learner = history(
        enrollments=[enrollment()],
        course_units=units(30),
        learning_events=[*completions(*days), event(None, utc("2026-02-02"), verb="started")],
    )
    velocity = compute_velocity(learner, now=NOW, tz=UTC_ZONE, window=WINDOW)
    assert (velocity.trend, velocity.trend_change_pct) == (trend, change)


@pytest.mark.parametrize(
    ("due_at", "completed_at", "default_pace", "target"),
    [
        # 8 of 10 remaining, due in 28 days: 8 / 4 weeks = 2.0
        (NOW + timedelta(days=28), None, 3.0, 2.0),
        # due in 2 days: at least a week is allowed -> 8 / 1 = 8.0
        (NOW + timedelta(days=2), None, 3.0, 8.0),
        # overdue: 8 / 1 = 8.0
        (NOW - timedelta(days=10), None, 3.0, 8.0),
        # no due date: the org default pace
        (None, None, 3.0, 3.0),
        (None, None, 1.5, 1.5),
        # completed enrollment: nothing to do
        (NOW + timedelta(days=28), NOW - timedelta(days=1), 3.0, 0.0),
    ],
)
def test_velocity_target_pace_table(
    due_at: datetime | None, completed_at: datetime | None, default_pace: float, target: float
) -> None:
    learner = history(
        enrollments=[enrollment(due_at=due_at, completed_at=completed_at)],
        course_units=units(10),
        learning_events=completions("2026-02-03", "2026-02-17"),
    )
    velocity = compute_velocity(
        learner, now=NOW, tz=UTC_ZONE, window=WINDOW, default_pace=default_pace
    )
    assert velocity.target_pace == target


def test_velocity_due_date_from_the_course() -> None:
    # no due date on the enrollment; the course allows 60 days from enrolling on Jan 20 09:00:
    # due Mar 21 09:00, 19 days 15 hours after now = 19.625 days; 8 remaining /
    # (19.625 / 7) weeks = 2.854... -> 2.85
    learner = history(
        enrollments=[enrollment()],
        courses=[Course(id="c1", organization_id="org-1", title="C", default_due_days=60)],
        course_units=units(10),
        learning_events=completions("2026-02-03", "2026-02-17"),
    )
    velocity = compute_velocity(learner, now=NOW, tz=UTC_ZONE, window=WINDOW)
    assert velocity.target_pace == 2.85
    assert velocity.by_course[0].due_at == datetime(2026, 3, 21, 9, tzinfo=UTC)


def test_velocity_short_window_divides_by_covered_days() -> None:
    # window Feb 16 .. Mar 1 (14 days): the 4-week span only covers 14 days -> 3 / 14 * 7 = 1.5;
    # the previous fortnight is not covered -> no trend
    learner = history(
        enrollments=[enrollment()],
        course_units=units(10),
        learning_events=completions("2026-02-16", "2026-02-18", "2026-02-25"),
    )
    window = Window(date(2026, 2, 16), date(2026, 3, 1))
    velocity = compute_velocity(learner, now=NOW, tz=UTC_ZONE, window=window)
    assert (velocity.current_pace, velocity.previous_pace, velocity.trend) == (1.5, None, None)
    assert [w.week_start for w in velocity.series] == [date(2026, 2, 16), date(2026, 2, 23)]


def test_velocity_weeks_follow_the_users_timezone() -> None:
    # Sunday Feb 22 23:30 UTC is Monday Feb 23 08:30 in Tokyo: another ISO week.
    learner = history(
        enrollments=[enrollment()],
        course_units=units(10),
        learning_events=[
            event("c1-u01", utc("2026-02-10")),
            event("c1-u02", utc("2026-02-22", 23, 30)),
        ],
    )
    in_utc = compute_velocity(learner, now=NOW, tz=UTC_ZONE, window=WINDOW)
    in_tokyo = compute_velocity(learner, now=NOW, tz=TOKYO, window=WINDOW)
    assert {w.week_start: w.value for w in in_utc.series}[date(2026, 2, 16)] == 1.0
    assert {w.week_start: w.value for w in in_tokyo.series}[date(2026, 2, 16)] == 0.0
    # now is Mar 2 03:00 in Tokyo, but the window still ends Mar 1: the last week is Feb 23
    assert {w.week_start: w.value for w in in_tokyo.series}[date(2026, 2, 23)] == 1.0
    assert in_tokyo.as_of == date(2026, 3, 1)


def test_velocity_ignores_events_after_now() -> None:
    learner = history(
        enrollments=[enrollment()],
        course_units=units(10),
        learning_events=[*completions("2026-02-03"), event("c1-u05", NOW + timedelta(hours=1))],
    )
    velocity = compute_velocity(learner, now=NOW, tz=UTC_ZONE, window=WINDOW)
    assert velocity.units_completed == 1


# --------------------------------------------------------------------------------------------
# Skill gap


def profile(skill: str, current: int, target: int | None, at: datetime = NOW) -> SkillProfile:
    return SkillProfile(
        user_id="u1", skill_id=skill, current_level=current, updated_at=at, target_level=target
    )


TARGETS = (
    StrategicSkillTarget("org-1", "python", weight=0.5, target_level=5),
    StrategicSkillTarget("org-1", "devops", weight=0.2, target_level=4),
)


def test_skill_gap_worked_example() -> None:
    # python: own target 4 (beats the strategic 5), current 2 -> gap 2 * (1 + 0.5) = 3.0
    # devops: no own target -> strategic 4, current 2 -> gap 2 * (1 + 0.2) = 2.4
    # sql: not strategic, 1 -> 3: gap 2 * 1.0 = 2.0
    # excel: at target (3/3): gap 0; rust above target (5/3): gap 0
    # cooking: no target anywhere -> not scored, listed as untargeted
    learner = history(
        skill_profiles=[
            profile("python", 2, 4),
            profile("devops", 2, None),
            profile("sql", 1, 3),
            profile("excel", 3, 3),
            profile("rust", 5, 3),
            profile("cooking", 1, None),
        ],
        strategic_targets=TARGETS,
    )
    gap = compute_skill_gap(learner, now=NOW, tz=UTC_ZONE, window=WINDOW)
    assert [(s.skill_id, s.gap, s.weight, s.priority) for s in gap.skills] == [
        ("python", 2, 1.5, 3.0),
        ("devops", 2, 1.2, 2.4),
        ("sql", 2, 1.0, 2.0),
        ("excel", 0, 1.0, 0.0),
        ("rust", 0, 1.0, 0.0),
    ]
    assert gap.skills[1].target_level == 4
    assert gap.untargeted_skills == ("cooking",)
    # 2 of 5 at target = 40 %; total gap 6; total priority 3 + 2.4 + 2 = 7.4
    assert (gap.skills_with_target, gap.skills_at_target, gap.at_target_pct) == (5, 2, 40.0)
    assert (gap.total_gap, gap.total_priority) == (6, 7.4)


def test_skill_gap_needs_a_target() -> None:
    learner = history(skill_profiles=[profile("cooking", 1, None)])
    with pytest.raises(InsufficientDataError, match="at least one skill with a target"):
        compute_skill_gap(learner, now=NOW, tz=UTC_ZONE, window=WINDOW)


def test_skill_gap_uses_the_latest_profile_up_to_the_window_end() -> None:
    # Feb 1: level 1; Feb 20: level 3; after the window (Mar 1 is its last day): level 4
    learner = history(
        skill_profiles=[
            profile("sql", 1, 4, at=utc("2026-02-01")),
            profile("sql", 3, 4, at=utc("2026-02-20")),
            profile("sql", 4, 4, at=NOW + timedelta(days=1)),
        ]
    )
    gap = compute_skill_gap(learner, now=NOW, tz=UTC_ZONE, window=WINDOW)
    assert (gap.skills[0].current_level, gap.skills[0].gap) == (3, 1)
    earlier = compute_skill_gap(
        learner, now=NOW, tz=UTC_ZONE, window=Window(date(2026, 2, 1), date(2026, 2, 10))
    )
    assert earlier.skills[0].gap == 3


# --------------------------------------------------------------------------------------------
# Engagement

FORTNIGHT = Window(date(2026, 2, 16), date(2026, 3, 1))  # 14 covered days = 2 weeks
MIXED_UNITS = (
    CourseUnit("v1", "c1", 1, "content", "V", content_type="video"),
    CourseUnit("t1", "c1", 2, "content", "T", content_type="text"),
    CourseUnit("q1", "c1", 3, "content", "Q", content_type="quiz"),
    CourseUnit("x1", "c1", 4, "content", "X", content_type="exercise"),
)


def engaged_history(**extra: Any) -> LearnerHistory:
    # events on 5 days (Feb 16, 17, 18, 20, 23), 3 h in all, on video and text units;
    # 1 practice session (on an active day, 0 s), 4 attempts (on active days), no assistant.
    events = [
        event("v1", utc("2026-02-16"), "progress", 3600),
        event("v1", utc("2026-02-17"), "completed", 1800),
        event("t1", utc("2026-02-18"), "progress", 1800),
        event("t1", utc("2026-02-20"), "progress", 1800),
        event("t1", utc("2026-02-23"), "completed", 1800),
    ]
    attempts = [
        attempt(i, utc(d), 80.0) for i, d in enumerate(["2026-02-17"] * 2 + ["2026-02-20"] * 2)
    ]
    base: dict[str, Any] = {
        "enrollments": [enrollment()],
        "course_units": MIXED_UNITS,
        "learning_events": events,
        "assessment_attempts": attempts,
        "practice_sessions": [PracticeSession("p1", "u1", utc("2026-02-18", 18))],
    }
    base.update(extra)
    return history(**base)


def test_engagement_worked_example() -> None:
    engagement = compute_engagement(engaged_history(), now=NOW, tz=UTC_ZONE, window=FORTNIGHT)
    parts = {c.name: (c.value, c.score, c.points) for c in engagement.components}
    # active days 5 / 14 = 0.357 of reference 5/7 -> 0.5 * 30 = 15.0
    assert parts["active_days"] == (0.357, 0.5, 15.0)
    # 10 800 s = 3 h / 2 weeks = 1.5 h/week of 3 -> 0.5 * 25 = 12.5
    assert parts["time_spent"] == (1.5, 0.5, 12.5)
    # video + text of 4 types = 0.5 -> 0.5 * 15 = 7.5
    assert parts["content_diversity"] == (0.5, 0.5, 7.5)
    # 1 session / 2 weeks = 0.5/week of 1 -> 0.5 * 10 = 5.0
    assert parts["practice"] == (0.5, 0.5, 5.0)
    # 4 attempts / 2 weeks = 2/week, capped at the reference 1 -> 10.0
    assert parts["assessments"] == (2.0, 1.0, 10.0)
    assert parts["assistant"] == (0.0, 0.0, 0.0)
    # 15 + 12.5 + 7.5 + 5 + 10 + 0 = 50.0 -> medium (40 <= score < 70)
    assert (engagement.score, engagement.level, engagement.days) == (50.0, "medium", 14)
    assert sum(c.weight for c in engagement.components) == pytest.approx(1.0)
    # enrolled Jan 20, nothing in Feb 2 .. Feb 15: previous 0.0 -> +50 points, rising
    assert (engagement.previous_score, engagement.trend) == (0.0, "rising")


def test_engagement_high_and_stable() -> None:
    # + 2 assistant questions / 2 weeks = 1/week -> 10 more points: 60.0, still medium;
    # + 5 practice sessions of 1 h on 5 new days: sessions 6 / 2 = 3/week -> 10 (+5);
    #   time 3 h + 5 h = 8 h / 2 = 4 h/week -> 25 (+12.5); active days 10 / 14 -> 30 (+15)
    #   = 60 + 5 + 12.5 + 15 = 92.5 -> high
    # previous fortnight: the same activity 14 days earlier, from Feb 2 -> 92.5: stable
    def shifted(learner: LearnerHistory, days: int) -> LearnerHistory:
        delta = timedelta(days=days)
        return replace(
            learner,
            learning_events=tuple(
                replace(e, id=f"{e.id}-{days}", occurred_at=e.occurred_at - delta)
                for e in learner.learning_events
            ),
            assessment_attempts=tuple(
                replace(a, id=f"{a.id}-{days}", submitted_at=a.submitted_at - delta)
                for a in learner.assessment_attempts
            ),
            practice_sessions=tuple(
                replace(p, id=f"{p.id}-{days}", started_at=p.started_at - delta)
                for p in learner.practice_sessions
            ),
            assistant_interactions=tuple(
                replace(q, id=f"{q.id}-{days}", asked_at=q.asked_at - delta)
                for q in learner.assistant_interactions
            ),
        )

    sessions = [
        PracticeSession(f"p{d}", "u1", utc(f"2026-02-{d}"), seconds=3600)
        for d in (19, 21, 22, 24, 25)
    ]
    learner = engaged_history(
        practice_sessions=[PracticeSession("p1", "u1", utc("2026-02-18", 18)), *sessions],
        assistant_interactions=[
            AssistantInteraction("a1", "u1", utc("2026-02-16")),
            AssistantInteraction("a2", "u1", utc("2026-02-17")),
        ],
    )
    engagement = compute_engagement(learner, now=NOW, tz=UTC_ZONE, window=FORTNIGHT)
    assert (engagement.score, engagement.level) == (92.5, "high")
    earlier = shifted(learner, 14)
    both = replace(
        learner,
        learning_events=learner.learning_events + earlier.learning_events,
        assessment_attempts=learner.assessment_attempts + earlier.assessment_attempts,
        practice_sessions=learner.practice_sessions + earlier.practice_sessions,
        assistant_interactions=learner.assistant_interactions + earlier.assistant_interactions,
    )
    again = compute_engagement(both, now=NOW, tz=UTC_ZONE, window=FORTNIGHT)
    assert (again.score, again.previous_score, again.trend) == (92.5, 92.5, "stable")


def test_engagement_low_and_no_previous_window_for_a_new_learner() -> None:
    # one event on Feb 16, 30 min: active 1/14 = 0.0714 / 0.714 = 0.1 -> 3.0;
    # time 0.5 h / 2 weeks = 0.25 h/week / 3 -> 0.0833 * 25 = 2.08; diversity 1 of 1 type
    # (no other units known) -> 15.0; total 3.0 + 2.083 + 15.0 = 20.1 -> low.
    # Enrolled Feb 16: nothing existed before the window -> no previous score, no trend.
    learner = history(
        enrollments=[enrollment(enrolled_at=utc("2026-02-16", 8))],
        course_units=[MIXED_UNITS[0]],
        learning_events=[event("v1", utc("2026-02-16"), "progress", 1800)],
    )
    engagement = compute_engagement(learner, now=NOW, tz=UTC_ZONE, window=FORTNIGHT)
    assert (engagement.score, engagement.level) == (20.1, "low")
    assert (engagement.previous_score, engagement.trend) == (None, None)


def test_engagement_active_days_follow_the_users_timezone() -> None:
    # Feb 20 23:30 UTC and Feb 21 00:30 UTC are two UTC days but one Tokyo day (Feb 21,
    # 08:30 and 09:30); with the Feb 16 event: 3 days in UTC, 2 in Tokyo.
    learner = history(
        enrollments=[enrollment()],
        course_units=[MIXED_UNITS[0]],
        learning_events=[
            event("v1", utc("2026-02-16"), "progress"),
            event("v1", utc("2026-02-20", 23, 30), "progress"),
            event("v1", utc("2026-02-21", 0, 30), "progress"),
        ],
    )
    window = Window(date(2026, 2, 16), date(2026, 2, 28))  # 13 days in both zones
    in_utc = compute_engagement(learner, now=NOW, tz=UTC_ZONE, window=window)
    in_tokyo = compute_engagement(learner, now=NOW, tz=TOKYO, window=window)
    # 3 / 13 = 0.231 and 2 / 13 = 0.154
    assert in_utc.components[0].value == 0.231
    assert in_tokyo.components[0].value == 0.154


# --------------------------------------------------------------------------------------------
# Mastery


def test_mastery_worked_example() -> None:
    # python 80, 60, 75 -> right, wrong, right: 0.6, 0.284211, 0.694987 (see test_bkt)
    # sql 90, 95, 100 -> right x 3: 0.6, 0.890323, 0.977351 >= 0.95 -> mastered
    # an attempt after the window's end does not count
    attempts = [
        attempt(1, utc("2026-02-03"), 85.0, skills=[("python", 80.0), ("sql", 90.0)]),
        attempt(2, utc("2026-02-10"), 77.5, skills=[("python", 60.0), ("sql", 95.0)]),
        attempt(3, utc("2026-02-20", 23), 87.5, skills=[("python", 75.0), ("sql", 100.0)]),
        attempt(4, utc("2026-03-05"), 0.0, skills=[("python", 0.0)]),
    ]
    mastery = compute_mastery(
        history(assessment_attempts=attempts),
        now=NOW + timedelta(days=10),
        tz=UTC_ZONE,
        window=WINDOW,
    )
    sql, python = mastery.skills
    assert (sql.skill_id, sql.p_mastery, sql.mastered) == ("sql", 0.9774, True)
    assert (python.skill_id, python.p_mastery, python.mastered) == ("python", 0.695, False)
    assert (python.evidence_count, python.correct_count) == (3, 2)
    assert python.last_evidence_at == utc("2026-02-20", 23)
    assert python.fitted_params is False
    assert (mastery.mastered_count, mastery.threshold) == (1, 0.95)


def test_mastery_last_evidence_date_is_local() -> None:
    # Feb 20 23:00 UTC is Feb 21 08:00 in Tokyo
    learner = history(
        assessment_attempts=[attempt(1, utc("2026-02-20", 23), 80.0, skills=[("sql", 80.0)])]
    )
    in_tokyo = compute_mastery(learner, now=NOW, tz=TOKYO, window=WINDOW)
    assert in_tokyo.skills[0].last_evidence_date == date(2026, 2, 21)
    in_utc = compute_mastery(learner, now=NOW, tz=UTC_ZONE, window=WINDOW)
    assert in_utc.skills[0].last_evidence_date == date(2026, 2, 20)


def test_mastery_uses_fitted_parameters_when_given() -> None:
    # L0 0.5, T 0.1, S 0.1, G 0.2; one right answer: 0.45 / (0.45 + 0.1) = 0.818182;
    # + 0.181818 * 0.1 = 0.836364
    learner = history(
        assessment_attempts=[attempt(1, utc("2026-02-20"), 80.0, skills=[("sql", 80.0)])]
    )
    fitted = {"sql": BktParams(p_init=0.5, p_transit=0.1, p_slip=0.1, p_guess=0.2)}
    mastery = compute_mastery(learner, now=NOW, tz=UTC_ZONE, window=WINDOW, params=fitted)
    assert (mastery.skills[0].p_mastery, mastery.skills[0].fitted_params) == (0.8364, True)


def test_mastery_needs_a_scored_attempt() -> None:
    learner = history(
        learning_events=[event("c1-u01", utc("2026-02-03"))],
        assessment_attempts=[attempt(1, utc("2026-02-03"), 80.0)],  # no skill scores
    )
    with pytest.raises(InsufficientDataError, match="at least one assessment attempt"):
        compute_mastery(learner, now=NOW, tz=UTC_ZONE, window=WINDOW)


def test_mastery_of_a_learner_with_only_failures() -> None:
    # three wrong answers from the defaults: 0.175758 (see test_bkt), then
    # 0.0175758 / (0.0175758 + 0.824242 * 0.8) = 0.026028 -> + 0.973972 * 0.15 = 0.172124,
    # then 0.0172124 / (0.0172124 + 0.827876 * 0.8) = 0.025337 -> + 0.974663 * 0.15 = 0.171537
    attempts = [attempt(i, utc(f"2026-02-1{i}"), 30.0, skills=[("sql", 30.0)]) for i in range(1, 4)]
    mastery = compute_mastery(
        history(assessment_attempts=attempts), now=NOW, tz=UTC_ZONE, window=WINDOW
    )
    assert (mastery.skills[0].p_mastery, mastery.mastered_count) == (0.1715, 0)


# --------------------------------------------------------------------------------------------
# Performance


@pytest.mark.parametrize(
    ("values", "slope"),
    [
        # x 0..3 (mean 1.5), y 40 50 45 55 (mean 47.5): Σ dx*dy = (-1.5)(-7.5) + (-0.5)(2.5)
        # + (0.5)(-2.5) + (1.5)(7.5) = 20; Σ dx² = 5 -> 4.0
        ([40.0, 50.0, 45.0, 55.0], 4.0),
        # falling by 10 each time
        ([90.0, 80.0, 70.0], -10.0),
        ([60.0, 60.0], 0.0),
        ([70.0], None),
        ([], None),
    ],
)
def test_least_squares_slope(values: list[float], slope: float | None) -> None:
    assert least_squares_slope(values) == slope


def test_performance_worked_example() -> None:
    # baseline 30 (python 20, sql 40) is left out of average, pass rate, trend and skills.
    # graded: quiz 80 (python 80), quiz 60 (sql 60), post-course 90 (python 100, sql 80)
    attempts = [
        attempt(
            1,
            utc("2026-02-03"),
            30.0,
            exam_type="baseline",
            skills=[("python", 20.0), ("sql", 40.0)],
        ),
        attempt(2, utc("2026-02-10"), 80.0, skills=[("python", 80.0)]),
        attempt(3, utc("2026-02-17"), 60.0, skills=[("sql", 60.0)]),
        attempt(
            4,
            utc("2026-02-24"),
            90.0,
            exam_type="post_course",
            skills=[("python", 100.0), ("sql", 80.0)],
        ),
        attempt(5, utc("2026-01-20"), 10.0),  # before the window
    ]
    performance = compute_performance(
        history(assessment_attempts=attempts), now=NOW, tz=UTC_ZONE, window=WINDOW
    )
    # (80 + 60 + 90) / 3 = 76.67 -> 76.7; passed 2 of 3 = 66.7 %
    assert (performance.attempts, performance.average_score) == (3, 76.7)
    assert (performance.passed, performance.pass_rate) == (2, 66.7)
    # x -1, 0, 1 around the mean; y - 76.67 = 3.33, -16.67, 13.33: (-3.33 + 13.33) / 2 = 5.0
    assert (performance.trend_slope, performance.trend) == (5.0, "improving")
    # python (80 + 100) / 2 = 90; sql (60 + 80) / 2 = 70
    assert [(s.skill_id, s.average_score, s.attempts) for s in performance.skills] == [
        ("python", 90.0, 2),
        ("sql", 70.0, 2),
    ]
    assert [s.skill_id for s in performance.best_skills] == ["python", "sql"]
    assert [s.skill_id for s in performance.weakest_skills] == ["sql", "python"]
    # course c1: 3 graded, average 76.7, pass 66.7 %, learning gain post 90 - baseline 30 = 60
    (course,) = performance.by_course
    assert (course.attempts, course.average_score, course.pass_rate, course.learning_gain) == (
        3,
        76.7,
        66.7,
        60.0,
    )
    # recent: newest first, the baseline included, the January attempt not
    assert [a.attempt_id for a in performance.recent_attempts] == [
        "aa-004",
        "aa-003",
        "aa-002",
        "aa-001",
    ]


def test_performance_of_a_learner_with_only_failures() -> None:
    # 40, 50, 45, 55, all failed: average 190 / 4 = 47.5; pass rate 0; slope 4.0 (above)
    attempts = [
        attempt(i, utc(d), s)
        for i, (d, s) in enumerate(
            [("2026-02-03", 40.0), ("2026-02-05", 50.0), ("2026-02-07", 45.0), ("2026-02-09", 55.0)]
        )
    ]
    performance = compute_performance(
        history(assessment_attempts=attempts), now=NOW, tz=UTC_ZONE, window=WINDOW
    )
    assert (performance.average_score, performance.pass_rate, performance.passed) == (
        47.5,
        0.0,
        0,
    )
    assert (performance.trend_slope, performance.trend) == (4.0, "improving")
    assert performance.by_course[0].learning_gain is None


def test_performance_recent_attempts_are_the_last_ten() -> None:
    attempts = [attempt(i, utc("2026-02-03") + timedelta(hours=i), 70.0) for i in range(12)]
    performance = compute_performance(
        history(assessment_attempts=attempts), now=NOW, tz=UTC_ZONE, window=WINDOW
    )
    assert len(performance.recent_attempts) == 10
    assert performance.recent_attempts[0].attempt_id == "aa-011"
    # a single flat score: slope 0 -> stable
    assert performance.trend == "stable"


def test_performance_with_only_baseline_exams_is_insufficient() -> None:
    attempts = [attempt(1, utc("2026-02-03"), 30.0, exam_type="baseline")]
    with pytest.raises(InsufficientDataError, match="graded assessment attempt"):
        compute_performance(
            history(assessment_attempts=attempts), now=NOW, tz=UTC_ZONE, window=WINDOW
        )


# --------------------------------------------------------------------------------------------
# Content effectiveness

CONTENT_UNITS = (
    CourseUnit("v1", "c1", 1, "content", "V1", content_type="video", skills=("python",)),
    CourseUnit("v2", "c1", 2, "content", "V2", content_type="video", skills=("python",)),
    CourseUnit("t1", "c1", 3, "content", "T1", content_type="text", skills=("sql",)),
    CourseUnit("x1", "c1", 4, "content", "X1", content_type="exercise", skills=("python",)),
    CourseUnit("q1", "c1", 5, "content", "Q1", content_type="quiz", skills=("sql",)),
)


def test_content_effectiveness_worked_example() -> None:
    attempts = [
        attempt(1, utc("2026-02-10"), 45.0, skills=[("python", 50.0), ("sql", 40.0)]),
        attempt(2, utc("2026-02-20"), 57.5, skills=[("python", 70.0), ("sql", 45.0)]),
        attempt(3, utc("2026-02-26"), 75.0, skills=[("python", 75.0)]),
    ]
    events = [
        event("v1", utc("2026-02-12"), "started"),
        event("v1", utc("2026-02-14"), "completed", 1800),
        event("t1", utc("2026-02-15"), "progress", 600),
        event("t1", utc("2026-02-16"), "completed", 600),
        event("x1", utc("2026-02-22"), "started"),
        event("x1", utc("2026-02-24"), "completed", 3600),
        event("v2", utc("2026-02-25"), "progress", 900),
        # quiz done after the last sql score: no "after" score -> no gain sample
        event("q1", utc("2026-02-27"), "completed", 300),
    ]
    effect = compute_content_effectiveness(
        history(course_units=CONTENT_UNITS, learning_events=events, assessment_attempts=attempts),
        now=NOW,
        tz=UTC_ZONE,
        window=WINDOW,
    )
    rows = {e.content_type: e for e in effect.content_types}
    # video: v1 and v2 started, v1 completed -> 50 %; 1800 + 900 s = 0.75 h;
    #   v1 done Feb 14: python 50 (Feb 10) -> 70 (Feb 20) = +20
    video = rows["video"]
    assert (video.units_started, video.units_completed, video.completion_rate) == (2, 1, 50.0)
    assert (video.seconds_spent, video.hours_spent) == (2700, 0.75)
    assert (video.learning_gain, video.gain_samples) == (20.0, 1)
    # text: t1 done Feb 16: sql 40 (Feb 10) -> 45 (Feb 20) = +5; 1200 s = 0.33 h; 100 %
    assert (rows["text"].learning_gain, rows["text"].hours_spent) == (5.0, 0.33)
    assert rows["text"].completion_rate == 100.0
    # exercise: x1 done Feb 24: python 70 (Feb 20) -> 75 (Feb 26) = +5; 1 h
    assert (rows["exercise"].learning_gain, rows["exercise"].hours_spent) == (5.0, 1.0)
    # quiz: no sql score after Feb 27 -> no gain
    assert (rows["quiz"].learning_gain, rows["quiz"].gain_samples) == (None, 0)
    # ranking: gain 20 > 5 = 5 (tie, both 100 % complete, then by name) > no gain
    assert effect.ranking == ("video", "exercise", "text", "quiz")


def test_content_effectiveness_counts_scores_after_the_window_up_to_now() -> None:
    # t1 done Feb 16 (sql 40 before it); the next sql score (60) comes Mar 3, after the window
    # but before now -> +20; a score after now (Mar 20) is not seen.
    attempts = [
        attempt(1, utc("2026-02-10"), 40.0, skills=[("sql", 40.0)]),
        attempt(2, utc("2026-03-03"), 60.0, skills=[("sql", 60.0)]),
    ]
    learner = history(
        course_units=CONTENT_UNITS,
        learning_events=[event("t1", utc("2026-02-16"), "completed", 600)],
        assessment_attempts=attempts,
    )
    later_now = utc("2026-03-05")
    effect = compute_content_effectiveness(learner, now=later_now, tz=UTC_ZONE, window=WINDOW)
    assert effect.content_types[0].learning_gain == 20.0
    effect = compute_content_effectiveness(learner, now=NOW, tz=UTC_ZONE, window=WINDOW)
    assert effect.content_types[0].learning_gain is None


def test_content_effectiveness_needs_events_on_typed_units() -> None:
    learner = history(
        learning_events=[event("unknown-unit", utc("2026-02-03"))],
    )
    with pytest.raises(InsufficientDataError, match="content units"):
        compute_content_effectiveness(learner, now=NOW, tz=UTC_ZONE, window=WINDOW)
