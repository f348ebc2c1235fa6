"""Role and ownership (SPEC §8.3): who may read learner l-1's analytics, and what others see."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from tests.api.conftest import Api

pytestmark = pytest.mark.anyio

STREAK = "/api/v1/gamification/streak/{}"

# (caller, subject, expected status, why)
MATRIX = [
    ("l-1", "l-1", 200, "the learner themself"),
    ("l-2", "l-1", 403, "another learner of the same org"),
    ("l-3", "l-1", 403, "a learner of another org"),
    ("tr-1", "l-1", 200, "the trainer of a course l-1 is enrolled in"),
    ("tr-2", "l-1", 403, "a trainer of the org who does not train l-1"),
    ("tr-1", "l-2", 403, "the trainer of a course l-2 withdrew from"),
    ("tr-z", "l-1", 403, "a trainer of another org"),
    ("m-a", "l-1", 200, "the manager of l-1's department"),
    ("tm-a1", "l-1", 200, "the manager of l-1's team"),
    ("m-b", "l-1", 403, "the manager of another department"),
    ("dm-1", "l-2", 200, "l-2's direct manager"),
    ("dm-1", "l-1", 403, "a manager in l-1's department who manages neither it nor l-1"),
    ("m-z", "l-1", 403, "a manager of another org"),
    ("oa-1", "l-1", 200, "an org admin of l-1's org"),
    ("oa-1", "l-3", 403, "an org admin of another org"),
    ("oa-z", "l-1", 403, "an org admin of another org"),
    ("ad-1", "l-1", 200, "a platform admin"),
    ("ad-1", "l-3", 200, "a platform admin, any org"),
]


@pytest.mark.parametrize(("caller", "subject", "status", "why"), MATRIX)
async def test_subject_viewers(api: Api, caller: str, subject: str, status: int, why: str) -> None:
    response = await api.client.get(STREAK.format(subject), headers=api.auth(caller))
    assert response.status_code == status, why
    if status == 403:
        assert response.json()["error"]["code"] == "FORBIDDEN"


async def test_unknown_subject_is_indistinguishable_from_a_forbidden_one(api: Api) -> None:
    forbidden = await api.client.get(STREAK.format("l-3"), headers=api.auth("l-1"))
    unknown = await api.client.get(STREAK.format("nobody-42"), headers=api.auth("l-1"))
    assert forbidden.status_code == unknown.status_code == 403

    def strip(body: dict[str, object]) -> dict[str, object]:
        return {k: v for k, v in body.items() if k not in {"requestId", "instance"}}

    assert strip(forbidden.json()) == strip(unknown.json())


async def test_only_a_platform_admin_learns_that_a_subject_does_not_exist(api: Api) -> None:
    response = await api.client.get(STREAK.format("nobody-42"), headers=api.auth("ad-1"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


async def test_role_claims_do_not_cross_organisations(api: Api) -> None:
    # An org admin token that names org-1 but belongs to a user the store puts in org-2 is still
    # judged by the token's organisation against the subject's: org-1 admin rights apply only to
    # org-1 subjects, and nothing in a query parameter can widen them.
    headers = api.auth("oa-z")
    response = await api.client.get(
        STREAK.format("l-1"), params={"orgId": "org-1"}, headers=headers
    )
    assert response.status_code == 403


async def test_denials_are_audited_and_counted(api: Api) -> None:
    with capture_logs() as logs:
        await api.client.get(STREAK.format("l-1"), headers=api.auth("tr-2"))
    denials = [entry for entry in logs if entry["event"] == "authorization_denied"]
    assert len(denials) == 1
    assert denials[0]["principal"] == "tr-2"
    assert denials[0]["subject"] == "l-1"
    assert denials[0]["route"] == "/api/v1/gamification/streak/{userId}"
    metrics = await api.client.get("/metrics")
    assert (
        'la_authorization_denials_total{route="/api/v1/gamification/streak/{userId}"} 1.0'
        in metrics.text
    )
