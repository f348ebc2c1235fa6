"""TokenVerifier and TokenIssuer: each way a bearer token is refused, and those accepted."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from learning_analytics.domain.errors import (
    AuthenticationError,
    TokenExpiredError,
    UpstreamUnavailableError,
)
from learning_analytics.domain.models import Role
from learning_analytics.infrastructure.auth.tokens import TokenIssuer, TokenVerifier

pytestmark = pytest.mark.anyio

NOW = 1_766_220_000.0
SECRET = "s" * 48
OTHER_SECRET = "o" * 48
JWKS_URL = "https://auth.test/.well-known/jwks.json"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"sig") -> str:
    return ".".join(
        [b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()), b64(signature)]
    )


def hs256_by_hand(header: dict[str, Any], claims: dict[str, Any], key: bytes) -> str:
    signing_input = ".".join([b64(json.dumps(header).encode()), b64(json.dumps(claims).encode())])
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sub": "u-1",
        "email": "ada@example.test",
        "roles": ["REGULAR_EMPLOYEE"],
        "organizationId": "org-1",
        "jti": "jti-1",
        "iat": int(NOW) - 10,
        "exp": int(NOW) + 600,
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def hs_token(payload: dict[str, Any], secret: str = SECRET, **headers: Any) -> str:
    return jwt.encode(payload, secret, algorithm="HS256", headers=headers or None)


def rs_token(payload: dict[str, Any], key: rsa.RSAPrivateKey, kid: str | None = None) -> str:
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid} if kid else None)


def hs_verifier(**kwargs: Any) -> TokenVerifier:
    kwargs.setdefault("hs256_secret", SECRET)
    kwargs.setdefault("clock", lambda: NOW)
    return TokenVerifier(**kwargs)


# --------------------------------------------------------------------------------------------
# Refused before or while parsing


@pytest.mark.parametrize("token", ["", " "])
async def test_missing_or_blank_token_is_refused(token: str) -> None:
    with pytest.raises(AuthenticationError):
        await hs_verifier().verify(token)


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        "a.b",
        "a.b.c.d",
        "a..c",
        "!!!.abc.def",
        "eyJhbGciOiJIUzI1NiJ9.e30.",  # empty signature
        "abcde.abc.abc",  # impossible base64 length
        b64(b"not json") + "." + b64(b"{}") + "." + b64(b"sig"),
        b64(b"[1,2]") + "." + b64(b"{}") + "." + b64(b"sig"),
        compact({"typ": "JWT"}, claims()),  # no alg
        compact({"alg": "HS256", "kid": 7}, claims()),  # kid not a string
        "é" + hs_token(claims()),
    ],
)
async def test_malformed_token_is_refused(token: str) -> None:
    with pytest.raises(AuthenticationError) as caught:
        await hs_verifier().verify(token)
    assert not isinstance(caught.value, TokenExpiredError)


async def test_validly_signed_garbage_payload_is_refused() -> None:
    header = b64(json.dumps({"alg": "HS256"}).encode())
    payload = b64(b"[not an object")
    signature = hmac.new(SECRET.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    with pytest.raises(AuthenticationError, match="Malformed"):
        await hs_verifier().verify(f"{header}.{payload}.{b64(signature)}")


async def test_oversized_token_is_refused_before_decoding() -> None:
    big = hs_token(claims(padding="x" * 9000))
    assert len(big) > 8192
    with pytest.raises(AuthenticationError, match="too large"):
        await hs_verifier(max_token_bytes=8192).verify(big)
    # The same token is fine under a larger limit: the size alone refused it.
    principal = await hs_verifier(max_token_bytes=16384).verify(big)
    assert principal.id == "u-1"
    # Garbage over the limit is refused as oversized, not as malformed: nothing was decoded.
    with pytest.raises(AuthenticationError, match="too large"):
        await hs_verifier().verify("!" * 8193)


async def test_unsupported_critical_header_is_refused() -> None:
    token = hs_token(claims(), crit=["exp"])
    with pytest.raises(AuthenticationError, match="extension"):
        await hs_verifier().verify(token)


# --------------------------------------------------------------------------------------------
# Signatures and algorithms


async def test_hs256_token_is_accepted() -> None:
    principal = await hs_verifier().verify(hs_token(claims()))
    assert principal.id == "u-1"
    assert principal.roles == frozenset({Role.LEARNER})
    assert principal.token_id == "jti-1"
    assert principal.expires_at == datetime.fromtimestamp(NOW + 600, UTC)


async def test_wrong_secret_is_refused() -> None:
    with pytest.raises(AuthenticationError, match="signature"):
        await hs_verifier().verify(hs_token(claims(), secret=OTHER_SECRET))


async def test_tampered_payload_is_refused() -> None:
    header, _, signature = hs_token(claims()).split(".")
    forged = b64(json.dumps(claims(roles=["DIRECTORY_ADMIN"])).encode())
    with pytest.raises(AuthenticationError, match="signature"):
        await hs_verifier().verify(f"{header}.{forged}.{signature}")


async def test_expired_token_with_bad_signature_is_not_reported_as_expired() -> None:
    token = hs_token(claims(exp=int(NOW) - 3600), secret=OTHER_SECRET)
    with pytest.raises(AuthenticationError) as caught:
        await hs_verifier().verify(token)
    assert not isinstance(caught.value, TokenExpiredError)


@pytest.mark.parametrize("signature", [b"", b"anything"])
@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_alg_none_is_refused(alg: str, signature: bytes) -> None:
    header = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims()).encode())
    with pytest.raises(AuthenticationError):
        await hs_verifier().verify(f"{header}.{payload}.{b64(signature)}")


@pytest.mark.parametrize("alg", ["HS384", "HS512", "RS512", "PS256", "ES256", "EdDSA"])
async def test_algorithms_outside_the_allow_list_are_refused(
    alg: str, rsa_key: rsa.RSAPrivateKey
) -> None:
    verifier = hs_verifier(rs256_public_key_pem=public_pem(rsa_key))
    with pytest.raises(AuthenticationError, match="algorithm"):
        await verifier.verify(compact({"alg": alg}, claims()))


@pytest.mark.parametrize("with_secret", [True, False])
async def test_hs256_signed_with_the_rsa_public_key_is_refused(
    rsa_key: rsa.RSAPrivateKey, *, with_secret: bool
) -> None:
    """Algorithm confusion: the public PEM text used as an HMAC secret must not verify."""
    pem = public_pem(rsa_key)
    token = hs256_by_hand({"alg": "HS256", "typ": "JWT"}, claims(), pem.encode())
    verifier = TokenVerifier(
        hs256_secret=SECRET if with_secret else None,
        rs256_public_key_pem=pem,
        clock=lambda: NOW,
    )
    with pytest.raises(AuthenticationError):
        await verifier.verify(token)


def test_an_rsa_public_key_cannot_be_configured_as_the_hs256_secret(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    with pytest.raises(ValueError, match="HS256"):
        TokenVerifier(hs256_secret=public_pem(rsa_key))
    with pytest.raises(ValueError, match="HS256"):
        TokenIssuer(public_pem(rsa_key))


def test_short_hs256_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        TokenVerifier(hs256_secret="short")


def test_a_verifier_needs_a_key() -> None:
    with pytest.raises(ValueError, match="at least one"):
        TokenVerifier()


async def test_rs256_with_configured_pem_is_accepted(rsa_key: rsa.RSAPrivateKey) -> None:
    nauth_claims = {
        "sub": "4b2f0c8e-91d3-4f6a-a0b7-3e5c2d1f9a88",
        "provider": "google",
        "directoryUserId": "10000000-0000-0000-0000-000000000001",
        "organizationId": "550e8400-e29b-41d4-a716-446655440000",
        "primaryRole": "TEAM_MANAGER",
        "isSystemAdmin": False,
        "iat": int(NOW) - 60,
        "exp": int(NOW) + 840,
        "aud": "educore-platform",
        "iss": "nauth-service",
    }
    verifier = TokenVerifier(
        rs256_public_key_pem=public_pem(rsa_key).replace("\n", "\\n"),  # as env vars carry it
        issuer=["nauth-service", "learning-analytics"],
        audience="educore-platform",
        clock=lambda: NOW,
    )
    principal = await verifier.verify(rs_token(nauth_claims, rsa_key))
    assert principal.id == "10000000-0000-0000-0000-000000000001"
    assert principal.roles == frozenset({Role.MANAGER})
    assert principal.organization_id == "550e8400-e29b-41d4-a716-446655440000"
    assert principal.issuer == "nauth-service"


async def test_rs256_signed_by_another_key_is_refused(
    rsa_key: rsa.RSAPrivateKey, other_rsa_key: rsa.RSAPrivateKey
) -> None:
    verifier = TokenVerifier(rs256_public_key_pem=public_pem(rsa_key), clock=lambda: NOW)
    with pytest.raises(AuthenticationError, match="signature"):
        await verifier.verify(rs_token(claims(), other_rsa_key))


async def test_rs256_is_refused_when_only_hs256_is_configured(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    with pytest.raises(AuthenticationError, match="algorithm"):
        await hs_verifier().verify(rs_token(claims(), rsa_key))


async def test_hs256_is_refused_when_only_rs256_is_configured(rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = TokenVerifier(rs256_public_key_pem=public_pem(rsa_key), clock=lambda: NOW)
    with pytest.raises(AuthenticationError, match="algorithm"):
        await verifier.verify(hs_token(claims()))


# --------------------------------------------------------------------------------------------
# JWKS


def jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    data = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**data, "kid": kid, "alg": "RS256", "use": "sig"}


@dataclass
class JwksServer:
    keys: list[dict[str, Any]]
    status: int = 200
    calls: int = 0
    delay: float = 0.0
    requests: list[httpx2.Request] = field(default_factory=list)

    async def handler(self, request: httpx2.Request) -> httpx2.Response:
        self.calls += 1
        self.requests.append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        return httpx2.Response(self.status, json={"keys": self.keys})


class Monotonic:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class JwksHarness:
    server: JwksServer
    monotonic: Monotonic
    make: Callable[..., TokenVerifier]


@pytest.fixture
async def jwks(rsa_key: rsa.RSAPrivateKey) -> AsyncIterator[JwksHarness]:
    server = JwksServer(keys=[jwk(rsa_key, "key-2026-01")])
    monotonic = Monotonic()
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(server.handler)) as client:

        def make(**kwargs: Any) -> TokenVerifier:
            kwargs.setdefault("jwks_url", JWKS_URL)
            kwargs.setdefault("jwks_cache_seconds", 300)
            return TokenVerifier(
                http_client=client, clock=lambda: NOW, monotonic=monotonic, **kwargs
            )

        yield JwksHarness(server, monotonic, make)


LEGACY_CLAIMS = {
    "sub": "10000000-0000-0000-0000-000000000001",
    "email": "sarah.levy@techcorp.example",
    "organization_id": "550e8400-e29b-41d4-a716-446655440000",
    "roles": ["TEAM_MANAGER"],
    "iat": int(NOW) - 60,
    "exp": int(NOW) + 840,
    "iss": "auth-microservice",
    "aud": "educore-ai",
}


async def test_jwks_token_is_accepted_and_the_key_set_cached(
    jwks: JwksHarness, rsa_key: rsa.RSAPrivateKey
) -> None:
    verifier = jwks.make(issuer="auth-microservice", audience="educore-ai")
    token = rs_token(LEGACY_CLAIMS, rsa_key, kid="key-2026-01")
    principal = await verifier.verify(token)
    assert principal.id == LEGACY_CLAIMS["sub"]
    assert principal.email == "sarah.levy@techcorp.example"
    assert principal.roles == frozenset({Role.MANAGER})
    assert principal.organization_id == LEGACY_CLAIMS["organization_id"]
    assert jwks.server.calls == 1
    assert str(jwks.server.requests[0].url) == JWKS_URL
    assert jwks.server.requests[0].method == "GET"

    # Fresh tokens each time, so the verified-token memory plays no part.
    jwks.monotonic.now += 299
    await verifier.verify(rs_token({**LEGACY_CLAIMS, "jti": "2"}, rsa_key, kid="key-2026-01"))
    assert jwks.server.calls == 1  # key set cached

    jwks.monotonic.now += 2  # past jwks_cache_seconds
    await verifier.verify(rs_token({**LEGACY_CLAIMS, "jti": "3"}, rsa_key, kid="key-2026-01"))
    assert jwks.server.calls == 2


async def test_unknown_kid_refetches_at_most_once_per_30_seconds(
    jwks: JwksHarness, rsa_key: rsa.RSAPrivateKey, other_rsa_key: rsa.RSAPrivateKey
) -> None:
    verifier = jwks.make()
    await verifier.verify(rs_token(claims(), rsa_key, kid="key-2026-01"))
    assert jwks.server.calls == 1

    rotated = rs_token(claims(), other_rsa_key, kid="key-2026-02")
    jwks.monotonic.now += 31
    with pytest.raises(AuthenticationError, match="unknown"):
        await verifier.verify(rotated)
    assert jwks.server.calls == 2  # unknown kid: refetched once

    jwks.server.keys.append(jwk(other_rsa_key, "key-2026-02"))
    jwks.monotonic.now += 10
    with pytest.raises(AuthenticationError, match="unknown"):
        await verifier.verify(rotated)
    assert jwks.server.calls == 2  # within 30 s of the last fetch: not refetched

    jwks.monotonic.now += 21
    principal = await verifier.verify(rotated)  # the rotated key is learnt
    assert principal.id == "u-1"
    assert jwks.server.calls == 3


async def test_concurrent_refreshes_share_one_fetch(
    jwks: JwksHarness, rsa_key: rsa.RSAPrivateKey
) -> None:
    jwks.server.delay = 0.05
    verifier = jwks.make()
    token = rs_token(claims(), rsa_key, kid="key-2026-01")
    principals = await asyncio.gather(*(verifier.verify(token) for _ in range(20)))
    assert {principal.id for principal in principals} == {"u-1"}
    assert jwks.server.calls == 1


async def test_jwks_unreachable_without_any_key_is_an_upstream_error(
    jwks: JwksHarness, rsa_key: rsa.RSAPrivateKey
) -> None:
    jwks.server.status = 503
    with pytest.raises(UpstreamUnavailableError):
        await jwks.make().verify(rs_token(claims(), rsa_key, kid="key-2026-01"))


async def test_jwks_outage_keeps_the_last_good_keys(
    jwks: JwksHarness, rsa_key: rsa.RSAPrivateKey
) -> None:
    verifier = jwks.make()
    token = rs_token(claims(), rsa_key, kid="key-2026-01")
    await verifier.verify(token)
    jwks.server.status = 500
    jwks.monotonic.now += 301
    fresh = rs_token(claims(jti="2"), rsa_key, kid="key-2026-01")
    assert (await verifier.verify(fresh)).id == "u-1"
    assert jwks.server.calls == 2
    jwks.monotonic.now += 29
    await verifier.verify(rs_token(claims(jti="3"), rsa_key, kid="key-2026-01"))
    assert jwks.server.calls == 2  # a failed refresh is not retried on every request
    jwks.monotonic.now += 2
    await verifier.verify(rs_token(claims(jti="4"), rsa_key, kid="key-2026-01"))
    assert jwks.server.calls == 3  # but it is retried


async def test_symmetric_keys_in_the_jwks_are_never_used(jwks: JwksHarness) -> None:
    secret = b"k" * 48
    jwks.server.keys = [{"kty": "oct", "kid": "oct-1", "k": b64(secret), "alg": "HS256"}]
    token = hs256_by_hand({"alg": "HS256", "kid": "oct-1"}, claims(), secret)
    with pytest.raises(AuthenticationError, match="algorithm"):
        await jwks.make().verify(token)
    rs_like = hs256_by_hand({"alg": "RS256", "kid": "oct-1"}, claims(), secret)
    with pytest.raises(UpstreamUnavailableError):  # no usable (RSA) key in the set at all
        await jwks.make().verify(rs_like)


async def test_pem_and_jwks_modes_work_side_by_side(
    jwks: JwksHarness, rsa_key: rsa.RSAPrivateKey, other_rsa_key: rsa.RSAPrivateKey
) -> None:
    verifier = jwks.make(hs256_secret=SECRET, rs256_public_key_pem=public_pem(other_rsa_key))
    assert (await verifier.verify(hs_token(claims(sub="ours")))).id == "ours"
    assert (await verifier.verify(rs_token(claims(sub="nauth"), other_rsa_key))).id == "nauth"
    legacy = rs_token(claims(sub="legacy"), rsa_key, kid="key-2026-01")
    assert (await verifier.verify(legacy)).id == "legacy"


# --------------------------------------------------------------------------------------------
# Registered claims


async def test_expired_token_raises_token_expired() -> None:
    with pytest.raises(TokenExpiredError):
        await hs_verifier(leeway=30).verify(hs_token(claims(exp=int(NOW) - 31)))


async def test_expiry_within_leeway_is_accepted() -> None:
    principal = await hs_verifier(leeway=30).verify(hs_token(claims(exp=int(NOW) - 29)))
    assert principal.id == "u-1"


@pytest.mark.parametrize("exp", [None, "tomorrow", True, float("inf"), float("nan")])
async def test_missing_or_invalid_exp_is_refused(exp: object) -> None:
    payload = claims()
    del payload["exp"]
    if exp is not None:
        payload["exp"] = exp
    with pytest.raises(AuthenticationError) as caught:
        await hs_verifier().verify(hs_token(payload))
    assert not isinstance(caught.value, TokenExpiredError)


async def test_not_yet_valid_token_is_refused() -> None:
    with pytest.raises(AuthenticationError, match="nbf") as caught:
        await hs_verifier(leeway=30).verify(hs_token(claims(nbf=int(NOW) + 31)))
    assert not isinstance(caught.value, TokenExpiredError)
    assert (await hs_verifier(leeway=30).verify(hs_token(claims(nbf=int(NOW) + 29)))).id


async def test_token_issued_in_the_future_is_refused() -> None:
    with pytest.raises(AuthenticationError, match="iat"):
        await hs_verifier(leeway=30).verify(hs_token(claims(iat=int(NOW) + 120)))


@pytest.mark.parametrize("iss", ["someone-else", None, 42])
async def test_wrong_or_missing_issuer_is_refused(iss: object) -> None:
    token = hs256_by_hand({"alg": "HS256"}, claims(iss=iss), SECRET.encode())
    with pytest.raises(AuthenticationError, match="issuer"):
        await hs_verifier(issuer="learning-analytics").verify(token)


async def test_issuer_is_not_checked_when_not_configured() -> None:
    assert (await hs_verifier().verify(hs_token(claims(iss="anyone")))).id == "u-1"


@pytest.mark.parametrize("aud", ["other-app", ["other-app", "third"], None, 7, [7]])
async def test_wrong_or_missing_audience_is_refused(aud: object) -> None:
    with pytest.raises(AuthenticationError, match="audience"):
        await hs_verifier(audience="learning-analytics").verify(hs_token(claims(aud=aud)))


async def test_audience_list_containing_ours_is_accepted() -> None:
    token = hs_token(claims(aud=["other-app", "learning-analytics"]))
    assert (await hs_verifier(audience="learning-analytics").verify(token)).id == "u-1"


# --------------------------------------------------------------------------------------------
# Issuer


async def test_issued_tokens_verify_and_round_trip_the_principal() -> None:
    issued_at = datetime.fromtimestamp(NOW, UTC)
    issuer = TokenIssuer(SECRET, issuer="learning-analytics", audience="la-api", ttl_seconds=3600)
    token, expires_at = issuer.issue(
        subject="u-7",
        email="grace@example.test",
        roles=("TRAINER", "hr"),
        organization_id="org-9",
        department_ids=("d-1", "d-2"),
        now=issued_at,
    )
    assert expires_at == datetime.fromtimestamp(NOW + 3600, UTC)
    verifier = hs_verifier(issuer="learning-analytics", audience="la-api")
    principal = await verifier.verify(token)
    assert principal.id == "u-7"
    assert principal.email == "grace@example.test"
    assert principal.roles == frozenset({Role.TRAINER, Role.ORG_ADMIN})
    assert principal.organization_id == "org-9"
    assert principal.department_ids == ("d-1", "d-2")
    assert principal.expires_at == expires_at
    assert principal.issuer == "learning-analytics"
    assert principal.token_id is not None
    assert len(principal.token_id) == 32
    int(principal.token_id, 16)

    raw = jwt.decode(
        token, SECRET, algorithms=["HS256"], audience="la-api", options={"verify_exp": False}
    )
    assert raw["iat"] == raw["nbf"] == int(NOW)
    assert raw["exp"] == int(NOW) + 3600
    assert jwt.get_unverified_header(token)["alg"] == "HS256"

    second, _ = issuer.issue(
        subject="u-7", email=None, roles=(), organization_id=None, now=issued_at
    )
    other = await verifier.verify(second)
    assert other.token_id != principal.token_id
    assert other.roles == frozenset({Role.LEARNER})
    assert other.organization_id is None


async def test_issued_tokens_expire() -> None:
    issuer = TokenIssuer(SECRET, ttl_seconds=60)
    token, _ = issuer.issue(
        subject="u-1",
        email=None,
        roles=(),
        organization_id=None,
        now=datetime.fromtimestamp(NOW - 120, UTC),
    )
    with pytest.raises(TokenExpiredError):
        await hs_verifier(leeway=30).verify(token)


def test_issuer_needs_an_aware_instant() -> None:
    with pytest.raises(ValueError, match="timezone"):
        TokenIssuer(SECRET).issue(
            subject="u", email=None, roles=(), organization_id=None, now=datetime(2026, 1, 1)
        )


async def test_a_remembered_token_still_expires() -> None:
    now = [NOW]
    verifier = hs_verifier(leeway=30, clock=lambda: now[0])
    token = hs_token(claims(exp=int(NOW) + 60))
    assert (await verifier.verify(token)).id == "u-1"
    assert (await verifier.verify(token)).id == "u-1"  # answered from memory
    now[0] = NOW + 91
    with pytest.raises(TokenExpiredError):
        await verifier.verify(token)
    with pytest.raises(TokenExpiredError):
        await verifier.verify(token)


async def test_remembered_jwks_tokens_are_rechecked_after_verified_cache_seconds(
    jwks: JwksHarness, rsa_key: rsa.RSAPrivateKey, other_rsa_key: rsa.RSAPrivateKey
) -> None:
    verifier = jwks.make(verified_cache_seconds=60)
    token = rs_token(claims(), rsa_key, kid="key-2026-01")
    await verifier.verify(token)
    jwks.server.keys = [jwk(other_rsa_key, "key-2026-02")]  # the old key is withdrawn
    jwks.monotonic.now += 59
    assert (await verifier.verify(token)).id == "u-1"
    jwks.monotonic.now += 302  # past the JWKS cache and the verified-token memory
    with pytest.raises(AuthenticationError, match="unknown"):
        await verifier.verify(token)
