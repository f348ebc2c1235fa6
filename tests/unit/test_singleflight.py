from __future__ import annotations

import asyncio

import pytest

from learning_analytics.application.singleflight import SingleFlight

pytestmark = pytest.mark.anyio


class Computation:
    """Counts its runs and finishes only when released, so callers really overlap."""

    def __init__(self, result: str = "answer") -> None:
        self.result = result
        self.runs = 0
        self.release = asyncio.Event()

    async def __call__(self) -> str:
        self.runs += 1
        await self.release.wait()
        return self.result


async def test_concurrent_callers_of_one_key_share_one_run() -> None:
    flight = SingleFlight()
    compute = Computation()

    callers = [asyncio.create_task(flight.run("k", compute)) for _ in range(50)]
    await asyncio.sleep(0)
    compute.release.set()
    results = await asyncio.gather(*callers)

    assert compute.runs == 1
    assert results == ["answer"] * 50
    assert len(flight) == 0  # the key is released


async def test_different_keys_run_separately() -> None:
    flight = SingleFlight()
    first, second = Computation("one"), Computation("two")

    tasks = [
        asyncio.create_task(flight.run("a", first)),
        asyncio.create_task(flight.run("b", second)),
        asyncio.create_task(flight.run("a", first)),
    ]
    await asyncio.sleep(0)
    first.release.set()
    second.release.set()

    assert await asyncio.gather(*tasks) == ["one", "two", "one"]
    assert (first.runs, second.runs) == (1, 1)


async def test_a_finished_key_is_computed_again() -> None:
    flight = SingleFlight()
    compute = Computation()
    compute.release.set()

    await flight.run("k", compute)
    await flight.run("k", compute)

    assert compute.runs == 2


async def test_exception_reaches_every_waiter_and_the_next_call_recomputes() -> None:
    flight = SingleFlight()
    release = asyncio.Event()
    runs = 0

    async def failing() -> str:
        nonlocal runs
        runs += 1
        await release.wait()
        raise RuntimeError("upstream down")

    callers = [asyncio.create_task(flight.run("k", failing)) for _ in range(10)]
    await asyncio.sleep(0)
    release.set()
    outcomes = await asyncio.gather(*callers, return_exceptions=True)

    assert runs == 1
    assert all(isinstance(o, RuntimeError) and str(o) == "upstream down" for o in outcomes)

    async def succeeding() -> str:
        return "recovered"

    assert await flight.run("k", succeeding) == "recovered"


async def test_a_cancelled_waiter_does_not_cancel_the_shared_computation() -> None:
    flight = SingleFlight()
    compute = Computation()

    first = asyncio.create_task(flight.run("k", compute))  # the caller that started it
    others = [asyncio.create_task(flight.run("k", compute)) for _ in range(3)]
    await asyncio.sleep(0)
    first.cancel()
    others[0].cancel()
    await asyncio.sleep(0)
    compute.release.set()

    with pytest.raises(asyncio.CancelledError):
        await first
    with pytest.raises(asyncio.CancelledError):
        await others[0]
    assert await asyncio.gather(*others[1:]) == ["answer", "answer"]
    assert compute.runs == 1


async def test_a_computation_finishes_even_when_every_waiter_gives_up() -> None:
    flight = SingleFlight()
    compute = Computation()
    finished = asyncio.Event()

    async def tracked() -> str:
        result = await compute()
        finished.set()
        return result

    caller = asyncio.create_task(flight.run("k", tracked))
    await asyncio.sleep(0)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    compute.release.set()

    await asyncio.wait_for(finished.wait(), timeout=1)
    await asyncio.sleep(0)
    assert len(flight) == 0
