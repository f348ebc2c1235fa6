"""The serving pipeline: cache, single-flight, stale fallback, data versions (SPEC §9)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from learning_analytics.application.serving import CacheKey, Computed, ServingPipeline
from learning_analytics.domain.errors import UpstreamUnavailableError
from learning_analytics.infrastructure.cache.memory import MemoryResponseCache

pytestmark = pytest.mark.anyio


class FrozenClock:
    def __init__(self, now: datetime) -> None:
        self.moment = now

    def now(self) -> datetime:
        return self.moment


KEY = CacheKey.build(route="learner.velocity", subject="u-1", query={"tz": "UTC", "x": None})


def make_pipeline(clock: FrozenClock) -> tuple[ServingPipeline, MemoryResponseCache]:
    cache = MemoryResponseCache(100)
    return ServingPipeline(cache=cache, clock=clock, ttl_seconds=300, stale_seconds=3600), cache


async def test_fifty_concurrent_misses_compute_once() -> None:
    clock = FrozenClock(datetime(2026, 11, 27, tzinfo=UTC))
    pipeline, _ = make_pipeline(clock)
    calls = 0

    async def compute() -> Computed:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return Computed(data=b'{"v":1}', data_as_of=None)

    answers = await asyncio.gather(*(pipeline.serve(KEY, compute) for _ in range(50)))
    assert calls == 1
    assert {a.entry.data for a in answers} == {b'{"v":1}'}
    assert {a.data_source for a in answers} == {"realtime"}


async def test_second_request_is_a_cache_hit_until_ttl_then_recomputed() -> None:
    clock = FrozenClock(datetime(2026, 11, 27, tzinfo=UTC))
    pipeline, _ = make_pipeline(clock)
    values = iter([b"1", b"2"])

    async def compute() -> Computed:
        return Computed(data=next(values), data_as_of=None)

    first = await pipeline.serve(KEY, compute)
    second = await pipeline.serve(KEY, compute)
    assert (first.data_source, second.data_source) == ("realtime", "cached")
    assert second.entry.etag == first.entry.etag
    assert second.cache_expiry == clock.moment + timedelta(seconds=300)
    clock.moment += timedelta(seconds=301)
    third = await pipeline.serve(KEY, compute)
    assert (third.data_source, third.entry.data) == ("realtime", b"2")
    assert third.entry.etag != first.entry.etag


async def test_force_refresh_skips_the_cache() -> None:
    clock = FrozenClock(datetime(2026, 11, 27, tzinfo=UTC))
    pipeline, _ = make_pipeline(clock)
    values = iter([b"1", b"2"])

    async def compute() -> Computed:
        return Computed(data=next(values), data_as_of=None)

    await pipeline.serve(KEY, compute)
    refreshed = await pipeline.serve(KEY, compute, force_refresh=True)
    assert (refreshed.data_source, refreshed.entry.data) == ("realtime", b"2")


async def test_data_version_bump_invalidates_and_upstream_failure_serves_stale() -> None:
    clock = FrozenClock(datetime(2026, 11, 27, tzinfo=UTC))
    pipeline, cache = make_pipeline(clock)

    async def good() -> Computed:
        return Computed(data=b"old", data_as_of=clock.moment)

    async def failing() -> Computed:
        raise UpstreamUnavailableError("down", service="course-builder")

    await pipeline.serve(KEY, good)
    await cache.bump_data_version("global")
    stale = await pipeline.serve(KEY, failing)
    assert (stale.data_source, stale.entry.data) == ("stale", b"old")


async def test_upstream_failure_without_any_stored_answer_propagates() -> None:
    pipeline, _ = make_pipeline(FrozenClock(datetime(2026, 11, 27, tzinfo=UTC)))

    async def failing() -> Computed:
        raise UpstreamUnavailableError("down", service="assessment")

    with pytest.raises(UpstreamUnavailableError):
        await pipeline.serve(KEY, failing)


def test_cache_key_is_normalised_and_ignores_absent_parameters() -> None:
    a = CacheKey.build(route="r", subject="u-1", query={"b": 2, "a": "x", "c": None})
    b = CacheKey.build(route="r", subject="u-1", query={"a": "x", "b": "2"})
    assert a.render(3) == b.render(3) == "r|u-1|a=x&b=2|v3"
