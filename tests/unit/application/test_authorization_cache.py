"""Membership facts are kept briefly in process (authorization runs on every request)."""

from __future__ import annotations

import pytest

from learning_analytics.application.authorization import CachedMembershipRepository
from learning_analytics.domain.policy import LearnerFacts

pytestmark = pytest.mark.anyio

FACTS = LearnerFacts("l-1", "org-1", "dep-a", None, frozenset({"m-a"}), frozenset())


class CountingMembership:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.known = {"l-1": FACTS}

    async def learner_facts(self, user_id: str) -> LearnerFacts | None:
        self.calls.append(user_id)
        return self.known.get(user_id)


class Ticker:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_facts_and_absences_are_kept_until_the_ttl() -> None:
    inner, ticker = CountingMembership(), Ticker()
    cached = CachedMembershipRepository(inner, ttl_seconds=30, monotonic=ticker)
    assert await cached.learner_facts("l-1") == FACTS
    assert await cached.learner_facts("l-1") == FACTS
    assert await cached.learner_facts("ghost") is None
    assert await cached.learner_facts("ghost") is None
    assert inner.calls == ["l-1", "ghost"]
    # A membership change reaches authorization once the entry expires.
    inner.known["l-1"] = LearnerFacts("l-1", "org-1", "dep-b", None, frozenset(), frozenset())
    ticker.now = 30.5
    assert (await cached.learner_facts("l-1")).department_id == "dep-b"  # type: ignore[union-attr]
    assert inner.calls == ["l-1", "ghost", "l-1"]


async def test_bounded_and_clearable() -> None:
    inner = CountingMembership()
    cached = CachedMembershipRepository(inner, max_entries=2, monotonic=Ticker())
    for user in ("a", "b", "c"):
        await cached.learner_facts(user)
    await cached.learner_facts("a")  # evicted as least recently used: asked again
    assert inner.calls == ["a", "b", "c", "a"]
    cached.clear()
    await cached.learner_facts("c")
    assert inner.calls[-1] == "c"
