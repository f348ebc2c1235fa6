"""GET /api/v1/analytics/learner/{metric}/{userId}: the six learner analytics, end to end.

The clock is fixed at Sunday 2026-03-01 12:00 UTC. On top of the shared world, this module seeds
(all rows ingested three hours before `now`):
- lv-1 (org-1, dep-a, timezone UTC), enrolled on Jan 15 in c-lv (trainer tr-1; 10 content units,
  due Mar 29 12:00), with the hand-made history below;
- lv-2, active only on Feb 27 and 28 (less than 7 days of history);
- lv-0, with nothing at all in the store (mock fallback territory).

lv-1's history (every instant 10:00 UTC; events are `completed`, 1800 s, unless said):
  units u1 video[python] u2 text[sql] u3 video[python] u4 exercise[python] u5 quiz[sql]
        u6 video[sql] u7 text[python] u8 exercise[sql] u9 video[python] u10 quiz[python]
  events    Jan 20 u1 | Feb 3 u2 | Feb 10 u3 | Feb 17 u4 | Feb 19 u5 | Feb 24 u6 | Feb 26 u7,
            u3 again (600 s) | Feb 27 u8 started (600 s)
  attempts  Feb 4 baseline 40 % (python 40, sql 40) | Feb 11 practice 60 % (60, 50)
            Feb 18 practice 75 % passed (80, 70) | Feb 25 post_course 90 % passed (90, 85)
  practice  Feb 5 python 1800 s | Feb 20 sql 1800 s;   assistant  Feb 12
  skills    python 2 -> own target 4 | sql 3, org-1 strategic target 4 (weight 0.5) | excel 1
The window of the value tests is Feb 2 - Mar 1 (28 covered days).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from learning_analytics.domain.metrics import bkt
from learning_analytics.domain.records import (
    AssessmentAttempt,
    AssistantInteraction,
    Course,
    CourseUnit,
    Enrollment,
    LearningEvent,
    PracticeSession,
    SkillProfile,
    SkillScore,
    StrategicSkillTarget,
    User,
)
from learning_analytics.infrastructure.db.engine import create_engine, create_session_factory
from learning_analytics.infrastructure.db.repositories import SqlRecordWriter
from tests.api.conftest import Api, seed_world

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
INGESTED = NOW - timedelta(hours=3)
METRICS = ["velocity", "skill-gap", "engagement", "mastery", "performance", "content-effectiveness"]
WINDOW = {"from": "2026-02-02", "to": "2026-03-01"}
LEARNERS = {
    "lv-1": User("lv-1", "org-1", "lv1@org1.example", "Val One", "learner", "dep-a",
                 timezone="UTC"),
    "lv-2": User("lv-2", "org-1", "lv2@org1.example", "Val Two", "learner", "dep-a"),
    "lv-0": User("lv-0", "org-1", "lv0@org1.example", "Val Zero", "learner", "dep-a"),
}  # fmt: skip
UNIT_TYPES = [
    ("video", "python"), ("text", "sql"), ("video", "python"), ("exercise", "python"),
    ("quiz", "sql"), ("video", "sql"), ("text", "python"), ("exercise", "sql"),
    ("video", "python"), ("quiz", "python"),
]  # fmt: skip


def at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 10, tzinfo=UTC)


def url(metric: str, user_id: str = "lv-1") -> str:
    return f"/api/v1/analytics/learner/{metric}/{user_id}"


def attempt(number: int, day: int, score: float, skills: tuple[float, float], **kw: Any) -> Any:
    return AssessmentAttempt(
        f"lv-a{number}", "lv-1", "c-lv", f"as-{number}", score, score >= 70, at(2, day),
        skill_scores=(SkillScore("python", skills[0]), SkillScore("sql", skills[1])), **kw,
    )  # fmt: skip


async def seed_learners(database: Any) -> None:
    engine = create_engine(database.url, pool_size=2, connect_args=database.connect_args)
    writer = SqlRecordWriter(create_session_factory(engine))
    stamp = {"source": "test", "ingested_at": INGESTED}
    completed = [(1, 20, 1), (2, 3, 2), (2, 10, 3), (2, 17, 4), (2, 19, 5), (2, 24, 6), (2, 26, 7)]
    try:
        await writer.upsert_users(list(LEARNERS.values()), **stamp)
        await writer.upsert_courses([Course("c-lv", "org-1", "Analytics", "tr-1")], **stamp)
        await writer.upsert_course_units(
            [
                CourseUnit(f"u{i}", "c-lv", i, "content", f"Unit {i}", kind, skills=(skill,))
                for i, (kind, skill) in enumerate(UNIT_TYPES, start=1)
            ],
            **stamp,
        )
        await writer.upsert_enrollments(
            [Enrollment("e-lv-1", "lv-1", "c-lv", at(1, 15), due_at=NOW + timedelta(days=28))],
            **stamp,
        )
        await writer.upsert_learning_events(
            [
                *(
                    LearningEvent(f"lv-ev-{unit}", "lv-1", "c-lv", f"u{unit}", "completed",
                                  at(month, day), 1800)
                    for month, day, unit in completed
                ),
                LearningEvent("lv-ev-3b", "lv-1", "c-lv", "u3", "completed", at(2, 26), 600),
                LearningEvent("lv-ev-8", "lv-1", "c-lv", "u8", "started", at(2, 27), 600),
                LearningEvent("lv2-ev-1", "lv-2", "c-1", None, "completed", at(2, 27), 600),
                LearningEvent("lv2-ev-2", "lv-2", "c-1", None, "completed", at(2, 28), 600),
            ],
            **stamp,
        )  # fmt: skip
        await writer.upsert_assessment_attempts(
            [
                attempt(1, 4, 40, (40, 40), exam_type="baseline"),
                attempt(2, 11, 60, (60, 50), exam_type="practice"),
                attempt(3, 18, 75, (80, 70), exam_type="practice"),
                attempt(4, 25, 90, (90, 85), exam_type="post_course"),
            ],
            **stamp,
        )
        await writer.upsert_practice_sessions(
            [
                PracticeSession("lv-p1", "lv-1", at(2, 5), "python", completed=True, seconds=1800),
                PracticeSession("lv-p2", "lv-1", at(2, 20), "sql", completed=True, seconds=1800),
            ],
            **stamp,
        )
        await writer.upsert_assistant_interactions(
            [AssistantInteraction("lv-q1", "lv-1", at(2, 12), course_id="c-lv")], **stamp
        )
        await writer.upsert_skill_profiles(
            [
                SkillProfile("lv-1", "python", 2, at(1, 15), target_level=4),
                SkillProfile("lv-1", "sql", 3, at(1, 15)),
                SkillProfile("lv-1", "excel", 1, at(1, 15)),
            ],
            **stamp,
        )
        await writer.upsert_strategic_skill_targets(
            [StrategicSkillTarget("org-1", "sql", 0.5, 4)], **stamp
        )
    finally:
        await engine.dispose()


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
async def world(database: Any, now: datetime) -> Any:
    """The shared world plus this module's learners."""
    await seed_world(database.url, database.connect_args, now)
    await seed_learners(database)
    return database


