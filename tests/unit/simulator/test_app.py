"""The simulator app: the Auth service (MS12 contract) and the ground-truth control surface."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx2
import pytest

from learning_analytics.simulator.app import create_simulator_app
from learning_analytics.simulator.population import (
    DEMO_ADMIN_EMAIL,
    DEMO_LEARNER_EMAIL,
    DEMO_MANAGER_EMAIL,
    DEMO_ORG_ADMIN_EMAIL,
    DEMO_TRAINER_EMAIL,
    Population,
    generate_population,
)

LOGIN = "/auth/api/v1/auth/login"
PASSWORD = "s3cret-demo"


@pytest.fixture(scope="module")
def population() -> Population:
    return generate_population(
        seed=5, learners=40, anchor=datetime(2025, 6, 2, 9, tzinfo=UTC), password=PASSWORD
    )


@pytest.fixture
async def client(population: Population) -> AsyncIterator[httpx2.AsyncClient]:
    app = create_simulator_app(population)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://sim"
    ) as client:
        yield client


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("email", "role"),
    [
        (DEMO_LEARNER_EMAIL, "learner"),
        (DEMO_TRAINER_EMAIL, "trainer"),
        (DEMO_MANAGER_EMAIL, "manager"),
        (DEMO_ORG_ADMIN_EMAIL, "org_admin"),
        (DEMO_ADMIN_EMAIL, "admin"),
    ],
)
async def test_login_answers_the_user_with_our_role_names(
    client: httpx2.AsyncClient, population: Population, email: str, role: str
) -> None:
    response = await client.post(LOGIN, json={"email": email, "password": PASSWORD})

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    user = population.user_by_email(email)
    assert user is not None
    assert body["data"]["user"] == {
        "id": user.id,
        "email": email,
        "displayName": user.display_name,
        "roles": [role],
        "organizationId": user.organization_id,
        "departmentIds": [user.department_id] if user.department_id else [],
    }


@pytest.mark.anyio
async def test_login_of_a_generated_person_and_email_case(
    client: httpx2.AsyncClient, population: Population
) -> None:
    person = population.people[-1]

    response = await client.post(
        LOGIN, json={"email": f"  {person.email.upper()} ", "password": PASSWORD}
    )

    assert response.status_code == 200
    assert response.json()["data"]["user"]["id"] == person.user_id


@pytest.mark.anyio
async def test_wrong_password_and_unknown_email_get_the_same_401(
    client: httpx2.AsyncClient,
) -> None:
    wrong_password = await client.post(
        LOGIN, json={"email": DEMO_LEARNER_EMAIL, "password": "not-it"}
    )
    unknown_email = await client.post(
        LOGIN, json={"email": "nobody@org1.example", "password": PASSWORD}
    )

    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.content == unknown_email.content
    body = wrong_password.json()
    assert body["success"] is False
    assert body["error"]["code"] == "INVALID_CREDENTIALS"


@pytest.mark.anyio
async def test_non_ascii_password_is_refused_not_crashed(client: httpx2.AsyncClient) -> None:
    response = await client.post(LOGIN, json={"email": DEMO_LEARNER_EMAIL, "password": "démo"})

    assert response.status_code == 401


@pytest.mark.anyio
@pytest.mark.parametrize("body", [{"email": DEMO_LEARNER_EMAIL}, {"password": PASSWORD}, []])
async def test_malformed_login_is_a_400_in_the_envelope(
    client: httpx2.AsyncClient, body: object
) -> None:
    response = await client.post(LOGIN, json=body)

    assert response.status_code == 400
    assert response.json()["success"] is False


@pytest.mark.anyio
async def test_user_lookup(client: httpx2.AsyncClient, population: Population) -> None:
    trainer = population.user_by_email(DEMO_TRAINER_EMAIL)
    assert trainer is not None

    found = await client.get(f"/auth/api/v1/users/{trainer.id}")
    missing = await client.get("/auth/api/v1/users/u-999999")

    assert found.status_code == 200
    user = found.json()["data"]["user"]
    assert (user["id"], user["email"], user["roles"]) == (trainer.id, trainer.email, ["trainer"])
    assert user["organizationId"] == trainer.organization_id
    assert missing.status_code == 404
    assert missing.json() == {
        "success": False,
        "error": {"code": "NOT_FOUND", "message": "No such user"},
    }


@pytest.mark.anyio
async def test_ground_truth_lists_every_person(
    client: httpx2.AsyncClient, population: Population
) -> None:
    response = await client.get("/_sim/ground-truth")

    assert response.status_code == 200
    people = response.json()
    assert len(people) == len(population.people)
    keys = {"userId", "email", "role", "orgId", "departmentId", "archetype", "droppedOut"}
    assert all(set(person) == keys | {"dropDate"} for person in people)
    by_id = {person["userId"]: person for person in people}
    for expected in population.people:
        person = by_id[expected.user_id]
        assert person["email"] == expected.email
        assert person["role"] == expected.role
        assert person["archetype"] == expected.archetype
        assert person["droppedOut"] == expected.dropped_out
        if expected.drop_date is None:
            assert person["dropDate"] is None
        else:
            assert person["dropDate"] == expected.drop_date.isoformat()
    learners = [person for person in people if person["role"] == "learner"]
    assert len(learners) == 40
    assert all(person["departmentId"] for person in learners)
    assert any(person["droppedOut"] for person in learners)
