"""UPSTREAM_TRANSPORT selects the clients, sources and schedule (presentation/transport.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from learning_analytics.config import ConfigurationError, Settings
from learning_analytics.infrastructure.educore.signing import generate_key_pair
from learning_analytics.presentation.transport import build_transport
from tests.fakes import FakeClock

pytestmark = pytest.mark.anyio

CLOCK = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
PRIVATE, PUBLIC = generate_key_pair()


def settings(**values: Any) -> Settings:
    return Settings(**{"APP_ENV": "demo", **values})


async def test_rest_is_the_default_and_syncs_on_its_interval() -> None:
    transport = build_transport(
        settings(DIRECTORY_URL="http://127.0.0.1:9/directory", SYNC_INTERVAL_SECONDS=600),
        clock=CLOCK,
    )
    async with transport.registry:
        assert transport.name == "rest"
        assert {s.name for s in transport.sources} == {
            "directory.organizations", "directory.departments", "directory.teams",
            "directory.employees",
        }  # fmt: skip
        assert transport.concurrency == 3
        assert "interval[0:10:00]" in str(transport.trigger)


async def test_educore_pulls_every_sibling_through_the_coordinator_daily_at_2() -> None:
    transport = build_transport(
        settings(
            UPSTREAM_TRANSPORT="EDUCORE",
            COORDINATOR_URL="http://127.0.0.1:9",
            EDUCORE_PRIVATE_KEY=PRIVATE,
            COORDINATOR_PUBLIC_KEY=PUBLIC,
        ),
        clock=CLOCK,
    )
    async with transport.registry:
        assert transport.name == "educore"
        assert [s.name for s in transport.sources] == [
            "educore.directory", "educore.course-builder", "educore.content-studio",
            "educore.assessment", "educore.skills-engine", "educore.learner-ai", "educore.devlab",
        ]  # fmt: skip
        assert [s.name for s in transport.user_sources] == [
            "educore.skills-engine", "educore.learner-ai", "educore.devlab",
        ]  # fmt: skip
        assert transport.concurrency == 1  # Directory's people before everyone else's records
        assert transport.registry.names == (
            "directory", "course-builder", "content-studio", "assessment", "skills-engine",
            "learner-ai", "devlab",
        )  # fmt: skip
        assert transport.trigger is not None
        after = datetime(2026, 3, 4, 2, 30, tzinfo=UTC)
        fire = transport.trigger.get_next_fire_time(None, after)
        assert fire == datetime(2026, 3, 5, 2, 0, tzinfo=UTC)


async def test_the_educore_schedule_is_a_setting() -> None:
    transport = build_transport(
        settings(
            UPSTREAM_TRANSPORT="educore",
            COORDINATOR_URL="http://127.0.0.1:9",
            EDUCORE_SYNC_CRON="30 */6 * * *",
        ),
        clock=CLOCK,
    )
    async with transport.registry:
        assert transport.trigger is not None
        fire = transport.trigger.get_next_fire_time(None, datetime(2026, 3, 4, 7, tzinfo=UTC))
        assert fire == datetime(2026, 3, 4, 12, 30, tzinfo=UTC)
    never = build_transport(
        settings(UPSTREAM_TRANSPORT="educore", COORDINATOR_URL="http://127.0.0.1:9",
                 EDUCORE_SYNC_CRON=""),
        clock=CLOCK,
    )  # fmt: skip
    async with never.registry:
        assert never.trigger is None


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"UPSTREAM_TRANSPORT": "grpc"}, "UPSTREAM_TRANSPORT must be one of"),
        ({"UPSTREAM_TRANSPORT": "educore"}, "needs COORDINATOR_URL"),
        (
            {"UPSTREAM_TRANSPORT": "educore", "COORDINATOR_URL": "http://127.0.0.1:9",
             "EDUCORE_PRIVATE_KEY": "not a key"},
            "not a PEM private key",
        ),
        (
            {"UPSTREAM_TRANSPORT": "educore", "COORDINATOR_URL": "http://127.0.0.1:9",
             "EDUCORE_SYNC_CRON": "at two"},
            "EDUCORE_SYNC_CRON",
        ),
        (
            {"UPSTREAM_TRANSPORT": "educore", "COORDINATOR_URL": "http://127.0.0.1:9",
             "APP_ENV": "production"},
            "needs EDUCORE_PRIVATE_KEY",
        ),
    ],
)  # fmt: skip
def test_settings_that_cannot_work_are_refused(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        build_transport(settings(**values), clock=CLOCK)
