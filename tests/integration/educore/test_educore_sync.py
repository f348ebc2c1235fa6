"""Sync through the fake Coordinator over real HTTP on loopback, into the real store (SQLite and
PostgreSQL): every sibling to the end of its pages, signed both ways; a sibling failing part-way;
an idempotent second run; the on-demand refresh of one learner (SPEC §5.1, §5.4, §12)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from learning_analytics.application.refresh import RefreshLearner
from learning_analytics.application.sync import SyncPosition, SyncSources
from learning_analytics.infrastructure.db import tables
from learning_analytics.infrastructure.db.repositories import (
    SqlRecordWriter,
    SqlSyncStateRepository,
)
from learning_analytics.infrastructure.educore.catalog import (
    coordinator_registry,
    educore_sources,
    per_user_sources,
)
from learning_analytics.infrastructure.educore.coordinator import DirectoryToken
from learning_analytics.infrastructure.educore.signing import (
    EnvelopeSigner,
    SignatureVerifier,
    generate_key_pair,
)
from learning_analytics.infrastructure.upstreams.http import UpstreamPolicy, UpstreamRegistry
from learning_analytics.simulator.population import Population
from tests.fakes import FakeClock
from tests.integration.educore.conftest import (
    ANCHOR,
    DIRECTORY_TOKEN,
    SERVICE_NAME,
    Platform,
)

pytestmark = pytest.mark.anyio

POLICY = UpstreamPolicy(total_timeout=20.0, read_timeout=20.0, breaker_threshold=5)
PAGE_SIZE = 7  # Skills Engine users per page: 40 learners, several pages


@pytest.fixture
async def registry(platform: Platform) -> AsyncIterator[UpstreamRegistry]:
    async with coordinator_registry(platform.coordinator_url, policy=POLICY) as upstreams:
        yield upstreams


def sources_for(
    registry: UpstreamRegistry,
    platform: Platform,
    *,
    private_key: str | None = None,
    coordinator_key: str | None = None,
    token: str | None = DIRECTORY_TOKEN,
) -> list[Any]:
    return educore_sources(
        registry,
        signer=EnvelopeSigner(private_key or platform.our_private_key, SERVICE_NAME),
        verifier=SignatureVerifier(coordinator_key or platform.coordinator_public_key),
        clock=FakeClock(ANCHOR),
        directory_token=DirectoryToken(value=token),
        page_size=PAGE_SIZE,
    )


def sync_of(sources: list[Any], sessions: async_sessionmaker[AsyncSession]) -> SyncSources:
    return SyncSources(
        sources=sources,
        writer=SqlRecordWriter(sessions),
        state=SqlSyncStateRepository(sessions),
        clock=FakeClock(ANCHOR),
        concurrency=1,
    )


async def count(sessions: async_sessionmaker[AsyncSession], model: Any) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


def expected_counts(population: Population) -> dict[str, int]:
    activity = list(population.iter_activity())
    since = ANCHOR - timedelta(hours=24)
    return {
        "organizations": len(population.organizations),
        "departments": len(population.departments),
        "teams": len(population.teams),
        # Everyone in a company: not the platform admin, who belongs to none.
        "users": sum(1 for user in population.users if user.role != "admin"),
        "courses": len(population.courses),
        "enrollments": len({(e.user_id, e.course_id) for e in population.enrollments}),
        "feedback": len({(f.user_id, f.course_id) for a in activity for f in a.feedback}),
        "skill_profiles": len(population.skill_profiles),
        "learning_paths": len(population.learning_paths),
        "practice_sessions": sum(len(a.practice_sessions) for a in activity),
        # Assessment answers the last 24 hours only.
        "assessment_attempts": sum(
            1 for a in activity for t in a.assessment_attempts if since <= t.submitted_at <= ANCHOR
        ),
    }


TABLES = {
    "organizations": tables.OrganizationRow,
    "departments": tables.DepartmentRow,
    "teams": tables.TeamRow,
    "users": tables.UserRow,
    "courses": tables.CourseRow,
    "enrollments": tables.EnrollmentRow,
    "feedback": tables.FeedbackRow,
    "skill_profiles": tables.SkillProfileRow,
    "learning_paths": tables.LearningPathRow,
    "practice_sessions": tables.PracticeSessionRow,
    "assessment_attempts": tables.AssessmentAttemptRow,
}


async def store_counts(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    return {name: await count(sessions, model) for name, model in TABLES.items()}


async def test_every_sibling_syncs_to_the_end_and_a_second_run_changes_nothing(
    registry: UpstreamRegistry,
    platform: Platform,
    educore_population: Population,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    sync = sync_of(sources_for(registry, platform), session_factory)
    reports = {report.source: report for report in await sync.execute()}
    assert all(report.ok for report in reports.values()), reports
    expected = expected_counts(educore_population)
    assert expected["assessment_attempts"] > 0  # the 24-hour window is not empty
    assert await store_counts(session_factory) == expected
    # Pages to the end: Directory and Course Builder one company / course page at a time,
    # Skills Engine PAGE_SIZE users a page (a last, empty page when the last one is full).
    learners = len({p.user_id for p in educore_population.skill_profiles})
    assert reports["educore.directory"].pages == len(educore_population.organizations)
    assert reports["educore.course-builder"].pages == len(educore_population.courses)
    assert reports["educore.skills-engine"].pages == learners // PAGE_SIZE + 1
    # The people are Directory's people, with the roles and reporting lines of the population.
    async with session_factory() as session:
        stored = {row.id: row for row in (await session.scalars(select(tables.UserRow))).all()}
    for user in educore_population.users:
        if user.role == "admin":
            continue
        row = stored[user.id]
        assert (row.role, row.organization_id, row.department_id, row.team_id, row.manager_id) == (
            user.role, user.organization_id, user.department_id, user.team_id, user.manager_id,
        ), user.id  # fmt: skip
    # Skill profiles as the population has them: level, target and verification.
    async with session_factory() as session:
        profiles = (await session.scalars(select(tables.SkillProfileRow))).all()
    assert {
        (p.user_id, p.skill_id, p.current_level, p.target_level, p.verified) for p in profiles
    } == {
        (p.user_id, p.skill_id, p.current_level, p.target_level, p.verified)
        for p in educore_population.skill_profiles
    }
    # Assessment's integer ids were mapped onto our users and courses.
    async with session_factory() as session:
        attempts = (await session.scalars(select(tables.AssessmentAttemptRow))).all()
    assert {a.user_id for a in attempts} <= set(stored)
    assert all(a.course_id in {c.id for c in educore_population.courses} for a in attempts)
    raw_before = await count(session_factory, tables.RawPayloadRow)
    assert raw_before == sum(report.pages for report in reports.values())

    again = await sync.execute()
    assert all(report.ok for report in again)
    assert await store_counts(session_factory) == expected
    assert await count(session_factory, tables.RawPayloadRow) == 2 * raw_before


async def test_a_sibling_failing_mid_pages_keeps_its_cursor_and_the_others_sync(
    registry: UpstreamRegistry,
    platform: Platform,
    educore_population: Population,
    session_factory: async_sessionmaker[AsyncSession],
    sim_faults: Any,
) -> None:
    await sim_faults("skills-engine", "error", errorRate=1.0, afterRequests=2)
    sync = sync_of(sources_for(registry, platform), session_factory)
    reports = {report.source: report for report in await sync.execute()}
    failed = reports["educore.skills-engine"]
    assert not failed.ok
    assert failed.pages == 2
    assert all(report.ok for name, report in reports.items() if name != failed.source)
    state = await SqlSyncStateRepository(session_factory).get("educore.skills-engine")
    assert state is not None
    assert state.last_error
    # The stored cursor is the one after the second page: the users of two pages are in.
    learners = sorted({p.user_id for p in educore_population.skill_profiles})
    assert SyncPosition.load(state.cursor).cursor == learners[2 * PAGE_SIZE - 1]
    async with session_factory() as session:
        synced = set((await session.scalars(select(tables.SkillProfileRow.user_id))).all())
    assert synced == set(learners[: 2 * PAGE_SIZE])

    await sim_faults("skills-engine", "ok")
    resumed = {report.source: report for report in await sync.execute()}
    assert resumed["educore.skills-engine"].ok
    # Resumed after the stored cursor: only the pages not read before.
    assert resumed["educore.skills-engine"].pages == len(learners) // PAGE_SIZE + 1 - 2
    assert await count(session_factory, tables.SkillProfileRow) == len(
        educore_population.skill_profiles
    )


async def test_unsigned_or_wrongly_signed_envelopes_are_refused(
    registry: UpstreamRegistry, platform: Platform, session_factory: Any
) -> None:
    stranger, _ = generate_key_pair()
    sync = sync_of(sources_for(registry, platform, private_key=stranger), session_factory)
    reports = await sync.execute()
    assert not any(report.ok for report in reports)
    assert all("HTTP 401" in (report.error or "") for report in reports)
    assert await count(session_factory, tables.UserRow) == 0


async def test_a_reply_signed_by_another_coordinator_is_refused(
    registry: UpstreamRegistry, platform: Platform, session_factory: Any
) -> None:
    _, other_public = generate_key_pair()
    sources = sources_for(registry, platform, coordinator_key=other_public)
    (devlab,) = [source for source in sources if source.name == "educore.devlab"]
    report = (await sync_of([devlab], session_factory).execute())[0]
    assert not report.ok
    assert "signature" in (report.error or "")


async def test_directory_needs_the_configured_admin_token(
    registry: UpstreamRegistry, platform: Platform, session_factory: Any
) -> None:
    sources = sources_for(registry, platform, token=None)
    (directory,) = [source for source in sources if source.name == "educore.directory"]
    report = (await sync_of([directory], session_factory).execute())[0]
    assert not report.ok
    assert "system admin token" in (report.error or "")


async def test_on_demand_refresh_of_one_learner(
    registry: UpstreamRegistry,
    platform: Platform,
    educore_population: Population,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    sources = sources_for(registry, platform)
    (directory,) = [source for source in sources if source.name == "educore.directory"]
    assert (await sync_of([directory], session_factory).execute())[0].ok  # people known first
    learner = next(p.user_id for p in educore_population.people if p.archetype == "steady")
    refresh = RefreshLearner(
        sources=per_user_sources(sources),
        writer=SqlRecordWriter(session_factory),
        clock=FakeClock(ANCHOR),
        budget_seconds=20.0,
    )
    report = await refresh.execute(learner, request_id="req-1")
    assert report.complete
    assert set(report.refreshed) == {
        "educore.skills-engine", "educore.learner-ai", "educore.devlab",
    }  # fmt: skip
    async with session_factory() as session:
        profiles = (await session.scalars(select(tables.SkillProfileRow))).all()
        sessions = (await session.scalars(select(tables.PracticeSessionRow))).all()
        paths = (await session.scalars(select(tables.LearningPathRow))).all()
    assert {p.user_id for p in profiles} == {learner}
    assert len(profiles) == sum(
        1 for p in educore_population.skill_profiles if p.user_id == learner
    )
    assert {s.user_id for s in sessions} == {learner}
    assert len(sessions) == len(educore_population.activity(learner).practice_sessions)
    assert [p.user_id for p in paths] == [learner]


async def test_an_unreachable_coordinator_fails_every_sibling_and_nothing_else(
    platform: Platform, session_factory: Any
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    policy = UpstreamPolicy(total_timeout=1.0, max_attempts=1)
    async with coordinator_registry(f"http://127.0.0.1:{port}", policy=policy) as registry:
        reports = await sync_of(sources_for(registry, platform), session_factory).execute()
    assert len(reports) == 7
    assert not any(report.ok for report in reports)
    assert all("unreachable" in (report.error or "") for report in reports)
    state = await SqlSyncStateRepository(session_factory).get("educore.directory")
    assert state is not None
    assert state.cursor is None  # nothing read, nothing to resume from
