"""The standard rate limit over HTTP (SPEC §8.4): 100 requests a minute per user, counted down in
`RateLimit-*` headers, then 429; and what happens when Redis dies under a running app (limits
move into the process — still enforced — and /health/ready says so)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import pytest

from tests.api.conftest import Api
from tests.conftest import RedisServer

pytestmark = pytest.mark.anyio

ME = "/api/v1/auth/me"
STREAK = "/api/v1/gamification/streak/l-1"
READY = "/api/v1/health/ready"


def assert_rate_limited(response: httpx2.Response, *, limit: int) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert (body["status"], body["success"], body["error"]["code"]) == (429, False, "RATE_LIMITED")
    assert body["type"] == "/errors/rate-limited"
    assert body["requestId"] == response.headers["x-request-id"]
    assert 0 < int(response.headers["retry-after"]) <= 60
    assert response.headers["ratelimit-limit"] == str(limit)
    assert response.headers["ratelimit-remaining"] == "0"
    assert 0 < int(response.headers["ratelimit-reset"]) <= 60


async def test_the_101st_request_in_a_minute_is_429(api: Api) -> None:
    headers = api.auth("l-1")
    for count in range(1, 101):
        path = STREAK if count % 2 else ME  # every authenticated route counts
        response = await api.client.get(path, headers=headers)
        assert response.status_code == 200, f"request {count}: {response.text}"
        assert response.headers["ratelimit-limit"] == "100"
        assert response.headers["ratelimit-remaining"] == str(100 - count)
        assert 0 < int(response.headers["ratelimit-reset"]) <= 60

    assert_rate_limited(await api.client.get(ME, headers=headers), limit=100)
    assert_rate_limited(await api.client.get(STREAK, headers=headers), limit=100)
    # The limit is the user's, whatever token they present; other users are not affected.
    assert_rate_limited(await api.client.get(ME, headers=api.auth("l-1")), limit=100)
    other = await api.client.get(ME, headers=api.auth("l-2"))
    assert other.status_code == 200
    assert other.headers["ratelimit-remaining"] == "99"


# ---------------------------------------------------------------------------------------------
# Redis dies under a running app


async def readiness(api: Api) -> dict[str, Any]:
    response = await api.client.get(READY, headers=api.auth("ad-1"))
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


@pytest.mark.usefixtures("redis_url")  # a Redis suite: runs (or fails) with the others
async def test_redis_dying_keeps_serving_and_enforces_limits_in_process(
    api_factory: Callable[..., Any], redis_server: RedisServer, unique_prefix: str
) -> None:
    await redis_server.start()
    settings = {
        "REDIS_URL": redis_server.url,
        "REDIS_KEY_PREFIX": f"{unique_prefix}:",
        "RATE_LIMIT_STANDARD": 5,
    }
    async with api_factory(**settings) as api:
        headers = api.auth("l-1")
        for count in (1, 2):
            response = await api.client.get(ME, headers=headers)
            assert response.status_code == 200
            assert response.headers["ratelimit-remaining"] == str(5 - count)
        ready = await readiness(api)
        assert ready["status"] == "ready"
        assert ready["checks"]["rateLimits"]["ok"] is True

        redis_server.stop()

        # Still answering: the analytics route (cache unreachable) and /auth/me ...
        streak = await api.client.get(STREAK, headers=headers)
        assert streak.status_code == 200, streak.text
        for _ in range(4):
            response = await api.client.get(ME, headers=headers)
            assert response.status_code == 200, response.text
        # ... and never failing open: the limit is counted in process now.
        assert_rate_limited(await api.client.get(ME, headers=headers), limit=5)
        assert_rate_limited(await api.client.get(STREAK, headers=headers), limit=5)
        assert (await api.client.get(ME, headers=api.auth("l-2"))).status_code == 200

        ready = await readiness(api)
        assert ready["status"] == "degraded"
        assert ready["checks"]["database"]["ok"] is True
        assert ready["checks"]["rateLimits"]["ok"] is False
        assert ready["checks"]["rateLimits"]["detail"]
        # Anonymous callers learn the status, not the details.
        anonymous = (await api.client.get(READY)).json()["data"]
        assert anonymous["status"] == "degraded"
        assert anonymous.get("checks") is None