def auth(api: Api, user_id: str) -> dict[str, str]:
    if user_id not in LEARNERS:
        return api.auth(user_id)
    user = LEARNERS[user_id]
    token, _ = api.issuer.issue(
        subject=user.id,
        email=user.email,
        roles=[user.role],
        organization_id=user.organization_id,
        now=datetime.now(UTC),
    )
    return {"Authorization": f"Bearer {token}"}


async def get(api: Api, metric: str, *, user: str = "lv-1", caller: str | None = None,
              **params: str) -> Any:  # fmt: skip
    return await api.client.get(
        url(metric, user), params=params or WINDOW, headers=auth(api, caller or user)
    )


# --------------------------------------------------------------------------------------------
# Values on the hand-made history


async def test_velocity_values(api: Api) -> None:
    response = await get(api, "velocity")
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["userId"], data["timezone"], data["courseId"]) == ("lv-1", "UTC", None)
    assert data["window"] == {"from": "2026-02-02", "to": "2026-03-01"}
    # First completions in the window: u2 Feb 3, u3 Feb 10 | u4 Feb 17, u5 Feb 19, u6 Feb 24,
    # u7 Feb 26 (u3 again on Feb 26 does not count). currentPace = 6 / 28 * 7 = 1.5;
    # recent (Feb 16-Mar 1) 4 / 14 * 7 = 2.0, previous (Feb 2-15) 2 / 14 * 7 = 1.0: +100 %.
    assert (data["currentPace"], data["recentPace"], data["previousPace"]) == (1.5, 2.0, 1.0)
    assert (data["trend"], data["trendChangePct"], data["unitsCompleted"]) == (
        "accelerating",
        100.0,
        6,
    )
    # Done u1..u7 = 7 of 10, 3 remaining, due in 28 days = 4 weeks: 3 / 4 = 0.75.
    assert (data["targetPace"], data["onTrack"]) == (0.75, True)
    assert data["series"] == [
        {"weekStart": "2026-02-02", "value": 1.0},
        {"weekStart": "2026-02-09", "value": 1.0},
        {"weekStart": "2026-02-16", "value": 2.0},
        {"weekStart": "2026-02-23", "value": 2.0},
    ]
    [course] = data["byCourse"]
    assert (course["courseId"], course["unitsDone"], course["unitsRemaining"]) == ("c-lv", 7, 3)


