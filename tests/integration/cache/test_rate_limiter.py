"""Rate limiter contract over in-process memory and real Redis, and its Redis-outage behaviour."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from learning_analytics.application.ports import RateLimitPolicy
from learning_analytics.infrastructure.ratelimit import LimitsRateLimiter, ThrottledMemoryStorage
from tests.conftest import RedisServer

pytestmark = pytest.mark.anyio

STANDARD = RateLimitPolicy(name="standard", amount=100, per_seconds=60)


async def _delete_keys(redis_url: str, prefix: str) -> None:
    client: Redis = Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def is_degraded(limiter: LimitsRateLimiter) -> bool:
    """Read through a call, so the type checker does not carry one reading over to the next."""
    return limiter.degraded


@pytest.fixture(params=["memory", "redis"])
async def limiter(
    request: pytest.FixtureRequest, unique_prefix: str
) -> AsyncIterator[LimitsRateLimiter]:
    if request.param == "memory":
        memory = LimitsRateLimiter.from_url(None)
        yield memory
        await memory.close()
        return
    redis_url: str = request.getfixturevalue("redis_url")
    shared = LimitsRateLimiter.from_url(redis_url, key_prefix=unique_prefix)
    try:
        yield shared
    finally:
        await shared.close()
        await _delete_keys(redis_url, unique_prefix)


async def test_the_hit_past_the_limit_is_refused(limiter: LimitsRateLimiter) -> None:
    first = await limiter.hit(STANDARD, "user:u1")
    assert first.allowed
    assert (first.limit, first.remaining) == (100, 99)
    assert 0 < first.reset_after <= 60

    for _ in range(99):
        last_allowed = await limiter.hit(STANDARD, "user:u1")
    assert last_allowed.allowed
    assert last_allowed.remaining == 0

    refused = await limiter.hit(STANDARD, "user:u1")
    assert not refused.allowed
    assert refused.remaining == 0
    assert 0 < refused.reset_after <= 60
    assert not limiter.degraded


async def test_keys_and_policies_are_counted_separately(limiter: LimitsRateLimiter) -> None:
    tight = RateLimitPolicy(name="predictive", amount=1, per_seconds=3600)
    assert (await limiter.hit(tight, "user:u1")).allowed
    assert not (await limiter.hit(tight, "user:u1")).allowed

    assert (await limiter.hit(tight, "user:u2")).allowed
    other_policy = await limiter.hit(STANDARD, "user:u1")
    assert other_policy.allowed
    assert other_policy.remaining == 99


async def test_peek_does_not_count(limiter: LimitsRateLimiter) -> None:
    fresh = await limiter.peek(STANDARD, "user:u1")
    assert fresh.allowed
    assert fresh.remaining == 100
    assert fresh.reset_after == 60

    for _ in range(3):
        await limiter.hit(STANDARD, "user:u1")
    for _ in range(5):
        peeked = await limiter.peek(STANDARD, "user:u1")
    assert peeked.remaining == 97

    assert (await limiter.hit(STANDARD, "user:u1")).remaining == 96


async def test_peek_says_no_once_the_limit_is_used_up(limiter: LimitsRateLimiter) -> None:
    policy = RateLimitPolicy(name="login", amount=2, per_seconds=60)
    await limiter.hit(policy, "ip:1")
    assert (await limiter.peek(policy, "ip:1")).allowed
    await limiter.hit(policy, "ip:1")

    peeked = await limiter.peek(policy, "ip:1")
    assert not peeked.allowed
    assert peeked.remaining == 0
    assert peeked.reset_after >= 1


async def test_two_limiters_on_one_redis_share_counts(redis_url: str, unique_prefix: str) -> None:
    policy = RateLimitPolicy(name="standard", amount=3, per_seconds=60)
    first = LimitsRateLimiter.from_url(redis_url, key_prefix=unique_prefix)
    second = LimitsRateLimiter.from_url(redis_url, key_prefix=unique_prefix)
    try:
        await first.hit(policy, "user:u1")
        await second.hit(policy, "user:u1")
        assert (await first.peek(policy, "user:u1")).remaining == 1
        assert (await first.hit(policy, "user:u1")).allowed
        assert not (await second.hit(policy, "user:u1")).allowed
    finally:
        await first.close()
        await second.close()
        await _delete_keys(redis_url, unique_prefix)


async def test_without_redis_limits_are_kept_in_process_and_not_degraded() -> None:
    limiter = LimitsRateLimiter.from_url(None)
    try:
        await limiter.hit(STANDARD, "user:u1")
        assert not limiter.degraded
    finally:
        await limiter.close()


async def test_the_in_process_storage_sweeps_expired_keys_at_most_once_per_interval() -> None:
    # limits' MemoryStorage walks every key after every hit; ours only once per interval.
    storage = ThrottledMemoryStorage(sweep_interval=60)
    await storage.incr("a", 60)
    sweep = storage.timer
    assert sweep is not None
    await sweep

    await storage.incr("b", 60)

    assert storage.timer is sweep  # no new sweep within the interval
    assert (await storage.get("a"), await storage.get("b")) == (1, 1)


async def test_a_redis_outage_degrades_to_process_limits_and_recovers(
    redis_server: RedisServer,
) -> None:
    policy = RateLimitPolicy(name="standard", amount=5, per_seconds=60)
    await redis_server.start()
    limiter = LimitsRateLimiter.from_url(redis_server.url, retry_interval=0.2)
    witness = LimitsRateLimiter.from_url(redis_server.url)  # another replica
    try:
        assert (await limiter.hit(policy, "user:u1")).remaining == 4
        assert not is_degraded(limiter)

        redis_server.stop()

        started = time.monotonic()
        during = await limiter.hit(policy, "user:u1")
        assert time.monotonic() - started < 1.0  # a dead Redis never hangs a request
        assert during.allowed
        assert is_degraded(limiter)
        # Still enforced, in process (the in-process count starts with the outage).
        for _ in range(4):
            assert (await limiter.hit(policy, "user:u1")).allowed
        refused = await limiter.hit(policy, "user:u1")
        assert not refused.allowed
        assert refused.remaining == 0
        assert not (await limiter.peek(policy, "user:u1")).allowed

        await redis_server.start()
        deadline = time.monotonic() + 5
        while is_degraded(limiter) and time.monotonic() < deadline:
            await limiter.hit(policy, "user:u2")
            await asyncio.sleep(0.05)
        assert not is_degraded(limiter)

        # Shared again: what this replica counts, the other one sees.
        await limiter.hit(policy, "user:u3")
        assert (await witness.peek(policy, "user:u3")).remaining == 4
    finally:
        await limiter.close()
        await witness.close()
