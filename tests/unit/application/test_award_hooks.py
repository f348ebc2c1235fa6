"""Sync and the on-demand refresh call the award hook when (and only when) rows were written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from learning_analytics.application.refresh import RefreshLearner
from learning_analytics.application.sync import SyncSources
from tests.fakes import FakeClock, FakeRecordWriter, FakeSyncState
from tests.unit.application.test_refresh import DelayedSource
from tests.unit.application.test_sync import PagedSource, items

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 11, 2, tzinfo=UTC)


async def test_sync_calls_the_hook_with_the_round_start_before_bumping_the_version() -> None:
    calls: list[tuple[datetime, int]] = []
    writer = FakeRecordWriter()

    async def hook(since: datetime) -> None:
        calls.append((since, writer.versions))

    sync = SyncSources(
        sources=[PagedSource("svc.things", items(3))],
        writer=writer,
        state=FakeSyncState(),
        clock=FakeClock(T0),
        after_write=hook,
    )
    await sync.execute()
    assert calls == [(T0, 0)]  # the round's start, and before the data version moved
    assert writer.versions == 1

    empty = SyncSources(
        sources=[PagedSource("svc.none", [])],
        writer=FakeRecordWriter(),
        state=FakeSyncState(),
        clock=FakeClock(T0 + timedelta(days=1)),
        after_write=hook,
    )
    await empty.execute()
    assert len(calls) == 1  # nothing written: nothing to award


async def test_refresh_calls_the_hook_for_the_learner_when_rows_were_written() -> None:
    awarded: list[str] = []

    async def hook(user_id: str) -> None:
        awarded.append(user_id)

    def refresh(*sources: DelayedSource) -> RefreshLearner:
        return RefreshLearner(
            sources=sources, writer=FakeRecordWriter(), clock=FakeClock(T0), after_write=hook
        )

    await refresh(DelayedSource("svc.a", 0.0)).execute("u-1")
    await refresh(DelayedSource("svc.b", 0.0, fail=True)).execute("u-2")
    assert awarded == ["u-1"]
