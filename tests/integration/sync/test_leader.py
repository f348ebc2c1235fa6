"""Two replicas on one Redis: one sync round runs (SPEC §5.4, §13)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from learning_analytics.application.ports import RecordWriter, SourcePage
from learning_analytics.application.sync import SyncSources, sync_as_leader
from learning_analytics.infrastructure.locks import LocalLeaderLock, RedisLeaderLock
from tests.fakes import FakeClock, FakeRecordWriter, FakeSyncState

pytestmark = pytest.mark.anyio


class SlowSource:
    name = "svc.slow"

    def __init__(self) -> None:
        self.fetches = 0

    async def fetch(
        self, *, since: datetime | None, cursor: str | None, request_id: str | None = None
    ) -> SourcePage:
        self.fetches += 1
        await asyncio.sleep(0.2)
        return SourcePage(records=[("i", datetime(2026, 1, 1, tzinfo=UTC))], next_cursor=None,
                          newest=None, raw="[]")  # fmt: skip

    async def write(self, writer: RecordWriter, page: SourcePage, *, ingested_at: datetime) -> int:
        return len(page.records)


def replica(source: SlowSource) -> SyncSources:
    return SyncSources(
        sources=[source],
        writer=FakeRecordWriter(),
        state=FakeSyncState(),
        clock=FakeClock(datetime(2026, 1, 2, tzinfo=UTC)),
    )


async def test_two_replicas_on_one_redis_run_one_round(redis_url: str, unique_prefix: str) -> None:
    source = SlowSource()
    client_a, client_b = Redis.from_url(redis_url), Redis.from_url(redis_url)
    try:
        lock_a = RedisLeaderLock(client_a, prefix=f"{unique_prefix}:lock:")
        lock_b = RedisLeaderLock(client_b, prefix=f"{unique_prefix}:lock:")
        results = await asyncio.gather(
            sync_as_leader(replica(source), lock=lock_a, ttl_seconds=30),
            sync_as_leader(replica(source), lock=lock_b, ttl_seconds=30),
        )
        assert sorted(r is None for r in results) == [False, True]
        assert source.fetches == 1
        # Released after the round: the next round can run (on either replica).
        assert await sync_as_leader(replica(source), lock=lock_b, ttl_seconds=30) is not None
        assert await client_a.exists(f"{unique_prefix}:lock:sync") == 0
    finally:
        await client_a.aclose()
        await client_b.aclose()


async def test_an_expired_lock_is_not_released_by_its_old_holder(
    redis_url: str, unique_prefix: str
) -> None:
    client = Redis.from_url(redis_url)
    try:
        lock = RedisLeaderLock(client, prefix=f"{unique_prefix}:lock:")
        old = await lock.acquire("sync", ttl_seconds=0.05)
        assert old is not None
        await asyncio.sleep(0.1)
        new = await lock.acquire("sync", ttl_seconds=30)
        assert new is not None
        await lock.release("sync", old)  # the old holder wakes up late
        assert await lock.acquire("sync", ttl_seconds=30) is None  # still held by `new`
        await lock.release("sync", new)
    finally:
        await client.aclose()


async def test_unreachable_redis_skips_the_round_instead_of_risking_two() -> None:
    client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        source = SlowSource()
        result = await sync_as_leader(replica(source), lock=RedisLeaderLock(client), ttl_seconds=30)
        assert result is None
        assert source.fetches == 0
    finally:
        await client.aclose()


async def test_local_lock_for_a_single_process() -> None:
    lock = LocalLeaderLock()
    token = await lock.acquire("sync", ttl_seconds=30)
    assert token is not None
    assert await lock.acquire("sync", ttl_seconds=30) is None
    await lock.release("sync", token)
    assert await lock.acquire("sync", ttl_seconds=30) is not None
