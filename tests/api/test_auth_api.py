"""POST /auth/login, POST /auth/logout, GET /auth/me (SPEC §8.1, §8.4) against the fake Auth
upstream: tokens only for the right password, one answer for every failed login, never a token
while Auth is down, brute force slowed per (IP, email) and per IP, revocation on logout."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx2
import pytest

from tests.api.conftest import PASSWORD, USERS, Api

pytestmark = pytest.mark.anyio

LOGIN = "/api/v1/auth/login"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/auth/me"
STREAK = "/api/v1/gamification/streak/l-1"
L1_EMAIL = "l1@org1.example"


def assert_problem(response: httpx2.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert (body["status"], body["success"], body["error"]["code"]) == (status, False, code)
    assert body["requestId"] == response.headers["x-request-id"]
    return body


def assert_rate_limited(response: httpx2.Response, *, limit: int) -> None:
    assert_problem(response, 429, "RATE_LIMITED")
    assert 0 < int(response.headers["retry-after"]) <= 60
    assert response.headers["ratelimit-limit"] == str(limit)
    assert response.headers["ratelimit-remaining"] == "0"
    assert 0 < int(response.headers["ratelimit-reset"]) <= 60
    assert "accessToken" not in response.text


async def login(api: Api, email: str, password: str = PASSWORD, **kwargs: Any) -> httpx2.Response:
    return await api.client.post(LOGIN, json={"email": email, "password": password}, **kwargs)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_login_issues_a_token_that_works_on_me(api: Api) -> None:
    response = await login(api, L1_EMAIL)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["tokenType"] == "Bearer"
    assert 3599 <= data["expiresIn"] <= 3600  # ACCESS_TOKEN_TTL_SECONDS, from whole-second iat
    assert data["user"]["id"] == "l-1"
    assert api.gateway.calls == 1

    me = await api.client.get(ME, headers=bearer(data["accessToken"]))
    assert me.status_code == 200, me.text
    profile = me.json()["data"]
    assert profile["id"] == "l-1"
    assert profile["email"] == L1_EMAIL
    assert profile["roles"] == ["learner"]
    assert profile["organizationId"] == "org-1"
    assert (profile["profileSource"], profile["displayName"]) == (
        "store",
        USERS["l-1"].display_name,
    )
    assert profile["timezone"] == "America/New_York"
    # The issued token opens the caller's own analytics, too.
    streak = await api.client.get(STREAK, headers=bearer(data["accessToken"]))
    assert streak.status_code == 200


async def test_wrong_password_and_unknown_user_get_the_same_answer(api: Api) -> None:
    wrong_password = await login(api, L1_EMAIL, "not the password")
    unknown_user = await login(api, "nobody@org1.example", PASSWORD)
    bodies = []
    for response in (wrong_password, unknown_user):
        body = assert_problem(response, 401, "UNAUTHENTICATED")
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "accessToken" not in response.text
        # Byte for byte the same, once the per-request members are blanked.
        request_id = re.escape(body["requestId"])
        bodies.append(re.sub(rf'"requestId":"{request_id}"', '"requestId":""', response.text))
    assert bodies[0] == bodies[1]
    assert wrong_password.headers["content-length"] == unknown_user.headers["content-length"]
    assert api.gateway.calls == 2


async def test_auth_down_is_503_and_never_a_token(api: Api) -> None:
    api.gateway.down = True
    response = await login(api, L1_EMAIL)
    body = assert_problem(response, 503, "UPSTREAM_UNAVAILABLE")
    assert "accessToken" not in response.text
    assert "eyJ" not in response.text  # no JWT of any kind
    assert "data" not in body
    assert api.gateway.calls == 1

    api.gateway.down = False
    assert (await login(api, L1_EMAIL)).status_code == 200


async def test_the_request_id_is_forwarded_to_auth(api: Api) -> None:
    request_id = uuid.uuid4().hex
    response = await login(api, L1_EMAIL, headers={"X-Request-ID": request_id})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == request_id
    assert api.gateway.last_request_id == request_id

    generated = await login(api, L1_EMAIL)
    assert generated.headers["x-request-id"] not in ("", request_id)
    assert api.gateway.last_request_id == generated.headers["x-request-id"]


async def test_sixth_login_attempt_for_one_ip_and_email_is_429(api: Api) -> None:
    for attempt in range(5):
        response = await login(api, L1_EMAIL, "guess-" + str(attempt))
        assert_problem(response, 401, "UNAUTHENTICATED")
        assert response.headers["ratelimit-remaining"] == str(4 - attempt)
    assert api.gateway.calls == 5

    # Even the right password is not tried any more: Auth is not asked.
    sixth = await login(api, L1_EMAIL)
    assert_rate_limited(sixth, limit=5)
    assert api.gateway.calls == 5

    # Another account from the same address, and the same account from another address, can
    # still log in: the key is the pair.
    assert (await login(api, "l2@org1.example")).status_code == 200
    transport = httpx2.ASGITransport(app=api.app, client=("203.0.113.7", 4000))
    async with httpx2.AsyncClient(transport=transport, base_url="http://api") as elsewhere:
        answer = await elsewhere.post(LOGIN, json={"email": L1_EMAIL, "password": PASSWORD})
        assert answer.status_code == 200, answer.text


async def test_twenty_logins_per_ip_per_minute_across_emails(api: Api) -> None:
    for attempt in range(20):
        response = await login(api, f"nobody-{attempt}@org1.example")
        assert response.status_code == 401, response.text
    assert api.gateway.calls == 20

    twenty_first = await login(api, "l2@org1.example")  # a fresh email, the right password
    assert_rate_limited(twenty_first, limit=20)
    assert api.gateway.calls == 20


INVALID_BODIES = [
    (b'{"email": "l1@org1.example"}', "missing password"),
    (b'{"password": "x"}', "missing email"),
    (b"{}", "empty object"),
    (b"", "no body"),
    (b"email=l1@org1.example&password=x", "not JSON"),
    (b'{"email": "l1@org1.example", "password": ', "truncated JSON"),
    (b'["l1@org1.example", "x"]', "a list"),
    (b'"l1@org1.example"', "a string"),
    (b"null", "null"),
    (b'{"email": "l1@org1.example", "password": "x", "admin": true}', "extra field"),
    (b'{"email": 42, "password": "x"}', "email not a string"),
    (b'{"email": "not-an-email", "password": "x"}', "email without @"),
    (b'{"email": "l1@org1.example", "password": ""}', "empty password"),
    (b'{"email": "l1@org1.example", "password": "' + b"x" * 20_000 + b'"}', "huge password"),
    (b'{"email": "' + b"a" * 5_000 + b'@org1.example", "password": "x"}', "huge email"),
]


async def test_invalid_login_bodies_are_422_problems_never_500(api: Api) -> None:
    for content, why in INVALID_BODIES:
        response = await api.client.post(
            LOGIN, content=content, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422, f"{why}: {response.status_code} {response.text}"
        body = assert_problem(response, 422, "VALIDATION_ERROR")
        assert body["error"]["details"], why
    assert api.gateway.calls == 0
    # The same endpoint still takes a well-formed body.
    assert (await login(api, L1_EMAIL)).status_code == 200


async def test_logout_revokes_that_token_only(api: Api) -> None:
    first = (await login(api, L1_EMAIL)).json()["data"]["accessToken"]
    second = (await login(api, L1_EMAIL)).json()["data"]["accessToken"]
    assert first != second
    assert (await api.client.get(ME, headers=bearer(first))).status_code == 200

    response = await api.client.post(LOGOUT, headers=bearer(first))
    assert response.status_code == 200, response.text
    assert response.json()["data"]["revoked"] is True

    for path in (ME, STREAK):
        refused = await api.client.get(path, headers=bearer(first))
        assert_problem(refused, 401, "UNAUTHENTICATED")
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert (await api.client.get(path, headers=bearer(second))).status_code == 200
    assert_problem(await api.client.post(LOGOUT, headers=bearer(first)), 401, "UNAUTHENTICATED")
    # A token minted outside /auth/login (same user, own jti) is unaffected as well.
    assert (await api.client.get(ME, headers=api.auth("l-1"))).status_code == 200


async def test_logout_needs_a_token(api: Api) -> None:
    response = await api.client.post(LOGOUT)
    assert_problem(response, 401, "UNAUTHENTICATED")
    assert response.headers["www-authenticate"].startswith("Bearer")