async def test_skill_gap_values(api: Api) -> None:
    data = (await get(api, "skill-gap")).json()["data"]
    # python: 4 - 2 = 2, weight 1.0 -> 2.0; sql: strategic target 4 - 3 = 1, weight 1.5 -> 1.5.
    assert [(s["skillId"], s["gap"], s["weight"], s["priority"]) for s in data["skills"]] == [
        ("python", 2, 1.0, 2.0),
        ("sql", 1, 1.5, 1.5),
    ]
    assert data["untargetedSkills"] == ["excel"]
    assert (data["skillsAtTarget"], data["atTargetPct"], data["totalGap"]) == (0, 0.0, 3)
    assert data["totalPriority"] == 3.5


async def test_engagement_values(api: Api) -> None:
    data = (await get(api, "engagement")).json()["data"]
    points = {c["name"]: c["points"] for c in data["components"]}
    # active days: events 3,10,17,19,24,26,27 + attempts 4,11,18,25 + practice 5,20 + question 12
    # = 14 of 28 = 0.5 -> 0.5 / (5/7) = 0.7 -> 30 * 0.7 = 21.0
    # time: 8 events (6 * 1800 + 2 * 600) + 2 * 1800 practice = 15600 s = 4.333 h over 4 weeks
    # = 1.083 h/week -> / 3 = 0.361 -> 25 * 0.361 = 9.03
    # diversity 4 of 4 types -> 15; practice 2 in 4 weeks = 0.5/week -> 5; assessments 4 -> 1/week
    # -> 10; assistant 1 -> 0.25/week -> 2.5. Score 62.53 -> 62.5, medium.
    assert points == {
        "active_days": 21.0,
        "time_spent": 9.0,
        "content_diversity": 15.0,
        "practice": 5.0,
        "assessments": 10.0,
        "assistant": 2.5,
    }
    assert (data["score"], data["level"], data["days"]) == (62.5, "medium", 28)
    # Previous 28 days (Jan 5 - Feb 1): only u1 on Jan 20 (video, 1800 s): active 1/28 -> 1.5,
    # time 0.125 h/week -> 1.04, diversity 1/4 -> 3.75: 6.29 -> 6.3; +56.2 points: rising.
    assert (data["previousScore"], data["trend"]) == (6.3, "rising")


