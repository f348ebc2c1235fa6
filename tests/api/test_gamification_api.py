"""Gamification end to end (SPEC §7, §11): stats, achievements, leaderboard, preferences, with
authorization, the envelope, HTTP caching and cache invalidation when the ledger changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from learning_analytics.config import ConfigurationError
from learning_analytics.domain.gamification.leaderboard import period_bounds
from learning_analytics.domain.records import LearningEvent
from learning_analytics.infrastructure.db.engine import create_engine, create_session_factory
from learning_analytics.infrastructure.db.repositories import SqlRecordWriter
from tests.api.conftest import Api, learner_activity
from tests.api.test_ownership import MATRIX

pytestmark = pytest.mark.anyio

BASE = "/api/v1/gamification"
BERLIN = ZoneInfo("Europe/Berlin")


async def award_everyone(api: Api) -> None:
    await api.app.state.services.award_points.replay()


def expected_awards(now: datetime) -> list[tuple[datetime, int]]:
    """l-1's awards in the world: 4 completed lessons (10 each) and 2 streak days (5 each):
    today continues yesterday and yesterday continues the day before (New York days); the day
    five days back follows an idle day."""
    moments = sorted(event.occurred_at for event in learner_activity(now))
    lessons = [(at, 10) for at in moments]
    streak_days = [(at, 5) for at in moments[-2:]]  # the first activity of each such day
    return lessons + streak_days


async def test_stats_of_a_learner(api: Api, now: datetime) -> None:
    await award_everyone(api)

    response = await api.client.get(f"{BASE}/stats/l-1", headers=api.auth("l-1"))

    assert response.status_code == 200
    body = response.json()
    assert body["meta"]["dataSource"] == "realtime"
    data = body["data"]
    awards = expected_awards(now)
    week = period_bounds("week", now=now, tz=BERLIN)
    month = period_bounds("month", now=now, tz=BERLIN)

    def within(bounds: Any) -> int:
        return sum(points for at, points in awards if bounds.start <= at < bounds.end)

    assert data["totalPoints"] == 50  # 4 x 10 + 2 x 5
    assert data["weekPoints"] == within(week)
    assert data["monthPoints"] == within(month)
    assert data["timezone"] == "Europe/Berlin"
    assert data["level"] == {
        "number": 1,
        "name": "Newcomer",
        "minPoints": 0,
        "nextLevelPoints": 100,
        "pointsToNext": 50,
        "progress": 0.5,
    }
    assert data["organizationRank"] == {"rank": 1, "participants": 1}
    assert data["currentStreak"] == 3
    assert data["badges"] == 1  # first_lesson


async def test_achievements_catalogue_earned_date_progress_and_record(
    api: Api, now: datetime
) -> None:
    await award_everyone(api)

    response = await api.client.get(f"{BASE}/achievements/l-1", headers=api.auth("l-1"))

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["total"] >= 12
    by_code = {item["code"]: item for item in data["achievements"]}
    first = min(event.occurred_at for event in learner_activity(now))
    assert by_code["first_lesson"]["earned"] is True
    assert datetime.fromisoformat(by_code["first_lesson"]["earnedAt"]) == first
    assert by_code["streak_7"] == {
        "code": "streak_7",
        "name": "Week streak",
        "description": "Be active 7 days in a row",
        "earned": False,
        "earnedAt": None,
        "progress": 3,
        "target": 7,
    }
    recorded = await api.app.state.services.gamification.earned_achievements("l-1")
    assert recorded == {"first_lesson": first}


@pytest.mark.parametrize("route", ["stats", "achievements"])
async def test_ownership_matrix(api: Api, route: str) -> None:
    for caller, subject, status, why in MATRIX:
        response = await api.client.get(f"{BASE}/{route}/{subject}", headers=api.auth(caller))
        assert response.status_code == status, (caller, subject, why)


async def test_http_caching_and_invalidation_when_the_ledger_changes(
    api: Api, world: Any, now: datetime
) -> None:
    await award_everyone(api)
    headers = api.auth("l-1")
    first = await api.client.get(f"{BASE}/stats/l-1", headers=headers)
    again = await api.client.get(f"{BASE}/stats/l-1", headers=headers)
    assert again.json()["meta"]["dataSource"] == "cached"
    assert "private" in again.headers["cache-control"]
    etag = first.headers["etag"]
    unchanged = await api.client.get(
        f"{BASE}/stats/l-1", headers={**headers, "If-None-Match": etag}
    )
    assert unchanged.status_code == 304

    # A new completed lesson reaches the store and is awarded: the cached stats are not fresh.
    engine = create_engine(world.url, pool_size=1, connect_args=world.connect_args)
    try:
        writer = SqlRecordWriter(create_session_factory(engine))
        lesson = LearningEvent("ev-new", "l-1", "c-1", None, "completed", now, 60)
        await writer.upsert_learning_events([lesson], source="test", ingested_at=now)
    finally:
        await engine.dispose()
    report = await api.app.state.services.award_points.for_user("l-1")
    assert report.added == 1

    after = await api.client.get(f"{BASE}/stats/l-1", headers=headers)
    assert after.json()["meta"]["dataSource"] == "realtime"
    assert after.json()["data"]["totalPoints"] == 60
    assert after.headers["etag"] != etag


async def test_leaderboard_of_the_callers_organisation(api: Api) -> None:
    await award_everyone(api)

    response = await api.client.get(f"{BASE}/leaderboard?period=all", headers=api.auth("l-2"))

    assert response.status_code == 200
    body = response.json()
    data = body["data"]
    assert body["meta"]["dataSource"] == "realtime"
    assert response.headers["etag"]
    assert (data["scope"], data["organizationId"], data["period"]) == ("org", "org-1", "all")
    assert data["periodStart"] is None
    assert data["entries"] == [
        {"rank": 1, "userId": "l-1", "displayName": "Lee One", "points": 50, "isYou": False}
    ]
    # l-2 has no points: ranked after everyone who has some, and always told their own place
    assert data["you"] == {
        "rank": 2,
        "userId": "l-2",
        "displayName": "Lee Two",
        "points": 0,
        "isYou": True,
    }


async def test_a_learner_of_another_org_cannot_read_this_orgs_leaderboard_or_stats(
    api: Api,
) -> None:
    await award_everyone(api)
    headers = api.auth("l-3")

    board = await api.client.get(f"{BASE}/leaderboard?orgId=org-1", headers=headers)
    stats = await api.client.get(f"{BASE}/stats/l-1", headers=headers)
    own = await api.client.get(f"{BASE}/leaderboard?period=all", headers=headers)

    assert board.status_code == stats.status_code == 403
    assert own.status_code == 200
    assert own.json()["data"]["organizationId"] == "org-2"
    assert [e["userId"] for e in own.json()["data"]["entries"]] == []

    admin = await api.client.get(
        f"{BASE}/leaderboard?orgId=org-1&period=all", headers=api.auth("ad-1")
    )
    assert admin.status_code == 200
    assert [e["userId"] for e in admin.json()["data"]["entries"]] == ["l-1"]


async def test_department_and_course_scopes_are_checked_against_the_organisation(
    api: Api,
) -> None:
    await award_everyone(api)
    headers = api.auth("l-1")

    mine = await api.client.get(f"{BASE}/leaderboard?scope=department&period=all", headers=headers)
    other = await api.client.get(
        f"{BASE}/leaderboard?scope=department&departmentId=dep-b&period=all", headers=headers
    )
    course = await api.client.get(
        f"{BASE}/leaderboard?scope=course&courseId=c-1&period=all", headers=headers
    )
    foreign = await api.client.get(f"{BASE}/leaderboard?scope=course&courseId=c-z", headers=headers)

    assert mine.json()["data"]["departmentId"] == "dep-a"
    assert [e["userId"] for e in mine.json()["data"]["entries"]] == ["l-1"]
    assert [e["userId"] for e in other.json()["data"]["entries"]] == []
    assert other.json()["data"]["you"] is None  # l-1 is not in dep-b
    assert [e["userId"] for e in course.json()["data"]["entries"]] == ["l-1"]
    assert foreign.status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "limit=101",
        "limit=0",
        "period=year",
        "scope=team",
        "scope=course",  # courseId is required
        "courseId=c-1",  # courseId only with scope=course
        "scope=department&departmentId=bad%20id",
    ],
)
async def test_bad_leaderboard_queries_are_422(api: Api, query: str) -> None:
    response = await api.client.get(f"{BASE}/leaderboard?{query}", headers=api.auth("l-1"))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_opting_out_anonymises_the_caller_for_others_at_once(api: Api) -> None:
    await award_everyone(api)
    url = f"{BASE}/leaderboard?period=all"
    before = await api.client.get(url, headers=api.auth("l-2"))
    assert before.json()["data"]["entries"][0]["displayName"] == "Lee One"

    response = await api.client.put(
        f"{BASE}/preferences", json={"leaderboardVisible": False}, headers=api.auth("l-1")
    )
    assert response.status_code == 200
    assert response.json()["data"] == {"userId": "l-1", "leaderboardVisible": False}

    after = await api.client.get(url, headers=api.auth("l-2"))
    assert after.json()["meta"]["dataSource"] == "realtime"
    assert after.json()["data"]["entries"] == [
        {"rank": 1, "userId": None, "displayName": "Anonymous learner", "points": 50,
         "isYou": False}
    ]  # fmt: skip
    mine = await api.client.get(url, headers=api.auth("l-1"))
    assert mine.json()["data"]["entries"][0]["userId"] == "l-1"


@pytest.mark.parametrize(
    "body", [{}, {"leaderboardVisible": "maybe"}, {"leaderboardVisible": True, "userId": "l-2"}]
)
async def test_preferences_accept_only_the_callers_own_visibility(
    api: Api, body: dict[str, Any]
) -> None:
    response = await api.client.put(f"{BASE}/preferences", json=body, headers=api.auth("l-1"))
    assert response.status_code == 422


async def test_preferences_need_authentication(api: Api) -> None:
    response = await api.client.put(f"{BASE}/preferences", json={"leaderboardVisible": False})
    assert response.status_code == 401


async def test_openapi_documents_every_gamification_endpoint_with_examples(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    for path, method in [
        ("/api/v1/gamification/stats/{userId}", "get"),
        ("/api/v1/gamification/achievements/{userId}", "get"),
        ("/api/v1/gamification/leaderboard", "get"),
        ("/api/v1/gamification/preferences", "put"),
    ]:
        assert {"200", "401", "422", "429"} <= set(spec["paths"][path][method]["responses"])
    schemas = spec["components"]["schemas"]
    for name in ("StatsResponse", "AchievementsResponse", "LeaderboardResponse"):
        assert schemas[name]["example"], name
    assert schemas["PreferencesRequest"]["example"] == {"leaderboardVisible": False}


async def test_the_rule_table_is_configurable_and_checked(api_factory: Any) -> None:
    async with api_factory(GAMIFICATION_RULES={"lesson_completed": {"points": 7}}) as custom:
        await award_everyone(custom)
        response = await custom.client.get(f"{BASE}/stats/l-1", headers=custom.auth("l-1"))
        assert response.json()["data"]["totalPoints"] == 4 * 7 + 2 * 5
    with pytest.raises(ConfigurationError, match="unknown gamification rules"):
        async with api_factory(GAMIFICATION_RULES={"logins": {"points": 1}}):
            pass
