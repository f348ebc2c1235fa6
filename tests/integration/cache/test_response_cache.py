"""One contract suite for the response cache, over the in-process LRU and real Redis."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest
from redis.asyncio import Redis

from learning_analytics.application.ports import CachedResponse, ResponseCache
from learning_analytics.infrastructure.cache.memory import MemoryResponseCache
from learning_analytics.infrastructure.cache.redis import (
    RedisResponseCache,
    create_redis_client,
)
from tests.servers import free_port

pytestmark = pytest.mark.anyio

CALCULATED = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)

ENTRY = CachedResponse(
    data=b'{"velocity":1.5,"note":"line\\nbreak \xc3\xa9"}',
    etag='W/"abc123"',
    calculated_at=CALCULATED,
    data_as_of=datetime(2025, 3, 1, 14, 30, tzinfo=timezone(timedelta(hours=2))),
    fresh_until=CALCULATED + timedelta(minutes=5),
    data_source="realtime",
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    cache: ResponseCache
    advance: Callable[[float], Awaitable[None]]


async def _delete_keys(redis_url: str, prefix: str) -> None:
    client: Redis = Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture(params=["memory", "redis"])
async def harness(request: pytest.FixtureRequest, unique_prefix: str) -> AsyncIterator[Harness]:
    if request.param == "memory":
        clock = FakeClock()

        async def advance_clock(seconds: float) -> None:
            clock.now += seconds

        memory = MemoryResponseCache(100, clock=clock)
        yield Harness(memory, advance_clock)
        await memory.close()
        return

    redis_url: str = request.getfixturevalue("redis_url")
    prefix = f"{unique_prefix}:"
    cache = RedisResponseCache.from_url(redis_url, prefix=prefix)
    try:
        yield Harness(cache, asyncio.sleep)
    finally:
        await cache.close()
        await _delete_keys(redis_url, prefix)


async def test_get_of_an_unknown_key_is_a_miss(harness: Harness) -> None:
    assert await harness.cache.get("learner:u1:velocity") is None


async def test_set_then_get_returns_every_field(harness: Harness) -> None:
    await harness.cache.set("k", ENTRY, keep_seconds=60)

    got = await harness.cache.get("k")

    assert got == ENTRY
    assert got is not None
    assert got.data_as_of is not None
    assert got.data_as_of.utcoffset() == timedelta(hours=2)
    assert got.calculated_at.tzinfo is not None


async def test_a_missing_data_as_of_round_trips_as_none(harness: Harness) -> None:
    entry = CachedResponse(
        data=b"[]",
        etag='"e"',
        calculated_at=CALCULATED,
        data_as_of=None,
        fresh_until=CALCULATED,
        data_source="mock",
    )
    await harness.cache.set("k", entry, keep_seconds=60)

    assert await harness.cache.get("k") == entry


async def test_set_replaces_and_delete_removes(harness: Harness) -> None:
    await harness.cache.set("k", ENTRY, keep_seconds=60)
    newer = CachedResponse(
        data=b"{}",
        etag='"new"',
        calculated_at=CALCULATED,
        data_as_of=None,
        fresh_until=CALCULATED,
        data_source="stale",
    )
    await harness.cache.set("k", newer, keep_seconds=60)
    assert await harness.cache.get("k") == newer

    await harness.cache.delete("k")
    await harness.cache.delete("never-set")

    assert await harness.cache.get("k") is None


async def test_entries_expire_after_keep_seconds(harness: Harness) -> None:
    await harness.cache.set("short", ENTRY, keep_seconds=1)
    await harness.cache.set("long", ENTRY, keep_seconds=60)
    assert await harness.cache.get("short") == ENTRY

    await harness.advance(1.1)

    assert await harness.cache.get("short") is None
    assert await harness.cache.get("long") == ENTRY


async def test_data_version_starts_at_zero_and_bumps_per_scope(harness: Harness) -> None:
    assert await harness.cache.data_version("learner:u1") == 0

    assert await harness.cache.bump_data_version("learner:u1") == 1
    assert await harness.cache.bump_data_version("learner:u1") == 2

    assert await harness.cache.data_version("learner:u1") == 2
    assert await harness.cache.data_version("learner:u2") == 0


async def test_ping_answers(harness: Harness) -> None:
    assert await harness.cache.ping() is True


async def test_two_instances_on_one_redis_share_entries_and_versions(
    redis_url: str, unique_prefix: str
) -> None:
    prefix = f"{unique_prefix}:"
    first = RedisResponseCache.from_url(redis_url, prefix=prefix)
    second = RedisResponseCache.from_url(redis_url, prefix=prefix)
    try:
        await first.set("k", ENTRY, keep_seconds=60)
        await second.bump_data_version("org:o1")

        assert await second.get("k") == ENTRY
        assert await first.data_version("org:o1") == 1

        await second.delete("k")
        assert await first.get("k") is None
    finally:
        await first.close()
        await second.close()
        await _delete_keys(redis_url, prefix)


async def test_memory_cache_evicts_the_least_recently_used_entry() -> None:
    cache = MemoryResponseCache(2)
    await cache.set("a", ENTRY, keep_seconds=60)
    await cache.set("b", ENTRY, keep_seconds=60)
    await cache.get("a")  # "b" is now the least recently used

    await cache.set("c", ENTRY, keep_seconds=60)

    assert len(cache) == 2
    assert await cache.get("b") is None
    assert await cache.get("a") == ENTRY
    assert await cache.get("c") == ENTRY


async def test_redis_cache_ignores_an_unreadable_entry(redis_url: str, unique_prefix: str) -> None:
    prefix = f"{unique_prefix}:"
    cache = RedisResponseCache.from_url(redis_url, prefix=prefix)
    raw: Redis = Redis.from_url(redis_url)
    try:
        await raw.set(f"{prefix}rc:k", b"not a cache entry")
        assert await cache.get("k") is None
    finally:
        await raw.aclose()
        await cache.close()
        await _delete_keys(redis_url, prefix)


async def test_redis_cache_without_redis_degrades_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = RedisResponseCache(
        create_redis_client(f"redis://127.0.0.1:{free_port()}/0"),
        retry_after=0,
        owns_client=True,
    )
    caplog.set_level(logging.WARNING, logger="learning_analytics.infrastructure.cache.redis")
    started = time.monotonic()
    try:
        assert await cache.get("k") is None
        await cache.set("k", ENTRY, keep_seconds=60)
        await cache.delete("k")
        assert await cache.get("k") is None
        assert await cache.data_version("s") == 0
        assert await cache.ping() is False
        assert not cache.available
    finally:
        await cache.close()

    assert time.monotonic() - started < 2
    outage_warnings = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(outage_warnings) == 1  # once per outage, not once per call
