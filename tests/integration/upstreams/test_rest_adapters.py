"""Every adapter against the simulator over real HTTP on loopback; sync into the real store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from learning_analytics.application.sync import SyncSources
from learning_analytics.infrastructure.db import tables
from learning_analytics.infrastructure.db.repositories import (
    SqlRecordWriter,
    SqlSyncStateRepository,
)
from learning_analytics.infrastructure.upstreams.catalog import (
    FACTORIES,
    per_user_collections,
    rest_collections,
)
from learning_analytics.infrastructure.upstreams.http import UpstreamPolicy, UpstreamRegistry
from learning_analytics.simulator.population import Population
from tests.fakes import FakeClock

pytestmark = pytest.mark.anyio

POLICY = UpstreamPolicy(total_timeout=3.0, breaker_threshold=3, breaker_recovery=60.0)


@pytest.fixture
async def registry(simulator_url: str) -> AsyncIterator[UpstreamRegistry]:
    urls = {name: f"{simulator_url}/{name}" for name in FACTORIES}
    async with UpstreamRegistry(urls, policy=POLICY, service_token="svc-token") as upstreams:
        yield upstreams


@pytest.fixture
async def faults(simulator_url: str) -> AsyncIterator[Any]:
    async with httpx2.AsyncClient(base_url=simulator_url) as client:

        async def set_fault(service: str, mode: str, **extra: Any) -> None:
            response = await client.put(f"/_sim/faults/{service}", json={"mode": mode, **extra})
            assert response.status_code == 200, response.text

        yield set_fault
        await client.delete("/_sim/faults")


def expected_counts(population: Population) -> dict[str, int]:
    activity = list(population.iter_activity())
    return {
        "directory.organizations": len(population.organizations),
        "directory.departments": len(population.departments),
        "directory.teams": len(population.teams),
        "directory.employees": len(population.users),
        "course-builder.courses": len(population.courses),
        "course-builder.course-units": len(population.course_units),
        "course-builder.enrollments": len(population.enrollments),
        "course-builder.feedback": sum(len(a.feedback) for a in activity),
        "skills-engine.skill-profiles": len(population.skill_profiles),
        "skills-engine.strategic-targets": len(population.strategic_skill_targets),
        "learner-ai.learning-paths": len(population.learning_paths),
        "content-studio.learning-events": sum(len(a.learning_events) for a in activity),
        "assessment.attempts": sum(len(a.assessment_attempts) for a in activity),
        "devlab.practice-sessions": sum(len(a.practice_sessions) for a in activity),
        "rag.assistant-interactions": sum(len(a.assistant_interactions) for a in activity),
    }


async def test_every_collection_pages_through_the_whole_population(
    registry: UpstreamRegistry, population: Population
) -> None:
    expected = expected_counts(population)
    sources = rest_collections(registry)
    assert {source.name for source in sources} == set(expected)
    for source in sources:
        seen: list[object] = []
        cursor = None
        while True:
            page = await source.fetch(since=None, cursor=cursor)
            seen.extend(page.records)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert len(seen) == expected[source.name], source.name


async def test_per_user_reads_return_only_that_learner(
    registry: UpstreamRegistry, population: Population
) -> None:
    learner = next(p for p in population.people if p.archetype == "steady").user_id
    activity = population.activity(learner)
    expected = {
        "course-builder.enrollments": [e for e in population.enrollments if e.user_id == learner],
        "course-builder.feedback": list(activity.feedback),
        "skills-engine.skill-profiles": [
            p for p in population.skill_profiles if p.user_id == learner
        ],
        "learner-ai.learning-paths": [p for p in population.learning_paths if p.user_id == learner],
        "content-studio.learning-events": list(activity.learning_events),
        "assessment.attempts": list(activity.assessment_attempts),
        "devlab.practice-sessions": list(activity.practice_sessions),
        "rag.assistant-interactions": list(activity.assistant_interactions),
    }
    sources = per_user_collections(registry)
    assert {source.name for source in sources} == set(expected)
    for source in sources:
        page = await source.fetch_user(learner, request_id="req-123")
        # The records read over HTTP are exactly the simulated ones (ids, times, scores...).
        assert sorted(page.records, key=repr) == sorted(expected[source.name], key=repr), (
            source.name
        )
    assert expected["content-studio.learning-events"]


async def count(sessions: async_sessionmaker[AsyncSession], table: Any) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


async def test_sync_fills_the_store_and_a_second_sync_changes_nothing(
    registry: UpstreamRegistry, population: Population, session_factory: Any
) -> None:
    sync = SyncSources(
        sources=rest_collections(registry),
        writer=SqlRecordWriter(session_factory),
        state=SqlSyncStateRepository(session_factory),
        clock=FakeClock(datetime.now(UTC)),
    )
    reports = await sync.execute()
    assert all(report.ok for report in reports), [r for r in reports if not r.ok]
    expected = expected_counts(population)
    counted = {
        "learning_events": expected["content-studio.learning-events"],
        "assessment_attempts": expected["assessment.attempts"],
        "users": expected["directory.employees"],
        "enrollments": expected["course-builder.enrollments"],
        "practice_sessions": expected["devlab.practice-sessions"],
    }
    tables_by_name = {t.name: t for t in tables.Base.metadata.sorted_tables}
    before = {name: await count(session_factory, tables_by_name[name]) for name in counted}
    assert before == counted
    again = await sync.execute()
    assert all(report.ok for report in again)
    after = {name: await count(session_factory, tables_by_name[name]) for name in counted}
    assert after == before


async def test_a_down_upstream_does_not_stop_the_others(
    registry: UpstreamRegistry, session_factory: Any, faults: Any
) -> None:
    await faults("devlab", "down")
    sync = SyncSources(
        sources=rest_collections(registry),
        writer=SqlRecordWriter(session_factory),
        state=SqlSyncStateRepository(session_factory),
        clock=FakeClock(datetime.now(UTC)),
    )
    reports = {report.source: report for report in await sync.execute()}
    assert not reports["devlab.practice-sessions"].ok
    assert all(r.ok for name, r in reports.items() if name != "devlab.practice-sessions")
    state = await SqlSyncStateRepository(session_factory).get("devlab.practice-sessions")
    assert state is not None
    assert state.last_error


@pytest.mark.parametrize("mode", ["garbage", "error"])
async def test_faults_become_upstream_errors_and_open_the_breaker(
    registry: UpstreamRegistry, faults: Any, mode: str
) -> None:
    await faults("assessment", mode, errorRate=1.0)
    (source,) = [s for s in rest_collections(registry) if s.name == "assessment.attempts"]
    from learning_analytics.domain.errors import UpstreamError

    for _ in range(POLICY.breaker_threshold):
        with pytest.raises(UpstreamError):
            await source.fetch(since=None, cursor=None)
    assert registry.states()["assessment"] == "open"
    assert registry.states()["devlab"] == "closed"
