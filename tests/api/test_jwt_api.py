"""Bearer JWT verification over HTTP (SPEC §8.1, §6): every refusal is a 401 problem with
`WWW-Authenticate: Bearer`, on our own HS256 tokens and on the platform's RS256 (nAuth) tokens.

Each refusal is checked on two protected routes, `/auth/me` and an analytics route, and next to
each refused token a well-formed sibling is accepted, so a 401 is proven to come from the one
property under test (a route that refused everything would fail these tests).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.api.conftest import SECRET, USERS, Api

pytestmark = pytest.mark.anyio

ME = "/api/v1/auth/me"
STREAK = "/api/v1/gamification/streak/l-1"
ENDPOINTS = (ME, STREAK)


# ---------------------------------------------------------------------------------------------
# Minting


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def compact(header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    """A compact JWS built by hand, so any header (alg none, HS256 over a PEM) can be made."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64url(sign(signing_input.encode('ascii')))}"


def hmac_signer(key: bytes) -> Callable[[bytes], bytes]:
    return lambda data: hmac.digest(key, data, hashlib.sha256)


def seed_claims(user_id: str = "l-1", **changes: Any) -> dict[str, Any]:
    """Claims of the shape `TokenIssuer` writes, valid for 10 minutes from now."""
    user = USERS[user_id]
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": user.id,
        "email": user.email,
        "roles": [user.role],
        "organizationId": user.organization_id,
        "jti": uuid.uuid4().hex,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def hs256(claims: dict[str, Any], secret: str = SECRET) -> str:
    return jwt.encode(claims, secret, algorithm="HS256", headers={"typ": "JWT"})


