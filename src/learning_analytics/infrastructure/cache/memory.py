"""In-process response cache: a bounded LRU of rendered answers (SPEC §9 layer 3).

`get` is the hot path of a cache hit: one dict lookup, one clock read, one `move_to_end`, and
the stored object itself is returned (CachedResponse is frozen, so sharing it is safe).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from learning_analytics.application.ports import CachedResponse


class MemoryResponseCache:
    def __init__(self, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._clock = clock
        # key -> (expires_at on `clock`, entry); order = least recently used first
        self._entries: OrderedDict[str, tuple[float, CachedResponse]] = OrderedDict()
        self._versions: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> CachedResponse | None:
        item = self._entries.get(key)
        if item is None:
            return None
        if item[0] <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return item[1]

    async def set(self, key: str, entry: CachedResponse, *, keep_seconds: int) -> None:
        entries = self._entries
        entries[key] = (self._clock() + keep_seconds, entry)
        entries.move_to_end(key)
        while len(entries) > self._max_entries:
            entries.popitem(last=False)

    async def delete(self, key: str) -> None:
        self._entries.pop(key, None)

    async def data_version(self, scope: str) -> int:
        return self._versions.get(scope, 0)

    async def bump_data_version(self, scope: str) -> int:
        version = self._versions.get(scope, 0) + 1
        self._versions[scope] = version
        return version

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._entries.clear()
