"""Revoked token ids (`jti`), remembered until the token could no longer be accepted anyway.

`MemoryTokenRevocationStore` keeps them in process (one replica, or the fallback below).
`RedisTokenRevocationStore` shares them with every replica (SPEC §13): one key per id, written
with SET ... PX so Redis drops it when the token expires.

An entry lives until the token's `exp` plus `grace_seconds`, because verifiers accept a token
for a little while after `exp` (their leeway) and replica clocks differ.

When Redis fails, the Redis store degrades instead of failing the request: every revocation is
also kept in the local memory store, so this replica keeps refusing tokens revoked here, even
those written while Redis was down; those are written to Redis once it answers again, so other
replicas learn them late rather than never. While degraded, revocations made on other replicas
cannot be seen: `degraded` says so (for /health/ready), and one warning is logged per outage.
For `retry_after` seconds after a failure Redis is not even tried, so an outage costs requests
no connection timeouts.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable
from datetime import datetime

from redis.asyncio import Redis

from learning_analytics.infrastructure.redis_outage import REDIS_ERRORS, RedisOutage

DEFAULT_GRACE_SECONDS = 60.0


class MemoryTokenRevocationStore:
    """In-process revocations, bounded: when full, the entry that expires soonest goes first."""

    def __init__(
        self,
        *,
        max_entries: int = 100_000,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_entries < 1 or grace_seconds < 0:
            raise ValueError("max_entries must be positive and grace_seconds >= 0")
        self._max_entries = max_entries
        self._grace = grace_seconds
        self._clock = clock
        self._until: dict[str, float] = {}
        # (forget_at, token_id); may hold superseded pairs, skipped when popped
        self._queue: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._until)

    async def revoke(self, token_id: str, *, expires_at: datetime) -> None:
        self.add(token_id, expires_at=expires_at)

    async def is_revoked(self, token_id: str) -> bool:
        return self.contains(token_id)

    def add(self, token_id: str, *, expires_at: datetime) -> None:
        now = self._clock()
        forget_at = expires_at.timestamp() + self._grace
        self._purge(now)
        if forget_at <= now or forget_at <= self._until.get(token_id, -math.inf):
            return
        self._until[token_id] = forget_at
        heapq.heappush(self._queue, (forget_at, token_id))
        while len(self._until) > self._max_entries:
            self._pop_soonest()
        if len(self._queue) > 2 * len(self._until) + 64:
            self._queue = [(until, key) for key, until in self._until.items()]
            heapq.heapify(self._queue)

    def contains(self, token_id: str) -> bool:
        forget_at = self._until.get(token_id)
        if forget_at is None:
            return False
        if forget_at <= self._clock():
            del self._until[token_id]
            return False
        return True

    def _purge(self, now: float) -> None:
        while self._queue and self._queue[0][0] <= now:
            self._pop_soonest()

    def _pop_soonest(self) -> None:
        forget_at, token_id = heapq.heappop(self._queue)
        if self._until.get(token_id) == forget_at:
            del self._until[token_id]


class RedisTokenRevocationStore:
    """Revocations shared through Redis, with this replica's own kept in memory as well."""

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "la:revoked:",
        fallback: MemoryTokenRevocationStore | None = None,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        retry_after: float = 1.0,
        max_pending: int = 10_000,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._grace = grace_seconds
        self._local = fallback or MemoryTokenRevocationStore(
            grace_seconds=grace_seconds, clock=clock
        )
        self._max_pending = max_pending
        self._clock = clock
        self._outage = RedisOutage(
            "token revocations",
            fallback="using this replica's memory only",
            retry_after=retry_after,
            monotonic=monotonic,
        )
        # Revocations Redis has not accepted yet: token id -> POSIX instant to forget it.
        self._pending: dict[str, float] = {}

    @property
    def degraded(self) -> bool:
        """True while Redis is unreachable and only this replica's revocations are known."""
        return self._outage.down

    async def revoke(self, token_id: str, *, expires_at: datetime) -> None:
        self._local.add(token_id, expires_at=expires_at)
        self._pending[token_id] = expires_at.timestamp() + self._grace
        if len(self._pending) > self._max_pending:
            self._forget_stale_pending()
        if not self._outage.skip():
            await self._flush("revoke")

    async def is_revoked(self, token_id: str) -> bool:
        if self._local.contains(token_id):
            return True
        if self._outage.skip():
            return False
        if self._pending and not await self._flush("is_revoked"):
            return False
        try:
            found = await self._client.exists(self._prefix + token_id)
        except REDIS_ERRORS as exc:
            self._outage.failed("is_revoked", exc)
            return False
        self._outage.succeeded()
        return bool(found)

    async def ping(self) -> bool:
        """Ask Redis (readiness probe); ends an outage, and writes what it missed, if it answers."""
        try:
            await self._client.ping()
        except REDIS_ERRORS as exc:
            self._outage.failed("ping", exc)
            return False
        self._outage.succeeded()
        return not self._pending or await self._flush("ping")

    async def _flush(self, operation: str) -> bool:
        """Write the pending revocations to Redis; False (and degraded) when Redis fails."""
        now = self._clock()
        batch = {
            token_id: math.ceil((forget_at - now) * 1000)
            for token_id, forget_at in self._pending.items()
            if forget_at > now
        }
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for token_id, ttl_ms in batch.items():
                    pipe.set(self._prefix + token_id, b"1", px=max(ttl_ms, 1))
                await pipe.execute()
        except REDIS_ERRORS as exc:
            self._outage.failed(operation, exc)
            return False
        for token_id in batch:
            self._pending.pop(token_id, None)
        self._forget_stale_pending()
        self._outage.succeeded()
        return True

    def _forget_stale_pending(self) -> None:
        now = self._clock()
        self._pending = {key: until for key, until in self._pending.items() if until > now}
        while len(self._pending) > self._max_pending:
            # They stay revoked on this replica (the memory store); only sharing is lost.
            oldest = min(self._pending, key=self._pending.__getitem__)
            del self._pending[oldest]
