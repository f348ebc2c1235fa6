"""An expired nAuth token with a live session is re-issued through the Coordinator and the new
token returned in `X-New-Access-Token` (EDUCORE.md §3.10), over real HTTP on loopback."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.api.test_jwt_api import ME, STREAK, bearer, nauth_claims, public_pem, rs256, rsa_key
from tests.servers import serve

pytestmark = pytest.mark.anyio


class FakeCoordinator:
    """nAuth behind the Coordinator: re-issues a token for sessions it knows."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self.key = key
        self.live_sessions: set[str] = set()  # access tokens whose session is alive
        self.asked = 0

    async def request(self, request: Request) -> JSONResponse:
        self.asked += 1
        envelope = json.loads(await request.body())
        token = envelope["payload"]["access_token"]
        claims = jwt.decode(token, options={"verify_signature": False})
        if token not in self.live_sessions:
            reply = {"valid": False, "reason": "SESSION_NOT_ACTIVE_OR_REVOKED"}
            return JSONResponse({"success": True, "data": {"response": reply}})
        fresh = rs256(nauth_claims(directoryUserId=claims["directoryUserId"]), self.key)
        reply = {
            "valid": True,
            "auth_state": "ACCESS_TOKEN_REFRESHED",
            "new_access_token": fresh,
            "directory_user_id": claims["directoryUserId"],
        }
        return JSONResponse({"success": True, "data": {"response": reply}})


@pytest.fixture
def nauth_key() -> rsa.RSAPrivateKey:
    return rsa_key("nauth")


@pytest.fixture
def coordinator(nauth_key: rsa.RSAPrivateKey) -> Iterator[tuple[FakeCoordinator, str]]:
    fake = FakeCoordinator(nauth_key)
    app = Starlette(routes=[Route("/request", fake.request, methods=["POST"])])
    with serve(app, lifespan="off") as url:
        yield fake, url


def expired_token(key: rsa.RSAPrivateKey, user: str = "l-1") -> str:
    now = int(time.time())
    return rs256(nauth_claims(directoryUserId=user, iat=now - 2000, exp=now - 1000), key)


async def test_expired_token_with_a_live_session_is_reissued(
    api_factory: Callable[..., Any],
    nauth_key: rsa.RSAPrivateKey,
    coordinator: tuple[FakeCoordinator, str],
) -> None:
    fake, url = coordinator
    settings = {
        "JWT_PUBLIC_KEY": public_pem(nauth_key),
        "JWT_ISSUER": "nauth-service",
        "JWT_AUDIENCE": "educore-platform",
        "COORDINATOR_URL": url,
        "NAUTH_REVALIDATION": True,
    }
    token = expired_token(nauth_key)
    fake.live_sessions.add(token)
    async with api_factory(**settings) as api:
        for path in (ME, STREAK):
            reply = await api.client.get(path, headers=bearer(token))
            assert reply.status_code == 200, reply.text
            fresh = reply.headers["X-New-Access-Token"]
            assert jwt.decode(fresh, options={"verify_signature": False})["exp"] > time.time()
            # The re-issued token works on its own, without a new header.
            again = await api.client.get(path, headers=bearer(fresh))
            assert again.status_code == 200
            assert "X-New-Access-Token" not in again.headers
        assert fake.asked == 1  # remembered for the second route

        # A session that ended: still TOKEN_EXPIRED.
        ended = expired_token(nauth_key, user="l-2")
        reply = await api.client.get(ME, headers=bearer(ended))
        assert reply.status_code == 401
        assert reply.json()["error"]["code"] == "TOKEN_EXPIRED"

        # A token signed by someone else is never sent to the Coordinator.
        asked = fake.asked
        forged = expired_token(rsa_key("stranger"))
        fake.live_sessions.add(forged)
        assert (await api.client.get(ME, headers=bearer(forged))).status_code == 401
        assert fake.asked == asked


async def test_without_revalidation_an_expired_token_is_token_expired(
    api_factory: Callable[..., Any],
    nauth_key: rsa.RSAPrivateKey,
    coordinator: tuple[FakeCoordinator, str],
) -> None:
    fake, url = coordinator
    token = expired_token(nauth_key)
    fake.live_sessions.add(token)
    settings = {
        "JWT_PUBLIC_KEY": public_pem(nauth_key),
        "JWT_ISSUER": "nauth-service",
        "JWT_AUDIENCE": "educore-platform",
        "COORDINATOR_URL": url,
    }
    async with api_factory(**settings) as api:
        reply = await api.client.get(ME, headers=bearer(token))
        assert reply.status_code == 401
        assert reply.json()["error"]["code"] == "TOKEN_EXPIRED"
    assert fake.asked == 0
