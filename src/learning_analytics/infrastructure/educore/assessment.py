"""Assessment through the Coordinator (EDUCORE.md §3.4): every attempt submitted in the last
24 hours, with integer ids."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import AwareDatetime, Field

from learning_analytics.domain.records import (
    AssessmentAttempt,
    SkillScore,
)
from learning_analytics.infrastructure.educore.envelope import (
    JsonObject,
)
from learning_analytics.infrastructure.educore.ids import IdMap
from learning_analytics.infrastructure.educore.sources import (
    ASSESSMENT,
    Batch,
    EducoreSource,
    Id,
    OptionalId,
    Pulled,
    Wire,
    newest_of,
)


class ExamSkill(Wire):
    skill_id: Id
    skill_name: str | None = None
    score: float = 0.0


class Attempt(Wire):
    user_id: Id
    exam_id: Id
    exam_type: str | None = None
    final_grade: float | None = None
    passed: bool = False
    skills: list[ExamSkill] = Field(default_factory=list)
    submitted_at: AwareDatetime
    course_id: OptionalId = None
    attempt_no: int | None = None


class Attempts(Wire):
    attempts: list[Attempt] = Field(default_factory=list)


def _percentage(value: float | None) -> float:
    return min(100.0, max(0.0, value or 0.0))


def map_attempts(attempts: Sequence[Attempt], ids: IdMap) -> Batch:
    """Attempts keyed by (user, exam, submitted_at), Assessment's own key; grades and skill
    scores are percentages (clamped to 0-100)."""
    batch = Batch()
    for attempt in attempts:
        user = ids.need("user", attempt.user_id)
        if user is None:
            continue
        stamp = attempt.submitted_at.isoformat()
        batch.assessment_attempts.append(
            AssessmentAttempt(
                id=f"assessment:{attempt.user_id}:{attempt.exam_id}:{stamp}",
                user_id=user,
                course_id=ids.get("course", attempt.course_id),
                assessment_id=attempt.exam_id,
                score_pct=_percentage(attempt.final_grade),
                passed=attempt.passed,
                submitted_at=attempt.submitted_at,
                exam_type=attempt.exam_type,
                skill_scores=tuple(
                    SkillScore(skill.skill_id, _percentage(skill.score)) for skill in attempt.skills
                ),
            )
        )
    return batch


class AssessmentSource(EducoreSource[Attempts]):
    sibling = ASSESSMENT
    route = "Assessment"
    what = "exam attempt data"
    reply_model = Attempts

    def template(self) -> JsonObject:
        return {"version": "", "fetched_at": "", "attempts": []}

    def newest(self, reply: Attempts) -> datetime | None:
        return newest_of([a.submitted_at for a in reply.attempts])

    async def resolve(self, ids: IdMap, pulled: Pulled[Attempts]) -> None:
        attempts = pulled.reply.attempts
        await ids.resolve("user", (a.user_id for a in attempts))
        await ids.resolve("course", (a.course_id for a in attempts))

    def map(self, pulled: Pulled[Attempts], ids: IdMap) -> Batch:
        return map_attempts(pulled.reply.attempts, ids)


# --------------------------------------------------------------------------------------------
