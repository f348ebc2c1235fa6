"""`POST /api/fill-content-metrics` end to end (SPEC §12, EDUCORE.md): the contract samples
replayed, every wire form, signatures, refusals as envelopes, never a 500."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from learning_analytics.domain.records import ExternalId
from learning_analytics.infrastructure.db.engine import create_engine, create_session_factory
from learning_analytics.infrastructure.db.repositories import SqlRecordWriter
from learning_analytics.infrastructure.db.tables import FeedbackRow
from learning_analytics.infrastructure.educore.signing import EnvelopeSigner, generate_key_pair
from tests.api.conftest import Api

SAMPLES = Path(__file__).resolve().parents[1] / "contracts" / "samples"
pytestmark = pytest.mark.anyio

PATH = "/api/fill-content-metrics"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
COMPANY = "550e8400-e29b-41d4-a716-446655440000"


def sample(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((SAMPLES / name).read_text())
    return document


async def _store(world: Any) -> tuple[Any, SqlRecordWriter]:
    engine = create_engine(world.url, pool_size=1, connect_args=world.connect_args)
    return engine, SqlRecordWriter(create_session_factory(engine))


async def map_directory_ids(world: Any, now: Any) -> None:
    """Directory's employee EMP001 is our l-1; its company id is our org-1."""
    engine, writer = await _store(world)
    try:
        await writer.upsert_external_ids(
            [
                ExternalId("directory", "employee", "EMP001", "l-1"),
                ExternalId("directory", "organization", COMPANY, "org-1"),
                ExternalId("directory", "employee", "EMP-Z", "l-3"),
            ],
            ingested_at=now,
        )
    finally:
        await engine.dispose()


async def feedback_rows(world: Any) -> list[tuple[str, str, str, int, str]]:
    engine, _ = await _store(world)
    try:
        async with create_session_factory(engine)() as session:
            rows = await session.execute(
                select(
                    FeedbackRow.id,
                    FeedbackRow.user_id,
                    FeedbackRow.course_id,
                    FeedbackRow.rating,
                    FeedbackRow.source,
                ).order_by(FeedbackRow.id)
            )
            return [tuple(row) for row in rows.all()]  # type: ignore[misc]
    finally:
        await engine.dispose()


def assert_envelope(reply: dict[str, Any], request: dict[str, Any]) -> None:
    assert reply["requester_service"] == request["requester_service"]
    assert reply["payload"] == request["payload"]
    assert isinstance(reply["response"], dict)


# --- Course Builder's push ------------------------------------------------------------------


async def test_course_builder_live_form_push_is_stored_and_acknowledged(
    api: Api, world: Any
) -> None:
    fields = sample("coursebuilder-push.json")["form_fields"]
    reply = await api.client.post(PATH, content=urlencode(fields), headers=FORM)
    assert reply.status_code == 200
    body = reply.json()
    assert body["requester_service"] == "LearningAnalytics"
    assert body["response"] == {}
    course = "d0e1f2a3-b4c5-6789-ef01-890123456789"
    learner = "10000000-0000-0000-0000-000000000001"
    expected = [
        (f"course-builder:{course}:{learner}", learner, course, 5, "course_builder:push-unverified")
    ]
    assert await feedback_rows(world) == expected
    # Course Builder pushes again on every feedback update: the row is replaced, not doubled.
    again = await api.client.post(PATH, content=urlencode(fields), headers=FORM)
    assert again.status_code == 200
    assert await feedback_rows(world) == expected


async def test_course_builder_documented_envelope_answers_with_an_empty_response(
    api: Api, world: Any
) -> None:
    document = sample("coursebuilder-push-envelope.json")
    reply = await api.client.post(PATH + "/", json=document["request_body"])
    assert reply.status_code == 200
    assert reply.json() == document["response_body"]
    assert len(await feedback_rows(world)) == 1


async def test_a_push_invalidates_cached_answers(api: Api) -> None:
    fields = sample("coursebuilder-push.json")["form_fields"]
    services = api.app.state.services
    before = await services.cache.data_version("global")
    await api.client.post(PATH, content=urlencode(fields), headers=FORM)
    assert await services.cache.data_version("global") > before


# --- Directory's employee dashboard ---------------------------------------------------------


