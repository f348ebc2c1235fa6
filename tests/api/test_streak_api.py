"""GET /api/v1/gamification/streak/{userId}: the first analytics endpoint, end to end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.api.conftest import NEW_YORK, Api

pytestmark = pytest.mark.anyio


async def test_streak_in_the_learners_timezone_with_envelope_and_meta(api: Api) -> None:
    response = await api.client.get("/api/v1/gamification/streak/l-1", headers=api.auth("l-1"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    today = api.clock.now().astimezone(NEW_YORK).date()
    assert data["timezone"] == "America/New_York"
    assert (data["current"], data["longest"], data["todayDone"], data["atRisk"]) == (
        3,
        3,
        True,
        False,
    )
    assert data["today"] == today.isoformat()
    assert data["lastActiveDate"] == today.isoformat()
    assert len(data["calendar"]) == 90
    assert [d["activities"] for d in data["calendar"][-6:]] == [1, 0, 0, 1, 1, 1]

    meta = body["meta"]
    assert meta["dataSource"] == "realtime"
    assert meta["requestId"] == response.headers["x-request-id"]
    as_of = datetime.fromisoformat(meta["dataAsOf"].replace("Z", "+00:00"))
    assert abs(as_of - (api.clock.now() - timedelta(minutes=5))) < timedelta(seconds=1)
    calculated = datetime.fromisoformat(meta["calculatedAt"].replace("Z", "+00:00"))
    expiry = datetime.fromisoformat(meta["cacheExpiry"].replace("Z", "+00:00"))
    assert expiry - calculated == timedelta(seconds=300)
    assert calculated.tzinfo is not None
    assert calculated.utcoffset() == UTC.utcoffset(None)


async def test_tz_parameter_moves_day_boundaries_and_is_validated(api: Api) -> None:
    tokyo = await api.client.get(
        "/api/v1/gamification/streak/l-1", params={"tz": "Asia/Tokyo"}, headers=api.auth("l-1")
    )
    assert tokyo.status_code == 200
    assert tokyo.json()["data"]["timezone"] == "Asia/Tokyo"

    bad = await api.client.get(
        "/api/v1/gamification/streak/l-1", params={"tz": "Mars/Olympus"}, headers=api.auth("l-1")
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_default_timezone_falls_back_to_the_organisation(api: Api) -> None:
    # l-2 has no timezone of their own; org-1 is in Europe/Berlin.
    response = await api.client.get("/api/v1/gamification/streak/l-2", headers=api.auth("l-2"))
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["timezone"], data["current"], data["lastActiveDate"]) == (
        "Europe/Berlin",
        0,
        None,
    )
