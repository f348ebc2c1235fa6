"""Cohorts and organisation skills read from the store (SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from learning_analytics.domain.records import (
    Enrollment,
    Organization,
    SkillProfile,
    StrategicSkillTarget,
    Team,
    User,
)
from learning_analytics.infrastructure.db.cohorts import SqlCohortRepository
from learning_analytics.infrastructure.db.repositories import SqlRecordWriter

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
EARLIER = NOW - timedelta(days=30)


async def seed(writer: SqlRecordWriter) -> None:
    stamp = {"source": "test", "ingested_at": NOW}
    await writer.upsert_organizations(
        [Organization("org-1", "One"), Organization("org-3", "Empty")], **stamp
    )
    await writer.upsert_teams([Team("team-1", "dep-1", "T1")], **stamp)
    await writer.upsert_users(
        [
            User("a", "org-1", None, None, "learner", "dep-1"),
            User("b", "org-1", None, None, "learner", None, "team-1"),  # via the team
            User("c", "org-1", None, None, "learner", "dep-2"),
            User("m", "org-1", None, None, "manager", "dep-1"),  # not a learner
            User("x", "org-2", None, None, "learner", "dep-x"),
        ],
        **stamp,
    )
    await writer.upsert_enrollments(
        [
            Enrollment("e-a", "a", "course-1", EARLIER),
            Enrollment("e-b", "b", "course-1", EARLIER, withdrawn_at=NOW),
            Enrollment("e-c", "c", "course-1", EARLIER, completed_at=NOW),
            Enrollment("e-m", "m", "course-1", EARLIER),
        ],
        **stamp,
    )
    await writer.upsert_skill_profiles(
        [
            SkillProfile("a", "sql", 2, EARLIER - timedelta(days=1), target_level=4),
            SkillProfile("b", "sql", 3, EARLIER, target_level=4),  # exactly at the snapshot
            SkillProfile("c", "sql", 4, NOW - timedelta(days=1), target_level=4),
            SkillProfile("m", "sql", 1, EARLIER),
            SkillProfile("x", "sql", 0, EARLIER),
        ],
        **stamp,
    )
    await writer.upsert_strategic_skill_targets(
        [
            StrategicSkillTarget("org-1", "sql", 0.5, 4),
            StrategicSkillTarget("org-2", "sql", 1.0, 5),
        ],
        **stamp,
    )


async def test_cohort_members_are_learners_only(session_factory: Any) -> None:
    await seed(SqlRecordWriter(session_factory))
    cohorts = SqlCohortRepository(session_factory)
    assert await cohorts.department_learners("dep-1") == ["a", "b"]
    assert await cohorts.organization_learners("org-1") == ["a", "b", "c"]
    # b withdrew; c completed the course and still counts; m is not a learner.
    assert await cohorts.course_learners("course-1") == ["a", "c"]
    assert await cohorts.department_learners("dep-9") == []


async def test_organisation_skills_now_and_at_the_snapshot(session_factory: Any) -> None:
    await seed(SqlRecordWriter(session_factory))
    cohorts = SqlCohortRepository(session_factory)
    skills = await cohorts.organization_skills("org-1", previous_at=EARLIER)
    assert skills is not None
    assert [p.user_id for p in skills.profiles] == ["a", "b", "c"]
    assert [p.user_id for p in skills.previous_profiles] == ["a", "b"]
    assert skills.strategic_targets == (StrategicSkillTarget("org-1", "sql", 0.5, 4),)
    assert skills.data_as_of == NOW

    empty = await cohorts.organization_skills("org-3", previous_at=EARLIER)
    assert empty is not None
    assert (empty.profiles, empty.strategic_targets, empty.data_as_of) == ((), (), None)
    assert await cohorts.organization_skills("org-9", previous_at=EARLIER) is None
