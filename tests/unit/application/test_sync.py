"""Sync rounds: resume from the stored cursor, isolate failing sources, bump the data version."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from learning_analytics.application.ports import RecordWriter, SourcePage
from learning_analytics.application.sync import SyncPosition, SyncSources
from learning_analytics.domain.errors import UpstreamTimeoutError, UpstreamUnavailableError
from learning_analytics.infrastructure.cache.memory import MemoryResponseCache
from tests.fakes import FakeClock, FakeRecordWriter, FakeSyncState

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass
class PagedSource:
    """A collection of items (id, updatedAt) served in pages of `size`, optionally failing."""

    name: str
    items: list[tuple[str, datetime]]
    size: int = 2
    fail_at_page: int | None = None
    calls: list[tuple[datetime | None, str | None]] = field(default_factory=list)
    request_ids: list[str | None] = field(default_factory=list)

    async def fetch(
        self, *, since: datetime | None, cursor: str | None, request_id: str | None = None
    ) -> SourcePage:
        self.calls.append((since, cursor))
        self.request_ids.append(request_id)
        if self.fail_at_page is not None and len(self.calls) == self.fail_at_page:
            raise UpstreamTimeoutError("no answer in time", service=self.name)
        chosen = [item for item in self.items if since is None or item[1] >= since]
        start = int(cursor) if cursor else 0
        page = chosen[start : start + self.size]
        more = start + self.size < len(chosen)
        return SourcePage(
            records=page,
            next_cursor=str(start + self.size) if more else None,
            newest=max((at for _, at in page), default=None),
            raw=repr(page),
        )

    async def write(self, writer: RecordWriter, page: SourcePage, *, ingested_at: datetime) -> int:
        assert isinstance(writer, FakeRecordWriter)
        for item_id, at in page.records:  # type: ignore[misc]
            writer.rows[f"{self.name}:{item_id}"] = at
        return len(page.records)


def items(n: int) -> list[tuple[str, datetime]]:
    return [(f"i{k}", T0 + timedelta(hours=k)) for k in range(n)]


def make_sync(*sources: PagedSource) -> tuple[SyncSources, FakeRecordWriter, FakeSyncState]:
    writer, state = FakeRecordWriter(), FakeSyncState()
    sync = SyncSources(
        sources=sources, writer=writer, state=state, clock=FakeClock(T0 + timedelta(days=1))
    )
    return sync, writer, state


async def test_reads_every_page_archives_each_and_stores_the_watermark() -> None:
    source = PagedSource("svc.things", items(5))
    sync, writer, state = make_sync(source)
    (report,) = await sync.execute()
    assert (report.ok, report.pages, report.rows) == (True, 3, 5)
    assert len(writer.rows) == 5
    assert len(writer.raw) == 3
    assert writer.versions == 1
    position = SyncPosition.load(state.saved["svc.things"].cursor)
    assert position == SyncPosition(since=T0 + timedelta(hours=4), cursor=None)
    # Every page of a round carries the round's request id (X-Request-ID upstream).
    (round_id,) = set(source.request_ids)
    assert round_id is not None
    assert round_id.startswith("sync-")
    await sync.execute()
    assert source.request_ids[-1] != round_id


async def test_second_round_is_incremental_and_changes_nothing() -> None:
    source = PagedSource("svc.things", items(5))
    sync, writer, _ = make_sync(source)
    await sync.execute()
    before = dict(writer.rows)
    source.calls.clear()
    (report,) = await sync.execute()
    # `since` = the newest seen: only the last item is read again (upserts are idempotent).
    assert source.calls == [(T0 + timedelta(hours=4), None)]
    assert report.rows == 1
    assert writer.rows == before


async def test_a_failure_mid_way_resumes_from_the_stored_cursor() -> None:
    source = PagedSource("svc.things", items(6), fail_at_page=2)
    sync, writer, state = make_sync(source)
    (failed,) = await sync.execute()
    assert (failed.ok, failed.pages, failed.rows) == (False, 1, 2)
    assert state.saved["svc.things"].last_error is not None
    assert SyncPosition.load(state.saved["svc.things"].cursor).cursor == "2"
    source.fail_at_page = None
    source.calls.clear()
    (resumed,) = await sync.execute()
    assert source.calls[0] == (None, "2")  # picks up after the two items already stored
    assert (resumed.ok, resumed.rows) == (True, 4)
    assert len(writer.rows) == 6


async def test_one_failing_source_never_stops_the_others() -> None:
    class Down(PagedSource):
        async def fetch(self, **_: object) -> SourcePage:  # type: ignore[override]
            raise UpstreamUnavailableError("down", service="devlab")

    good, bad = PagedSource("a.x", items(3)), Down("devlab.sessions", items(3))
    sync, writer, state = make_sync(good, bad)
    reports = {r.source: r for r in await sync.execute()}
    assert reports["a.x"].ok
    assert not reports["devlab.sessions"].ok
    assert reports["devlab.sessions"].error == "down"
    assert len(writer.rows) == 3
    assert state.saved["devlab.sessions"].last_error == "UpstreamUnavailableError: down"


async def test_nothing_written_no_bump_and_the_cache_version_follows_writes() -> None:
    cache = MemoryResponseCache(10)
    writer, state = FakeRecordWriter(), FakeSyncState()
    empty = PagedSource("a.empty", [])
    sync = SyncSources(
        sources=[empty], writer=writer, state=state, clock=FakeClock(T0), cache=cache
    )
    await sync.execute()
    assert (writer.versions, await cache.data_version("global")) == (0, 0)
    sync = SyncSources(
        sources=[PagedSource("a.full", items(1))],
        writer=writer,
        state=state,
        clock=FakeClock(T0),
        cache=cache,
    )
    await sync.execute()
    assert (writer.versions, await cache.data_version("global")) == (1, 1)
