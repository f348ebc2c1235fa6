"""HttpAuthGateway against httpx2.MockTransport: the request it sends and each outcome."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import httpx2
import pytest

from learning_analytics.application.ports import AuthenticatedUser
from learning_analytics.domain.errors import (
    UpstreamContractError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from learning_analytics.infrastructure.upstreams.auth import HttpAuthGateway

pytestmark = pytest.mark.anyio

BASE_URL = "http://auth.test:8012/"
SERVICE_TOKEN = "svc-1"
USER = {
    "id": "10000000-0000-0000-0000-000000000001",
    "email": "sarah.levy@techcorp.example",
    "roles": ["TEAM_MANAGER", "TRAINER"],
    "organizationId": "550e8400-e29b-41d4-a716-446655440000",
    "departmentIds": ["d-1"],
}
EXPECTED = AuthenticatedUser(
    id="10000000-0000-0000-0000-000000000001",
    email="sarah.levy@techcorp.example",
    roles=("TEAM_MANAGER", "TRAINER"),
    organization_id="550e8400-e29b-41d4-a716-446655440000",
    department_ids=("d-1",),
)


@dataclass
class Upstream:
    respond: Callable[[httpx2.Request], httpx2.Response]
    requests: list[httpx2.Request] = field(default_factory=list)

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        return self.respond(request)


@dataclass
class Harness:
    upstream: Upstream
    gateway: HttpAuthGateway


def ok(body: object) -> Callable[[httpx2.Request], httpx2.Response]:
    return lambda _: httpx2.Response(200, json=body)


@pytest.fixture
async def make() -> AsyncIterator[Callable[..., Harness]]:
    clients: list[httpx2.AsyncClient] = []

    def build(
        respond: Callable[[httpx2.Request], httpx2.Response],
        service_token: str | None = SERVICE_TOKEN,
    ) -> Harness:
        upstream = Upstream(respond)
        client = httpx2.AsyncClient(transport=httpx2.MockTransport(upstream.handler))
        clients.append(client)
        gateway = HttpAuthGateway(client, base_url=BASE_URL, service_token=service_token)
        return Harness(upstream, gateway)

    yield build
    for client in clients:
        await client.aclose()


async def test_sends_the_credentials_as_json_to_the_login_path(
    make: Callable[..., Harness],
) -> None:
    harness = make(ok({"success": True, "data": {"user": USER}}))
    user = await harness.gateway.authenticate(
        email="sarah.levy@techcorp.example", password="s3cret!", request_id="req-123"
    )
    assert user == EXPECTED
    [request] = harness.upstream.requests
    assert request.method == "POST"
    assert str(request.url) == "http://auth.test:8012/api/v1/auth/login"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == "application/json"
    assert request.headers["x-request-id"] == "req-123"
    assert request.headers["authorization"] == "Bearer svc-1"
    assert json.loads(request.content) == {
        "email": "sarah.levy@techcorp.example",
        "password": "s3cret!",
    }


async def test_no_optional_headers_when_not_configured(make: Callable[..., Harness]) -> None:
    harness = make(ok({"data": {"user": USER}}), service_token=None)
    await harness.gateway.authenticate(email="a@b.c", password="p")
    [request] = harness.upstream.requests
    assert "authorization" not in request.headers
    assert "x-request-id" not in request.headers


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"success": True, "data": {"user": USER}}, id="data.user"),
        pytest.param({"success": True, "data": USER}, id="data"),
        pytest.param({"user": USER}, id="user"),
        pytest.param(
            {
                "data": {
                    "user": {
                        "user_id": "10000000-0000-0000-0000-000000000001",
                        "email": " sarah.levy@techcorp.example ",
                        "role": "TRAINER",
                        "roles": ["TEAM_MANAGER"],
                        "organization_id": "550e8400-e29b-41d4-a716-446655440000",
                        "department_ids": ["d-1", "d-1"],
                        "displayName": "ignored",
                    }
                }
            },
            id="snake-case-and-single-role",
        ),
    ],
)
async def test_accepts_every_documented_reply_shape(
    make: Callable[..., Harness], body: object
) -> None:
    harness = make(ok(body))
    assert await harness.gateway.authenticate(email="a@b.c", password="p") == EXPECTED


async def test_numeric_ids_and_missing_optionals(make: Callable[..., Harness]) -> None:
    harness = make(ok({"data": {"user": {"id": 17, "email": "x@y.z"}}}))
    user = await harness.gateway.authenticate(email="x@y.z", password="p")
    assert user == AuthenticatedUser(id="17", email="x@y.z", roles=(), organization_id=None)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_refused_credentials_are_none(make: Callable[..., Harness], status: int) -> None:
    harness = make(lambda _: httpx2.Response(status, json={"success": False, "error": "nope"}))
    assert await harness.gateway.authenticate(email="a@b.c", password="wrong") is None
    assert len(harness.upstream.requests) == 1


async def test_success_false_in_a_200_is_refused_credentials(
    make: Callable[..., Harness],
) -> None:
    harness = make(ok({"success": False, "error": "Invalid credentials"}))
    assert await harness.gateway.authenticate(email="a@b.c", password="wrong") is None


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
async def test_server_errors_are_unavailable_and_never_retried(
    make: Callable[..., Harness], status: int
) -> None:
    harness = make(lambda _: httpx2.Response(status, text="boom"))
    with pytest.raises(UpstreamUnavailableError) as caught:
        await harness.gateway.authenticate(email="a@b.c", password="p")
    assert caught.value.service == "auth"
    assert len(harness.upstream.requests) == 1


async def test_connection_error_is_unavailable(make: Callable[..., Harness]) -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=request)

    harness = make(refuse)
    with pytest.raises(UpstreamUnavailableError) as caught:
        await harness.gateway.authenticate(email="a@b.c", password="p")
    assert caught.value.service == "auth"
    assert len(harness.upstream.requests) == 1


@pytest.mark.parametrize("error", [httpx2.ReadTimeout, httpx2.ConnectTimeout, httpx2.PoolTimeout])
async def test_timeout_is_a_timeout(
    make: Callable[..., Harness], error: type[httpx2.TimeoutException]
) -> None:
    def hang(request: httpx2.Request) -> httpx2.Response:
        raise error("timed out", request=request)

    harness = make(hang)
    with pytest.raises(UpstreamTimeoutError) as caught:
        await harness.gateway.authenticate(email="a@b.c", password="p")
    assert caught.value.service == "auth"
    assert len(harness.upstream.requests) == 1


@pytest.mark.parametrize(
    "respond",
    [
        pytest.param(lambda _: httpx2.Response(200, text="<html>hello</html>"), id="html"),
        pytest.param(lambda _: httpx2.Response(200, content=b""), id="empty"),
        pytest.param(lambda _: httpx2.Response(200, json=[USER]), id="array"),
        pytest.param(lambda _: httpx2.Response(200, json="ok"), id="string"),
        pytest.param(lambda _: httpx2.Response(200, content=b"\xff\xfe{"), id="binary"),
        pytest.param(
            lambda _: httpx2.Response(200, json={"pad": "x" * 70_000, "user": USER}), id="huge"
        ),
    ],
)
async def test_garbage_200_is_a_contract_error(
    make: Callable[..., Harness], respond: Callable[[httpx2.Request], httpx2.Response]
) -> None:
    harness = make(respond)
    with pytest.raises(UpstreamContractError) as caught:
        await harness.gateway.authenticate(email="a@b.c", password="p")
    assert caught.value.service == "auth"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"success": True}, id="no-user"),
        pytest.param({"data": {"foo": 1}}, id="data-without-user-fields"),
        pytest.param({"data": {"user": {"email": "a@b.c"}}}, id="no-id"),
        pytest.param({"data": {"user": {"id": "u-1"}}}, id="no-email"),
        pytest.param({"data": {"user": {"id": "", "email": "a@b.c"}}}, id="blank-id"),
        pytest.param({"data": {"user": {"id": "u", "email": "a@b.c", "roles": "x"}}}, id="roles"),
        pytest.param({"data": {"user": {"id": ["u"], "email": "a@b.c"}}}, id="id-is-a-list"),
        pytest.param({"data": [USER]}, id="data-is-a-list"),
    ],
)
async def test_200_with_the_wrong_shape_is_a_contract_error(
    make: Callable[..., Harness], body: object
) -> None:
    harness = make(ok(body))
    with pytest.raises(UpstreamContractError):
        await harness.gateway.authenticate(email="a@b.c", password="p")


@pytest.mark.parametrize("status", [301, 409, 418])
async def test_unexpected_statuses_are_contract_errors(
    make: Callable[..., Harness], status: int
) -> None:
    harness = make(lambda _: httpx2.Response(status, headers={"location": "http://elsewhere/"}))
    with pytest.raises(UpstreamContractError):
        await harness.gateway.authenticate(email="a@b.c", password="p")


async def test_base_url_must_be_http() -> None:
    async with httpx2.AsyncClient() as client:
        with pytest.raises(ValueError, match="http"):
            HttpAuthGateway(client, base_url="auth.test")
