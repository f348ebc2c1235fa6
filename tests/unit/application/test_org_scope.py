"""Which local days an organisation request asks the store for: `OrganizationScope`'s
`organization_zone` says the request counts the organisation's own days (so the store may read
its per-organisation-day rollups). A zone with the same offsets over everything the figures read
counts the same days; one whose offsets differ anywhere in that span does not."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from learning_analytics.application.org_analytics import AnalyticsQuery, OrganizationAnalytics
from learning_analytics.application.ports import OrganizationScope
from learning_analytics.domain.metrics.organization import DepartmentHeadcount
from tests.fakes import FakeClock

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


@dataclass
class ScopeRecorder:
    """Just enough of the organisation repository for learning velocity; keeps the scopes."""

    zone: str
    scopes: list[OrganizationScope] = field(default_factory=list)

    async def organization_timezone(self, organization_id: str) -> tuple[bool, str | None]:
        return True, self.zone

    async def department_headcounts(self, organization_id: str) -> list[DepartmentHeadcount]:
        return [DepartmentHeadcount("d-1", "One", 10)]

    async def weekly_activity(self, scope: OrganizationScope, *, anchor: datetime) -> list[Any]:
        self.scopes.append(scope)
        return []

    async def window_activity(self, scope: OrganizationScope) -> list[Any]:
        self.scopes.append(scope)
        return []

    async def last_sync_at(self) -> datetime | None:
        return None


async def _organization_days(zone: str, query: AnalyticsQuery) -> bool:
    recorder = ScopeRecorder(zone)
    analytics = OrganizationAnalytics(
        organizations=recorder,  # type: ignore[arg-type]
        clock=FakeClock(NOW),
        k=5,
    )
    await analytics.learning_velocity("org-1", query)
    assert len({scope.organization_zone for scope in recorder.scopes}) == 1
    return recorder.scopes[0].organization_zone


@pytest.mark.parametrize(
    ("organization", "requested", "expected"),
    [
        ("Europe/Berlin", None, True),  # the default: the organisation's zone
        ("Europe/Berlin", "Europe/Berlin", True),
        ("Europe/Berlin", "Europe/Paris", True),  # the same offsets, all year
        ("Europe/Berlin", "Europe/London", False),
        ("Europe/Berlin", "UTC", False),
        ("UTC", "Etc/UTC", True),
    ],
)
async def test_a_zone_with_the_organisations_offsets_counts_its_days(
    organization: str, requested: str | None, expected: bool
) -> None:
    tz = ZoneInfo(requested) if requested else None
    assert await _organization_days(organization, AnalyticsQuery(tz=tz)) is expected


async def test_the_span_includes_the_previous_window_and_the_at_risk_look_back() -> None:
    """Winter windows: a fixed UTC+1 counts Berlin's winter days, unless the span read (the
    window before, the 21 days before now) reaches back into summer time."""
    fixed = ZoneInfo("Etc/GMT-1")
    # Window Nov 18-27, the one before Nov 8-17, at-risk look-back from Nov 7: all winter time.
    winter = AnalyticsQuery(start=date(2026, 11, 18), end=date(2026, 11, 27), tz=fixed)
    assert await _organization_days("Europe/Berlin", winter)
    # Window Nov 1-10 is winter time, the 10 days before it (Oct 22-31) partly summer time.
    early = AnalyticsQuery(start=date(2026, 11, 1), end=date(2026, 11, 10), tz=fixed)
    assert not await _organization_days("Europe/Berlin", early)
