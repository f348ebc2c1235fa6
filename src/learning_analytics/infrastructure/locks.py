"""Leader locks: Redis (shared by replicas) and in-process (one replica, no Redis)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = structlog.get_logger("learning_analytics.locks")

# Delete the key only if it still holds our token: never release someone else's lock.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class RedisLeaderLock:
    def __init__(self, client: Redis, *, prefix: str = "la:lock:") -> None:
        self._client = client
        self._prefix = prefix

    async def acquire(self, name: str, *, ttl_seconds: float) -> str | None:
        token = uuid.uuid4().hex
        try:
            taken = await self._client.set(
                self._prefix + name, token, nx=True, px=int(ttl_seconds * 1000)
            )
        except RedisError as exc:
            # Without Redis no replica can prove it is alone: skip this round rather than risk
            # several replicas syncing at once.
            log.warning("leader_lock_unavailable", lock=name, error=str(exc))
            return None
        return token if taken else None

    async def release(self, name: str, token: str) -> None:
        try:
            await self._client.eval(_RELEASE, 1, self._prefix + name, token)
        except RedisError as exc:
            log.warning("leader_lock_release_failed", lock=name, error=str(exc))


class LocalLeaderLock:
    """For a single process: held until released or expired."""

    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._held: dict[str, tuple[str, float]] = {}
        self._monotonic = monotonic

    async def acquire(self, name: str, *, ttl_seconds: float) -> str | None:
        now = self._monotonic()
        holder = self._held.get(name)
        if holder is not None and holder[1] > now:
            return None
        token = uuid.uuid4().hex
        self._held[name] = (token, now + ttl_seconds)
        return token

    async def release(self, name: str, token: str) -> None:
        holder = self._held.get(name)
        if holder is not None and holder[0] == token:
            del self._held[name]
