"""Membership facts for authorization, kept briefly in process.

Authorization runs on every request, before any cache, so its facts must not cost a database
round trip each time: they change only when ingestion changes the store. Facts (and the
absence of a subject) are kept for `ttl_seconds`; a membership change therefore takes effect
within that time on every replica.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from learning_analytics.application.ports import MembershipRepository
from learning_analytics.domain.policy import LearnerFacts


class CachedMembershipRepository:
    def __init__(
        self,
        inner: MembershipRepository,
        *,
        ttl_seconds: float = 30.0,
        max_entries: int = 50_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._ttl = ttl_seconds
        self._max = max_entries
        self._monotonic = monotonic
        self._entries: OrderedDict[str, tuple[float, LearnerFacts | None]] = OrderedDict()

    async def learner_facts(self, user_id: str) -> LearnerFacts | None:
        now = self._monotonic()
        entry = self._entries.get(user_id)
        if entry is not None and entry[0] > now:
            self._entries.move_to_end(user_id)
            return entry[1]
        facts = await self._inner.learner_facts(user_id)
        self._entries[user_id] = (now + self._ttl, facts)
        self._entries.move_to_end(user_id)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return facts

    def clear(self) -> None:
        self._entries.clear()
