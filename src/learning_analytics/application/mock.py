"""Generated learner histories for the mock fallback (SPEC §6: `MOCK_FALLBACK` on and nothing in
the store for the subject).

A mock answer is the real metric over a plausible generated history, so it has exactly the
shape (and the minimum-data rules) of a real one. The history is deterministic: every random
choice is seeded by the learner's id and the local day it is about, so the same learner gets the
same numbers on every replica and overlapping windows agree on their common days.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta, tzinfo

from learning_analytics.domain.metrics.learner import LearnerHistory, Window
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

MOCK_SKILLS = ("python", "sql", "statistics", "visualisation")
CONTENT_TYPES = ("video", "text", "exercise", "quiz")
UNITS_PER_COURSE = 24
ASSESSMENT_EVERY_DAYS = 7


def _rng(user_id: str, tag: str) -> random.Random:
    # Not for security: reproducible generated numbers (flagged "mock").
    return random.Random(f"{user_id}|{tag}")  # noqa: S311


def _courses() -> tuple[tuple[Course, ...], tuple[CourseUnit, ...]]:
    courses = (
        Course("mock-course-1", "mock-org", "Data analysis with Python", default_due_days=90),
        Course("mock-course-2", "mock-org", "SQL for analysts", default_due_days=120),
    )
    units = tuple(
        CourseUnit(
            id=f"{course.id}-u{i:02d}",
            course_id=course.id,
            position=i,
            kind="content",
            title=f"Unit {i}",
            content_type=CONTENT_TYPES[(i + c) % len(CONTENT_TYPES)],
            skills=(MOCK_SKILLS[(i + 2 * c) % len(MOCK_SKILLS)],),
        )
        for c, course in enumerate(courses)
        for i in range(UNITS_PER_COURSE)
    )
    return courses, units


def mock_history(user_id: str, *, now: datetime, tz: tzinfo, window: Window) -> LearnerHistory:
    """A learner enrolled in two courses two weeks before the window, active on most days of it
    (studying one or two units a day), with a weekly assessment, practice and assistant use."""
    courses, units = _courses()
    profile_rng = _rng(user_id, "profile")
    diligence = profile_rng.uniform(0.45, 0.85)  # chance of studying on a given day
    enrolled_at = datetime.combine(window.start - timedelta(days=14), time(9), tz)
    enrollments = tuple(
        Enrollment(f"mock-enrollment-{i}", user_id, course.id, enrolled_at)
        for i, course in enumerate(courses, start=1)
    )
    last_day = min(window.end, now.astimezone(tz).date())
    events: list[LearningEvent] = []
    attempts: list[AssessmentAttempt] = []
    sessions: list[PracticeSession] = []
    questions: list[AssistantInteraction] = []
    next_unit = 0
    day = window.start
    while day <= last_day:
        rng = _rng(user_id, day.isoformat())
        moment = _at(day, hour=rng.randint(8, 20), tz=tz, now=now)
        if moment is not None and rng.random() < diligence:
            for _ in range(rng.randint(1, 2)):
                unit = units[next_unit % len(units)]
                next_unit += 1
                events.append(
                    LearningEvent(
                        f"mock-ev-{day.isoformat()}-{unit.id}",
                        user_id,
                        unit.course_id,
                        unit.id,
                        "completed",
                        moment,
                        rng.randint(600, 2400),
                    )
                )
            if rng.random() < 0.2:
                sessions.append(
                    PracticeSession(
                        f"mock-practice-{day.isoformat()}",
                        user_id,
                        moment,
                        skill_id=rng.choice(MOCK_SKILLS),
                        completed=True,
                        seconds=rng.randint(900, 2700),
                    )
                )
            if rng.random() < 0.15:
                questions.append(
                    AssistantInteraction(f"mock-question-{day.isoformat()}", user_id, moment)
                )
        index = (day - window.start).days
        if moment is not None and index % ASSESSMENT_EVERY_DAYS == ASSESSMENT_EVERY_DAYS - 1:
            attempts.append(_attempt(user_id, rng, at=moment, number=index // 7, courses=courses))
        day += timedelta(days=1)

    profiles = tuple(
        SkillProfile(
            user_id,
            skill,
            current_level=profile_rng.randint(1, 3),
            updated_at=enrolled_at,
            target_level=profile_rng.randint(3, 5),
        )
        for skill in MOCK_SKILLS
    )
    return LearnerHistory(
        user_id=user_id,
        enrollments=enrollments,
        courses=courses,
        course_units=units,
        learning_events=tuple(events),
        assessment_attempts=tuple(attempts),
        skill_profiles=profiles,
        strategic_targets=(StrategicSkillTarget("mock-org", "python", 0.5, 4),),
        practice_sessions=tuple(sessions),
        assistant_interactions=tuple(questions),
    )


def _at(day: date, *, hour: int, tz: tzinfo, now: datetime) -> datetime | None:
    moment = datetime.combine(day, time(hour), tz)
    return moment if moment <= now else None


def _attempt(
    user_id: str,
    rng: random.Random,
    *,
    at: datetime,
    number: int,
    courses: tuple[Course, ...],
) -> AssessmentAttempt:
    # Scores improve by about 4 points a week from a start between 50 and 70 %.
    base = 50 + 20 * _rng(user_id, "ability").random() + 4 * number
    scores = tuple(
        SkillScore(skill, round(min(100.0, max(0.0, base + rng.uniform(-12, 12))), 1))
        for skill in MOCK_SKILLS
    )
    total = round(sum(s.score_pct for s in scores) / len(scores), 1)
    return AssessmentAttempt(
        id=f"mock-attempt-{number}",
        user_id=user_id,
        course_id=courses[number % len(courses)].id,
        assessment_id=f"mock-assessment-{number}",
        score_pct=total,
        passed=total >= 70,
        submitted_at=at,
        exam_type="baseline" if number == 0 else "practice",
        skill_scores=scores,
    )
