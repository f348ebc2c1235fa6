"""The cache-hit fast path answers exactly as the route would, after the same security."""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs

from tests.api.conftest import Api

pytestmark = pytest.mark.anyio

URL = "/api/v1/gamification/streak/l-1"


async def test_a_hit_has_the_routes_headers_and_counts_one_request(api_factory: Any) -> None:
    async with api_factory(RATE_LIMIT_STANDARD=10) as api:
        miss = await api.client.get(URL, headers=api.auth("l-1"))
        hit = await api.client.get(URL, headers=api.auth("l-1"))
        assert miss.json()["meta"]["dataSource"] == "realtime"
        assert hit.json()["meta"]["dataSource"] == "cached"
        # One count per request, also when the fast path fell through to the route.
        assert miss.headers["ratelimit-remaining"] == "9"
        assert hit.headers["ratelimit-remaining"] == "8"
        for header in ("etag", "cache-control", "vary", "content-type", "ratelimit-limit"):
            assert hit.headers[header] == miss.headers[header], header
        assert hit.headers["x-request-id"] == hit.json()["meta"]["requestId"]
        metrics = (await api.client.get("/metrics")).text
        assert (
            'la_http_requests_total{method="GET",route="/api/v1/gamification/streak/{userId}",'
            'status="200"} 2.0'
        ) in metrics


async def test_the_limit_is_enforced_on_hits(api_factory: Any) -> None:
    async with api_factory(RATE_LIMIT_STANDARD=2) as api:
        await api.client.get(URL, headers=api.auth("l-1"))
        await api.client.get(URL, headers=api.auth("l-1"))
        refused = await api.client.get(URL, headers=api.auth("l-1"))
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "RATE_LIMITED"
        assert refused.headers["ratelimit-remaining"] == "0"
        metrics = (await api.client.get("/metrics")).text
        assert 'la_rate_limit_rejections_total{policy="standard"} 1.0' in metrics


async def test_cached_answers_are_refused_to_non_viewers_with_an_audit_line(api: Api) -> None:
    await api.client.get(URL, headers=api.auth("l-1"))  # fills the cache
    with capture_logs() as logs:
        denied = await api.client.get(URL, headers=api.auth("m-b"))
    assert denied.status_code == 403
    assert [e["principal"] for e in logs if e["event"] == "authorization_denied"] == ["m-b"]


async def test_revoked_or_missing_tokens_never_see_a_cached_answer(api: Api) -> None:
    headers = api.auth("l-1")
    assert (await api.client.get(URL, headers=headers)).status_code == 200
    assert (await api.client.post("/api/v1/auth/logout", headers=headers)).status_code == 200
    assert (await api.client.get(URL, headers=headers)).status_code == 401
    assert (await api.client.get(URL)).status_code == 401


async def test_queries_the_fast_path_does_not_understand_go_to_the_route(api: Api) -> None:
    await api.client.get(URL, headers=api.auth("l-1"))
    duplicated = await api.client.get(URL + "?tz=UTC&tz=Asia/Tokyo", headers=api.auth("l-1"))
    assert duplicated.status_code == 200
    unknown_zone = await api.client.get(URL, params={"tz": "No/Where"}, headers=api.auth("l-1"))
    assert unknown_zone.status_code == 422
    extra = await api.client.get(URL, params={"debug": "1"}, headers=api.auth("l-1"))
    assert extra.status_code == 200
    assert extra.json()["meta"]["dataSource"] == "cached"
