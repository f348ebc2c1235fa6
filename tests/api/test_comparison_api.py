"""GET /api/v1/analytics/comparison/{peer/{userId}, skill-demand}, end to end (k = 5).

On top of the conftest world, this module seeds (org-1 unless said):
- dep-c: learners c-0..c-5, all enrolled in course c-c (c-5 has withdrawn). Learner c-i completed
  i + 1 units of c-c over the last week and scored 50 + 10 i % on two graded attempts (20 and
  10 days ago): average scores 50, 60, 70, 80, 90, 100; paces (i + 1) * 7 / 28 units/week.
- dep-d: learners d-0..d-4 in course c-d the same way (scores 50..90); d-0 also studies c-c
  (2 units, 65 %).
- skill profiles of c-0..c-4: sql (strategic in org-1: target 4, weight 0.5) at levels
  1, 2, 4, 5, 3, updated 2 days ago; python (own target 3) at 0, 1, 2, 3, 3, updated 40 days ago;
  go (own target 2) for c-0..c-3 only (4 learners: suppressed).
- org-2: learners z-0..z-4 in dep-z with sql at level 0, own target 2.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from learning_analytics.domain.records import (
    AssessmentAttempt,
    Course,
    CourseUnit,
    Department,
    Enrollment,
    LearningEvent,
    SkillProfile,
    StrategicSkillTarget,
    User,
)
from learning_analytics.infrastructure.db.engine import create_engine, create_session_factory
from learning_analytics.infrastructure.db.repositories import SqlRecordWriter
from tests.api.conftest import Api

pytestmark = pytest.mark.anyio

PEER = "/api/v1/analytics/comparison/peer"
DEMAND = "/api/v1/analytics/comparison/skill-demand"

# learner -> (department, [(course, score %, units completed)], withdrawn from c-c)
STUDY: dict[str, tuple[str, list[tuple[str, float, int]]]] = {
    **{f"c-{i}": ("dep-c", [("c-c", 50.0 + 10 * i, i + 1)]) for i in range(6)},
    **{f"d-{i}": ("dep-d", [("c-d", 50.0 + 10 * i, i + 1)]) for i in range(5)},
}
STUDY["d-0"][1].append(("c-c", 65.0, 2))


async def seed_cohorts(database_url: str, connect_args: dict[str, Any], now: datetime) -> None:
    engine = create_engine(database_url, pool_size=2, connect_args=connect_args)
    writer = SqlRecordWriter(create_session_factory(engine))
    stamp = {"source": "test", "ingested_at": now - timedelta(minutes=5)}
    try:
        await writer.upsert_departments(
            [Department("dep-c", "org-1", "Cohort C"), Department("dep-d", "org-1", "Cohort D")],
            **stamp,
        )
        learners = [
            User(uid, "org-1", f"{uid}@org1.example", None, "learner", department)
            for uid, (department, _) in STUDY.items()
        ] + [
            User(f"z-{i}", "org-2", f"z{i}@org2.example", None, "learner", "dep-z")
            for i in range(5)
        ]
        await writer.upsert_users(learners, **stamp)
        await writer.upsert_courses(
            [Course("c-c", "org-1", "Cohorts", "tr-2"), Course("c-d", "org-1", "Data", "tr-2")],
            **stamp,
        )
        await writer.upsert_course_units(
            [
                CourseUnit(f"{course}-u{n}", course, n, "content", f"Unit {n}", "video")
                for course in ("c-c", "c-d")
                for n in range(8)
            ],
            **stamp,
        )
        enrollments, events, attempts = [], [], []
        for uid, (_, courses) in STUDY.items():
            for course, score, units in courses:
                withdrawn = now - timedelta(days=1) if (uid, course) == ("c-5", "c-c") else None
                enrollments.append(
                    Enrollment(
                        f"e-{uid}-{course}",
                        uid,
                        course,
                        now - timedelta(days=25),
                        withdrawn_at=withdrawn,
                    )
                )
                events += [
                    LearningEvent(
                        f"ev-{uid}-{course}-{n}",
                        uid,
                        course,
                        f"{course}-u{n}",
                        "completed",
                        now - timedelta(days=2 + n),
                        900,
                    )
                    for n in range(units)
                ]
                attempts += [
                    AssessmentAttempt(
                        f"at-{uid}-{course}-{days}",
                        uid,
                        course,
                        f"quiz-{course}",
                        score,
                        score >= 70,
                        now - timedelta(days=days),
                    )
                    for days in (20, 10)
                ]
        await writer.upsert_enrollments(enrollments, **stamp)
        await writer.upsert_learning_events(events, **stamp)
        await writer.upsert_assessment_attempts(attempts, **stamp)

        recent, old = now - timedelta(days=2), now - timedelta(days=40)
        profiles = [
            SkillProfile(f"c-{i}", "sql", level, recent) for i, level in enumerate([1, 2, 4, 5, 3])
        ]
        profiles += [
            SkillProfile(f"c-{i}", "python", level, old, target_level=3)
            for i, level in enumerate([0, 1, 2, 3, 3])
        ]
        profiles += [SkillProfile(f"c-{i}", "go", 0, old, target_level=2) for i in range(4)]
        profiles += [SkillProfile(f"z-{i}", "sql", 0, old, target_level=2) for i in range(5)]
        await writer.upsert_skill_profiles(profiles, **stamp)
        await writer.upsert_strategic_skill_targets(
            [StrategicSkillTarget("org-1", "sql", 0.5, 4)], **stamp
        )
    finally:
        await engine.dispose()


@pytest.fixture
async def api(world: Any, now: datetime, api_factory: Callable[..., Any]) -> AsyncIterator[Api]:
    await seed_cohorts(world.url, world.connect_args, now)
    async with api_factory() as running:
        yield running


def auth_as(api: Api, user_id: str, *, organization_id: str = "org-1") -> dict[str, str]:
    token, _ = api.issuer.issue(
        subject=user_id,
        email=f"{user_id}@example.com",
        roles=["learner"],
        organization_id=organization_id,
        now=datetime.now(UTC),
    )
    return {"Authorization": f"Bearer {token}"}


def by_metric(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {metric["metric"]: metric for metric in data["metrics"]}


# --------------------------------------------------------------------------------------------
# peer comparison


async def test_peer_comparison_in_the_department_with_known_positions(api: Api) -> None:
    response = await api.client.get(f"{PEER}/c-3", headers=auth_as(api, "c-3"))
    assert response.status_code == 200, response.text
    body = response.json()
    data = body["data"]
    assert data["cohort"] == {"type": "department", "id": "dep-c", "others": 5}
    assert (data["k"], data["timezone"]) == (5, "Europe/Berlin")
    today = api.clock.now().astimezone(UTC).date()
    assert data["to"] in {today.isoformat(), (today + timedelta(days=1)).isoformat()}
    metrics = by_metric(data)

    # Others' averages 50, 60, 70, 90, 100; c-3 has 80: 3 below, none equal -> 3 / 5 = 60 %.
    # Quartiles at (5 - 1) * q of the sorted others: q1 = 60, median = 70, q3 = 90.
    score = metrics["averageScore"]
    assert (score["value"], score["percentileRank"], score["cohortSize"]) == (80.0, 60.0, 5)
    assert (score["q1"], score["median"], score["q3"]) == (60.0, 70.0, 90.0)

    # Paces: (units) * 7 / 28 days -> c-3 4 units = 1.0; others 1, 2, 3, 5, 6 units =
    # 0.25, 0.5, 0.75, 1.25, 1.5: 3 below -> 60 %, median 0.75.
    velocity = metrics["velocity"]
    assert (velocity["value"], velocity["percentileRank"], velocity["median"]) == (1.0, 60.0, 0.75)
    assert velocity["unit"] == "units/week"
    assert metrics["engagement"]["cohortSize"] == 5

    # No skill scores anywhere: mastery is unavailable for c-3. No points were awarded yet
    # (no sync ran): everybody's ledger is empty, so points compare as 0 against 0.
    unavailable = {note["metric"]: note["reason"] for note in data["unavailable"]}
    assert set(unavailable) == {"masteredSkills"}
    points = metrics["points"]
    assert (points["value"], points["median"], points["cohortSize"]) == (0.0, 0.0, 5)
    assert data["suppressed"] == []

    meta = body["meta"]
    assert meta["dataSource"] == "realtime"
    assert response.headers["cache-control"] == (
        "private, max-age=14400, stale-while-revalidate=60"
    )


async def test_the_org_cohort_counts_only_members_with_a_value(api: Api) -> None:
    response = await api.client.get(
        f"{PEER}/c-3", params={"cohort": "org"}, headers=auth_as(api, "c-3")
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    # Learners of org-1 other than c-3: l-1, l-2, c-0..c-2, c-4, c-5, d-0..d-4 = 12; l-1 and l-2
    # have no graded attempt, so 10 average scores.
    assert data["cohort"] == {"type": "org", "id": "org-1", "others": 12}
    assert by_metric(data)["averageScore"]["cohortSize"] == 10


async def test_course_cohort_excludes_withdrawn_learners_and_uses_course_records(
    api: Api,
) -> None:
    response = await api.client.get(
        f"{PEER}/c-3", params={"cohort": "course", "courseId": "c-c"}, headers=auth_as(api, "c-3")
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    # c-c learners: c-0..c-4 and d-0 (c-5 withdrew): 5 others. d-0's score in c-c only is 65.
    assert data["cohort"] == {"type": "course", "id": "c-c", "others": 5}
    score = by_metric(data)["averageScore"]
    # Others 50, 60, 70, 90, 65 -> 4 below 80 -> 80 %; sorted 50, 60, 65, 70, 90: median 65.
    assert (score["percentileRank"], score["median"]) == (80.0, 65.0)
    unavailable = {note["metric"]: note["reason"] for note in data["unavailable"]}
    assert "not per course" in unavailable["points"]


async def test_points_compare_the_ledger_points_earned_in_the_window(api: Api) -> None:
    services = api.app.state.services
    await services.award_points.replay()
    members = ["c-0", "c-1", "c-2", "c-3", "c-4", "c-5"]
    awards = await services.gamification.awards(members)
    response = await api.client.get(
        f"{PEER}/c-3", params={"cohort": "department"}, headers=auth_as(api, "c-3")
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    zone = ZoneInfo(data["timezone"])
    start = datetime.combine(date.fromisoformat(data["from"]), time(), zone)
    end = datetime.combine(date.fromisoformat(data["to"]) + timedelta(days=1), time(), zone)
    totals = {
        uid: sum(a.points for a in awards.get(uid, ()) if start <= a.awarded_at < end)
        for uid in members
    }
    points = by_metric(data)["points"]
    assert points["value"] == totals["c-3"] > 0
    others = sorted(totals[uid] for uid in members if uid != "c-3")
    assert points["median"] == others[2]
    assert any(a.awarded_at < start for a in awards["c-3"])  # older points are not counted


async def test_k_anonymity_refuses_a_cohort_of_k_minus_one_others(api: Api) -> None:
    # dep-d has 5 learners: d-1 is compared with 4 others, one short of k = 5.
    response = await api.client.get(f"{PEER}/d-1", headers=auth_as(api, "d-1"))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["error"]["code"] == "INSUFFICIENT_DATA"
    assert "at least 5 other people" in problem["detail"]
    assert "fewer than 5" in problem["error"]["details"]
    assert "percentileRank" not in response.text


async def test_peer_query_is_validated(api: Api) -> None:
    headers = auth_as(api, "c-3")
    cases = [
        {"cohort": "team"},
        {"cohort": "course"},
        {"cohort": "department", "courseId": "c-c"},
        {"cohort": "course", "courseId": "c-d"},  # c-3 is not enrolled in c-d
        {"from": "2026-02-30"},
        {"tz": "Mars/Olympus"},
    ]
    for params in cases:
        response = await api.client.get(f"{PEER}/c-3", params=params, headers=headers)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["error"]["code"] == "VALIDATION_ERROR", params


async def test_peer_comparison_ownership(api: Api) -> None:
    other_learner = await api.client.get(f"{PEER}/c-3", headers=auth_as(api, "c-0"))
    assert other_learner.status_code == 403
    other_org_admin = await api.client.get(f"{PEER}/c-3", headers=api.auth("oa-z"))
    assert other_org_admin.status_code == 403
    for viewer in ("oa-1", "ad-1"):
        allowed = await api.client.get(f"{PEER}/c-3", headers=api.auth(viewer))
        assert allowed.status_code == 200, (viewer, allowed.text)
    unknown = await api.client.get(f"{PEER}/nobody", headers=api.auth("ad-1"))
    assert unknown.status_code == 404


async def test_peer_comparison_is_cached_with_etag(api: Api) -> None:
    headers = auth_as(api, "c-3")
    first = await api.client.get(f"{PEER}/c-3", headers=headers)
    assert first.status_code == 200
    # Another viewer of the same subject and query gets the same cached answer.
    second = await api.client.get(f"{PEER}/c-3", headers=api.auth("oa-1"))
    assert second.json()["meta"]["dataSource"] == "cached"
    assert second.json()["data"] == first.json()["data"]
    etag = first.headers["etag"]
    not_modified = await api.client.get(f"{PEER}/c-3", headers={**headers, "If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.headers["etag"] == etag
    # A different query is a different entry.
    org = await api.client.get(f"{PEER}/c-3", params={"cohort": "org"}, headers=headers)
    assert org.json()["meta"]["dataSource"] == "realtime"


# --------------------------------------------------------------------------------------------
# skill demand


async def test_skill_demand_of_the_callers_organisation(api: Api) -> None:
    response = await api.client.get(DEMAND, headers=auth_as(api, "c-3"))
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["organizationId"], data["k"]) == ("org-1", 5)
    skills = {item["skillId"]: item for item in data["skills"]}
    assert list(skills) == ["sql", "python"]  # by demand, highest first
    # sql: target 4, w = 1.5; levels 1, 2, 4, 5, 3 -> gaps 3, 2, 0, 0, 1 -> (3 + 2 + 1) * 1.5.
    sql = skills["sql"]
    assert (sql["demand"], sql["supply"], sql["ratio"], sql["learners"]) == (9.0, 2, 4.5, 5)
    assert (sql["strategic"], sql["weight"], sql["learnersWithGap"]) == (True, 1.5, 3)
    # No trend: the store keeps no skill profile history to compare with.
    assert (sql["previousDemand"], sql["trend"], data["comparedWith"]) == (None, None, None)
    # python: own target 3, levels 0, 1, 2, 3, 3 -> gaps 3 + 2 + 1 = 6; unchanged for 40 days.
    python = skills["python"]
    assert (python["demand"], python["supply"], python["strategic"]) == (6.0, 2, False)
    assert (python["previousDemand"], python["changePct"], python["trend"]) == (None, None, None)
    # go: 4 learners with a target -> suppressed.
    assert (data["skillsRanked"], data["suppressedSkills"]) == (2, 1)
    assert response.headers["cache-control"].startswith("private, max-age=21600")


async def test_skill_demand_is_scoped_to_the_callers_organisation(api: Api) -> None:
    mine = await api.client.get(DEMAND, headers=api.auth("l-3"))
    assert mine.status_code == 200, mine.text
    data = mine.json()["data"]
    assert data["organizationId"] == "org-2"
    # z-0..z-4 at 0 with target 2: demand 5 * 2 = 10, nobody at target.
    assert [(s["skillId"], s["demand"], s["ratio"]) for s in data["skills"]] == [
        ("sql", 10.0, None)
    ]
    own = await api.client.get(DEMAND, params={"orgId": "org-2"}, headers=api.auth("l-3"))
    assert own.status_code == 200

    for caller in ("l-3", "oa-z"):
        other = await api.client.get(DEMAND, params={"orgId": "org-1"}, headers=api.auth(caller))
        assert other.status_code == 403, caller
        assert other.json()["error"]["code"] == "FORBIDDEN"

    admin = await api.client.get(DEMAND, params={"orgId": "org-2"}, headers=api.auth("ad-1"))
    assert admin.status_code == 200
    assert admin.json()["data"]["organizationId"] == "org-2"
    admin_own = await api.client.get(DEMAND, headers=api.auth("ad-1"))
    assert admin_own.json()["data"]["organizationId"] == "org-1"
    unknown = await api.client.get(DEMAND, params={"orgId": "org-9"}, headers=api.auth("ad-1"))
    assert unknown.status_code == 404
    unauthenticated = await api.client.get(DEMAND)
    assert unauthenticated.status_code == 401


async def test_skill_demand_is_cached_per_organisation_not_per_caller(api: Api) -> None:
    first = await api.client.get(DEMAND, headers=api.auth("l-3"))
    assert first.json()["meta"]["dataSource"] == "realtime"
    second = await api.client.get(DEMAND, headers=api.auth("m-z"))
    assert second.json()["meta"]["dataSource"] == "cached"
    assert second.json()["data"] == first.json()["data"]
    not_modified = await api.client.get(
        DEMAND, headers={**api.auth("oa-z"), "If-None-Match": first.headers["etag"]}
    )
    assert not_modified.status_code == 304
    # org-1 is its own entry.
    org_1 = await api.client.get(DEMAND, headers=api.auth("oa-1"))
    assert org_1.json()["data"]["organizationId"] == "org-1"
    assert org_1.json()["meta"]["dataSource"] == "realtime"


async def test_skill_demand_below_k_everywhere_is_insufficient_data(
    api_factory: Callable[..., Any],
) -> None:
    # The bare conftest world: org-2 has a single learner and no skill profile.
    async with api_factory() as api:
        response = await api.client.get(DEMAND, headers=api.auth("l-3"))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "INSUFFICIENT_DATA"