async def test_mastery_values(api: Api) -> None:
    data = (await get(api, "mastery")).json()["data"]
    # Both skills wrong, wrong, right, right (>= 70 %) with the default BKT parameters:
    # 0.2 -wrong-> 0.02/0.66 = 0.0303, +learn 0.15 -> 0.1758 -wrong-> 0.0260 -> 0.1721
    # -right-> 0.1549/0.3204 = 0.4833 -> 0.5608 -right-> 0.5047/0.5925 = 0.8517 -> 0.8740.
    assert [
        (s["skillId"], s["pMastery"], s["mastered"], s["evidenceCount"], s["correctCount"])
        for s in data["skills"]
    ] == [("python", 0.874, False, 4, 2), ("sql", 0.874, False, 4, 2)]
    assert data["skills"][0]["lastEvidenceDate"] == "2026-02-25"
    assert (data["masteredCount"], data["threshold"]) == (0, 0.95)
    # org-1 has one learner with skill scores: too little evidence to fit, defaults hold.
    assert [s["fittedParams"] for s in data["skills"]] == [False, False]


async def test_mastery_uses_parameters_fitted_on_the_organisations_evidence(
    api: Api, world: Any
) -> None:
    """MIN_FIT_SEQUENCES more org-1 learners with python scores: python's parameters are
    fitted from the store, sql keeps the defaults (lv-1 is its only learner)."""
    peers = [
        User(f"lv-peer-{i}", "org-1", None, None, "learner", "dep-a")
        for i in range(bkt.MIN_FIT_SEQUENCES)
    ]
    engine = create_engine(world.url, pool_size=2, connect_args=world.connect_args)
    writer = SqlRecordWriter(create_session_factory(engine))
    stamp = {"source": "test", "ingested_at": INGESTED}
    try:
        await writer.upsert_users(peers, **stamp)
        await writer.upsert_assessment_attempts(
            [
                AssessmentAttempt(f"{peer.id}-{n}", peer.id, "c-lv", f"as-{n}", score,
                                  score >= 70, at(2, 10 + n),
                                  skill_scores=(SkillScore("python", score),))
                for peer in peers
                for n, score in enumerate((30.0, 40.0, 95.0, 95.0))
            ],
            **stamp,
        )  # fmt: skip
    finally:
        await engine.dispose()

    skills = {s["skillId"]: s for s in (await get(api, "mastery")).json()["data"]["skills"]}
    assert (skills["python"]["fittedParams"], skills["sql"]["fittedParams"]) == (True, False)
    assert skills["sql"]["pMastery"] == 0.874  # the defaults, as in test_mastery_values
    assert skills["python"]["pMastery"] != 0.874


async def test_performance_values(api: Api) -> None:
    data = (await get(api, "performance")).json()["data"]
    # Graded (the baseline left out): 60, 75, 90 -> average 75.0, 2 of 3 passed = 66.7 %,
    # slope over (0, 60), (1, 75), (2, 90) = 15 points per attempt: improving.
    assert (data["attempts"], data["averageScore"], data["passRate"]) == (3, 75.0, 66.7)
    assert (data["trendSlope"], data["trend"]) == (15.0, "improving")
    # python (60 + 80 + 90) / 3 = 76.7, sql (50 + 70 + 85) / 3 = 68.3.
    assert [(s["skillId"], s["averageScore"]) for s in data["bestSkills"]] == [
        ("python", 76.7),
        ("sql", 68.3),
    ]
    assert data["weakestSkills"][0]["skillId"] == "sql"
    # Learning gain: last post-course 90 - first baseline 40.
    assert data["byCourse"] == [
        {
            "courseId": "c-lv",
            "attempts": 3,
            "averageScore": 75.0,
            "passRate": 66.7,
            "learningGain": 50.0,
        }
    ]
    assert [a["attemptId"] for a in data["recentAttempts"]] == ["lv-a4", "lv-a3", "lv-a2", "lv-a1"]


