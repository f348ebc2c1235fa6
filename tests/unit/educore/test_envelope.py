"""Reading the siblings' replies wherever they put the filled template (EDUCORE.md §2.2, §5.5)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from learning_analytics.domain.errors import UpstreamContractError, UpstreamUnavailableError
from learning_analytics.infrastructure.educore.envelope import (
    Pagination,
    decode_json,
    filled_response,
    request_envelope,
)
from learning_analytics.infrastructure.educore.ids import numeric_part
from learning_analytics.infrastructure.educore.skills_engine import Competency, competency_level

FILLED = {"version": "v1", "attempts": [{"user_id": 1}]}


@pytest.mark.parametrize(
    "body",
    [
        {"requester_service": "LearningAnalytics", "payload": {}, "response": FILLED},
        {"success": True, "data": {"payload": {}, "response": FILLED}, "metadata": {}},
        {"success": True, "data": FILLED},
        {"status": "success", "error": None, "response": FILLED, "metrics": {"elapsed_ms": 3}},
    ],
    ids=["envelope", "new-format", "data-only", "assessment"],
)
def test_the_filled_template_is_found_in_every_framing(body: dict[str, Any]) -> None:
    assert filled_response(body, service="x") == FILLED


def test_learner_ai_answer_string_is_decoded() -> None:
    answer = {"success": True, "action": "batch", "data": [{"competency_target_name": "React"}]}
    body = {"response": {"answer": json.dumps(answer)}}
    assert filled_response(body, service="learner-ai") == answer


def test_an_empty_answer_leaves_the_response_as_it_is() -> None:
    assert filled_response({"response": {"answer": ""}}, service="x") == {"answer": ""}


def test_rag_style_batch_items_get_a_next_page() -> None:
    body = {
        "success": True,
        "data": {"items": [{"id": 1}], "page": 2, "limit": 1, "total": 5},
        "metadata": {"has_more": True, "page": 2},
    }
    response = filled_response(body, service="x")
    assert response["items"] == [{"id": 1}]
    assert Pagination.of(response, sent_cursor="2", service="x").next_cursor == "3"
    body["metadata"] = {"has_more": False}
    last = filled_response(body, service="x")
    assert Pagination.of(last, sent_cursor="2", service="x").next_cursor is None


@pytest.mark.parametrize(
    "body",
    [
        {"success": False, "error": {"code": "X", "message": "down"}},
        {"status": "error", "error": "database unavailable", "response": {}},
        {"requester_service": "directory_service", "response": {"error": "Unauthorized"}},
        {"response": {"answer": json.dumps({"success": False, "error": "no paths"})}},
    ],
    ids=["wrapper", "assessment", "directory-401", "answer"],
)
def test_errors_reported_inside_a_reply_are_upstream_failures(body: dict[str, Any]) -> None:
    with pytest.raises(UpstreamUnavailableError, match="reported an error"):
        filled_response(body, service="x")


@pytest.mark.parametrize(
    "body",
    [[1, 2], "text", {"payload": {}}, {"response": {"answer": "[1]"}}, {"data": [1]}],
    ids=["list", "string", "no-response", "answer-list", "data-list"],
)
def test_replies_without_a_template_break_the_contract(body: Any) -> None:
    with pytest.raises(UpstreamContractError):
        filled_response(body, service="x")


def test_a_stringified_envelope_is_decoded_twice() -> None:
    envelope = {"response": FILLED}
    assert decode_json(json.dumps(json.dumps(envelope)).encode(), service="x") == envelope
    with pytest.raises(UpstreamContractError, match="not JSON"):
        decode_json(b'{"response": ', service="x")


@pytest.mark.parametrize(
    ("pagination", "expected"),
    [
        ({"next_cursor": "c2", "has_more": True}, "c2"),
        ({"next_cursor": "c2"}, "c2"),
        ({"next_cursor": "c2", "has_more": False}, None),
        ({"next_cursor": None, "has_more": True}, None),
        ({"next_cursor": "", "has_more": True}, None),
        ({"next_cursor": 42, "has_more": True}, "42"),
    ],
)
def test_pagination(pagination: dict[str, Any], expected: str | None) -> None:
    response = {"pagination": pagination}
    assert Pagination.of(response, sent_cursor="c1", service="x").next_cursor == expected


def test_no_pagination_is_one_page() -> None:
    assert Pagination.of({"attempts": []}, sent_cursor=None, service="x").next_cursor is None


def test_the_same_cursor_again_would_loop_forever() -> None:
    response = {"pagination": {"next_cursor": "c1", "has_more": True}}
    with pytest.raises(UpstreamContractError, match="same cursor"):
        Pagination.of(response, sent_cursor="c1", service="x")


def test_request_envelope_names_us_exactly_as_every_sibling_accepts() -> None:
    envelope = request_envelope({"type": "batch"}, {"attempts": []})
    assert envelope == {
        "requester_service": "LearningAnalytics",
        "payload": {"type": "batch"},
        "response": {"attempts": []},
    }


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        ("u-000123", "123"),
        ("c-001", "1"),
        ("123", "123"),
        ("no digits", None),
        ("10000000-0000-0000-0000-000000000001", None),  # beyond a JavaScript safe integer
    ],
)
def test_numeric_part(identifier: str, expected: str | None) -> None:
    assert numeric_part(identifier) == expected


@pytest.mark.parametrize(
    ("coverage", "proficiency", "level"),
    [
        (82.5, "ADVANCED", 4),  # 82.5 / 20 = 4.125
        (90.0, None, 5),  # 4.5 rounds half up
        (0.0, "EXPERT", 0),  # coverage wins over the name
        (130.0, None, 5),  # clamped to 100 %
        (None, "INTERMEDIATE", 3),
        (None, "expert", 5),
        (None, None, 0),
    ],
)
def test_competency_level(coverage: float | None, proficiency: str | None, level: int) -> None:
    competency = Competency(
        competency_id="c", coverage_percentage=coverage, proficiency_level=proficiency
    )
    assert competency_level(competency) == level
