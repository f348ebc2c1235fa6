"""Bearer token verification and issuance (SPEC §8.1).

Verification modes, any combination at once, each key bound to exactly one algorithm:

- HS256 with our secret (the tokens `TokenIssuer` hands out at `/auth/login`);
- RS256 with a configured PEM public key (nAuth: no `kid`, key distributed out of band);
- RS256 with keys from a JWKS URL, chosen by `kid` (legacy Auth MS12).

The header's `alg` only selects among the keys configured for that algorithm; it can never make
a key be used with another algorithm, so `none`, HS/RS confusion (an HS256 token "signed" with
the RSA public key text) and every other algorithm are refused. `exp` is required, `nbf` and
`iat` are honoured with `leeway` seconds, `iss`/`aud` are checked when configured, and tokens
longer than `max_token_bytes` are refused before any decoding.

The compact serialisation is parsed here rather than through `jwt.decode`, which re-prepares
(and for HMAC re-inspects as PEM/DER) the key on every call: keys are prepared once, parsed
headers are memoised, and the HS256 path is one regex match, two base64 decodes, one HMAC and
one JSON parse. Signature checks use PyJWT's RSA algorithm and the standard library's HMAC.
A verified token's principal is then remembered (bounded, `verified_cache_seconds`), so the
next request with the same token costs one dict lookup and the expiry check.

JWKS are fetched with the shared async HTTP client (PyJWKClient would block the event loop),
cached for `jwks_cache_seconds`, refetched on an unknown `kid` at most once per 30 s, and
concurrent refreshes share one request. While the endpoint is unreachable the last good key set
keeps being used; with none at all, verification of JWKS tokens raises UpstreamUnavailableError.

Errors: AuthenticationError (missing, malformed, badly signed, not yet valid, wrong issuer or
audience), TokenExpiredError (valid but expired), UpstreamUnavailableError (no JWKS keys).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import logging
import math
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from jwt.algorithms import HMACAlgorithm, RSAAlgorithm

from learning_analytics.domain.errors import (
    AuthenticationError,
    TokenExpiredError,
    UpstreamUnavailableError,
)
from learning_analytics.domain.identity import principal_from_claims
from learning_analytics.domain.models import Principal

logger = logging.getLogger(__name__)

HS256 = "HS256"
RS256 = "RS256"
MIN_HMAC_SECRET_BYTES = 32  # RFC 7518 §3.2: at least the hash output size
MIN_RSA_KEY_BITS = 2048
JWKS_MIN_REFETCH_SECONDS = 30.0
MAX_JWKS_BYTES = 256 * 1024
_MAX_CACHED_HEADERS = 256

_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_RSA_SHA256 = RSAAlgorithm(RSAAlgorithm.SHA256)


@dataclass(frozen=True, slots=True)
class _Header:
    alg: str
    kid: str | None


@dataclass(frozen=True, slots=True)
class _Verified:
    principal: Principal
    expires: float  # POSIX seconds
    forget_at: float  # monotonic seconds


def _hmac_key(secret: str | bytes) -> bytes:
    """The secret as HMAC key bytes; refuses asymmetric key material and short secrets."""
    try:
        key = HMACAlgorithm(HMACAlgorithm.SHA256).prepare_key(secret)
    except jwt.InvalidKeyError as error:
        raise ValueError(f"unusable HS256 secret: {error}") from None
    if len(key) < MIN_HMAC_SECRET_BYTES:
        raise ValueError(f"the HS256 secret must be at least {MIN_HMAC_SECRET_BYTES} bytes")
    return key


def _rsa_public_key(pem: str | bytes) -> RSAPublicKey:
    if isinstance(pem, str):
        # Environment variables often carry the PEM with literal "\n" escapes.
        pem = pem.replace("\\n", "\n").strip()
    try:
        key = _RSA_SHA256.prepare_key(pem)
    except (jwt.InvalidKeyError, ValueError, TypeError) as error:
        raise ValueError(f"unusable RS256 public key: {error}") from None
    public = key.public_key() if isinstance(key, RSAPrivateKey) else key
    if public.key_size < MIN_RSA_KEY_BITS:
        raise ValueError(f"the RS256 key must be at least {MIN_RSA_KEY_BITS} bits")
    return public


def _b64decode(segment: str) -> bytes:
    # The caller has already checked the alphabet; only the length can still be impossible.
    if len(segment) % 4 == 1:
        raise AuthenticationError("Malformed token")
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise AuthenticationError("Malformed token") from None


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        raise AuthenticationError("Malformed token") from None
    if not isinstance(value, dict):
        raise AuthenticationError("Malformed token")
    return value


def _numeric_date(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise AuthenticationError(f"Malformed token: '{name}' is not a NumericDate")
    return float(value)


def _names(value: str | Sequence[str] | None) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset({value}) if value else frozenset()
    return frozenset(name for name in value if name)


class TokenVerifier:
    """Verifies bearer tokens and normalises their claims into a Principal."""

    def __init__(
        self,
        *,
        hs256_secret: str | bytes | None = None,
        rs256_public_key_pem: str | bytes | None = None,
        jwks_url: str | None = None,
        http_client: httpx2.AsyncClient | None = None,
        issuer: str | Sequence[str] | None = None,
        audience: str | Sequence[str] | None = None,
        leeway: float = 30.0,
        max_token_bytes: int = 8192,
        jwks_cache_seconds: float = 300.0,
        verified_cache_size: int = 4096,
        verified_cache_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (hs256_secret or rs256_public_key_pem or jwks_url):
            raise ValueError(
                "configure at least one of hs256_secret, rs256_public_key_pem, jwks_url"
            )
        if jwks_url and http_client is None:
            raise ValueError("jwks_url needs an http_client")
        self._jwks_source = (
            (http_client, jwks_url) if http_client is not None and jwks_url else None
        )
        if leeway < 0 or max_token_bytes < 1 or jwks_cache_seconds <= 0:
            raise ValueError("leeway must be >= 0, max_token_bytes and jwks_cache_seconds > 0")
        self._hs256_key = _hmac_key(hs256_secret) if hs256_secret else None
        self._rs256_key = _rsa_public_key(rs256_public_key_pem) if rs256_public_key_pem else None
        self._issuers = _names(issuer)
        self._audiences = _names(audience)
        self._leeway = float(leeway)
        self._max_token_bytes = max_token_bytes
        self._jwks_cache_seconds = float(jwks_cache_seconds)
        self._clock = clock
        self._monotonic = monotonic
        self._headers: dict[str, _Header] = {}
        self._jwks_keys: dict[str, RSAPublicKey] = {}
        self._jwks_fresh_until = -math.inf
        self._jwks_last_attempt = -math.inf
        self._jwks_lock = asyncio.Lock()
        self._verified: dict[str, _Verified] = {}
        self._verified_size = max(verified_cache_size, 0)
        self._verified_seconds = verified_cache_seconds

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token; raises AuthenticationError (or TokenExpiredError)."""
        remembered = self._verified.get(token)
        if remembered is not None:
            if self._clock() - self._leeway >= remembered.expires:
                del self._verified[token]
                raise TokenExpiredError("Token has expired")
            if self._monotonic() < remembered.forget_at:
                return remembered.principal
            del self._verified[token]
        if not token:
            raise AuthenticationError("Missing bearer token")
        if len(token) > self._max_token_bytes:
            raise AuthenticationError("Token is too large")
        if _COMPACT_JWS.fullmatch(token) is None:
            raise AuthenticationError("Malformed token")
        header_segment, payload_segment, signature_segment = token.split(".")
        header = self._header(header_segment)
        signature = _b64decode(signature_segment)
        signing_input = token[: len(header_segment) + 1 + len(payload_segment)].encode("ascii")

        if header.alg == HS256 and self._hs256_key is not None:
            expected = hmac.digest(self._hs256_key, signing_input, "sha256")
            valid = hmac.compare_digest(expected, signature)
        elif header.alg == RS256 and (self._rs256_key is not None or self._jwks_source):
            key = await self._rsa_key(header.kid)
            valid = _RSA_SHA256.verify(signing_input, key, signature)
        else:
            raise AuthenticationError("Token algorithm is not accepted")
        if not valid:
            raise AuthenticationError("Invalid token signature")

        claims = _json_object(_b64decode(payload_segment))
        expires = self._check_claims(claims)
        principal = principal_from_claims(claims, expires_at=datetime.fromtimestamp(expires, UTC))
        self._remember(token, principal, expires)
        return principal

    def _remember(self, token: str, principal: Principal, expires: float) -> None:
        """Keep a verified token's principal for a short while: clients reuse one token for
        every request, and its signature and claims cannot change. Expiry is still checked on
        every use; the bound on time only limits how long a key dropped from the JWKS is
        trusted for tokens already seen."""
        if self._verified_size == 0:
            return
        if len(self._verified) >= self._verified_size:
            del self._verified[next(iter(self._verified))]  # the oldest
        forget_at = self._monotonic() + self._verified_seconds
        self._verified[token] = _Verified(principal, expires, forget_at)

    def _header(self, segment: str) -> _Header:
        cached = self._headers.get(segment)
        if cached is not None:
            return cached
        fields = _json_object(_b64decode(segment))
        alg, kid = fields.get("alg"), fields.get("kid")
        if not isinstance(alg, str) or not (kid is None or isinstance(kid, str)):
            raise AuthenticationError("Malformed token header")
        # No JWS extension is supported, so any critical one (and detached payloads) is refused.
        if "crit" in fields or fields.get("b64", True) is not True:
            raise AuthenticationError("Token uses an unsupported JWS extension")
        header = _Header(alg=alg, kid=kid)
        if len(self._headers) >= _MAX_CACHED_HEADERS:
            self._headers.clear()
        self._headers[segment] = header
        return header

    def _check_claims(self, claims: dict[str, Any]) -> float:
        """Validate the registered claims; the expiry instant (POSIX seconds) when they pass."""
        now = self._clock()
        expires = _numeric_date(claims, "exp")
        if expires is None:
            raise AuthenticationError("Token has no expiry (exp)")
        not_before = _numeric_date(claims, "nbf")
        issued_at = _numeric_date(claims, "iat")
        if expires <= now - self._leeway:
            raise TokenExpiredError("Token has expired")
        if not_before is not None and not_before > now + self._leeway:
            raise AuthenticationError("Token is not valid yet (nbf)")
        if issued_at is not None and issued_at > now + self._leeway:
            raise AuthenticationError("Token is issued in the future (iat)")
        if self._issuers and claims.get("iss") not in self._issuers:
            raise AuthenticationError("Token issuer is not accepted")
        if self._audiences:
            audience = claims.get("aud")
            audiences = [audience] if isinstance(audience, str) else audience
            if not isinstance(audiences, list) or self._audiences.isdisjoint(
                item for item in audiences if isinstance(item, str)
            ):
                raise AuthenticationError("Token audience is not accepted")
        return expires

    async def _rsa_key(self, kid: str | None) -> RSAPublicKey:
        """The RS256 key for `kid`: from the JWKS when it has one, else the configured PEM."""
        if kid is not None and self._jwks_source is not None:
            key = await self._jwks_key(kid)
            if key is not None:
                return key
        if self._rs256_key is not None:
            return self._rs256_key
        raise AuthenticationError("Token signing key is unknown")

    async def _jwks_key(self, kid: str) -> RSAPublicKey | None:
        if self._monotonic() >= self._jwks_fresh_until:
            await self._refresh_jwks(min_interval=0.0)
        key = self._jwks_keys.get(kid)
        if key is None:
            await self._refresh_jwks(min_interval=JWKS_MIN_REFETCH_SECONDS)
            key = self._jwks_keys.get(kid)
        if key is None and not self._jwks_keys and self._rs256_key is None:
            raise UpstreamUnavailableError("No JWKS signing keys are available", service="jwks")
        return key

    async def _refresh_jwks(self, *, min_interval: float) -> None:
        """Fetch the JWKS unless an attempt was made less than `min_interval` seconds ago or the
        cache is fresh; callers that arrive during a fetch wait for it instead of starting one."""
        async with self._jwks_lock:
            # Checked under the lock: callers that waited for a fetch find it done and return.
            now = self._monotonic()
            if min_interval > 0 and now - self._jwks_last_attempt < min_interval:
                return
            if min_interval == 0 and now < self._jwks_fresh_until:
                return
            self._jwks_last_attempt = now
            keys = await self._fetch_jwks()
            if keys is None:
                # Keep the last good keys; try again no sooner than the refetch interval.
                retry = min(JWKS_MIN_REFETCH_SECONDS, self._jwks_cache_seconds)
                self._jwks_fresh_until = self._monotonic() + retry
                return
            self._jwks_keys = keys
            self._jwks_fresh_until = self._monotonic() + self._jwks_cache_seconds

    async def _fetch_jwks(self) -> dict[str, RSAPublicKey] | None:
        if self._jwks_source is None:
            return None
        client, url = self._jwks_source
        try:
            response = await client.get(url, headers={"Accept": "application/json"})
        except httpx2.HTTPError as error:
            logger.warning("JWKS fetch failed: %s", type(error).__name__)
            return None
        if response.status_code != 200 or len(response.content) > MAX_JWKS_BYTES:
            logger.warning("JWKS fetch failed: HTTP %s", response.status_code)
            return None
        try:
            document = response.json()
            key_set = jwt.PyJWKSet.from_dict(document if isinstance(document, dict) else {})
        except (ValueError, jwt.PyJWTError) as error:
            logger.warning("JWKS document is unusable: %s", type(error).__name__)
            return None
        keys: dict[str, RSAPublicKey] = {}
        for jwk in key_set:
            kid = jwk.key_id
            usable = (
                isinstance(kid, str)
                and jwk.algorithm_name == RS256
                and jwk.public_key_use in (None, "sig")
                and isinstance(jwk.key, RSAPublicKey)
                and jwk.key.key_size >= MIN_RSA_KEY_BITS
            )
            if usable and isinstance(kid, str) and isinstance(jwk.key, RSAPublicKey):
                keys[kid] = jwk.key
        if not keys:
            logger.warning("JWKS document has no usable RS256 signing keys")
            return None
        return keys


