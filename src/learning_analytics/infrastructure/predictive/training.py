"""Training data from the store: every learner's whole history, and where the data ends."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from learning_analytics.domain.metrics.learner import LearnerHistory
from learning_analytics.domain.models import Role
from learning_analytics.infrastructure.db.histories import SqlLearnerHistoryRepository
from learning_analytics.infrastructure.db.tables import UserRow

FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


async def store_histories(
    sessions: async_sessionmaker[AsyncSession],
) -> tuple[list[LearnerHistory], datetime | None]:
    """(every learner's history, the newest activity instant in them — where labels end)."""
    async with sessions() as session:
        ids = list(
            (
                await session.scalars(select(UserRow.id).where(UserRow.role == Role.LEARNER.value))
            ).all()
        )
    found = await SqlLearnerHistoryRepository(sessions).histories(ids, since=None, until=FAR_FUTURE)
    histories = [found[user_id] for user_id in sorted(found)]
    newest = max(
        (moment for history in histories for moment in history.activity_instants()), default=None
    )
    return histories, newest
