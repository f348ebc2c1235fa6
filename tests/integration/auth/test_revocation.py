"""One contract suite for token revocation, over the in-process store and real Redis."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from learning_analytics.application.ports import TokenRevocationStore
from learning_analytics.infrastructure.auth.revocation import (
    MemoryTokenRevocationStore,
    RedisTokenRevocationStore,
)

pytestmark = pytest.mark.anyio


def soon(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


@dataclass
class Harness:
    make: Callable[..., TokenRevocationStore]


async def _delete_keys(redis_url: str, prefix: str) -> None:
    client: Redis = Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
async def redis_clients(redis_url: str, unique_prefix: str) -> AsyncIterator[list[Redis]]:
    clients: list[Redis] = []
    yield clients
    for client in clients:
        await client.aclose()
    await _delete_keys(redis_url, unique_prefix)


@pytest.fixture(params=["memory", "redis"])
async def harness(request: pytest.FixtureRequest, unique_prefix: str) -> AsyncIterator[Harness]:
    if request.param == "memory":
        yield Harness(lambda **kwargs: MemoryTokenRevocationStore(**kwargs))
        return
    redis_url: str = request.getfixturevalue("redis_url")
    clients: list[Redis] = []

    def make(**kwargs: Any) -> TokenRevocationStore:
        client: Redis = Redis.from_url(redis_url)
        clients.append(client)
        return RedisTokenRevocationStore(client, prefix=f"{unique_prefix}:revoked:", **kwargs)

    yield Harness(make)
    for client in clients:
        await client.aclose()
    await _delete_keys(redis_url, unique_prefix)


async def test_revoked_token_is_revoked_and_others_are_not(harness: Harness) -> None:
    store = harness.make()
    assert await store.is_revoked("jti-1") is False
    await store.revoke("jti-1", expires_at=soon(600))
    assert await store.is_revoked("jti-1") is True
    assert await store.is_revoked("jti-2") is False


async def test_revoking_twice_is_harmless(harness: Harness) -> None:
    store = harness.make()
    await store.revoke("jti-1", expires_at=soon(600))
    await store.revoke("jti-1", expires_at=soon(600))
    assert await store.is_revoked("jti-1") is True


async def test_entry_expires_with_the_token(harness: Harness) -> None:
    store = harness.make(grace_seconds=0)
    await store.revoke("short", expires_at=soon(0.4))
    await store.revoke("long", expires_at=soon(600))
    assert await store.is_revoked("short") is True
    await asyncio.sleep(0.7)
    assert await store.is_revoked("short") is False
    assert await store.is_revoked("long") is True


async def test_entry_outlives_the_token_by_the_grace_period(harness: Harness) -> None:
    """Verifiers accept a token for their leeway after `exp`: the revocation must cover it."""
    store = harness.make(grace_seconds=60)
    await store.revoke("just-expired", expires_at=soon(-5))
    assert await store.is_revoked("just-expired") is True


async def test_token_expired_beyond_grace_is_not_stored(harness: Harness) -> None:
    store = harness.make(grace_seconds=0)
    await store.revoke("old", expires_at=soon(-1))
    assert await store.is_revoked("old") is False


# --------------------------------------------------------------------------------------------
# Redis only: sharing, expiry in Redis itself, degradation


@pytest.fixture
def shared(
    redis_url: str, unique_prefix: str, redis_clients: list[Redis]
) -> Callable[..., RedisTokenRevocationStore]:
    def make(client: Any = None, **kwargs: Any) -> RedisTokenRevocationStore:
        if client is None:
            client = Redis.from_url(redis_url)
            redis_clients.append(client)
        return RedisTokenRevocationStore(client, prefix=f"{unique_prefix}:revoked:", **kwargs)

    return make


async def test_revoked_on_one_replica_is_seen_by_another_sharing_redis(
    shared: Callable[..., RedisTokenRevocationStore],
) -> None:
    first, second = shared(), shared()
    await first.revoke("jti-shared", expires_at=soon(600))
    assert await second.is_revoked("jti-shared") is True
    assert await second.is_revoked("jti-other") is False


async def test_redis_key_expires_at_token_expiry_plus_grace(
    shared: Callable[..., RedisTokenRevocationStore],
    redis_url: str,
    unique_prefix: str,
    redis_clients: list[Redis],
) -> None:
    store = shared(grace_seconds=30)
    await store.revoke("jti-ttl", expires_at=soon(600))
    probe: Redis = Redis.from_url(redis_url)
    redis_clients.append(probe)
    ttl_ms = await probe.pttl(f"{unique_prefix}:revoked:jti-ttl")
    assert 625_000 < ttl_ms <= 630_000


def degraded(store: RedisTokenRevocationStore) -> bool:
    # A call, not the attribute: mypy would narrow the property across awaits.
    return store.degraded


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_redis_down_falls_back_to_memory_and_still_answers(
    shared: Callable[..., RedisTokenRevocationStore],
    redis_clients: list[Redis],
    caplog: pytest.LogCaptureFixture,
) -> None:
    dead: Redis = Redis.from_url(f"redis://127.0.0.1:{_closed_port()}/0", socket_timeout=0.2)
    redis_clients.append(dead)
    store = shared(dead)
    assert degraded(store) is False
    await store.revoke("jti-offline", expires_at=soon(600))
    assert degraded(store) is True
    assert "redis unavailable for token revocations" in caplog.text
    assert await store.is_revoked("jti-offline") is True
    assert await store.is_revoked("jti-never") is False


class FlakyRedis:
    """A real client that can be switched off: every command fails while `down` is set."""

    def __init__(self, client: Redis) -> None:
        self._client = client
        self.down = False

    def __getattr__(self, name: str) -> Any:
        if self.down:
            raise RedisConnectionError("Connection refused (test)")
        return getattr(self._client, name)


async def test_revocations_written_while_redis_was_down_reach_it_when_it_returns(
    shared: Callable[..., RedisTokenRevocationStore], redis_url: str, redis_clients: list[Redis]
) -> None:
    real: Redis = Redis.from_url(redis_url)
    redis_clients.append(real)
    flaky = FlakyRedis(real)
    replica_a = shared(flaky, retry_after=0)
    replica_b = shared()

    flaky.down = True
    await replica_a.revoke("jti-during-outage", expires_at=soon(600))
    assert degraded(replica_a) is True
    assert await replica_a.is_revoked("jti-during-outage") is True  # honoured here at once
    assert await replica_b.is_revoked("jti-during-outage") is False  # not shared yet

    flaky.down = False
    assert await replica_a.is_revoked("jti-unrelated") is False
    assert degraded(replica_a) is False
    assert await replica_b.is_revoked("jti-during-outage") is True


async def test_while_degraded_redis_is_not_retried_before_retry_after(
    shared: Callable[..., RedisTokenRevocationStore], redis_url: str, redis_clients: list[Redis]
) -> None:
    real: Redis = Redis.from_url(redis_url)
    redis_clients.append(real)
    flaky = FlakyRedis(real)
    store = shared(flaky, retry_after=3600)
    flaky.down = True
    await store.revoke("jti-1", expires_at=soon(600))
    assert degraded(store) is True
    flaky.down = False
    assert await store.is_revoked("jti-2") is False  # answered from memory, Redis not asked
    assert degraded(store) is True
    assert await store.ping() is True  # the readiness probe always asks, and ends the outage
    assert degraded(store) is False


# --------------------------------------------------------------------------------------------
# Memory only: bounds


async def test_memory_store_is_bounded_and_evicts_the_soonest_expiry_first() -> None:
    store = MemoryTokenRevocationStore(max_entries=3, grace_seconds=0)
    for index, seconds in enumerate([500, 100, 400, 300, 200]):
        await store.revoke(f"jti-{index}", expires_at=soon(seconds))
    assert len(store) == 3
    revoked = {f"jti-{index}" for index in range(5) if await store.is_revoked(f"jti-{index}")}
    assert revoked == {"jti-0", "jti-2", "jti-3"}


async def test_memory_store_purges_expired_entries_on_write() -> None:
    now = [1000.0]
    store = MemoryTokenRevocationStore(grace_seconds=0, clock=lambda: now[0])
    await store.revoke("a", expires_at=datetime.fromtimestamp(1010, UTC))
    await store.revoke("b", expires_at=datetime.fromtimestamp(1020, UTC))
    now[0] = 1015.0
    await store.revoke("c", expires_at=datetime.fromtimestamp(1030, UTC))
    assert len(store) == 2
    assert not await store.is_revoked("a")
    assert await store.is_revoked("b")


async def test_memory_store_keeps_the_later_expiry() -> None:
    now = [1000.0]
    store = MemoryTokenRevocationStore(grace_seconds=0, clock=lambda: now[0])
    await store.revoke("a", expires_at=datetime.fromtimestamp(1100, UTC))
    await store.revoke("a", expires_at=datetime.fromtimestamp(1010, UTC))
    now[0] = 1050.0
    assert await store.is_revoked("a")
