"""Response cache and HTTP caching on an analytics endpoint (SPEC §6, §9)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

import pytest

from learning_analytics.application.ports import ActivityRepository
from tests.api.conftest import Api

pytestmark = pytest.mark.anyio

URL = "/api/v1/gamification/streak/l-1"


async def test_second_request_is_served_from_the_cache_with_the_same_etag(api: Api) -> None:
    first = await api.client.get(URL, headers=api.auth("l-1"))
    second = await api.client.get(URL, headers=api.auth("l-1"))
    assert first.json()["meta"]["dataSource"] == "realtime"
    assert second.json()["meta"]["dataSource"] == "cached"
    assert first.json()["data"] == second.json()["data"]
    assert first.headers["etag"] == second.headers["etag"]
    assert first.json()["meta"]["requestId"] != second.json()["meta"]["requestId"]


async def test_cache_is_shared_between_viewers_but_authorization_runs_first(api: Api) -> None:
    await api.client.get(URL, headers=api.auth("l-1"))
    trainer = await api.client.get(URL, headers=api.auth("tr-1"))
    assert trainer.json()["meta"]["dataSource"] == "cached"
    # A cached answer is never handed to someone who may not see it.
    outsider = await api.client.get(URL, headers=api.auth("tr-2"))
    assert outsider.status_code == 403
    assert "data" not in outsider.json()


async def test_etag_round_trip_gives_304_with_caching_headers(api: Api) -> None:
    first = await api.client.get(URL, headers=api.auth("l-1"))
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, max-age=14400, stale-while-revalidate=60"
    assert first.headers["vary"] == "Authorization"
    again = await api.client.get(URL, headers={**api.auth("l-1"), "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"].startswith("private")
    other = await api.client.get(URL, headers={**api.auth("l-1"), "If-None-Match": '"other"'})
    assert other.status_code == 200


async def test_no_cache_from_the_subject_forces_recomputation(api: Api) -> None:
    await api.client.get(URL, headers=api.auth("l-1"))
    forced = await api.client.get(URL, headers={**api.auth("l-1"), "Cache-Control": "no-cache"})
    assert forced.json()["meta"]["dataSource"] == "realtime"
    # ...but not from a trainer, who may only read.
    trainer = await api.client.get(URL, headers={**api.auth("tr-1"), "Cache-Control": "no-cache"})
    assert trainer.json()["meta"]["dataSource"] == "cached"


class CountingActivity:
    """Wraps the store's activity repository to count computations."""

    def __init__(self, inner: ActivityRepository) -> None:
        self.inner = inner
        self.calls = 0

    async def activity_times(
        self, user_id: str, *, since: datetime | None, until: datetime
    ) -> Sequence[datetime]:
        self.calls += 1
        await asyncio.sleep(0.05)  # a slow store makes the requests overlap
        return await self.inner.activity_times(user_id, since=since, until=until)

    async def last_ingested_at(self, user_id: str) -> datetime | None:
        return await self.inner.last_ingested_at(user_id)


async def test_concurrent_first_requests_compute_once(api: Api) -> None:
    services = api.app.state.services
    counting = CountingActivity(services.activity)
    services.activity = counting
    responses = await asyncio.gather(
        *(api.client.get(URL, headers=api.auth("l-1")) for _ in range(20))
    )
    assert {r.status_code for r in responses} == {200}
    assert counting.calls == 1
    assert len({r.headers["etag"] for r in responses}) == 1
