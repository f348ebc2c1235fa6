"""The activity upstreams: Content Studio (learning events), Assessment (attempts with per-skill
scores), DevLab (practice sessions) and the RAG assistant (questions asked)."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, Field

from learning_analytics.domain.records import (
    AssessmentAttempt,
    AssistantInteraction,
    LearningEvent,
    PracticeSession,
    SkillScore,
)
from learning_analytics.infrastructure.upstreams.http import UpstreamClient
from learning_analytics.infrastructure.upstreams.rest import (
    RestCollection,
    WireItem,
    WireModel,
    collection,
)


class LearningEventItem(WireItem):
    user_id: str
    course_id: str
    unit_id: str | None = None
    verb: str
    occurred_at: AwareDatetime
    seconds_spent: int = 0


class SkillScoreItem(WireModel):
    skill_id: str
    score_pct: float


class AttemptItem(WireItem):
    user_id: str
    course_id: str | None = None
    assessment_id: str
    exam_type: str | None = None
    score_pct: float
    passed: bool
    submitted_at: AwareDatetime
    skill_scores: list[SkillScoreItem] = Field(default_factory=list)


class PracticeSessionItem(WireItem):
    user_id: str
    started_at: AwareDatetime
    skill_id: str | None = None
    competition_id: str | None = None
    completed: bool = False
    won: bool = False
    seconds: int = 0


class AssistantInteractionItem(WireItem):
    user_id: str
    asked_at: AwareDatetime
    topic: str | None = None
    course_id: str | None = None


def content_studio(client: UpstreamClient) -> list[RestCollection[Any]]:
    return [
        collection(
            client,
            "learning-events",
            LearningEventItem,
            lambda i: LearningEvent(
                id=i.id,
                user_id=i.user_id,
                course_id=i.course_id,
                unit_id=i.unit_id,
                verb=i.verb,
                occurred_at=i.occurred_at,
                seconds_spent=i.seconds_spent,
            ),
            lambda w: w.upsert_learning_events,
            per_user=True,
        )
    ]


def assessment(client: UpstreamClient) -> list[RestCollection[Any]]:
    return [
        collection(
            client,
            "attempts",
            AttemptItem,
            lambda i: AssessmentAttempt(
                id=i.id,
                user_id=i.user_id,
                course_id=i.course_id,
                assessment_id=i.assessment_id,
                exam_type=i.exam_type,
                score_pct=i.score_pct,
                passed=i.passed,
                submitted_at=i.submitted_at,
                skill_scores=tuple(SkillScore(s.skill_id, s.score_pct) for s in i.skill_scores),
            ),
            lambda w: w.upsert_assessment_attempts,
            per_user=True,
        )
    ]


def devlab(client: UpstreamClient) -> list[RestCollection[Any]]:
    return [
        collection(
            client,
            "practice-sessions",
            PracticeSessionItem,
            lambda i: PracticeSession(
                id=i.id,
                user_id=i.user_id,
                started_at=i.started_at,
                skill_id=i.skill_id,
                competition_id=i.competition_id,
                completed=i.completed,
                won=i.won,
                seconds=i.seconds,
            ),
            lambda w: w.upsert_practice_sessions,
            per_user=True,
        )
    ]


def rag(client: UpstreamClient) -> list[RestCollection[Any]]:
    return [
        collection(
            client,
            "assistant-interactions",
            AssistantInteractionItem,
            lambda i: AssistantInteraction(
                id=i.id,
                user_id=i.user_id,
                asked_at=i.asked_at,
                topic=i.topic,
                course_id=i.course_id,
            ),
            lambda w: w.upsert_assistant_interactions,
            per_user=True,
        )
    ]
