"""Single-flight: concurrent callers asking for the same key share one computation (SPEC §9).

In-process only: it collapses the N concurrent cache misses of one replica into one computation.
The shared computation runs in its own task, so a caller that gives up (client disconnect,
timeout) stops waiting without cancelling the work the other callers are waiting for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

T = TypeVar("T")


class SingleFlight:
    def __init__(self) -> None:
        self._running: dict[str, asyncio.Task[Any]] = {}

    def __len__(self) -> int:
        """How many keys are being computed right now."""
        return len(self._running)

    async def run(self, key: str, fn: Callable[[], Awaitable[T]]) -> T:
        task = self._running.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(_await(fn), name=f"singleflight:{key}")
            self._running[key] = task
            # Registered before any waiter's callback, so the key is free again by the time the
            # waiters wake up: a caller that saw a failure and retries starts a new computation.
            task.add_done_callback(lambda done: self._release(key, done))
        # shield: cancelling this caller cancels only its wait, never the shared task.
        return cast("T", await asyncio.shield(task))

    def _release(self, key: str, task: asyncio.Task[Any]) -> None:
        if self._running.get(key) is task:
            del self._running[key]


async def _await(fn: Callable[[], Awaitable[T]]) -> T:
    return await fn()
