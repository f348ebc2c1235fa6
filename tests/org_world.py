"""A small organisation for the trainer and organisation analytics tests, every figure computed
by hand in tests/integration/store/test_org_analytics.py (k = 5; window 2026-06-01..06-28 UTC,
now 2026-06-30 12:00 UTC, so `as_of` = 2026-06-29 00:00 UTC).

org-s (UTC), strategic targets python (weight 1.0, level 4) and sql (weight 0.5, level 3):
- dep-1 'Sales, "East"' (manager mg-1): learners s-01..s-05 (shown);
- dep-2 "Ops" (manager mg-2): learners s-06..s-10 (shown);
- dep-3 "R&D" (manager mg-3): learners s-11, s-12 (2 < k: suppressed everywhere);
- trainers tr-s1 (c-1 'Python, "Basics"' with 6 learners, c-2 "Tiny" with 3: suppressed) and
  tr-s2 (c-3 "Ops 101", 5 learners); org admin oa-s.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from learning_analytics.domain.records import (
    AssessmentAttempt,
    AssistantInteraction,
    Course,
    CourseUnit,
    Department,
    Enrollment,
    Feedback,
    LearningEvent,
    Organization,
    PracticeSession,
    SkillProfile,
    StrategicSkillTarget,
    User,
)
from learning_analytics.infrastructure.db.engine import create_engine, create_session_factory
from learning_analytics.infrastructure.db.repositories import SqlRecordWriter

NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)
ORG = "org-s"


def at(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


DEPARTMENT_OF = {
    **{f"s-{i:02d}": "dep-1" for i in range(1, 6)},
    **{f"s-{i:02d}": "dep-2" for i in range(6, 11)},
    "s-11": "dep-3",
    "s-12": "dep-3",
}
STAFF = [
    User("tr-s1", ORG, "trs1@orgs.example", "Tina Trainer", "trainer"),
    User("tr-s2", ORG, "trs2@orgs.example", "Theo Trainer", "trainer"),
    User("mg-1", ORG, "mg1@orgs.example", "Mona Manager", "manager", "dep-1"),
    User("mg-2", ORG, "mg2@orgs.example", "Mark Manager", "manager", "dep-2"),
    User("mg-3", ORG, "mg3@orgs.example", "Mira Manager", "manager", "dep-3"),
    User("oa-s", ORG, "oas@orgs.example", "Otto Admin", "org_admin"),
    User("ad-s", ORG, "ads@platform.example", "Ada Admin", "admin"),
]

COURSES = [
    Course("c-1", ORG, 'Python, "Basics"', "tr-s1"),
    Course("c-2", ORG, "Tiny", "tr-s1"),
    Course("c-3", ORG, "Ops 101", "tr-s2"),
]
UNITS = [
    CourseUnit("c-1-u1", "c-1", 1, "content", "Intro, part 1", "video", skills=("python",)),
    CourseUnit("c-1-u2", "c-1", 2, "content", "Loops", "text", skills=("python",)),
    CourseUnit("c-1-u3", "c-1", 3, "content", "Queries", "exercise", skills=("sql",)),
    CourseUnit("c-1-u4", "c-1", 4, "content", "Joins", "quiz", skills=("sql",)),
    CourseUnit("c-2-u1", "c-2", 1, "content", "Only unit", "text"),
    CourseUnit("c-3-u1", "c-3", 1, "content", "Shifts", "video", skills=("sql",)),
    CourseUnit("c-3-u2", "c-3", 2, "content", "Reports", "text", skills=("sql", "python")),
    CourseUnit("c-3-u3", "c-3", 3, "content", "Wrap-up", "text"),
]


def _enrollments() -> list[Enrollment]:
    may1, jun1 = at(5, 1, 0), at(6, 1, 0)
    rows = [
        Enrollment("e-01", "s-01", "c-1", may1, completed_at=at(5, 11, 0), progress_pct=100),
        Enrollment("e-02", "s-02", "c-1", may1, completed_at=at(5, 21, 0), progress_pct=100),
        Enrollment("e-03", "s-03", "c-1", may1, completed_at=at(5, 31, 0), progress_pct=100),
        Enrollment("e-04", "s-04", "c-1", may1, progress_pct=50),
        Enrollment("e-05", "s-05", "c-1", may1, progress_pct=25),
        Enrollment("e-06", "s-06", "c-1", may1, progress_pct=0),
        Enrollment("e-07", "s-07", "c-1", may1, withdrawn_at=at(5, 3), progress_pct=10),
        Enrollment("e-31", "s-06", "c-3", jun1, completed_at=at(6, 15), progress_pct=100),
        Enrollment("e-32", "s-07", "c-3", jun1, progress_pct=60),
        Enrollment("e-33", "s-08", "c-3", jun1, progress_pct=40),
        Enrollment("e-34", "s-09", "c-3", jun1, progress_pct=20),
        Enrollment("e-35", "s-10", "c-3", jun1, progress_pct=10),
    ]
    rows += [Enrollment(f"e-2{i}", f"s-0{i}", "c-2", jun1) for i in (7, 8, 9)]
    return rows


def _events() -> list[LearningEvent]:
    spec: list[tuple[str, str, str, str, datetime, int]] = []
    for user, first_day in (("s-01", 5), ("s-02", 12), ("s-03", 20)):
        for n in range(4):
            spec.append((user, "c-1", f"c-1-u{n + 1}", "completed", at(5, first_day + n), 300))
    spec += [
        ("s-04", "c-1", "c-1-u1", "completed", at(6, 10), 600),
        ("s-04", "c-1", "c-1-u2", "completed", at(6, 25), 600),
        ("s-05", "c-1", "c-1-u1", "completed", at(6, 1), 1200),
        ("s-06", "c-3", "c-3-u1", "completed", at(6, 2), 3600),
        ("s-06", "c-3", "c-3-u2", "completed", at(6, 9), 3600),
        ("s-06", "c-3", "c-3-u3", "completed", at(6, 14), 3600),
        ("s-07", "c-3", "c-3-u1", "completed", at(6, 3), 1800),
        ("s-07", "c-3", "c-3-u2", "completed", at(6, 17), 1800),
        ("s-08", "c-3", "c-3-u1", "completed", at(6, 5), 1800),
        ("s-09", "c-3", "c-3-u1", "started", at(6, 4), 600),
        ("s-09", "c-3", "c-3-u1", "started", at(6, 22), 600),
        ("s-10", "c-3", "c-3-u1", "completed", at(6, 26), 1200),
        # dep-3 (suppressed): must not show in any organisation figure.
        ("s-11", "c-9", "c-9-u1", "completed", at(6, 10), 3600),
        ("s-12", "c-9", "c-9-u1", "completed", at(6, 11), 3600),
    ]
    return [
        LearningEvent(f"ev-{n:03d}", user, course, unit, verb, moment, seconds)
        for n, (user, course, unit, verb, moment, seconds) in enumerate(spec)
    ]


def _attempts() -> list[AssessmentAttempt]:
    spec: list[tuple[str, str, str, str, float, datetime]] = [
        ("s-01", "c-1", "c-1-baseline", "baseline", 50, at(5, 2)),
        ("s-02", "c-1", "c-1-baseline", "baseline", 60, at(5, 2)),
        ("s-03", "c-1", "c-1-baseline", "baseline", 30, at(5, 2)),
        ("s-04", "c-1", "c-1-baseline", "baseline", 40, at(5, 2)),
        ("s-01", "c-1", "c-1-post-course", "post_course", 90, at(6, 3)),
        ("s-02", "c-1", "c-1-post-course", "post_course", 70, at(6, 4)),
        ("s-03", "c-1", "c-1-post-course", "post_course", 60, at(6, 5)),
        ("s-04", "c-1", "c-1-q1", "quiz", 80, at(6, 10)),
        ("s-05", "c-1", "c-1-q1", "quiz", 30, at(6, 1)),
        ("s-06", "c-1", "c-1-q1", "quiz", 45, at(6, 20, 10)),
    ]
    c3 = {  # learner: (baseline, quiz, post-course)
        "s-06": (40, 30, 70),
        "s-07": (50, 35, 60),
        "s-08": (30, 45, 50),
        "s-09": (60, 80, 90),
        "s-10": (20, 20, 16),
    }
    for user, (pre, quiz, post) in c3.items():
        spec += [
            (user, "c-3", "c-3-baseline", "baseline", pre, at(6, 1)),
            (user, "c-3", "c-3-quiz", "quiz", quiz, at(6, 10)),
            (user, "c-3", "c-3-post-course", "post_course", post, at(6, 20)),
        ]
    return [
        AssessmentAttempt(
            f"aa-{n:03d}", user, course, assessment, float(score), score >= 50, moment, exam
        )
        for n, (user, course, assessment, exam, score, moment) in enumerate(spec)
    ]


def _profiles() -> list[SkillProfile]:
    when = at(6, 1)
    python = [SkillProfile(f"s-0{i}", "python", i, when, 4) for i in range(1, 6)]
    sql = [
        SkillProfile(f"s-{6 + n:02d}", "sql", level, when, 4)
        for n, level in enumerate((0, 1, 2, 3, 3))
    ]
    return [*python, *sql, SkillProfile("s-11", "python", 0, when, 5)]


async def seed_org_world(database_url: str, connect_args: dict[str, Any]) -> None:
    engine = create_engine(database_url, pool_size=2, connect_args=connect_args)
    writer = SqlRecordWriter(create_session_factory(engine))
    stamp = {"source": "test", "ingested_at": at(6, 29)}
    try:
        await writer.upsert_organizations([Organization(ORG, "Small Org", "UTC")], **stamp)
        await writer.upsert_departments(
            [
                Department("dep-1", ORG, 'Sales, "East"', "mg-1"),
                Department("dep-2", ORG, "Ops", "mg-2"),
                Department("dep-3", ORG, "R&D", "mg-3"),
            ],
            **stamp,
        )
        learners = [
            User(uid, ORG, f"{uid}@orgs.example", None, "learner", dep)
            for uid, dep in DEPARTMENT_OF.items()
        ]
        await writer.upsert_users([*learners, *STAFF], **stamp)
        await writer.upsert_courses(COURSES, **stamp)
        await writer.upsert_course_units(UNITS, **stamp)
        await writer.upsert_enrollments(_enrollments(), **stamp)
        await writer.upsert_learning_events(_events(), **stamp)
        await writer.upsert_assessment_attempts(_attempts(), **stamp)
        await writer.upsert_skill_profiles(_profiles(), **stamp)
        await writer.upsert_strategic_skill_targets(
            [
                StrategicSkillTarget(ORG, "python", 1.0, 4),
                StrategicSkillTarget(ORG, "sql", 0.5, 3),
            ],
            **stamp,
        )
        await writer.upsert_assistant_interactions(
            [
                AssistantInteraction("ai-1", "s-04", at(6, 12), course_id="c-1"),
                AssistantInteraction("ai-2", "s-06", at(6, 15), course_id="c-3"),
            ],
            **stamp,
        )
        await writer.upsert_practice_sessions(
            [PracticeSession("ps-1", "s-07", at(6, 16), "sql", seconds=900)], **stamp
        )
        await writer.upsert_feedback([Feedback("fb-1", "s-10", "c-3", 4, at(6, 27))], **stamp)
    finally:
        await engine.dispose()
