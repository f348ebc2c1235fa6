"""Points are awarded after a sync of the simulated platform (what `make run` does): the ledger
then matches a full replay of the store's events, and a sync without news adds nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from learning_analytics.application.gamification import AwardPoints
from learning_analytics.application.sync import SyncSources
from learning_analytics.infrastructure.db.gamification import SqlGamificationRepository
from learning_analytics.infrastructure.db.repositories import (
    SqlRecordWriter,
    SqlSyncStateRepository,
)
from learning_analytics.infrastructure.db.tables import LearningEventRow, PointsLedgerRow
from learning_analytics.infrastructure.upstreams.catalog import FACTORIES, rest_collections
from learning_analytics.infrastructure.upstreams.http import UpstreamPolicy, UpstreamRegistry
from learning_analytics.simulator.population import Population
from tests.fakes import FakeClock

pytestmark = pytest.mark.anyio


@pytest.fixture
async def registry(simulator_url: str) -> AsyncIterator[UpstreamRegistry]:
    urls = {name: f"{simulator_url}/{name}" for name in FACTORIES}
    async with UpstreamRegistry(urls, policy=UpstreamPolicy(total_timeout=3.0)) as upstreams:
        yield upstreams


async def ledger(sessions: Any) -> set[tuple[Any, ...]]:
    async with sessions() as session:
        rows = await session.execute(
            select(
                PointsLedgerRow.user_id,
                PointsLedgerRow.rule,
                PointsLedgerRow.source_event,
                PointsLedgerRow.points,
                PointsLedgerRow.awarded_at,
            )
        )
        return {tuple(row) for row in rows}


async def test_sync_awards_points_equal_to_a_full_replay(
    registry: UpstreamRegistry, population: Population, session_factory: Any
) -> None:
    store = SqlGamificationRepository(session_factory)
    award = AwardPoints(store=store)
    sync = SyncSources(
        sources=rest_collections(registry),
        writer=SqlRecordWriter(session_factory),
        state=SqlSyncStateRepository(session_factory),
        clock=FakeClock(datetime.now(UTC)),
        after_write=award.since,
    )
    assert all(report.ok for report in await sync.execute())

    synced = await ledger(session_factory)
    async with session_factory() as session:
        completers = set(
            await session.scalars(
                select(LearningEventRow.user_id).where(LearningEventRow.verb == "completed")
            )
        )
    earners = {row[0] for row in synced if row[1] == "lesson_completed"}
    assert completers
    assert earners == completers  # every learner who completed a unit earned for it
    learners = {user.id for user in population.users if user.role == "learner"}
    assert {row[0] for row in synced} <= learners

    assert all(report.ok for report in await sync.execute())
    assert await ledger(session_factory) == synced  # nothing new upstream: nothing new awarded

    async with session_factory.begin() as session:
        await session.execute(delete(PointsLedgerRow))
    await award.replay()
    assert await ledger(session_factory) == synced
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(PointsLedgerRow)) == len(
            synced
        )