def nauth_claims(**changes: Any) -> dict[str, Any]:
    """An nAuth access token's claims for learner l-1 (contracts/samples/nauth-jwt.json)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": str(uuid.uuid4()),  # nAuth's own auth-user id, not ours
        "provider": "google",
        "directoryUserId": "l-1",
        "organizationId": "org-1",
        "primaryRole": "REGULAR_EMPLOYEE",
        "isSystemAdmin": False,
        "iat": now,
        "exp": now + 900,
        "aud": "educore-platform",
        "iss": "nauth-service",
    }
    claims.update(changes)
    return claims


@functools.cache
def rsa_key(name: str) -> rsa.RSAPrivateKey:
    """One 2048-bit key per name, generated once per run."""
    del name
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def rs256(claims: dict[str, Any], key: rsa.RSAPrivateKey) -> str:
    return jwt.encode(claims, key, algorithm="RS256", headers={"typ": "JWT"})


# ---------------------------------------------------------------------------------------------
# Assertions


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_refused(response: httpx2.Response, code: str = "UNAUTHENTICATED") -> dict[str, Any]:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert (body["status"], body["success"], body["error"]["code"]) == (401, False, code)
    assert body["instance"] == response.request.url.path
    assert body["requestId"] == response.headers["x-request-id"]
    assert "data" not in body
    return body


async def assert_refused_everywhere(
    api: Api, headers: dict[str, str], code: str = "UNAUTHENTICATED"
) -> None:
    for path in ENDPOINTS:
        assert_refused(await api.client.get(path, headers=headers), code)


async def assert_accepted_everywhere(api: Api, headers: dict[str, str]) -> None:
    for path in ENDPOINTS:
        response = await api.client.get(path, headers=headers)
        assert response.status_code == 200, f"{path}: {response.text}"


# ---------------------------------------------------------------------------------------------
# Tests


async def test_missing_authorization_header_is_a_401_problem(api: Api) -> None:
    for path in ENDPOINTS:
        body = assert_refused(await api.client.get(path))
        assert body["type"] == "/errors/unauthenticated"
    await assert_accepted_everywhere(api, api.auth("l-1"))


async def test_malformed_authorization_header_or_scheme_is_refused(api: Api) -> None:
    token = hs256(seed_claims())
    await assert_accepted_everywhere(api, bearer(token))
    for value in [
        token,  # no scheme
        f"Basic {base64.b64encode(b'l1@org1.example:secret').decode()}",
        f"Token {token}",
        f"JWT {token}",
        f"Bearer{token}",
        "Bearer",
        f"Bearer {token} {token}",
        f"Bearer {token}, Basic abc",
        "",
    ]:
        await assert_refused_everywhere(api, {"Authorization": value})


async def test_malformed_tokens_are_refused_without_a_server_error(api: Api) -> None:
    await assert_accepted_everywhere(api, bearer(hs256(seed_claims())))
    header = b64url(b'{"alg":"HS256","typ":"JWT"}')
    payload = b64url(json.dumps(seed_claims()).encode())
    sign = hmac_signer(SECRET.encode())

    def signed_raw(raw_payload: bytes) -> str:
        """Correctly signed with our secret, whatever the payload bytes are."""
        signing_input = f"{header}.{b64url(raw_payload)}"
        return f"{signing_input}.{b64url(sign(signing_input.encode()))}"

    for token in [
        "abc",
        "a.b",
        "a.b.c.d",
        f"{header}.{payload}.",  # no signature
        f"{header}.{payload}.c2ln+/=",  # not base64url
        f"{header}.{payload}.c",  # impossible base64 length
        f"{b64url(b'not json')}.{payload}.c2ln",
        f"{b64url(b'[1, 2]')}.{payload}.c2ln",
        f"{b64url(json.dumps({'typ': 'JWT'}).encode())}.{payload}.c2ln",  # no alg
        f"{b64url(json.dumps({'alg': ['HS256']}).encode())}.{payload}.c2ln",
        signed_raw(b"not json"),
        signed_raw(b"[]"),
        signed_raw(b'"a string"'),
        # Signed, but without a subject or with a non-numeric expiry.
        hs256(seed_claims(sub=None)),
        hs256(seed_claims(exp="tomorrow")),
    ]:
        await assert_refused_everywhere(api, bearer(token))


async def test_bad_signatures_are_refused(api: Api) -> None:
    genuine = hs256(seed_claims())
    await assert_accepted_everywhere(api, bearer(genuine))
    head, payload, signature = genuine.split(".")
    # A learner who rewrites their own token into a platform admin keeps the old signature.
    promoted = b64url(json.dumps(seed_claims(roles=["admin"])).encode())
    for token in [
        hs256(seed_claims(), secret=secrets.token_urlsafe(48)),  # someone else's secret
        f"{head}.{promoted}.{signature}",
        f"{head}.{payload}.{b64url(bytes(32))}",
        f"{head}.{payload}.{signature[:-8]}",
        rs256(seed_claims(), rsa_key("stranger")),  # RS256, and no RSA key is configured
    ]:
        await assert_refused_everywhere(api, bearer(token))


async def test_alg_none_is_refused(api: Api) -> None:
    claims = seed_claims()
    signed = hs256(claims)
    await assert_accepted_everywhere(api, bearer(signed))
    unsigned = [
        compact({"alg": alg, "typ": "JWT"}, claims, lambda _: b"")
        for alg in ("none", "None", "NONE", "nOnE")
    ]
    # `none` carrying the genuine HS256 signature of the same payload is refused as well.
    head = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    _, payload, signature = signed.split(".")
    for token in [*unsigned, *(t + "x" for t in unsigned), f"{head}.{payload}.{signature}"]:
        await assert_refused_everywhere(api, bearer(token))


async def test_hs256_token_signed_with_the_rs256_public_key_is_refused(
    api_factory: Callable[..., Any],
) -> None:
    """Algorithm confusion: an attacker who knows the (public) PEM signs HS256 with it."""
    key = rsa_key("nauth")
    pem = public_pem(key)
    async with api_factory(JWT_PUBLIC_KEY=pem) as api:
        claims = seed_claims()
        await assert_accepted_everywhere(api, bearer(rs256(claims, key)))
        for secret in (pem.encode(), pem.strip().encode(), pem.replace("\n", "\\n").encode()):
            for header in ({"alg": "HS256", "typ": "JWT"}, {"alg": "HS256"}):
                forged = compact(header, claims, hmac_signer(secret))
                await assert_refused_everywhere(api, bearer(forged))
        # RS256 by another key, and other algorithms over the same key, are refused too.
        await assert_refused_everywhere(api, bearer(rs256(claims, rsa_key("stranger"))))
        for alg in ("RS384", "RS512", "PS256"):
            other = jwt.encode(claims, key, algorithm=alg)
            await assert_refused_everywhere(api, bearer(other))


async def test_nauth_rs256_token_is_accepted_with_the_configured_public_key(
    api_factory: Callable[..., Any],
) -> None:
    key = rsa_key("nauth")
    settings = {
        "JWT_PUBLIC_KEY": public_pem(key),
        "JWT_ISSUER": "nauth-service",
        "JWT_AUDIENCE": "educore-platform",
    }
    async with api_factory(**settings) as api:
        token = rs256(nauth_claims(), key)
        me = await api.client.get(ME, headers=bearer(token))
        assert me.status_code == 200, me.text
        data = me.json()["data"]
        assert data["id"] == "l-1"  # directoryUserId, not nAuth's `sub`
        assert data["roles"] == ["learner"]  # REGULAR_EMPLOYEE
        assert data["organizationId"] == "org-1"
        assert (data["profileSource"], data["displayName"]) == ("store", "Lee One")

        streak = await api.client.get(STREAK, headers=bearer(token))
        assert streak.status_code == 200, streak.text
        assert streak.json()["data"]["current"] == 3

        # The nAuth token of another learner does not open l-1's analytics.
        other = rs256(nauth_claims(directoryUserId="l-2"), key)
        assert (await api.client.get(STREAK, headers=bearer(other))).status_code == 403
        # Expired, or signed by anyone else: refused.
        expired = nauth_claims(iat=int(time.time()) - 2000, exp=int(time.time()) - 1000)
        await assert_refused_everywhere(api, bearer(rs256(expired, key)), "TOKEN_EXPIRED")
        stranger = rs256(nauth_claims(), rsa_key("stranger"))
        await assert_refused_everywhere(api, bearer(stranger))

    # Without JWT_PUBLIC_KEY the same token is refused.
    async with api_factory() as plain:
        await assert_refused_everywhere(plain, bearer(token))


async def test_expired_token_is_token_expired(api: Api) -> None:
    now = int(time.time())
    expired = hs256(seed_claims(iat=now - 7200, nbf=now - 7200, exp=now - 120))
    for path in ENDPOINTS:
        body = assert_refused(await api.client.get(path, headers=bearer(expired)), "TOKEN_EXPIRED")
        assert body["type"] == "/errors/token-expired"
    # Within the clock-skew leeway (30 s) it is still accepted; without `exp` it never is.
    await assert_accepted_everywhere(api, bearer(hs256(seed_claims(exp=now - 5))))
    await assert_refused_everywhere(api, bearer(hs256(seed_claims(exp=None))))


async def test_token_not_yet_valid_is_refused(api: Api) -> None:
    now = int(time.time())
    await assert_refused_everywhere(api, bearer(hs256(seed_claims(nbf=now + 600))))
    await assert_refused_everywhere(api, bearer(hs256(seed_claims(iat=now + 600, nbf=None))))
    # A few seconds of skew are tolerated.
    await assert_accepted_everywhere(api, bearer(hs256(seed_claims(nbf=now + 5, iat=now + 5))))


async def test_issuer_and_audience_are_checked_when_configured(
    api_factory: Callable[..., Any],
) -> None:
    async with api_factory(JWT_ISSUER="la-test-issuer", JWT_AUDIENCE="la-test-api") as api:
        good = {"iss": "la-test-issuer", "aud": "la-test-api"}
        await assert_accepted_everywhere(api, bearer(hs256(seed_claims(**good))))
        await assert_accepted_everywhere(
            api, bearer(hs256(seed_claims(**{**good, "aud": ["other", "la-test-api"]})))
        )
        for changes in [
            {"iss": "evil-issuer"},
            {"iss": None},
            {"aud": "other-api"},
            {"aud": None},
            {"aud": ["other-api"]},
        ]:
            token = hs256(seed_claims(**{**good, **changes}))
            await assert_refused_everywhere(api, bearer(token))
        # The fixture's tokens carry neither claim.
        await assert_refused_everywhere(api, api.auth("l-1"))


async def test_oversized_token_is_refused(api: Api) -> None:
    def padded_to(length: int) -> str:
        base = len(hs256(seed_claims(pad="")))
        # 3 bytes of claim text become 4 base64url characters.
        token = hs256(seed_claims(pad="p" * ((length - base) * 3 // 4)))
        assert abs(len(token) - length) <= 4
        return token

    await assert_accepted_everywhere(api, bearer(padded_to(8000)))
    oversized = padded_to(8400)  # validly signed: only its size is wrong
    assert len(oversized) > 8192
    await assert_refused_everywhere(api, bearer(oversized))
    await assert_refused_everywhere(api, bearer(padded_to(64 * 1024)))
