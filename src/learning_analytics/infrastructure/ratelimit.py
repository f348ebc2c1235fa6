"""Rate limiting on the `limits` library (SPEC §8.4), shared by replicas through Redis.

Strategy: fixed window. One atomic INCR+EXPIRE (a Lua script) per hit gives the exact count and
the exact reset instant that the `RateLimit-*` and `Retry-After` headers report. A sliding window
counter smooths the burst a client can make across a window boundary (at most 2x the limit),
but its two-key script costs more per hit and its reset time is only an estimate; for
per-user abuse protection the exact, cheap answer is worth more than the smoothing.

Degradation: when Redis fails, the limiter switches to an in-process memory storage and keeps
enforcing every limit there (per replica), logs a warning and reports `degraded` (for
/health/ready). It never fails open. While degraded, a background probe pings Redis at most
every `retry_interval` seconds; when Redis answers, the limiter switches back to it. Short socket
timeouts on the Redis client bound what a dead or black-holed server can cost one request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.errors import StorageError
from redis.asyncio import ConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from learning_analytics.application.ports import RateLimitDecision, RateLimitPolicy

logger = logging.getLogger(__name__)

_STORAGE_ERRORS = (StorageError, RedisError, OSError, TimeoutError)
DEFAULT_KEY_PREFIX = "la:rl"


class ThrottledMemoryStorage(MemoryStorage):
    """limits' `async+memory://` storage with its sweep of expired keys throttled.

    MemoryStorage starts a task after every `incr` that walks *every* key to drop expired ones:
    with 10 000 live keys that costs ~2 ms of event-loop time per request. Reads already drop
    expired keys lazily, so correctness never depends on the sweep; sweeping at most once per
    `sweep_interval` is enough to keep memory bounded.
    """

    def __init__(self, *, sweep_interval: float = 1.0) -> None:
        super().__init__()
        self._sweep_interval = sweep_interval
        self._next_sweep = 0.0

    # Overrides MemoryStorage's private (name-mangled) hook; limits is pinned, and
    # test_rate_limiter checks that the override still takes effect.
    async def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + self._sweep_interval
        await super()._MemoryStorage__schedule_expiry()  # type: ignore[misc]


class LimitsRateLimiter:
    def __init__(
        self,
        shared: RedisStorage | None,
        *,
        pool: ConnectionPool | None = None,
        retry_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`shared` is the Redis storage (None: in-process only); `pool` is its connection
        pool, closed by `close`."""
        self._shared = shared
        self._pool = pool
        self._memory = ThrottledMemoryStorage()
        self._retry_interval = retry_interval
        self._clock = clock
        self._degraded = False
        self._next_probe_at = 0.0
        self._probe: asyncio.Task[None] | None = None
        self._items: dict[RateLimitPolicy, RateLimitItem] = {}

    @classmethod
    def from_url(
        cls,
        redis_url: str | None,
        *,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        retry_interval: float = 5.0,
        connect_timeout: float = 0.25,
        read_timeout: float = 0.5,
    ) -> LimitsRateLimiter:
        """Redis storage shared by replicas when `redis_url` is set, else in-process memory."""
        if not redis_url:
            return cls(None, retry_interval=retry_interval)
        if not redis_url.startswith(("redis://", "rediss://")):
            raise ValueError("the rate limiter needs a redis:// or rediss:// URL")
        # One immediate retry on a broken connection (a pooled connection that died with a
        # Redis restart), none on a timeout: a dead Redis is noticed within ~0.5 s.
        pool = ConnectionPool.from_url(
            redis_url,
            socket_connect_timeout=connect_timeout,
            socket_timeout=read_timeout,
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        options: dict[str, Any] = {"connection_pool": pool}
        storage = RedisStorage(
            "async+" + redis_url,
            wrap_exceptions=True,
            implementation="redispy",
            key_prefix=key_prefix,
            **options,
        )
        return cls(storage, pool=pool, retry_interval=retry_interval)

    @property
    def degraded(self) -> bool:
        return self._degraded

    async def hit(self, policy: RateLimitPolicy, key: str) -> RateLimitDecision:
        item = self._item(policy)
        storage_key = item.key_for(key)
        storage = self._storage()
        try:
            count, reset_at = await _incr(storage, item, storage_key)
        except _STORAGE_ERRORS as exc:
            self._degrade(exc)
            count, reset_at = await _incr(self._memory, item, storage_key)
        return _decision(policy, count=count, reset_at=reset_at, allowed=count <= policy.amount)

    async def peek(self, policy: RateLimitPolicy, key: str) -> RateLimitDecision:
        item = self._item(policy)
        storage_key = item.key_for(key)
        storage = self._storage()
        try:
            count, reset_at = await _read(storage, storage_key)
        except _STORAGE_ERRORS as exc:
            self._degrade(exc)
            count, reset_at = await _read(self._memory, storage_key)
        if count == 0:
            reset_at = time.time() + policy.per_seconds  # the window would start now
        return _decision(policy, count=count, reset_at=reset_at, allowed=count < policy.amount)

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
            self._probe = None
        timer = self._memory.timer
        if timer is not None and not timer.done():
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
        if self._pool is not None:
            await self._pool.aclose()

    def _item(self, policy: RateLimitPolicy) -> RateLimitItem:
        item = self._items.get(policy)
        if item is None:
            item = RateLimitItemPerSecond(policy.amount, policy.per_seconds, namespace=policy.name)
            self._items[policy] = item
        return item

    def _storage(self) -> Storage:
        if self._shared is None:
            return self._memory
        if not self._degraded:
            return self._shared
        if self._probe is None and self._clock() >= self._next_probe_at:
            self._next_probe_at = self._clock() + self._retry_interval
            self._probe = asyncio.get_running_loop().create_task(
                self._probe_shared(self._shared), name="ratelimit:redis-probe"
            )
        return self._memory

    async def _probe_shared(self, shared: RedisStorage) -> None:
        try:
            if await shared.check():
                self._degraded = False
                logger.info("rate limiter: redis answers again; limits are shared again")
        finally:
            self._probe = None

    def _degrade(self, exc: BaseException) -> None:
        if not self._degraded:
            logger.warning(
                "rate limiter: redis unavailable (%s: %s); enforcing limits in process",
                type(exc).__name__,
                exc,
            )
            self._degraded = True
        self._next_probe_at = self._clock() + self._retry_interval


async def _incr(storage: Storage, item: RateLimitItem, key: str) -> tuple[int, float]:
    # What FixedWindowRateLimiter.hit does, but keeping the count it throws away: two round
    # trips give the decision, `remaining` and the reset (hit + get_window_stats take three).
    count = await storage.incr(key, item.get_expiry())
    return count, await storage.get_expiry(key)


async def _read(storage: Storage, key: str) -> tuple[int, float]:
    count = await storage.get(key)
    return count, (await storage.get_expiry(key)) if count else 0.0


def _decision(
    policy: RateLimitPolicy, *, count: int, reset_at: float, allowed: bool
) -> RateLimitDecision:
    return RateLimitDecision(
        allowed=allowed,
        limit=policy.amount,
        remaining=max(0, policy.amount - count),
        reset_after=max(1, math.ceil(reset_at - time.time())),
    )
