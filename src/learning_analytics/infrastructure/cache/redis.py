"""Redis response cache, shared by every replica (SPEC §9 layer 3, §13).

Value layout: one line of JSON header (etag, instants, source), a newline, then the `data` bytes
as they are: no re-encoding of the payload, no pickle. JSON escapes newlines, so the first
newline always ends the header.

Redis is an accelerator here, never a dependency of the answer: any Redis error makes `get` a
miss and `set`/`delete` no-ops; one warning is logged per outage, and for `retry_after` seconds
after a failure Redis is not even tried, so a dead or black-holed server costs requests nothing.
`ping` always asks Redis (it is the readiness probe) and ends the outage when Redis answers.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import datetime

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from learning_analytics.application.ports import CachedResponse
from learning_analytics.infrastructure.redis_outage import REDIS_ERRORS, RedisOutage

logger = logging.getLogger(__name__)

_FORMAT = 1


def create_redis_client(
    url: str, *, connect_timeout: float = 0.25, read_timeout: float = 0.5
) -> Redis:
    """A client that fails fast: short timeouts, and one immediate retry on a broken
    connection (a pooled connection that died with a Redis restart) but none on a timeout."""
    return Redis.from_url(
        url,
        socket_connect_timeout=connect_timeout,
        socket_timeout=read_timeout,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )


class RedisResponseCache:
    """`close` closes the client only when this cache owns it (`from_url`, or
    `owns_client=True`); a client passed in and shared stays the caller's to close."""

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "la:",
        retry_after: float = 1.0,
        owns_client: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._entry_prefix = f"{prefix}rc:"
        self._version_prefix = f"{prefix}dv:"
        self._owns_client = owns_client
        self._outage = RedisOutage(
            "the response cache",
            fallback="serving without it",
            retry_after=retry_after,
            monotonic=clock,
        )

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "la:") -> RedisResponseCache:
        return cls(create_redis_client(url), prefix=prefix, owns_client=True)

    @property
    def available(self) -> bool:
        return not self._outage.down

    async def get(self, key: str) -> CachedResponse | None:
        if self._outage.skip():
            return None
        try:
            raw = await self._client.get(self._entry_prefix + key)
        except REDIS_ERRORS as exc:
            self._outage.failed("get", exc)
            return None
        self._outage.succeeded()
        if raw is None:
            return None
        try:
            return decode_entry(raw if isinstance(raw, bytes) else raw.encode())
        except (ValueError, KeyError, TypeError):
            logger.warning("cache entry %r is unreadable; treating it as a miss", key)
            return None

    async def set(self, key: str, entry: CachedResponse, *, keep_seconds: int) -> None:
        if keep_seconds <= 0 or self._outage.skip():
            return
        try:
            await self._client.set(self._entry_prefix + key, encode_entry(entry), ex=keep_seconds)
        except REDIS_ERRORS as exc:
            self._outage.failed("set", exc)
        else:
            self._outage.succeeded()

    async def delete(self, key: str) -> None:
        if self._outage.skip():
            return
        try:
            await self._client.delete(self._entry_prefix + key)
        except REDIS_ERRORS as exc:
            self._outage.failed("delete", exc)
        else:
            self._outage.succeeded()

    async def data_version(self, scope: str) -> int:
        """The version, or 0 while Redis is down (nothing is cached then anyway)."""
        if self._outage.skip():
            return 0
        try:
            raw = await self._client.get(self._version_prefix + scope)
        except REDIS_ERRORS as exc:
            self._outage.failed("data_version", exc)
            return 0
        self._outage.succeeded()
        return 0 if raw is None else int(raw)

    async def bump_data_version(self, scope: str) -> int:
        """The new version, or 0 when Redis is down (the bump is lost; logged)."""
        if self._outage.skip():
            logger.warning("redis cache is down: data version of %r not bumped", scope)
            return 0
        try:
            version = await self._client.incr(self._version_prefix + scope)
        except REDIS_ERRORS as exc:
            self._outage.failed("bump_data_version", exc)
            logger.warning("redis cache is down: data version of %r not bumped", scope)
            return 0
        self._outage.succeeded()
        return int(version)

    async def ping(self) -> bool:
        try:
            await self._client.ping()
        except REDIS_ERRORS as exc:
            self._outage.failed("ping", exc)
            return False
        self._outage.succeeded()
        return True

    async def close(self) -> None:
        if self._owns_client:
            await self._client.aclose()


def encode_entry(entry: CachedResponse) -> bytes:
    header = {
        "v": _FORMAT,
        "e": entry.etag,
        "c": entry.calculated_at.isoformat(),
        "a": None if entry.data_as_of is None else entry.data_as_of.isoformat(),
        "f": entry.fresh_until.isoformat(),
        "s": entry.data_source,
    }
    return json.dumps(header, separators=(",", ":")).encode() + b"\n" + entry.data


def decode_entry(raw: bytes) -> CachedResponse:
    head, separator, data = raw.partition(b"\n")
    if not separator:
        raise ValueError("no header")
    header = json.loads(head)
    if header["v"] != _FORMAT:
        raise ValueError(f"unknown cache entry format {header['v']!r}")
    data_as_of = header["a"]
    return CachedResponse(
        data=data,
        etag=header["e"],
        calculated_at=datetime.fromisoformat(header["c"]),
        data_as_of=None if data_as_of is None else datetime.fromisoformat(data_as_of),
        fresh_until=datetime.fromisoformat(header["f"]),
        data_source=header["s"],
    )
