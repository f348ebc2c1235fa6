"""Storing feedback on predictive answers (table `prediction_feedback`)."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from learning_analytics.application.predictive import PredictionFeedback
from learning_analytics.infrastructure.db.tables import PredictionFeedbackRow


class SqlPredictionFeedbackRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, feedback: PredictionFeedback) -> None:
        async with self._sessions.begin() as session:
            session.add(PredictionFeedbackRow(**asdict(feedback)))
