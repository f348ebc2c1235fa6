"""Outage bookkeeping shared by the Redis adapters (cache, token revocation).

After a failure Redis is not asked again for `retry_after` seconds, so a dead server costs
requests nothing; one warning is logged per outage and one line when it ends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from redis.exceptions import RedisError

REDIS_ERRORS = (RedisError, OSError)
logger = logging.getLogger(__name__)


class RedisOutage:
    def __init__(
        self,
        what: str,
        *,
        fallback: str,
        retry_after: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._what = what
        self._fallback = fallback
        self._retry_after = retry_after
        self._monotonic = monotonic
        self._down_until: float | None = None

    @property
    def down(self) -> bool:
        """True from a failure until Redis answers again."""
        return self._down_until is not None

    def skip(self) -> bool:
        """True while Redis should not be asked (within `retry_after` of a failure)."""
        return self._down_until is not None and self._monotonic() < self._down_until

    def failed(self, operation: str, exc: Exception) -> None:
        if self._down_until is None:
            logger.warning(
                "redis unavailable for %s (%s failed: %s: %s); %s",
                self._what,
                operation,
                type(exc).__name__,
                exc,
                self._fallback,
            )
        self._down_until = self._monotonic() + self._retry_after

    def succeeded(self) -> None:
        if self._down_until is not None:
            self._down_until = None
            logger.info("redis available again for %s", self._what)