async def test_content_effectiveness_values(api: Api) -> None:
    data = (await get(api, "content-effectiveness")).json()["data"]
    # Gains (next skill score after the first completion - the last one at or before it):
    # u3 video python 40 -> 60 = +20, u6 video sql 70 -> 85 = +15 => video 17.5;
    # u4 exercise python 60 -> 80 = +20; u5 quiz sql 70 -> 85 = +15;
    # u2 text (no sql score before Feb 3) and u7 text (none after Feb 26): no gain.
    rows = {
        c["contentType"]: (
            c["secondsSpent"],
            c["unitsStarted"],
            c["unitsCompleted"],
            c["completionRate"],
            c["learningGain"],
            c["gainSamples"],
        )
        for c in data["contentTypes"]
    }
    assert rows == {
        "exercise": (2400, 2, 1, 50.0, 20.0, 1),  # u4 1800 + u8 started 600
        "video": (4200, 2, 2, 100.0, 17.5, 2),  # u3 1800 + 600 again, u6 1800
        "quiz": (1800, 1, 1, 100.0, 15.0, 1),
        "text": (3600, 2, 2, 100.0, None, 0),
    }
    assert data["ranking"] == ["exercise", "video", "quiz", "text"]


async def test_course_filter_limits_the_history_to_one_course(api: Api) -> None:
    own = await get(api, "velocity", **WINDOW, courseId="c-lv")
    assert own.status_code == 200
    assert own.json()["data"]["courseId"] == "c-lv"
    assert own.json()["data"]["currentPace"] == 1.5
    other = await get(api, "velocity", **WINDOW, courseId="c-1")
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "INSUFFICIENT_DATA"
    assert "c-1" in other.json()["error"]["message"]


# --------------------------------------------------------------------------------------------
# Envelope, caching, ownership — every endpoint


@pytest.mark.parametrize("metric", METRICS)
async def test_envelope_meta_cache_hit_and_etag(api: Api, metric: str) -> None:
    first = await get(api, metric)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["success"] is True
    meta = body["meta"]
    assert meta["dataSource"] == "realtime"
    assert meta["dataAsOf"] == INGESTED.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert meta["requestId"] == first.headers["x-request-id"]
    assert (meta["calculatedAt"], meta["cacheExpiry"]) == (
        "2026-03-01T12:00:00.000Z",
        "2026-03-01T12:05:00.000Z",
    )
    assert first.headers["cache-control"] == "private, max-age=14400, stale-while-revalidate=60"
    assert first.headers["vary"] == "Authorization"

    second = await get(api, metric)
    assert second.json()["meta"]["dataSource"] == "cached"
    assert second.json()["data"] == body["data"]
    assert second.headers["etag"] == first.headers["etag"]

    not_modified = await api.client.get(
        url(metric),
        params=WINDOW,
        headers={**auth(api, "lv-1"), "If-None-Match": first.headers["etag"]},
    )
    assert not_modified.status_code == 304
    assert not_modified.content == b""

    # Another query is another cache entry.
    other = await get(api, metric, **WINDOW, tz="Asia/Tokyo")
    assert other.json()["meta"]["dataSource"] == "realtime"
    assert other.json()["data"]["timezone"] == "Asia/Tokyo"


OWNERSHIP = [
    ("lv-1", 200),  # the learner themself
    ("l-2", 403),  # another learner of the org
    ("tr-1", 200),  # the trainer of c-lv
    ("oa-z", 403),  # an org admin of another org
    ("ad-1", 200),  # a platform admin
]


@pytest.mark.parametrize("metric", METRICS)
async def test_ownership(api: Api, metric: str) -> None:
    for caller, status in OWNERSHIP:
        response = await get(api, metric, caller=caller)
        assert response.status_code == status, (caller, response.text)
        if status == 403:
            assert response.json()["error"]["code"] == "FORBIDDEN"
            assert "data" not in response.json()


# --------------------------------------------------------------------------------------------
# Not enough data, mock


@pytest.mark.parametrize("metric", METRICS)
async def test_insufficient_data(api: Api, metric: str) -> None:
    response = await get(api, metric, user="lv-2")
    assert response.status_code == 422
    problem = response.json()
    assert problem["error"]["code"] == "INSUFFICIENT_DATA"
    assert problem["type"] == "/errors/insufficient-data"
    assert problem["error"]["message"]


