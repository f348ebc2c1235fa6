"""Fault injection per simulated service: `/_sim/faults` and its effect on the services."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx2
import pytest

from learning_analytics.simulator.app import create_simulator_app
from learning_analytics.simulator.population import (
    DEMO_LEARNER_EMAIL,
    Population,
    generate_population,
)

SERVICES = (
    "auth",
    "directory",
    "course-builder",
    "content-studio",
    "assessment",
    "skills-engine",
    "learner-ai",
    "devlab",
    "rag",
)
DEVLAB = "/devlab/api/v1/practice-sessions"
ASSESSMENT = "/assessment/api/v1/attempts"
OK = {"mode": "ok", "latencyMs": 0, "errorRate": 0.0}


@pytest.fixture(scope="module")
def population() -> Population:
    return generate_population(
        seed=9, learners=30, history_days=60, anchor=datetime(2025, 6, 2, 9, tzinfo=UTC)
    )


@pytest.fixture
async def client(population: Population) -> AsyncIterator[httpx2.AsyncClient]:
    app = create_simulator_app(population)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://sim"
    ) as client:
        yield client


async def _set(client: httpx2.AsyncClient, service: str, **fault: Any) -> dict[str, Any]:
    response = await client.put(f"/_sim/faults/{service}", json=fault)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _assert_untouched(client: httpx2.AsyncClient, population: Population) -> None:
    """Every other service still answers normally."""
    attempts = await client.get(ASSESSMENT, params={"limit": 2})
    assert attempts.status_code == 200
    assert len(attempts.json()["data"]["items"]) == 2
    login = await client.post(
        "/auth/api/v1/auth/login",
        json={"email": DEMO_LEARNER_EMAIL, "password": population.password},
    )
    assert login.status_code == 200
    truth = await client.get("/_sim/ground-truth")
    assert truth.status_code == 200


def _is_valid_page(response: httpx2.Response) -> bool:
    try:
        body = response.json()
    except json.JSONDecodeError:
        return False
    return (
        isinstance(body, dict)
        and body.get("success") is True
        and isinstance(body.get("data"), dict)
        and isinstance(body["data"].get("items"), list)
    )


# --------------------------------------------------------------------------------------------
# Control surface


@pytest.mark.anyio
async def test_every_service_starts_ok(client: httpx2.AsyncClient) -> None:
    response = await client.get("/_sim/faults")

    assert response.status_code == 200
    assert response.json() == {"success": True, "data": dict.fromkeys(SERVICES, OK)}


@pytest.mark.anyio
async def test_put_shows_in_the_listing_and_ok_resets_one(client: httpx2.AsyncClient) -> None:
    put = await _set(client, "devlab", mode="latency", latencyMs=25)
    await _set(client, "rag", mode="error", errorRate=0.25)
    listed = (await client.get("/_sim/faults")).json()["data"]
    reset = await _set(client, "devlab", mode="ok", latencyMs=99)
    after = (await client.get("/_sim/faults")).json()["data"]

    assert put == {
        "success": True,
        "data": {"service": "devlab", "mode": "latency", "latencyMs": 25, "errorRate": 0.0},
    }
    assert listed["devlab"] == {"mode": "latency", "latencyMs": 25, "errorRate": 0.0}
    assert listed["rag"] == {"mode": "error", "latencyMs": 0, "errorRate": 0.25}
    assert all(listed[name] == OK for name in SERVICES if name not in {"devlab", "rag"})
    assert reset["data"] == {"service": "devlab", **OK}
    assert after["devlab"] == OK
    assert after["rag"]["mode"] == "error"


@pytest.mark.anyio
async def test_delete_clears_every_fault(
    client: httpx2.AsyncClient, population: Population
) -> None:
    for service in SERVICES:
        await _set(client, service, mode="down")
    assert (await client.get(DEVLAB)).status_code == 503

    cleared = await client.delete("/_sim/faults")

    assert cleared.status_code == 200
    assert cleared.json()["data"] == dict.fromkeys(SERVICES, OK)
    assert (await client.get(DEVLAB)).status_code == 200
    await _assert_untouched(client, population)


@pytest.mark.anyio
async def test_unknown_service_is_404(client: httpx2.AsyncClient) -> None:
    response = await client.put("/_sim/faults/billing", json={"mode": "down"})

    assert response.status_code == 404
    assert response.json()["success"] is False


@pytest.mark.anyio
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"mode": "broken"},
        {"mode": "latency", "latencyMs": -1},
        {"mode": "latency", "latencyMs": "slow"},
        {"mode": "error", "errorRate": 1.5},
        {"mode": "error", "errorRate": -0.1},
        {"mode": "down", "service": "devlab"},
        ["down"],
    ],
)
async def test_bad_fault_bodies_are_400(client: httpx2.AsyncClient, body: object) -> None:
    response = await client.put("/_sim/faults/devlab", json=body)

    assert response.status_code == 400
    assert response.json()["success"] is False
    assert (await client.get("/_sim/faults")).json()["data"]["devlab"] == OK


@pytest.mark.anyio
async def test_body_that_is_not_json_is_400(client: httpx2.AsyncClient) -> None:
    response = await client.put(
        "/_sim/faults/devlab", content=b"{mode: down", headers={"content-type": "application/json"}
    )

    assert response.status_code == 400


# --------------------------------------------------------------------------------------------
# Modes


@pytest.mark.anyio
async def test_down_is_503_on_every_endpoint_of_the_service(
    client: httpx2.AsyncClient, population: Population
) -> None:
    learner = next(user for user in population.users if user.role == "learner")
    await _set(client, "devlab", mode="down")

    bulk = await client.get(DEVLAB)
    per_user = await client.get(f"/devlab/api/v1/users/{learner.id}/practice-sessions")
    unknown = await client.get("/devlab/api/v1/anything")

    for response in (bulk, per_user, unknown):
        assert response.status_code == 503
        assert response.json()["success"] is False
        assert response.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    await _assert_untouched(client, population)


@pytest.mark.anyio
async def test_auth_can_be_down_too(client: httpx2.AsyncClient, population: Population) -> None:
    await _set(client, "auth", mode="down")

    login = await client.post(
        "/auth/api/v1/auth/login",
        json={"email": DEMO_LEARNER_EMAIL, "password": population.password},
    )
    other = await client.get(DEVLAB)

    assert login.status_code == 503
    assert other.status_code == 200


@pytest.mark.anyio
async def test_error_with_no_rate_always_fails(
    client: httpx2.AsyncClient, population: Population
) -> None:
    await _set(client, "devlab", mode="error")

    statuses = {(await client.get(DEVLAB)).status_code for _ in range(10)}

    assert statuses == {500}
    await _assert_untouched(client, population)


@pytest.mark.anyio
async def test_error_rate_fails_some_requests(
    client: httpx2.AsyncClient, population: Population
) -> None:
    await _set(client, "devlab", mode="error", errorRate=0.5)

    responses = [await client.get(DEVLAB, params={"limit": 1}) for _ in range(60)]

    failed = [r for r in responses if r.status_code == 500]
    served = [r for r in responses if r.status_code == 200]
    assert len(failed) + len(served) == 60
    assert 10 <= len(failed) <= 50
    assert failed[0].json()["error"]["code"] == "INTERNAL_ERROR"
    assert all(_is_valid_page(r) for r in served)
    await _assert_untouched(client, population)


@pytest.mark.anyio
async def test_garbage_alternates_invalid_json_and_wrong_shape(
    client: httpx2.AsyncClient, population: Population
) -> None:
    await _set(client, "devlab", mode="garbage")

    first, second, third = [await client.get(DEVLAB) for _ in range(3)]

    assert first.status_code == second.status_code == third.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        first.json()
    assert second.json()["success"] is True
    assert not _is_valid_page(second)
    assert third.content == first.content
    await _assert_untouched(client, population)


@pytest.mark.anyio
async def test_latency_delays_the_service_only(
    client: httpx2.AsyncClient, population: Population
) -> None:
    await _set(client, "devlab", mode="latency", latencyMs=300)

    started = time.perf_counter()
    delayed = await client.get(DEVLAB, params={"limit": 1})
    delayed_for = time.perf_counter() - started
    started = time.perf_counter()
    other = await client.get(ASSESSMENT, params={"limit": 1})
    other_for = time.perf_counter() - started

    assert delayed.status_code == other.status_code == 200
    assert _is_valid_page(delayed)
    assert 0.29 <= delayed_for < 3.0
    assert other_for < 0.25
    await _assert_untouched(client, population)


@pytest.mark.anyio
async def test_timeout_holds_the_request_until_the_client_gives_up(
    client: httpx2.AsyncClient, population: Population
) -> None:
    await _set(client, "devlab", mode="timeout")

    started = time.perf_counter()
    with pytest.raises(TimeoutError), anyio.fail_after(0.3):
        await client.get(DEVLAB)
    waited = time.perf_counter() - started

    assert 0.29 <= waited < 3.0
    await _assert_untouched(client, population)
    await client.delete("/_sim/faults")
    assert (await client.get(DEVLAB)).status_code == 200


@pytest.mark.anyio
async def test_faults_take_effect_at_once(client: httpx2.AsyncClient) -> None:
    before = await client.get(DEVLAB, params={"limit": 1})
    await _set(client, "devlab", mode="down")
    during = await client.get(DEVLAB, params={"limit": 1})
    await _set(client, "devlab", mode="ok")
    after = await client.get(DEVLAB, params={"limit": 1})

    assert (before.status_code, during.status_code, after.status_code) == (200, 503, 200)
    assert after.content == before.content