async def test_directory_dashboard_sample_is_filled_in_the_shape_directory_reads(
    api: Api, world: Any, now: Any
) -> None:
    await map_directory_ids(world, now)
    request = sample("directory-serve-dashboard.json")["request_body"]
    reply = await api.client.post(PATH, json=request)
    assert reply.status_code == 200
    body = reply.json()
    assert_envelope(body, request)
    response = body["response"]
    summary = response["progress_summary"]
    assert all(not isinstance(v, dict | list) for v in summary.values())  # a flat map
    # l-1: enrolled in c-1 (open), four completed learning events of 600 s each.
    assert summary["courses_in_progress"] == 1
    assert summary["courses_completed"] == 0
    assert summary["learning_hours"] == round(4 * 600 / 3600, 1)
    assert len(response["recent_activity"]) == 4
    assert all(item["description"] for item in response["recent_activity"])
    assert all("title" in d and "due_date" in d for d in response["upcoming_deadlines"])
    assert all("name" in a and "title" in a for a in response["achievements"])


async def test_directory_dashboard_unknown_or_foreign_employee_is_a_404_envelope(
    api: Api, world: Any, now: Any
) -> None:
    await map_directory_ids(world, now)
    request = sample("directory-serve-dashboard.json")["request_body"]
    for employee in ("EMP404", "EMP-Z"):  # unknown; known but in another company
        asked = {**request, "payload": {**request["payload"], "employee_id": employee}}
        reply = await api.client.post(PATH, json=asked)
        assert reply.status_code == 404
        assert reply.json()["response"]["error"] == "no such employee in this company"


async def test_directory_dashboard_without_an_employee_id_is_a_400_envelope(api: Api) -> None:
    request = sample("directory-serve-dashboard.json")["request_body"]
    asked = {**request, "payload": {"action": request["payload"]["action"], "employee_id": []}}
    reply = await api.client.post(PATH, json=asked)
    assert reply.status_code == 400
    assert "employee_id" in reply.json()["response"]["error"]


# --- Management Reporting's statistics ------------------------------------------------------


async def test_management_reporting_sample_is_filled_in_both_shapes(api: Api) -> None:
    document = sample("managementreporting-serve.json")
    request = document["request_body"]
    reply = await api.client.post(PATH, json=request)
    assert reply.status_code == 200
    body = reply.json()
    assert_envelope(body, request)
    response = body["response"]
    expected = document["response_body"]["response"]
    assert set(response) >= set(request["response"])
    assert set(response["metrics"]) >= set(request["response"]["metrics"])
    nested = response["aggregated_statistics"]
    # The parser's nested shape, key for key as the sample fills it.
    for group, values in expected["aggregated_statistics"]["metrics"].items():
        assert set(nested["metrics"][group]) == set(values), group
    assert set(nested["category_breakdowns"]) >= {
        "by_competency_level",
        "by_feedback_rating",
        "by_course_status",
    }
    # The world: three learners in two organisations, two courses, three enrollments of which
    # one is withdrawn; l-1 was active within the last 30 days.
    assert nested["metrics"]["learners"] == {
        "total_learners": 3,
        "active_learners": 1,
        "total_organizations": 2,
    }
    assert nested["metrics"]["courses"]["total_enrollments"] == 3
    assert response["metrics"]["total_learners"] == 3
    assert response["metrics"]["total_courses"] == 2
    assert response["version"] == "1.0"


# --- refusals, wire forms -------------------------------------------------------------------


async def test_unknown_requests_are_refused_with_the_envelope_and_an_error(api: Api) -> None:
    request = {"requester_service": "skills-engine", "payload": {"action": "x"}, "response": {}}
    reply = await api.client.post(PATH, json=request)
    assert reply.status_code == 400
    body = reply.json()
    assert body["requester_service"] == "skills-engine"
    assert body["response"]["error"].startswith("unsupported request")


async def test_envelope_sent_as_a_json_string_with_a_text_content_type(api: Api) -> None:
    request = sample("managementreporting-serve.json")["request_body"]
    reply = await api.client.post(
        PATH, content=json.dumps(json.dumps(request)), headers={"Content-Type": "text/plain"}
    )
    assert reply.status_code == 200
    assert reply.json()["response"]["aggregated_statistics"]["period"] == "daily"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b"{"),
        ("application/json", b"[]"),
        ("application/json", b'{"requester_service": {"a": 1}}'),
        ("application/json", b'{"requester_service": "x", "payload": 3}'),
        ("application/json", b"\xc3\x28"),
        ("application/json", b"null"),
        ("application/x-www-form-urlencoded", b"serviceName=LearningAnalytics"),
        ("application/x-www-form-urlencoded", b"serviceName=x&payload=%7Bbad"),
        ("multipart/form-data; boundary=x", b"--x--"),
        ("application/json", b'{"requester_service":"course_builder","payload":{"course_id":1,'
         b'"feedback":{"feedbacks":{"a":1}}}}'),
    ],
)  # fmt: skip
async def test_malformed_bodies_get_a_400_envelope(
    api: Api, content_type: str, body: bytes
) -> None:
    reply = await api.client.post(PATH, content=body, headers={"Content-Type": content_type})
    assert reply.status_code == 400
    assert reply.json()["response"]["error"]