@pytest.mark.parametrize("metric", METRICS)
async def test_mock_only_when_enabled_and_the_store_has_nothing(
    api_factory: Callable[..., Any], metric: str
) -> None:
    async with api_factory(MOCK_FALLBACK=True) as api:
        first = await get(api, metric, user="lv-0")
        assert first.status_code == 200, first.text
        assert first.json()["meta"]["dataSource"] == "mock"
        assert first.json()["meta"]["dataAsOf"] is None
        # A cached mock answer still says it is mock; the same learner gets the same numbers.
        again = await get(api, metric, user="lv-0")
        assert again.json()["meta"]["dataSource"] == "mock"
        forced = await api.client.get(
            url(metric, "lv-0"),
            params=WINDOW,
            headers={**auth(api, "lv-0"), "Cache-Control": "no-cache"},
        )
        assert forced.json()["meta"]["dataSource"] == "mock"
        assert forced.json()["data"] == first.json()["data"]
        # A learner with data never gets mock numbers, nor does one with too little of it.
        assert (await get(api, metric)).json()["meta"]["dataSource"] == "realtime"
        assert (await get(api, metric, user="lv-2")).status_code == 422
    async with api_factory(MOCK_FALLBACK=False) as api:
        off = await get(api, metric, user="lv-0")
        assert off.status_code == 422
        assert off.json()["error"]["code"] == "INSUFFICIENT_DATA"


# --------------------------------------------------------------------------------------------
# Query validation


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ({"from": "2026-02-30"}, "no such date"),
        ({"from": "yesterday"}, "not an ISO date"),
        ({"to": "2026/03/01"}, "not an ISO date"),
        ({"from": "2026-03-01", "to": "2026-02-01"}, "from after to"),
        ({"from": "2025-02-01", "to": "2026-02-02"}, "367 days"),
        ({"from": "2026-03-05"}, "from after the default to (today)"),
        ({"tz": "Mars/Olympus"}, "unknown zone"),
        ({"tz": "../etc/passwd"}, "not a zone name"),
        ({"courseId": "bad id!"}, "not an id"),
        ({"courseId": "x" * 200}, "too long"),
    ],
)
async def test_invalid_query_is_a_validation_problem(
    api: Api, params: dict[str, str], why: str
) -> None:
    response = await api.client.get(url("velocity"), params=params, headers=auth(api, "lv-1"))
    assert response.status_code == 422, why
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["error"]["code"] == "VALIDATION_ERROR", why


async def test_window_of_366_days_is_accepted(api: Api) -> None:
    response = await get(api, "engagement", **{"from": "2025-02-28", "to": "2026-02-28"})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["window"] == {"from": "2025-02-28", "to": "2026-02-28"}


async def test_default_window_is_the_last_30_days_in_the_learners_zone(api: Api) -> None:
    response = await api.client.get(url("engagement"), headers=auth(api, "lv-1"))
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["window"] == {"from": "2026-01-31", "to": "2026-03-01"}
    assert data["days"] == 30


# --------------------------------------------------------------------------------------------
# Freshness: realtime vs stale


CLOSED_PORT = "http://127.0.0.1:1"


async def test_stale_when_the_refresh_cannot_reach_upstreams_and_data_is_old(
    api_factory: Callable[..., Any],
) -> None:
    # Every row about lv-1 was ingested 3 h ago; the freshness budget is 15 min.
    async with api_factory(CONTENT_STUDIO_URL=CLOSED_PORT, REFRESH_BUDGET_SECONDS=0.5) as api:
        response = await get(api, "velocity")
        assert response.status_code == 200, response.text
        meta = response.json()["meta"]
        assert meta["dataSource"] == "stale"
        assert meta["dataAsOf"] == "2026-03-01T09:00:00.000Z"
        assert response.json()["data"]["currentPace"] == 1.5


async def test_realtime_when_the_data_is_within_the_freshness_budget(
    api_factory: Callable[..., Any],
) -> None:
    async with api_factory(
        CONTENT_STUDIO_URL=CLOSED_PORT,
        REFRESH_BUDGET_SECONDS=0.5,
        FRESHNESS_BUDGET_SECONDS=4 * 3600,
    ) as api:
        response = await get(api, "velocity")
        assert response.json()["meta"]["dataSource"] == "realtime"
        assert response.json()["meta"]["dataAsOf"] == "2026-03-01T09:00:00.000Z"
