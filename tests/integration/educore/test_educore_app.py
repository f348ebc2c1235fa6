"""The API built with UPSTREAM_TRANSPORT=educore against the fake Coordinator: its store filled
by the educore sync, a learner's answer refreshed on demand through the Coordinator."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest

from learning_analytics.application.sync import SyncSources
from learning_analytics.config import Settings
from learning_analytics.infrastructure.auth.tokens import TokenIssuer
from learning_analytics.infrastructure.db.repositories import (
    SqlRecordWriter,
    SqlSyncStateRepository,
)
from learning_analytics.presentation.app import create_app
from learning_analytics.presentation.state import Services, SystemClock
from learning_analytics.presentation.transport import build_transport
from learning_analytics.simulator.population import Population
from tests.integration.educore.conftest import DIRECTORY_TOKEN, SERVICE_NAME, Platform

pytestmark = pytest.mark.anyio

SECRET = secrets.token_urlsafe(48)


def educore_settings(database: Any, platform: Platform) -> Settings:
    return Settings(
        APP_ENV="demo",
        DATABASE_URL=database.url,
        DATABASE_SCHEMA=database.schema,
        REDIS_URL=None,
        JWT_SECRET=SECRET,
        UPSTREAM_TRANSPORT="educore",
        COORDINATOR_URL=platform.coordinator_url,
        EDUCORE_SERVICE_NAME=SERVICE_NAME,
        EDUCORE_PRIVATE_KEY=platform.our_private_key,
        COORDINATOR_PUBLIC_KEY=platform.coordinator_public_key,
        EDUCORE_DIRECTORY_TOKEN=DIRECTORY_TOKEN,
        EDUCORE_SYNC_CRON="",
        REFRESH_BUDGET_SECONDS=20,
        MOCK_FALLBACK=False,
    )


async def test_a_learner_answer_is_refreshed_through_the_coordinator(
    database: Any, platform: Platform, educore_population: Population, session_factory: Any
) -> None:
    settings = educore_settings(database, platform)
    transport = build_transport(settings, clock=SystemClock())
    async with transport.registry:
        sync = SyncSources(
            sources=transport.sources,
            writer=SqlRecordWriter(session_factory),
            state=SqlSyncStateRepository(session_factory),
            clock=SystemClock(),
            concurrency=transport.concurrency,
        )
        assert all(report.ok for report in await sync.execute())

    learner = next(p for p in educore_population.people if p.archetype == "steady")
    token, _ = TokenIssuer(SECRET).issue(
        subject=learner.user_id,
        email=learner.email,
        roles=["learner"],
        organization_id=learner.org_id,
        now=datetime.now(UTC),
    )
    app = create_app(settings, signing_secret=SECRET)
    async with app.router.lifespan_context(app):
        services: Services = app.state.services
        assert set(services.upstream_states()) == {
            "directory", "course-builder", "content-studio", "assessment", "skills-engine",
            "learner-ai", "devlab",
        }  # fmt: skip
        asgi = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=asgi, base_url="http://api") as client:
            response = await client.get(
                f"/api/v1/analytics/learner/skill-gap/{learner.user_id}",
                headers={"Authorization": f"Bearer {token}", "Cache-Control": "no-cache"},
            )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["meta"]["dataSource"] == "realtime"  # every per-learner sibling answered
    assert body["data"]