async def test_bodies_over_the_integration_limit_get_a_413_envelope(api: Api) -> None:
    limit = api.app.state.services.settings.integration_max_body_bytes
    body = json.dumps({"requester_service": "x", "payload": {"pad": "a" * limit}})
    reply = await api.client.post(PATH, content=body, headers={"Content-Type": "application/json"})
    assert reply.status_code == 413
    assert "exceeds" in reply.json()["response"]["error"]


async def test_rate_limited_per_sending_service(api_factory: Any) -> None:
    request = {"requester_service": "skills-engine", "payload": {}, "response": {}}
    async with api_factory(RATE_LIMIT_INTEGRATION=2) as api:
        statuses = [(await api.client.post(PATH, json=request)).status_code for _ in range(3)]
        assert statuses == [400, 400, 429]
        other = {**request, "requester_service": "ManagementReporting"}
        assert (await api.client.post(PATH, json=other)).status_code == 200


# --- signatures -----------------------------------------------------------------------------


@pytest.fixture
def coordinator_keys() -> tuple[str, str]:
    return generate_key_pair()


def signed(envelope: dict[str, Any], private_key: str, name: str = "coordinator") -> Any:
    body, headers = EnvelopeSigner(private_key, name).headers(envelope)
    return body, headers


async def test_signed_requests_are_served_and_others_refused(
    api_factory: Any, world: Any, now: Any, coordinator_keys: tuple[str, str]
) -> None:
    private, public = coordinator_keys
    await map_directory_ids(world, now)
    request = sample("directory-serve-dashboard.json")["request_body"]
    async with api_factory(COORDINATOR_PUBLIC_KEY=public) as api:
        body, headers = signed(request, private)
        assert (await api.client.post(PATH, content=body, headers=headers)).status_code == 200

        unsigned = await api.client.post(PATH, json=request)
        assert unsigned.status_code == 401
        assert unsigned.json()["response"]["error"] == "a valid Coordinator signature is required"

        tampered = body.replace(b"EMP001", b"EMP002")
        reply = await api.client.post(PATH, content=tampered, headers=headers)
        assert reply.status_code == 401

        other_key, _ = generate_key_pair()
        _, forged = signed(request, other_key)
        assert (await api.client.post(PATH, content=body, headers=forged)).status_code == 401

        # A valid signature, but the sender does not say it is the Coordinator.
        _, as_directory = signed(request, private, name="directory-service")
        reply = await api.client.post(PATH, content=body, headers=as_directory)
        assert reply.status_code == 401


async def test_unsigned_course_builder_push_is_taken_from_the_allow_list_only(
    api_factory: Any, world: Any, coordinator_keys: tuple[str, str]
) -> None:
    _, public = coordinator_keys
    fields = sample("coursebuilder-push.json")["form_fields"]
    async with api_factory(COORDINATOR_PUBLIC_KEY=public) as api:
        reply = await api.client.post(PATH, content=urlencode(fields), headers=FORM)
        assert reply.status_code == 200
        assert [row[4] for row in await feedback_rows(world)] == ["course_builder:push-unverified"]
        stranger = urlencode({**fields, "serviceName": "mallory"})
        assert (await api.client.post(PATH, content=stranger, headers=FORM)).status_code == 401


async def test_signed_course_builder_envelope_is_stored_as_verified(
    api_factory: Any, world: Any, coordinator_keys: tuple[str, str]
) -> None:
    private, public = coordinator_keys
    request = sample("coursebuilder-push-envelope.json")["request_body"]
    async with api_factory(COORDINATOR_PUBLIC_KEY=public) as api:
        body, headers = signed(request, private)
        assert (await api.client.post(PATH, content=body, headers=headers)).status_code == 200
    assert [row[4] for row in await feedback_rows(world)] == ["course_builder:push"]


async def test_a_feedback_push_awards_the_learners_feedback_points(api: Api) -> None:
    stats = "/api/v1/gamification/stats/l-1"
    headers = {**api.auth("l-1"), "Cache-Control": "no-cache"}
    await api.app.state.services.award_points.for_user("l-1")  # what a sync would have done
    before = (await api.client.get(stats, headers=headers)).json()["data"]["totalPoints"]
    payload = {
        "course_id": "c-1",
        "feedback": {
            "feedbacks": [
                {"learner_id": "l-1", "rating": 4, "submitted_at": "2026-01-05T10:00:00Z"}
            ]
        },
        "action": "send_course_analytics",
    }
    form = urlencode({"serviceName": "LearningAnalytics", "payload": json.dumps(payload)})
    assert (await api.client.post(PATH, content=form, headers=FORM)).status_code == 200
    after = (await api.client.get(stats, headers=headers)).json()["data"]["totalPoints"]
    assert before > 0
    assert after == before + 5  # SPEC §11: feedback 5


