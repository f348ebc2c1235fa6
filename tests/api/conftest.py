"""End-to-end API fixtures: a small hand-made organisation in a real store (SQLite and
PostgreSQL), the app built by `create_app`, and tokens minted with the app's own secret.

The world (org-1 in Europe/Berlin, org-2 in UTC):
- dep-a (manager m-a) with team-a1 (team manager tm-a1); dep-b (manager m-b); dep-z in org-2.
- l-1: learner in dep-a/team-a1, timezone America/New_York, enrolled in c-1 (trainer tr-1).
- l-2: learner in dep-b, direct manager dm-1, withdrawn from c-1.
- l-3: learner in org-2 (dep-z), enrolled in c-z (trainer tr-z).
- tr-2: a trainer of org-1 who trains none of them; oa-1/oa-z org admins; ad-1 platform admin.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx2
import pytest
from fastapi import FastAPI

from learning_analytics.application.ports import AuthenticatedUser
from learning_analytics.config import Settings
from learning_analytics.domain.records import (
    Course,
    Department,
    Enrollment,
    LearningEvent,
    Organization,
    Team,
    User,
)
from learning_analytics.infrastructure.auth.tokens import TokenIssuer
from learning_analytics.infrastructure.db.engine import create_engine, create_session_factory
from learning_analytics.infrastructure.db.repositories import SqlRecordWriter
from learning_analytics.presentation.app import create_app
from tests.fakes import FakeAuthGateway, FakeClock

SECRET = secrets.token_urlsafe(48)
PASSWORD = "correct horse battery staple"
NEW_YORK = ZoneInfo("America/New_York")

USERS: dict[str, User] = {
    u.id: u
    for u in [
        User("l-1", "org-1", "l1@org1.example", "Lee One", "learner", "dep-a", "team-a1",
             timezone="America/New_York"),
        User("l-2", "org-1", "l2@org1.example", "Lee Two", "learner", "dep-b", None, "dm-1"),
        User("l-3", "org-2", "l3@org2.example", "Lee Three", "learner", "dep-z"),
        User("tr-1", "org-1", "tr1@org1.example", "Tara Trainer", "trainer"),
        User("tr-2", "org-1", "tr2@org1.example", "Tom Trainer", "trainer"),
        User("tr-z", "org-2", "trz@org2.example", "Zed Trainer", "trainer"),
        User("m-a", "org-1", "ma@org1.example", "Mia Manager", "manager", "dep-a"),
        User("m-b", "org-1", "mb@org1.example", "Max Manager", "manager", "dep-b"),
        User("tm-a1", "org-1", "tma1@org1.example", "Tia Teamlead", "manager", "dep-a"),
        User("dm-1", "org-1", "dm1@org1.example", "Dan Direct", "manager", "dep-a"),
        User("m-z", "org-2", "mz@org2.example", "Zoe Manager", "manager", "dep-z"),
        User("oa-1", "org-1", "oa1@org1.example", "Olga Admin", "org_admin"),
        User("oa-z", "org-2", "oaz@org2.example", "Oz Admin", "org_admin"),
        User("ad-1", "org-1", "ad1@platform.example", "Ada Platform", "admin"),
    ]
}  # fmt: skip


def learner_activity(now: datetime) -> list[LearningEvent]:
    """l-1 studied today (at `now`), yesterday and the day before (local noon, New York), and
    five days ago: a current streak of 3 in New York time."""
    today = now.astimezone(NEW_YORK).date()
    moments = [now] + [
        datetime.combine(today - timedelta(days=k), time(12), NEW_YORK).astimezone(UTC)
        for k in (1, 2, 5)
    ]
    return [
        LearningEvent(f"ev-{i}", "l-1", "c-1", None, "completed", moment, 600)
        for i, moment in enumerate(moments)
    ]


async def seed_world(database_url: str, connect_args: dict[str, Any], now: datetime) -> None:
    engine = create_engine(database_url, pool_size=2, connect_args=connect_args)
    writer = SqlRecordWriter(create_session_factory(engine))
    stamp = {"source": "test", "ingested_at": now - timedelta(minutes=5)}
    try:
        await writer.upsert_organizations(
            [
                Organization("org-1", "Org One", "Europe/Berlin"),
                Organization("org-2", "Org Two", "UTC"),
            ],
            **stamp,
        )
        await writer.upsert_departments(
            [
                Department("dep-a", "org-1", "Analytics", "m-a"),
                Department("dep-b", "org-1", "Business", "m-b"),
                Department("dep-z", "org-2", "Zeta", "m-z"),
            ],
            **stamp,
        )
        await writer.upsert_teams([Team("team-a1", "dep-a", "A1", "tm-a1")], **stamp)
        await writer.upsert_users(list(USERS.values()), **stamp)
        await writer.upsert_courses(
            [Course("c-1", "org-1", "Python", "tr-1"), Course("c-z", "org-2", "SQL", "tr-z")],
            **stamp,
        )
        start = now - timedelta(days=30)
        await writer.upsert_enrollments(
            [
                Enrollment("e-1", "l-1", "c-1", start),
                Enrollment("e-2", "l-2", "c-1", start, withdrawn_at=start + timedelta(days=3)),
                Enrollment("e-3", "l-3", "c-z", start),
            ],
            **stamp,
        )
        await writer.upsert_learning_events(learner_activity(now), **stamp)
    finally:
        await engine.dispose()


def make_settings(database: Any, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "APP_ENV": "demo",
        "DATABASE_URL": database.url,
        "DATABASE_SCHEMA": database.schema,
        "REDIS_URL": None,
        "JWT_SECRET": SECRET,
        "AUTH_SERVICE_URL": None,
        "LOG_JSON": True,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Api:
    app: FastAPI
    client: httpx2.AsyncClient
    clock: FakeClock
    gateway: FakeAuthGateway
    issuer: TokenIssuer

    def token(self, user_id: str, **changes: Any) -> str:
        user = USERS[user_id]
        token, _ = self.issuer.issue(
            subject=user.id,
            email=user.email,
            roles=changes.get("roles", [user.role]),
            organization_id=changes.get("organization_id", user.organization_id),
            now=datetime.now(UTC),
        )
        return token

    def auth(self, user_id: str, **changes: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user_id, **changes)}"}


@asynccontextmanager
async def running_api(
    settings: Settings, *, clock: FakeClock, text_generator: Any = None
) -> AsyncIterator[Api]:
    gateway = FakeAuthGateway()
    for user in USERS.values():
        gateway.register(
            AuthenticatedUser(user.id, user.email or "", (user.role,), user.organization_id),
            PASSWORD,
        )
    app = create_app(
        settings,
        auth_gateway=gateway,
        clock=clock,
        signing_secret=SECRET,
        text_generator=text_generator,
    )
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx2.AsyncClient(transport=transport, base_url="http://api") as client:
            yield Api(app, client, clock, gateway, TokenIssuer(SECRET))


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def world(database: Any, now: datetime) -> Any:
    """The migrated store of this test (SQLite or PostgreSQL), seeded with the world above."""
    await seed_world(database.url, database.connect_args, now)
    return database


@pytest.fixture
def api_factory(world: Any, now: datetime) -> Callable[..., Any]:
    """Start an app (or two) on the test's store: `async with api_factory(**settings) as api`;
    `text_generator=` a fake language model that phrases recommendations."""

    def factory(*, text_generator: Any = None, **overrides: Any) -> Any:
        return running_api(
            make_settings(world, **overrides),
            clock=FakeClock(now),
            text_generator=text_generator,
        )

    return factory


@pytest.fixture
async def api(api_factory: Callable[..., Any]) -> AsyncIterator[Api]:
    async with api_factory() as running:
        yield running
