"""Two app instances on one Redis behave as one service (SPEC §13, §8.1, §8.4): they share the
rate-limit counters and see each other's logouts.

Every app here runs with its own `REDIS_KEY_PREFIX` (the test's `unique_prefix`), so concurrent
runs and leftovers of earlier runs on the shared Redis cannot change a count; the keys under the
prefix are deleted afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import jwt
import pytest
from redis.asyncio import Redis

pytestmark = pytest.mark.anyio

ME = "/api/v1/auth/me"
STREAK = "/api/v1/gamification/streak/l-1"
LOGOUT = "/api/v1/auth/logout"


@pytest.fixture
async def redis(redis_url: str, unique_prefix: str) -> AsyncIterator[Redis]:
    """A client of the shared Redis; deletes this test's keys afterwards."""
    client: Redis = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        keys = [key async for key in client.scan_iter(match=f"{unique_prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
def shared(redis_url: str, unique_prefix: str) -> dict[str, Any]:
    """Settings of an app instance on the shared Redis, in this test's namespace."""
    return {"REDIS_URL": redis_url, "REDIS_KEY_PREFIX": f"{unique_prefix}:"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_rate_limited(response: httpx2.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "RATE_LIMITED"
    assert 0 < int(response.headers["retry-after"]) <= 60
    assert response.headers["ratelimit-remaining"] == "0"


async def test_two_instances_share_the_rate_limit(
    api_factory: Callable[..., Any],
    redis: Redis,
    shared: dict[str, Any],
    unique_prefix: str,
) -> None:
    async with api_factory(**shared) as first, api_factory(**shared) as second:
        remaining = []
        for app in (first, second):
            for _ in range(50):
                response = await app.client.get(ME, headers=app.auth("l-1"))
                assert response.status_code == 200, response.text
                remaining.append(int(response.headers["ratelimit-remaining"]))
        # One count for both: 99 ... 0, not 99 ... 50 twice.
        assert remaining == list(range(99, -1, -1))

        assert_rate_limited(await first.client.get(ME, headers=first.auth("l-1")))
        assert_rate_limited(await second.client.get(STREAK, headers=second.auth("l-1")))
        assert (await second.client.get(ME, headers=second.auth("l-2"))).status_code == 200

    # The counter lives under the configured prefix, and only there.
    keys = {key.decode() async for key in redis.scan_iter(match=f"{unique_prefix}:*")}
    assert any(key.startswith(f"{unique_prefix}:rl:") and "user:l-1" in key for key in keys), keys

    # An instance in another namespace on the same Redis counts on its own.
    async with api_factory(**{**shared, "REDIS_KEY_PREFIX": f"{unique_prefix}:other:"}) as third:
        response = await third.client.get(ME, headers=third.auth("l-1"))
        assert response.status_code == 200
        assert response.headers["ratelimit-remaining"] == "99"


async def test_logout_on_one_instance_is_refused_by_the_other(
    api_factory: Callable[..., Any],
    redis: Redis,
    shared: dict[str, Any],
    unique_prefix: str,
) -> None:
    async with api_factory(**shared) as first, api_factory(**shared) as second:
        token, other_token = first.token("l-1"), first.token("l-1")
        # The second instance has seen (and verified) the token before the logout.
        assert (await second.client.get(ME, headers=bearer(token))).status_code == 200

        response = await first.client.post(LOGOUT, headers=bearer(token))
        assert response.status_code == 200, response.text
        assert response.json()["data"]["revoked"] is True

        for app in (second, first):
            for path in (ME, STREAK):
                refused = await app.client.get(path, headers=bearer(token))
                assert refused.status_code == 401, refused.text
                assert refused.json()["error"]["code"] == "UNAUTHENTICATED"
                assert refused.headers["www-authenticate"].startswith("Bearer")
                ok = await app.client.get(path, headers=bearer(other_token))
                assert ok.status_code == 200, ok.text

        # A third instance that starts after the logout refuses the token as well.
        async with api_factory(**shared) as late:
            assert (await late.client.get(ME, headers=bearer(token))).status_code == 401

    # What was written: one key for the token id, under the prefix, living until the token
    # expires (plus a little grace), not forever.
    claims = jwt.decode(token, options={"verify_signature": False})
    key = f"{unique_prefix}:revoked:{claims['jti']}"
    ttl_ms = await redis.pttl(key)
    assert 0 < ttl_ms <= (3600 + 120) * 1000, ttl_ms
    assert await redis.exists(f"la:revoked:{claims['jti']}") == 0
