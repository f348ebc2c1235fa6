"""The eight data upstreams of the simulator: the "rest" contract of docs/upstreams.md.

Expected items are computed from the population itself, not from the simulator's feeds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI

from learning_analytics.simulator.app import create_simulator_app
from learning_analytics.simulator.population import SKILLS, Population, generate_population

ANCHOR = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
ENVELOPE_ERROR = {"success", "error"}
PLUS_TWO = timezone(timedelta(hours=2))

# service, collection -> the fields of every item (the contract, camelCase on the wire)
FIELDS: dict[tuple[str, str], set[str]] = {
    ("directory", "organizations"): {"id", "name", "timezone"},
    ("directory", "departments"): {"id", "organizationId", "name", "managerId"},
    ("directory", "teams"): {"id", "departmentId", "name", "managerId"},
    ("directory", "employees"): {
        "id", "organizationId", "email", "displayName", "role", "departmentId", "teamId",
        "managerId", "timezone", "leaderboardVisible",
    },
    ("course-builder", "courses"): {
        "id", "organizationId", "title", "trainerId", "visibility", "dueAt", "defaultDueDays",
    },
    ("course-builder", "course-units"): {
        "id", "courseId", "position", "kind", "title", "contentType", "parentId", "skills",
    },
    ("course-builder", "enrollments"): {
        "id", "userId", "courseId", "enrolledAt", "dueAt", "completedAt", "withdrawnAt",
        "progressPct",
    },
    ("course-builder", "feedback"): {"id", "userId", "courseId", "rating", "submittedAt"},
    ("content-studio", "learning-events"): {
        "id", "userId", "courseId", "unitId", "verb", "occurredAt", "secondsSpent",
    },
    ("assessment", "attempts"): {
        "id", "userId", "courseId", "assessmentId", "examType", "scorePct", "passingGrade",
        "passed", "submittedAt", "skillScores",
    },
    ("skills-engine", "skills"): {"id", "name"},
    ("skills-engine", "skill-profiles"): {
        "id", "userId", "skillId", "currentLevel", "proficiencyLevel", "targetLevel", "verified",
    },
    ("skills-engine", "strategic-targets"): {
        "id", "organizationId", "skillId", "weight", "targetLevel",
    },
    ("learner-ai", "learning-paths"): {"id", "userId", "courseId", "steps"},
    ("devlab", "practice-sessions"): {
        "id", "userId", "startedAt", "skillId", "competitionId", "completed", "won", "seconds",
    },
    ("rag", "assistant-interactions"): {"id", "userId", "askedAt", "topic", "courseId"},
}  # fmt: skip
COLLECTIONS = list(FIELDS)
PER_USER = [
    ("course-builder", "enrollments"),
    ("course-builder", "feedback"),
    ("content-studio", "learning-events"),
    ("assessment", "attempts"),
    ("skills-engine", "skill-profiles"),
    ("learner-ai", "learning-paths"),
    ("devlab", "practice-sessions"),
    ("rag", "assistant-interactions"),
]
# Where an activity item keeps its own instant (which is its updatedAt).
OWN_INSTANT = {
    "feedback": "submittedAt",
    "learning-events": "occurredAt",
    "attempts": "submittedAt",
    "practice-sessions": "startedAt",
    "assistant-interactions": "askedAt",
}


@pytest.fixture(scope="module")
def population() -> Population:
    return generate_population(seed=5, learners=30, history_days=60, anchor=ANCHOR)


@pytest.fixture(scope="module")
def app(population: Population) -> FastAPI:
    return create_simulator_app(population)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://sim"
    ) as client:
        yield client


@pytest.fixture(scope="module")
def expected_ids(population: Population) -> dict[str, set[str]]:
    """collection -> the ids of every item it must serve."""
    activity = list(population.iter_activity())
    return {
        "organizations": {o.id for o in population.organizations},
        "departments": {d.id for d in population.departments},
        "teams": {t.id for t in population.teams},
        "employees": {u.id for u in population.users},
        "courses": {c.id for c in population.courses},
        "course-units": {u.id for u in population.course_units},
        "enrollments": {e.id for e in population.enrollments},
        "feedback": {f.id for a in activity for f in a.feedback},
        "learning-events": {e.id for a in activity for e in a.learning_events},
        "attempts": {x.id for a in activity for x in a.assessment_attempts},
        "skills": set(SKILLS),
        "skill-profiles": {f"{p.user_id}:{p.skill_id}" for p in population.skill_profiles},
        "strategic-targets": {
            f"{t.organization_id}:{t.skill_id}" for t in population.strategic_skill_targets
        },
        "learning-paths": {p.id for p in population.learning_paths},
        "practice-sessions": {s.id for a in activity for s in a.practice_sessions},
        "assistant-interactions": {i.id for a in activity for i in a.assistant_interactions},
    }


def _instant(text: str) -> datetime:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text)


def _key(item: dict[str, Any]) -> tuple[datetime, str]:
    return _instant(item["updatedAt"]), item["id"]


async def _fetch_all(
    client: httpx2.AsyncClient, path: str, *, limit: int, since: str | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Every item of a bulk collection, following cursors; and the number of pages."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": limit}
        if since is not None:
            params["since"] = since
        if cursor is not None:
            params["cursor"] = cursor
        response = await client.get(path, params=params)
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert len(data["items"]) <= limit
        items.extend(data["items"])
        pages += 1
        cursor = data["nextCursor"]
        if cursor is None:
            return items, pages
        assert data["items"], "a page with a next cursor has items"


def _path(service: str, collection: str) -> str:
    return f"/{service}/api/v1/{collection}"


# --------------------------------------------------------------------------------------------
# Bulk reads


@pytest.mark.anyio
@pytest.mark.parametrize(("service", "collection"), COLLECTIONS)
async def test_first_page_shape(client: httpx2.AsyncClient, service: str, collection: str) -> None:
    response = await client.get(_path(service, collection), params={"limit": 5})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["success"] is True
    assert set(body["data"]) == {"items", "nextCursor"}
    items = body["data"]["items"]
    assert 0 < len(items) <= 5
    for item in items:
        assert set(item) == FIELDS[service, collection] | {"updatedAt"}
        _instant(item["updatedAt"])
    if collection in OWN_INSTANT:
        assert all(item["updatedAt"] == item[OWN_INSTANT[collection]] for item in items)


@pytest.mark.anyio
@pytest.mark.parametrize(("service", "collection"), COLLECTIONS)
async def test_paging_serves_every_item_once_in_order(
    client: httpx2.AsyncClient,
    expected_ids: dict[str, set[str]],
    service: str,
    collection: str,
) -> None:
    expected = expected_ids[collection]
    limit = max(1, len(expected) // 7)

    items, pages = await _fetch_all(client, _path(service, collection), limit=limit)

    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids)) == len(expected)
    assert set(ids) == expected
    keys = [_key(item) for item in items]
    assert keys == sorted(keys)
    assert pages == -(-len(expected) // limit)


@pytest.mark.anyio
async def test_paging_through_equal_instants(client: httpx2.AsyncClient) -> None:
    """A learner's skill profiles share one updatedAt: the id orders them and cursors still
    continue exactly after the last item served."""
    everything, _ = await _fetch_all(client, _path("skills-engine", "skill-profiles"), limit=1000)
    stamps = [item["updatedAt"] for item in everything]
    assert len(set(stamps)) < len(stamps)

    items, _ = await _fetch_all(client, _path("skills-engine", "skill-profiles"), limit=3)

    assert items == everything


@pytest.mark.anyio
async def test_learning_event_count_is_the_sum_over_learners(
    client: httpx2.AsyncClient, population: Population
) -> None:
    expected = sum(len(population.activity(user.id).learning_events) for user in population.users)

    items, _ = await _fetch_all(client, _path("content-studio", "learning-events"), limit=1000)

    assert len(items) == expected > 1000


@pytest.mark.anyio
@pytest.mark.parametrize(("service", "collection"), COLLECTIONS)
async def test_since_keeps_items_updated_at_or_after_it(
    client: httpx2.AsyncClient, service: str, collection: str
) -> None:
    everything, _ = await _fetch_all(client, _path(service, collection), limit=1000)
    since = everything[len(everything) // 2]["updatedAt"]
    expected = [item for item in everything if _instant(item["updatedAt"]) >= _instant(since)]

    items, _ = await _fetch_all(
        client, _path(service, collection), limit=max(1, len(expected) // 3), since=since
    )

    assert items == expected
    assert 0 < len(items) < len(everything) or len(everything) == 1


@pytest.mark.anyio
async def test_since_in_another_offset_and_after_everything(
    client: httpx2.AsyncClient, population: Population
) -> None:
    path = _path("assessment", "attempts")
    everything, _ = await _fetch_all(client, path, limit=1000)
    middle = _instant(everything[len(everything) // 2]["updatedAt"])
    plus_two = middle.astimezone(PLUS_TWO).isoformat()

    shifted, _ = await _fetch_all(client, path, limit=1000, since=plus_two)
    later = await client.get(path, params={"since": (population.anchor + timedelta(1)).isoformat()})

    assert shifted == [item for item in everything if _instant(item["updatedAt"]) >= middle]
    assert later.json()["data"] == {"items": [], "nextCursor": None}


@pytest.mark.anyio
async def test_structure_predates_the_history_window(
    client: httpx2.AsyncClient, population: Population
) -> None:
    """Structure is stamped before the window, activity inside it: `since` tells them apart."""
    since = population.window_start.isoformat()

    courses = await client.get(_path("course-builder", "courses"), params={"since": since})
    events = await client.get(
        _path("content-studio", "learning-events"), params={"since": since, "limit": 1}
    )

    assert courses.json()["data"] == {"items": [], "nextCursor": None}
    assert len(events.json()["data"]["items"]) == 1


@pytest.mark.anyio
async def test_limit_defaults_to_500_and_allows_1000(client: httpx2.AsyncClient) -> None:
    path = _path("content-studio", "learning-events")

    default = (await client.get(path)).json()["data"]
    largest = (await client.get(path, params={"limit": 1000})).json()["data"]
    one = (await client.get(path, params={"limit": 1})).json()["data"]

    assert len(default["items"]) == 500
    assert default["nextCursor"] is not None
    assert len(largest["items"]) == 1000
    assert one["items"] == default["items"][:1]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "1001"},
        {"limit": "-5"},
        {"limit": "ten"},
        {"since": "2025-05-01T00:00:00"},  # no timezone
        {"since": "yesterday"},
        {"since": "2025-13-01T00:00:00Z"},
        {"since": "x" * 65},
        {"cursor": "not a cursor!"},
        {"cursor": "bm90aGluZw"},  # base64 of "nothing"
        {"cursor": "x" * 600},
    ],
)
async def test_bad_parameters_are_400(client: httpx2.AsyncClient, params: dict[str, str]) -> None:
    response = await client.get(_path("devlab", "practice-sessions"), params=params)

    assert response.status_code == 400
    body = response.json()
    assert set(body) == ENVELOPE_ERROR
    assert body["success"] is False
    assert body["error"]["code"] in {"INVALID_PARAMETER", "VALIDATION_ERROR"}
    assert body["error"]["message"]


@pytest.mark.anyio
async def test_cursor_of_another_collection_is_400(client: httpx2.AsyncClient) -> None:
    page = await client.get(_path("devlab", "practice-sessions"), params={"limit": 1})
    cursor = page.json()["data"]["nextCursor"]

    response = await client.get(_path("rag", "assistant-interactions"), params={"cursor": cursor})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_PARAMETER"


@pytest.mark.anyio
async def test_unknown_path_and_method_answer_in_the_envelope(client: httpx2.AsyncClient) -> None:
    missing = await client.get("/devlab/api/v1/nothing-here")
    wrong_method = await client.post(_path("devlab", "practice-sessions"))

    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NOT_FOUND"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["success"] is False


# --------------------------------------------------------------------------------------------
# Per-user reads


def _learner_ids(population: Population) -> list[str]:
    return [user.id for user in population.users if user.role == "learner"]


@pytest.mark.anyio
@pytest.mark.parametrize(("service", "collection"), PER_USER)
async def test_per_user_read_is_the_bulk_filtered_to_the_user(
    client: httpx2.AsyncClient, population: Population, service: str, collection: str
) -> None:
    everything, _ = await _fetch_all(client, _path(service, collection), limit=1000)
    learners = _learner_ids(population)
    served = 0

    for user_id in learners[:8]:
        response = await client.get(f"/{service}/api/v1/users/{user_id}/{collection}")

        assert response.status_code == 200
        body = response.json()
        assert body["success"] is True
        assert set(body["data"]) == {"items"}
        assert body["data"]["items"] == [item for item in everything if item["userId"] == user_id]
        served += len(body["data"]["items"])
    assert served > 0


@pytest.mark.anyio
@pytest.mark.parametrize(("service", "collection"), PER_USER)
async def test_per_user_read_of_an_unknown_user_is_404(
    client: httpx2.AsyncClient, service: str, collection: str
) -> None:
    response = await client.get(f"/{service}/api/v1/users/u-999999/{collection}")

    assert response.status_code == 404
    assert response.json() == {
        "success": False,
        "error": {"code": "NOT_FOUND", "message": "No such user"},
    }


@pytest.mark.anyio
async def test_per_user_read_of_staff_is_empty(
    client: httpx2.AsyncClient, population: Population
) -> None:
    trainer = next(user for user in population.users if user.role == "trainer")

    response = await client.get(f"/content-studio/api/v1/users/{trainer.id}/learning-events")

    assert response.status_code == 200
    assert response.json()["data"] == {"items": []}


@pytest.mark.anyio
async def test_progress_lists_the_users_enrollments(
    client: httpx2.AsyncClient, population: Population
) -> None:
    user_id = _learner_ids(population)[3]
    expected = {e.id: e.progress_pct for e in population.enrollments if e.user_id == user_id}

    response = await client.get(f"/course-builder/api/v1/progress/{user_id}")
    missing = await client.get("/course-builder/api/v1/progress/u-999999")

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["userId"] == user_id
    assert {item["id"]: item["progressPct"] for item in data["items"]} == expected
    assert missing.status_code == 404


@pytest.mark.anyio
async def test_items_carry_the_population_values(
    client: httpx2.AsyncClient, population: Population
) -> None:
    user_id = _learner_ids(population)[0]
    attempt = population.activity(user_id).assessment_attempts[0]

    response = await client.get(f"/assessment/api/v1/users/{user_id}/attempts")

    item = next(i for i in response.json()["data"]["items"] if i["id"] == attempt.id)
    assert item["scorePct"] == attempt.score_pct
    assert item["passed"] is attempt.passed
    assert item["examType"] == attempt.exam_type
    assert item["assessmentId"] == attempt.assessment_id
    assert _instant(item["submittedAt"]) == attempt.submitted_at
    assert [(s["skillId"], s["scorePct"]) for s in item["skillScores"]] == [
        (s.skill_id, s.score_pct) for s in attempt.skill_scores
    ]
