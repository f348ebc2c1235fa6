"""Platform-wide aggregates for Management Reporting, read with SQL on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from learning_analytics.domain.records import (
    AssessmentAttempt,
    Course,
    CourseUnit,
    Enrollment,
    Feedback,
    LearningEvent,
    Organization,
    PracticeSession,
    SkillProfile,
    User,
)
from learning_analytics.infrastructure.db.platform import SqlPlatformRepository
from learning_analytics.infrastructure.db.repositories import SqlRecordWriter

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 3, 29, 12, tzinfo=UTC)  # the window is the 30 days before
STAMP = {"source": "test", "ingested_at": NOW}


def day(days_ago: int, hour: int = 10) -> datetime:
    return (NOW - timedelta(days=days_ago)).replace(hour=hour)


async def seed(writer: SqlRecordWriter) -> None:
    await writer.upsert_organizations([Organization("o1", "O1"), Organization("o2", "O2")], **STAMP)
    await writer.upsert_users(
        [
            User("a", "o1", None, None, "learner"),
            User("b", "o1", None, None, "learner"),
            User("c", "o2", None, None, "learner"),
            User("t", "o1", None, None, "trainer"),
        ],
        **STAMP,
    )
    await writer.upsert_courses([Course("c1", "o1", "C1"), Course("c2", "o2", "C2")], **STAMP)
    await writer.upsert_course_units(
        [
            CourseUnit("t1", "c1", 1, "topic", "T1"),
            CourseUnit("v1", "c1", 2, "lesson", "V", content_type="video"),
            CourseUnit("x1", "c1", 3, "lesson", "X", content_type="exercise"),
            CourseUnit("q1", "c2", 1, "lesson", "Q", content_type="quiz"),
        ],
        **STAMP,
    )
    await writer.upsert_enrollments(
        [
            Enrollment("e1", "a", "c1", day(60), completed_at=day(5)),
            Enrollment("e2", "b", "c1", day(60), withdrawn_at=day(40)),
            Enrollment("e3", "c", "c2", day(60)),
            Enrollment("e4", "a", "c2", day(60), completed_at=day(3), withdrawn_at=day(2)),
        ],
        **STAMP,
    )
    # a: active on 13 distinct days in the window (high); b: 2 days (low), one of them twice;
    # c: only 45 days ago (outside the window, not active).
    events = [
        LearningEvent(f"a{k}", "a", "c1", "v1" if k % 2 else "x1", "completed", day(k + 1))
        for k in range(13)
    ]
    events += [
        LearningEvent("b1", "b", "c1", "v1", "completed", day(3)),
        LearningEvent("b2", "b", "c1", "v1", "started", day(3, 15)),
        LearningEvent("c1", "c", "c2", "q1", "completed", day(45)),
    ]
    await writer.upsert_learning_events(events, **STAMP)
    await writer.upsert_practice_sessions(
        [
            PracticeSession("p1", "b", day(7), competition_id="k1", completed=True, won=True),
            PracticeSession("p2", "a", day(7), competition_id="k1", completed=True),
            PracticeSession("p3", "a", day(8), competition_id="k2"),
        ],
        **STAMP,
    )
    await writer.upsert_assessment_attempts(
        [
            AssessmentAttempt("s1", "a", "c1", "x", 50.0, False, day(9)),
            AssessmentAttempt("s2", "a", "c1", "x", 90.0, True, day(8)),
            AssessmentAttempt("s3", "b", "c1", "x", 70.0, True, day(50)),
            AssessmentAttempt("s4", "c", "c2", "y", 80.0, True, day(50)),
        ],
        **STAMP,
    )
    await writer.upsert_skill_profiles(
        [
            SkillProfile("a", "sql", 3, NOW, target_level=3),
            SkillProfile("b", "sql", 1, NOW, target_level=4),
            SkillProfile("c", "sql", 0, NOW, target_level=2),
            SkillProfile("a", "py", 5, NOW, target_level=4),
            SkillProfile("b", "py", 2, NOW, target_level=3),
            SkillProfile("c", "go", 4, NOW),
        ],
        **STAMP,
    )
    await writer.upsert_feedback(
        [
            Feedback("f1", "a", "c1", 5, day(4)),
            Feedback("f2", "b", "c1", 4, day(4)),
            Feedback("f3", "c", "c2", 4, day(4)),
        ],
        **STAMP,
    )


async def test_statistics_known_answer(session_factory: Any) -> None:
    await seed(SqlRecordWriter(session_factory))
    stats = await SqlPlatformRepository(session_factory).statistics(
        since=NOW - timedelta(days=30), until=NOW
    )
    assert (stats.total_learners, stats.active_learners, stats.total_organizations) == (3, 2, 2)
    # e1 completed; e2 withdrawn; e3 open; e4 completed then withdrawn counts as completed.
    assert (
        stats.total_enrollments,
        stats.completed_enrollments,
        stats.withdrawn_enrollments,
        stats.active_enrollments,
    ) == (4, 2, 1, 1)
    assert (stats.total_courses, stats.total_lessons, stats.total_topics) == (2, 3, 1)
    # 4 attempts, 2 assessments, 3 (learner, assessment) pairs, 3 passed, mean 72.5.
    assert (
        stats.total_attempts,
        stats.distinct_assessments,
        stats.attempt_pairs,
        stats.passed_attempts,
        stats.average_score,
    ) == (4, 2, 3, 3, 72.5)
    # at target: a/sql (3 ≥ 3), a/py (5 ≥ 4); below: sql twice (b, c), py once (b); go has none.
    assert stats.skills_at_target == 2
    assert list(stats.most_demanded) == [("sql", 2), ("py", 1)]
    assert dict(stats.levels) == {0: 1, 1: 1, 2: 1, 3: 1, 4: 1, 5: 1}
    assert (stats.feedback_count, stats.average_rating) == (3, 4.33)
    assert dict(stats.ratings) == {4: 2, 5: 1}
    assert stats.competitions == 2
    # completed events in the window: a's 13 (k = 0..12: 6 odd on v1, 7 even on x1) and b's one
    # on v1 → video 6 + 1, exercise 7; c's quiz is outside the window.
    assert dict(stats.content_usage) == {"video": 7, "exercise": 7}
    # a: 13 event days + practice/attempts on days already counted → high; b: days 3 and 7 → low
    assert dict(stats.engagement_levels) == {"high": 1, "medium": 0, "low": 1}


async def test_statistics_of_an_empty_store(session_factory: Any) -> None:
    stats = await SqlPlatformRepository(session_factory).statistics(
        since=NOW - timedelta(days=30), until=NOW
    )
    assert stats.total_learners == 0
    assert stats.average_score is None
    assert stats.average_rating is None
    assert dict(stats.engagement_levels) == {"high": 0, "medium": 0, "low": 0}
