"""Learner histories read back from the store equal what ingestion wrote (SQLite, PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from learning_analytics.infrastructure.db.histories import SqlLearnerHistoryRepository
from learning_analytics.infrastructure.db.repositories import SqlRecordWriter
from learning_analytics.simulator.population import generate_population
from learning_analytics.simulator.seed import load_population

pytestmark = pytest.mark.anyio

ANCHOR = datetime(2026, 11, 20, 12, tzinfo=UTC)


async def test_histories_round_trip_the_population(session_factory: Any) -> None:
    population = generate_population(seed=5, learners=12, history_days=45, anchor=ANCHOR)
    await load_population(SqlRecordWriter(session_factory), population, ingested_at=ANCHOR)
    repository = SqlLearnerHistoryRepository(session_factory)
    learners = [p.user_id for p in population.people if p.archetype]
    histories = await repository.histories(learners, since=None, until=ANCHOR + timedelta(1))
    assert set(histories) == set(learners)
    for user_id in learners:
        history, activity = histories[user_id], population.activity(user_id)
        assert history.learning_events == activity.learning_events
        # Per-skill scores come back ordered by skill.
        assert history.assessment_attempts == tuple(
            replace(a, skill_scores=tuple(sorted(a.skill_scores, key=lambda s: s.skill_id)))
            for a in activity.assessment_attempts
        )
        assert sorted(history.practice_sessions, key=lambda r: r.id) == sorted(
            activity.practice_sessions, key=lambda r: r.id
        )
        assert set(history.enrollments) == {
            e for e in population.enrollments if e.user_id == user_id
        }
        enrolled = {e.course_id for e in history.enrollments}
        assert {c.id for c in history.courses} == enrolled
        assert set(history.course_units) == {
            replace(u, skills=tuple(sorted(u.skills)))  # unit skills come back sorted
            for u in population.course_units
            if u.course_id in enrolled
        }
        assert set(history.skill_profiles) == {
            p for p in population.skill_profiles if p.user_id == user_id
        }
        org = population.user(user_id).organization_id  # type: ignore[union-attr]
        assert set(history.strategic_targets) == {
            t for t in population.strategic_skill_targets if t.organization_id == org
        }


async def test_the_window_bounds_activity_but_not_state(session_factory: Any) -> None:
    population = generate_population(seed=5, learners=6, history_days=45, anchor=ANCHOR)
    await load_population(SqlRecordWriter(session_factory), population, ingested_at=ANCHOR)
    user_id = next(p.user_id for p in population.people if p.archetype == "steady")
    since, until = ANCHOR - timedelta(days=10), ANCHOR - timedelta(days=3)
    history = await SqlLearnerHistoryRepository(session_factory).history(
        user_id, since=since, until=until
    )
    expected = [
        e for e in population.activity(user_id).learning_events if since <= e.occurred_at < until
    ]
    assert list(history.learning_events) == expected
    assert history.enrollments  # enrolments and profiles are states, not windowed
    unknown = await SqlLearnerHistoryRepository(session_factory).history(
        "nobody", since=None, until=until
    )
    assert (unknown.learning_events, unknown.enrollments) == ((), ())
