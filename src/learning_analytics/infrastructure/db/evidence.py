"""The store's evidence for fitting BKT parameters per skill (SPEC §10 Mastery).

One query per organisation: every skill score of the assessment attempts of the organisation's
users, ordered by skill, learner and submission time (then attempt id, as
`bkt.evidence_by_skill` orders one learner's attempts), grouped in memory into one sequence per
(skill, learner).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from learning_analytics.infrastructure.db.tables import (
    AssessmentAttemptRow,
    AssessmentSkillScoreRow,
    UserRow,
)


class SqlSkillEvidenceRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def skill_score_sequences(self, organization_id: str) -> dict[str, list[list[float]]]:
        query = (
            select(
                AssessmentSkillScoreRow.skill_id,
                AssessmentAttemptRow.user_id,
                AssessmentSkillScoreRow.score_pct,
            )
            .join(
                AssessmentAttemptRow, AssessmentAttemptRow.id == AssessmentSkillScoreRow.attempt_id
            )
            .join(UserRow, UserRow.id == AssessmentAttemptRow.user_id)
            .where(UserRow.organization_id == organization_id)
            .order_by(
                AssessmentSkillScoreRow.skill_id,
                AssessmentAttemptRow.user_id,
                AssessmentAttemptRow.submitted_at,
                AssessmentAttemptRow.id,
            )
        )
        sequences: dict[str, list[list[float]]] = {}
        current: tuple[str, str] | None = None
        async with self._sessions() as session:
            rows = await session.execute(query)
            for skill_id, user_id, score_pct in rows:
                if (skill_id, user_id) != current:
                    current = (skill_id, user_id)
                    sequences.setdefault(skill_id, []).append([])
                sequences[skill_id][-1].append(float(score_pct))
        return sequences
