"""On-demand refresh: parallel fan-out within a budget; late or failing sources are reported."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from learning_analytics.application.ports import RecordWriter, SourcePage
from learning_analytics.application.refresh import RefreshLearner
from learning_analytics.domain.errors import UpstreamUnavailableError
from tests.fakes import FakeClock, FakeRecordWriter

pytestmark = pytest.mark.anyio


@dataclass
class DelayedSource:
    name: str
    delay: float
    fail: bool = False

    async def fetch_user(self, user_id: str, *, request_id: str | None = None) -> SourcePage:
        await asyncio.sleep(self.delay)
        if self.fail:
            raise UpstreamUnavailableError("boom", service=self.name)
        raw = f'{{"from": "{self.name}"}}'
        return SourcePage(records=[(self.name, user_id)], next_cursor=None, newest=None, raw=raw)

    async def write(self, writer: RecordWriter, page: SourcePage, *, ingested_at: datetime) -> int:
        assert isinstance(writer, FakeRecordWriter)
        for name, user in page.records:  # type: ignore[misc]
            writer.rows[f"{name}:{user}"] = ingested_at
        return len(page.records)


def refresher(
    *sources: DelayedSource, budget: float = 1.5
) -> tuple[RefreshLearner, FakeRecordWriter]:
    writer = FakeRecordWriter()
    clock = FakeClock(datetime(2026, 11, 27, tzinfo=UTC))
    return RefreshLearner(
        sources=sources, writer=writer, clock=clock, budget_seconds=budget
    ), writer


async def test_fan_out_takes_the_slowest_not_the_sum() -> None:
    # Nine upstreams at 0.2 s each: in parallel about 0.2 s; in sequence it would be 1.8 s.
    use_case, writer = refresher(*(DelayedSource(f"s{i}", 0.2) for i in range(9)))
    started = time.perf_counter()
    report = await use_case.execute("l-1")
    elapsed = time.perf_counter() - started
    assert report.complete
    assert len(report.refreshed) == 9
    assert len(writer.rows) == 9
    assert 0.2 <= elapsed < 0.9


async def test_late_and_failing_sources_are_left_for_later_and_reported() -> None:
    use_case, writer = refresher(
        DelayedSource("fast", 0.01),
        DelayedSource("slow", 5.0),
        DelayedSource("broken", 0.01, fail=True),
        budget=0.3,
    )
    started = time.perf_counter()
    report = await use_case.execute("l-1")
    assert time.perf_counter() - started < 1.0
    assert report.refreshed == ("fast",)
    assert set(report.missing) == {"slow", "broken"}
    assert not report.complete
    assert list(writer.rows) == ["fast:l-1"]
    assert writer.raw == ['{"from": "fast"}']  # the reply used is archived, only that one


async def test_no_sources_is_a_complete_no_op() -> None:
    use_case, _ = refresher()
    report = await use_case.execute("l-1")
    assert report.complete
    assert report.rows == 0