class TokenIssuer:
    """Issues our own HS256 access tokens, in the claim shape `TokenVerifier` normalises."""

    def __init__(
        self,
        secret: str | bytes,
        *,
        issuer: str | None = None,
        audience: str | None = None,
        ttl_seconds: int = 3600,
    ) -> None:
        if ttl_seconds < 1:
            raise ValueError("ttl_seconds must be positive")
        self._key = _hmac_key(secret)
        self._issuer = issuer or None
        self._audience = audience or None
        self._ttl = timedelta(seconds=ttl_seconds)

    def issue(
        self,
        *,
        subject: str,
        email: str | None,
        roles: Sequence[str],
        organization_id: str | None,
        department_ids: Sequence[str] = (),
        now: datetime,
    ) -> tuple[str, datetime]:
        """A signed token and the instant it expires (whole seconds, UTC)."""
        if not subject:
            raise ValueError("a token needs a subject")
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        issued_at = int(now.timestamp())
        expires_at = datetime.fromtimestamp(issued_at, UTC) + self._ttl
        claims: dict[str, Any] = {
            "sub": subject,
            "roles": list(roles),
            "departmentIds": list(department_ids),
            "jti": uuid.uuid4().hex,
            "iat": issued_at,
            "nbf": issued_at,
            "exp": int(expires_at.timestamp()),
        }
        if email is not None:
            claims["email"] = email
        if organization_id is not None:
            claims["organizationId"] = organization_id
        if self._issuer is not None:
            claims["iss"] = self._issuer
        if self._audience is not None:
            claims["aud"] = self._audience
        token = jwt.encode(claims, self._key, algorithm=HS256, headers={"typ": "JWT"})
        return token, expires_at
