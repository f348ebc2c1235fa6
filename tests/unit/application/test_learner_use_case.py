"""GetLearnerMetric with in-memory fakes: window rules, course filter, data source, mock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from learning_analytics.application.learner import (
    ENGAGEMENT,
    VELOCITY,
    GetLearnerMetric,
    LearnerMetric,
    LearnerQuery,
    only_course,
    resolve_window,
)
from learning_analytics.application.mock import mock_history
from learning_analytics.application.ports import RecordWriter, SourcePage, UserProfile
from learning_analytics.application.refresh import RefreshLearner
from learning_analytics.application.serving import (
    CacheKey,
    Computed,
    DataSource,
    ServingPipeline,
)
from learning_analytics.domain.errors import (
    InsufficientDataError,
    InvalidInputError,
    UpstreamUnavailableError,
)
from learning_analytics.domain.metrics.learner import LearnerHistory, Window
from learning_analytics.domain.records import Enrollment, LearningEvent
from learning_analytics.infrastructure.cache.memory import MemoryResponseCache
from tests.fakes import FakeClock, FakeRecordWriter

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def studied(user_id: str, course_id: str, days: Sequence[int]) -> tuple[LearningEvent, ...]:
    return tuple(
        LearningEvent(f"{course_id}-{d}", user_id, course_id, None, "completed", NOW - timedelta(d))
        for d in days
    )


HISTORY = LearnerHistory(
    user_id="u-1",
    enrollments=(
        Enrollment("e-1", "u-1", "c-1", NOW - timedelta(days=40)),
        Enrollment("e-2", "u-1", "c-2", NOW - timedelta(days=40)),
    ),
    learning_events=studied("u-1", "c-1", [20, 10, 1]) + studied("u-1", "c-2", [3]),
)


@dataclass
class FakeHistories:
    stored: dict[str, LearnerHistory] = field(default_factory=dict)

    async def history(
        self, user_id: str, *, since: datetime | None, until: datetime
    ) -> LearnerHistory:
        return self.stored.get(user_id, LearnerHistory(user_id=user_id))

    async def histories(
        self, user_ids: Sequence[str], *, since: datetime | None, until: datetime
    ) -> dict[str, LearnerHistory]:
        return {u: await self.history(u, since=since, until=until) for u in user_ids}


class NoProfiles:
    async def get_profile(self, user_id: str) -> UserProfile | None:
        return None


@dataclass
class FakeActivity:
    ingested: datetime | None

    async def activity_times(
        self, user_id: str, *, since: datetime | None, until: datetime
    ) -> Sequence[datetime]:
        return []

    async def last_ingested_at(self, user_id: str) -> datetime | None:
        return self.ingested


class DownSource:
    name = "content-studio.events"

    async def fetch_user(self, user_id: str, *, request_id: str | None = None) -> SourcePage:
        raise UpstreamUnavailableError("down", service="content-studio")

    async def write(self, writer: RecordWriter, page: SourcePage, *, ingested_at: datetime) -> int:
        return 0


def use_case(
    metric: LearnerMetric[Any] = VELOCITY,
    *,
    upstream_down: bool = False,
    ingested: datetime | None = NOW - timedelta(hours=3),
    mock: bool = False,
) -> GetLearnerMetric[Any]:
    clock = FakeClock(NOW)
    return GetLearnerMetric(
        metric,
        histories=FakeHistories({"u-1": HISTORY}),
        users=NoProfiles(),
        activity=FakeActivity(ingested),
        refresh=RefreshLearner(
            sources=[DownSource()] if upstream_down else [],
            writer=FakeRecordWriter(),
            clock=clock,
        ),
        clock=clock,
        freshness_budget=timedelta(minutes=15),
        mock_fallback=mock,
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (LearnerQuery(), Window(date(2026, 1, 31), date(2026, 3, 1))),  # 30 days ending today
        (LearnerQuery(end=date(2026, 2, 10)), Window(date(2026, 1, 12), date(2026, 2, 10))),
        (LearnerQuery(start=date(2026, 2, 20)), Window(date(2026, 2, 20), date(2026, 3, 1))),
    ],
)
def test_default_window(query: LearnerQuery, expected: Window) -> None:
    assert resolve_window(query, today=date(2026, 3, 1)) == expected


def test_window_limits() -> None:
    LearnerQuery(start=date(2025, 2, 28), end=date(2026, 2, 28))  # 366 days: fine
    with pytest.raises(InvalidInputError):
        LearnerQuery(start=date(2025, 2, 27), end=date(2026, 2, 28))  # 367
    with pytest.raises(InvalidInputError):
        LearnerQuery(start=date(2026, 3, 2), end=date(2026, 3, 1))
    with pytest.raises(InvalidInputError):  # from after the default `to` (today)
        resolve_window(LearnerQuery(start=date(2026, 3, 2)), today=date(2026, 3, 1))


def test_only_course_keeps_that_course() -> None:
    filtered = only_course(HISTORY, "c-2")
    assert [e.course_id for e in filtered.enrollments] == ["c-2"]
    assert [e.id for e in filtered.learning_events] == ["c-2-3"]


async def test_realtime_after_a_complete_refresh_even_with_old_data() -> None:
    answer = await use_case().execute(user_id="u-1", query=LearnerQuery())
    assert (answer.data_source, answer.data_as_of) == ("realtime", NOW - timedelta(hours=3))
    assert answer.timezone == "UTC"


async def test_stale_when_the_refresh_fails_and_the_data_is_older_than_the_budget() -> None:
    answer = await use_case(upstream_down=True).execute(user_id="u-1", query=LearnerQuery())
    assert (answer.data_source, answer.data_as_of) == ("stale", NOW - timedelta(hours=3))


async def test_realtime_when_the_refresh_fails_but_the_data_is_fresh() -> None:
    fresh = use_case(upstream_down=True, ingested=NOW - timedelta(minutes=10))
    answer = await fresh.execute(user_id="u-1", query=LearnerQuery())
    assert answer.data_source == "realtime"


async def test_course_without_records_is_insufficient_data() -> None:
    with pytest.raises(InsufficientDataError, match="c-9"):
        await use_case().execute(user_id="u-1", query=LearnerQuery(course_id="c-9"))


async def test_mock_only_for_an_empty_store_and_only_when_enabled() -> None:
    query = LearnerQuery(tz=ZoneInfo("Europe/Berlin"))
    answer = await use_case(ENGAGEMENT, mock=True).execute(user_id="nobody", query=query)
    assert (answer.data_source, answer.data_as_of) == ("mock", None)
    again = await use_case(ENGAGEMENT, mock=True).execute(user_id="nobody", query=query)
    assert again.value == answer.value
    other = await use_case(ENGAGEMENT, mock=True).execute(user_id="somebody", query=query)
    assert other.value != answer.value
    real = await use_case(mock=True).execute(user_id="u-1", query=LearnerQuery())
    assert real.data_source == "realtime"
    with pytest.raises(InsufficientDataError):
        await use_case(mock=False).execute(user_id="nobody", query=LearnerQuery())


def test_mock_history_is_deterministic_and_overlapping_windows_agree() -> None:
    tz = ZoneInfo("UTC")
    short = mock_history("u-7", now=NOW, tz=tz, window=Window(date(2026, 2, 15), date(2026, 3, 1)))
    long = mock_history("u-7", now=NOW, tz=tz, window=Window(date(2026, 2, 1), date(2026, 3, 1)))
    assert short == mock_history(
        "u-7", now=NOW, tz=tz, window=Window(date(2026, 2, 15), date(2026, 3, 1))
    )
    days = {e.occurred_at.date() for e in short.learning_events}
    assert days == {
        e.occurred_at.date() for e in long.learning_events if e.occurred_at.date() in days
    }
    assert all(e.occurred_at <= NOW for e in long.learning_events)


async def test_a_cached_mock_or_stale_answer_keeps_its_source() -> None:
    pipeline = ServingPipeline(
        cache=MemoryResponseCache(10), clock=FakeClock(NOW), ttl_seconds=300, stale_seconds=60
    )
    sources: tuple[DataSource, ...] = ("mock", "stale", "realtime")
    for source in sources:
        key = CacheKey.build(route="learner.velocity", subject=source, query={})

        async def compute(source: DataSource = source) -> Computed:
            return Computed(data=b"{}", data_as_of=None, data_source=source)

        first = await pipeline.serve(key, compute)
        hit = await pipeline.serve(key, compute)
        assert (first.hit, hit.hit) == (False, True)
        assert hit.data_source == ("cached" if source == "realtime" else source)
