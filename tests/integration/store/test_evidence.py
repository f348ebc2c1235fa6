"""The evidence BKT parameters are fitted from, read from the store (SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from learning_analytics.domain.records import AssessmentAttempt, SkillScore, User
from learning_analytics.infrastructure.db.evidence import SqlSkillEvidenceRepository
from learning_analytics.infrastructure.db.repositories import SqlRecordWriter

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def attempt(
    attempt_id: str, user_id: str, *, days_ago: int, scores: dict[str, float]
) -> AssessmentAttempt:
    return AssessmentAttempt(
        attempt_id,
        user_id,
        "course-1",
        "as-1",
        50.0,
        False,
        NOW - timedelta(days=days_ago),
        skill_scores=tuple(SkillScore(skill, score) for skill, score in scores.items()),
    )


async def seed(writer: SqlRecordWriter) -> None:
    stamp = {"source": "test", "ingested_at": NOW}
    await writer.upsert_users(
        [
            User("a", "org-1", None, None, "learner"),
            User("b", "org-1", None, None, "learner"),
            User("x", "org-2", None, None, "learner"),
        ],
        **stamp,
    )
    await writer.upsert_assessment_attempts(
        [
            # Written out of time order: the sequences follow submission time, not ids.
            attempt("a-3", "a", days_ago=1, scores={"sql": 90, "python": 75}),
            attempt("a-1", "a", days_ago=10, scores={"sql": 40}),
            attempt("a-2", "a", days_ago=5, scores={"sql": 65.5, "python": 30}),
            attempt("b-1", "b", days_ago=3, scores={"sql": 80}),
            attempt("b-0", "b", days_ago=4, scores={}),  # no skill scores: no evidence
            attempt("x-1", "x", days_ago=2, scores={"sql": 10}),  # another organisation
        ],
        **stamp,
    )


async def test_sequences_per_skill_and_learner_in_submission_order(
    session_factory: Any, engine: AsyncEngine
) -> None:
    await seed(SqlRecordWriter(session_factory))
    evidence = SqlSkillEvidenceRepository(session_factory)

    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        sequences = await evidence.skill_score_sequences("org-1")
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)

    assert sequences == {
        "python": [[30.0, 75.0]],  # a only
        "sql": [[40.0, 65.5, 90.0], [80.0]],  # a, then b
    }
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
    assert await evidence.skill_score_sequences("org-2") == {"sql": [[10.0]]}
    assert await evidence.skill_score_sequences("org-9") == {}
