"""Expired nAuth tokens re-issued through the Coordinator (EDUCORE.md §3.10), against an
httpx2 transport standing in for the Coordinator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import pytest

from learning_analytics.infrastructure.auth.revalidation import (
    VALIDATION_ACTION,
    CoordinatorTokenRevalidator,
    validation_envelope,
    validation_reply,
)
from learning_analytics.infrastructure.educore.signing import (
    EnvelopeSigner,
    SignatureVerifier,
    generate_key_pair,
)

pytestmark = pytest.mark.anyio

REFRESHED = {
    "valid": True,
    "reason": "",
    "auth_state": "ACCESS_TOKEN_REFRESHED",
    "directory_user_id": "u-1",
    "organization_id": "o-1",
    "new_access_token": "new.token.here",
    "primary_role": "REGULAR_EMPLOYEE",
    "is_system_admin": False,
}


@pytest.mark.parametrize(
    "document",
    [
        {"data": {"response": REFRESHED}},
        {"data": {"data": {"response": REFRESHED}}},
        {"data": {"data": REFRESHED}},
        {"data": REFRESHED},
        {"requester_service": "nAuth", "response": REFRESHED},
        REFRESHED,
    ],
)
def test_the_filled_template_is_found_wherever_the_coordinator_puts_it(document: Any) -> None:
    assert validation_reply(document) == REFRESHED


def test_replies_without_a_verdict_are_none() -> None:
    assert validation_reply({"data": {"response": {}}}) is None
    assert validation_reply(["valid"]) is None


class Coordinator:
    """Answers /request with a fixed reply and records what it was sent."""

    def __init__(self, reply: Any, status: int = 200) -> None:
        self.reply = reply
        self.status = status
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        return httpx2.Response(self.status, json=self.reply)


def revalidator(coordinator: Any, **options: Any) -> CoordinatorTokenRevalidator:
    http = httpx2.AsyncClient(transport=httpx2.MockTransport(coordinator))
    return CoordinatorTokenRevalidator(
        http,
        coordinator_url="http://coordinator.test/",
        requester_service="learning-analytics-service",
        **options,
    )


async def test_a_refreshed_token_is_returned_and_the_answer_remembered() -> None:
    coordinator = Coordinator({"data": {"response": REFRESHED}})
    check = revalidator(coordinator)
    token = await check.reissue("old.token.x", route="/api/v1/x", method="GET")
    assert token == "new.token.here"
    sent = json.loads(coordinator.requests[0].content)
    assert str(coordinator.requests[0].url) == "http://coordinator.test/request"
    assert sent["requester_service"] == "learning-analytics-service"
    assert sent["payload"] == {
        "action": VALIDATION_ACTION,
        "access_token": "old.token.x",
        "route": "/api/v1/x",
        "method": "GET",
    }
    assert sent["response"]["new_access_token"] == ""
    assert await check.reissue("old.token.x", route="/api/v1/x", method="GET") == token
    assert len(coordinator.requests) == 1


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        ({**REFRESHED, "valid": False, "reason": "SESSION_NOT_ACTIVE_OR_REVOKED"}, 200),
        ({**REFRESHED, "auth_state": "ACCESS_TOKEN_VALID", "new_access_token": ""}, 200),
        ({**REFRESHED, "new_access_token": ""}, 200),
        ({**REFRESHED, "new_access_token": 42}, 200),
        ({**REFRESHED, "valid": "yes"}, 200),
        (REFRESHED, 502),
        ({"success": False}, 200),
    ],
)
async def test_anything_but_a_reissued_token_is_none(reply: Any, status: int) -> None:
    check = revalidator(Coordinator(reply, status))
    assert await check.reissue("old.token.x", route="/r", method="GET") is None


async def test_an_unreachable_coordinator_is_none() -> None:
    def down(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("refused", request=request)

    assert await revalidator(down).reissue("t.t.t", route="/r", method="GET") is None


async def test_the_request_is_signed_when_a_key_is_configured() -> None:
    private, public = generate_key_pair()
    coordinator = Coordinator({"response": REFRESHED})
    check = revalidator(coordinator, signer=EnvelopeSigner(private, "learning-analytics-service"))
    await check.reissue("t.t.t", route="/r", method="GET")
    request = coordinator.requests[0]
    assert request.headers["X-Service-Name"] == "learning-analytics-service"
    assert SignatureVerifier(public).verify(
        "learning-analytics-service", request.headers["X-Signature"], body=request.content
    )


def test_the_contract_sample_is_what_we_send_and_what_we_read() -> None:
    sample = json.loads(
        (Path(__file__).resolve().parents[2] / "contracts/samples/nauth-validate.json").read_text()
    )
    expected = sample["request_body"]
    sent = validation_envelope(
        expected["requester_service"],
        expected["payload"]["access_token"],
        route=expected["payload"]["route"],
        method=expected["payload"]["method"],
    )
    assert sent == expected  # the action sentence must match exactly (nAuth routes on it)
    reply = sample["response_body_from_nauth"]
    assert validation_reply(reply) == reply["response"]
    assert validation_reply({"success": True, "data": reply}) == reply["response"]