# --- RAG's batch sync and real-time questions (the Process envelope relayed as JSON) ---------

RAG_TABLES = {
    "layer1b_enrollments",
    "layer1b_lesson_attempts",
    "layer1b_assessment_attempts",
    "layer1b_user_acquired_skills",
    "layer1b_course_feedback",
}


async def test_rag_batch_sample_pages_the_organisations_activity_newest_first(
    api: Api, world: Any, now: Any
) -> None:
    await map_directory_ids(world, now)
    document = sample("rag-serve-grpc.json")
    request = document["request_envelope_json_decoded"]
    reply = await api.client.post(PATH, json=request)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    expected = document["response_envelope_json_decoded"]
    assert set(body) == set(expected)
    assert set(body["data"]) == set(expected["data"])
    assert set(body["metadata"]) == set(expected["metadata"])
    assert body["request_id"] == request["request_id"]
    items = body["data"]["items"]
    # org-1 (the sample's tenant, mapped): l-1's four lessons and the enrollments e-1, e-2;
    # org-2's l-3 is not in it.
    assert body["data"]["total"] == 6
    assert sorted(i["_source_table"] for i in items) == (
        ["layer1b_enrollments"] * 2 + ["layer1b_lesson_attempts"] * 4
    )
    assert {i["user_id"] for i in items} == {"l-1", "l-2"}
    assert all(i["_source_table"] in RAG_TABLES for i in items)
    stamps = [i["event_timestamp"] for i in items]
    assert stamps == sorted(stamps, reverse=True)
    lesson = next(i for i in items if i["_source_table"] == "layer1b_lesson_attempts")
    assert set(lesson) >= set(expected["data"]["items"][0])
    assert body["metadata"]["has_more"] is False

    paged = {**request, "payload": {**request["payload"], "limit": 4, "page": 2}}
    second = (await api.client.post(PATH, json=paged)).json()
    assert [i["event_timestamp"] for i in second["data"]["items"]] == stamps[4:]
    assert (second["metadata"]["total_pages"], second["metadata"]["has_more"]) == (2, False)
    first = {**request, "payload": {**request["payload"], "limit": 4}}
    assert (await api.client.post(PATH, json=first)).json()["metadata"]["has_more"] is True


async def test_rag_real_time_question_answers_the_learners_items_as_an_array(
    api: Api, world: Any, now: Any
) -> None:
    await map_directory_ids(world, now)
    request = {
        **sample("rag-serve-grpc.json")["realtime_request_envelope_json_decoded"],
        "user_id": "l-1",
    }
    reply = await api.client.post(PATH, json=request)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert isinstance(body["data"], list)
    assert {i["user_id"] for i in body["data"]} == {"l-1"}
    assert len(body["data"]) == 5  # four lessons and the enrollment e-1
    assert body["metadata"]["mode"] == "realtime"


@pytest.mark.parametrize(
    "change",
    [
        {"payload": {"sync_type": "batch", "limit": 5000}},
        {"payload": {"sync_type": "batch", "page": 0}},
        {"payload": {"sync_type": "batch", "since": "last tuesday"}},
        {"tenant_id": None},
    ],
)
async def test_bad_rag_requests_are_refused_in_their_shape(
    api: Api, change: dict[str, Any]
) -> None:
    request = {**sample("rag-serve-grpc.json")["request_envelope_json_decoded"], **change}
    reply = await api.client.post(PATH, json=request)
    assert reply.status_code == 400
    body = reply.json()
    assert (body["request_id"], body["success"]) == ("req-9f1c2b7e", False)
    assert body["error"]


async def test_rag_requests_need_the_coordinator_signature_when_a_key_is_set(
    api_factory: Any, coordinator_keys: tuple[str, str]
) -> None:
    private, public = coordinator_keys
    request = sample("rag-serve-grpc.json")["request_envelope_json_decoded"]
    async with api_factory(COORDINATOR_PUBLIC_KEY=public) as api:
        refused = await api.client.post(PATH, json=request)
        assert refused.status_code == 401
        assert refused.json()["success"] is False
        body, headers = signed(request, private)
        assert (await api.client.post(PATH, content=body, headers=headers)).status_code == 200
