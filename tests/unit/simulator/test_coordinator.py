"""The fake Coordinator's own rules: signatures, routing, the siblings' quirks and faults."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from learning_analytics.infrastructure.educore.signing import (
    EnvelopeSigner,
    SignatureVerifier,
    generate_key_pair,
)
from learning_analytics.simulator.app import create_simulator_app
from learning_analytics.simulator.coordinator import CoordinatorConfig
from learning_analytics.simulator.population import Population, generate_population

pytestmark = pytest.mark.anyio

PATH = "/coordinator/api/fill-content-metrics/"
OURS_PRIVATE, OURS_PUBLIC = generate_key_pair()
COORDINATOR_PRIVATE, COORDINATOR_PUBLIC = generate_key_pair()
NAME = "learning-analytics-service"
ANCHOR = datetime(2025, 6, 2, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
def population() -> Population:
    return generate_population(seed=9, learners=30, history_days=60, anchor=ANCHOR)


@pytest.fixture
async def client(population: Population) -> AsyncIterator[httpx2.AsyncClient]:
    config = CoordinatorConfig(
        caller_keys={NAME: OURS_PUBLIC}, signing_key=COORDINATOR_PRIVATE, page_size=1
    )
    app = create_simulator_app(population, coordinator=config)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://sim"
    ) as client:
        yield client


def envelope(origin: str, **payload: Any) -> dict[str, Any]:
    return {
        "requester_service": "LearningAnalytics",
        "payload": {"service_origin": origin, "action": f"batch:ROUTE_TO_{origin}", **payload},
        "response": {"version": ""},
    }


async def post(client: httpx2.AsyncClient, body: dict[str, Any], *, path: str = PATH) -> Any:
    content, headers = EnvelopeSigner(OURS_PRIVATE, NAME).headers(body)
    return await client.post(path, content=content, headers=headers)


async def test_replies_are_signed_by_the_coordinator(client: httpx2.AsyncClient) -> None:
    response = await post(client, envelope("devlab"))
    assert response.status_code == 200
    assert response.headers["x-service-name"] == "coordinator"
    verifier = SignatureVerifier(COORDINATOR_PUBLIC)
    assert verifier.verify(
        "coordinator", response.headers["x-service-signature"], body=response.content
    )


async def test_the_path_without_a_trailing_slash_answers_too(client: httpx2.AsyncClient) -> None:
    response = await post(client, envelope("devlab"), path=PATH.rstrip("/"))
    assert response.status_code == 200
    assert "competitions" in response.json()["response"]


@pytest.mark.parametrize("case", ["unsigned", "other-key", "unknown-service", "tampered"])
async def test_requests_without_a_valid_signature_are_refused(
    client: httpx2.AsyncClient, case: str
) -> None:
    body = json.dumps(envelope("devlab")).encode()
    headers = {"Content-Type": "application/json", "X-Service-Name": NAME}
    if case != "unsigned":
        key = OURS_PRIVATE if case != "other-key" else generate_key_pair()[0]
        signer = serialization.load_pem_private_key(key.encode(), password=None)
        assert isinstance(signer, ec.EllipticCurvePrivateKey)
        name = "someone-else" if case == "unknown-service" else NAME
        message = f"educoreai-{name}-{hashlib.sha256(body).hexdigest()}".encode()
        signature = base64.b64encode(signer.sign(message, ec.ECDSA(hashes.SHA256()))).decode()
        headers.update({"X-Service-Name": name, "X-Signature": signature})
    if case == "tampered":
        body = body.replace(b"devlab", b"DevLab")
    response = await client.post(PATH, content=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["success"] is False


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"requester_service": "learning_analytics", "payload": {"service_origin": "devlab"}}, 400),
        ({"requester_service": "LearningAnalytics", "payload": {"service_origin": "nowhere"}}, 400),
        ({"requester_service": "LearningAnalytics", "payload": "text"}, 400),
    ],
    ids=["requester-spelling", "no-route", "payload-not-object"],
)
async def test_envelopes_it_cannot_route_are_refused(
    client: httpx2.AsyncClient, body: dict[str, Any], status: int
) -> None:
    assert (await post(client, body)).status_code == status


async def test_directory_pages_and_the_coordinator_new_format(
    client: httpx2.AsyncClient, population: Population
) -> None:
    first = (await post(client, envelope("directory", type="batch", cursor=None))).json()
    assert first["success"] is True
    response = first["data"]["response"]
    assert response["pagination"]["has_more"] is True
    assert [c["company_id"] for c in response["companies"]] == ["org-1"]
    cursor = response["pagination"]["next_cursor"]
    second = (await post(client, envelope("directory", type="batch", cursor=cursor))).json()
    last = second["data"]["response"]
    assert [c["company_id"] for c in last["companies"]] == ["org-2"]
    assert last["pagination"] == {
        "total_records": 2, "returned_records": 1, "next_cursor": None, "has_more": False,
    }  # fmt: skip


async def test_assessment_sends_integer_ids_of_the_last_24_hours(
    client: httpx2.AsyncClient,
) -> None:
    reply = (await post(client, envelope("assessment", type="batch", cursor="ignored"))).json()
    assert reply["status"] == "success"
    attempts = reply["response"]["attempts"]
    assert attempts
    assert all(isinstance(a["user_id"], int) for a in attempts)
    window = ("2025-06-01T09:00:00", "2025-06-02T09:00:00")
    assert all(window[0] <= a["submitted_at"] <= window[1] for a in attempts)


async def test_learner_ai_answers_a_json_string_and_needs_an_action(
    client: httpx2.AsyncClient, population: Population
) -> None:
    reply = (await post(client, envelope("learnerai", type="batch"))).json()
    answer = json.loads(reply["response"]["answer"])
    assert answer["success"] is True
    assert len(answer["data"]) == len(population.learning_paths)
    no_action = envelope("learnerai", type="batch")
    del no_action["payload"]["action"]
    refused = (await post(client, no_action)).json()
    assert refused["response"]["error"] == "payload.action is required"


async def test_content_studio_echoes_the_payload_in_its_response(
    client: httpx2.AsyncClient,
) -> None:
    reply = (await post(client, envelope("contentstudio", type="batch", cursor=None))).json()
    response = reply["response"]
    assert response["type"] == "batch"
    assert response["service_origin"] == "contentstudio"
    assert response["courses"] == []  # nothing was created or changed in the last 24 hours


async def test_a_sibling_fault_starts_after_the_requests_let_through(
    client: httpx2.AsyncClient,
) -> None:
    put = await client.put("/_sim/faults/devlab", json={"mode": "down", "afterRequests": 2})
    assert put.json()["data"]["afterRequests"] == 2
    statuses = [(await post(client, envelope("devlab"))).status_code for _ in range(4)]
    assert statuses == [200, 200, 503, 503]
    assert (await post(client, envelope("skillsengine", type="batch"))).status_code == 200
    await client.delete("/_sim/faults")
    assert (await post(client, envelope("devlab"))).status_code == 200
