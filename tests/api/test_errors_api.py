"""Every error path answers RFC 9457 problem+json with `success: false` and `error.code`."""

from __future__ import annotations

from typing import Any

import pytest

from learning_analytics.domain.errors import InsufficientDataError
from tests.api.conftest import Api

pytestmark = pytest.mark.anyio


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["success"] is False
    assert body["status"] == status
    assert body["error"]["code"] == code
    assert body["type"].startswith("/errors/")
    assert body["title"]
    assert body["detail"] == body["error"]["message"]
    assert body["requestId"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return body


async def test_unknown_route_is_a_404_problem(api: Api) -> None:
    body = assert_problem(await api.client.get("/api/v1/nope"), 404, "NOT_FOUND")
    assert body["instance"] == "/api/v1/nope"


async def test_wrong_method_is_a_405_problem(api: Api) -> None:
    response = await api.client.delete("/api/v1/health")
    assert_problem(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response.headers["allow"]


async def test_missing_token_is_a_401_problem_with_www_authenticate(api: Api) -> None:
    response = await api.client.get("/api/v1/gamification/streak/l-1")
    assert_problem(response, 401, "UNAUTHENTICATED")
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_forbidden_is_a_403_problem(api: Api) -> None:
    response = await api.client.get("/api/v1/gamification/streak/l-1", headers=api.auth("l-2"))
    assert_problem(response, 403, "FORBIDDEN")


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/gamification/streak/l-1", {"tz": "Not/AZone"}),
        ("/api/v1/gamification/streak/l-1", {"tz": "x" * 65}),
        ("/api/v1/gamification/streak/bad%20id", {}),
        ("/api/v1/gamification/streak/" + "u" * 200, {}),
        ("/api/v1/gamification/streak/%00", {}),
    ],
)
async def test_bad_input_is_a_422_problem(api: Api, path: str, params: dict[str, str]) -> None:
    response = await api.client.get(path, params=params, headers=api.auth("ad-1"))
    assert_problem(response, 422, "VALIDATION_ERROR")


async def test_body_over_the_limit_is_a_413_problem(api_factory: Any) -> None:
    async with api_factory(MAX_BODY_BYTES=2048) as api:
        declared = await api.client.post(
            "/api/v1/auth/login",
            content=b"{" + b" " * 4096 + b"}",
            headers={"content-type": "application/json"},
        )
        assert_problem(declared, 413, "PAYLOAD_TOO_LARGE")

        async def chunks() -> Any:
            for _ in range(8):
                yield b" " * 1024

        streamed = await api.client.post(
            "/api/v1/auth/login", content=chunks(), headers={"content-type": "application/json"}
        )
        assert_problem(streamed, 413, "PAYLOAD_TOO_LARGE")


async def test_rate_limited_is_a_429_problem(api_factory: Any) -> None:
    async with api_factory(RATE_LIMIT_STANDARD=1) as api:
        await api.client.get("/api/v1/auth/me", headers=api.auth("l-1"))
        response = await api.client.get("/api/v1/auth/me", headers=api.auth("l-1"))
        assert_problem(response, 429, "RATE_LIMITED")
        assert int(response.headers["retry-after"]) >= 1


async def test_auth_upstream_down_is_a_503_problem(api: Api) -> None:
    api.gateway.down = True
    response = await api.client.post(
        "/api/v1/auth/login", json={"email": "l1@org1.example", "password": "x"}
    )
    assert_problem(response, 503, "UPSTREAM_UNAVAILABLE")


async def test_domain_errors_map_through_the_one_table(api: Api) -> None:
    async def insufficient() -> None:
        raise InsufficientDataError("Minimum 7 days of activity required", details="3 days")

    api.app.add_api_route("/api/v1/_test/insufficient", insufficient)
    response = await api.client.get("/api/v1/_test/insufficient")
    body = assert_problem(response, 422, "INSUFFICIENT_DATA")
    assert body["error"]["details"] == "3 days"


async def test_a_bug_is_a_500_problem_without_internals(api: Api) -> None:
    async def broken() -> None:
        secret_detail = {"password": "hunter2"}
        raise RuntimeError(f"internal state {secret_detail}")

    api.app.add_api_route("/api/v1/_test/broken", broken)
    response = await api.client.get("/api/v1/_test/broken")
    body = assert_problem(response, 500, "INTERNAL_ERROR")
    assert "hunter2" not in response.text
    assert body["detail"] == "An internal error occurred"
