"""EDUCORE envelopes: building our requests and reading the siblings' replies tolerantly
(contracts/EDUCORE.md §2.2, §4, §5.5).

A request is `{requester_service: "LearningAnalytics", payload, response: <template>}`. Where
a reply keeps the filled template is not pinned down, so `filled_response` looks, in order, at:

1. the Coordinator's "new format" wrapper `{success, data: {response: ...}}` (`data.response`);
2. the plain envelope (`response`);
3. the wrapper's `data` itself, when it is the filled object;

and then unwraps `answer` when it is a JSON string (LearnerAI: `response.answer`, of which
`data` is the rows). A body that is itself a JSON string (an envelope stringified once more) is
decoded first. A RAG-style batch reply `{data: {items, page, limit, total}, metadata: {has_more}}`
becomes `{items, pagination: {has_more, next_cursor: <next page>}}`.

Failures the siblings report inside a 200 (`response.error`, Assessment's `status: "error"`, a
wrapper with `success: false`) are upstream failures, never data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from learning_analytics.domain.errors import UpstreamContractError, UpstreamUnavailableError

REQUESTER = "LearningAnalytics"  # the only spelling every sibling accepts (EDUCORE.md §5.2)
MAX_PAGE_SIZE = 1000

JsonObject = dict[str, Any]


def decode_json(body: bytes | str, *, service: str) -> Any:
    """The body as JSON; a JSON string holding JSON (a stringified envelope) is decoded again."""
    try:
        value = json.loads(body)
        if isinstance(value, str) and value.lstrip().startswith(("{", "[")):
            value = json.loads(value)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UpstreamContractError(
            f"{service} sent a reply that is not JSON", service=service
        ) from error
    return value


def _reported_error(value: Mapping[str, Any]) -> str | None:
    error = value.get("error")
    if isinstance(error, str) and error:
        return error
    if isinstance(error, Mapping) and error:
        message = error.get("message") or error.get("code")
        return str(message or "error")
    return None


def _raise_reported(service: str, message: str) -> None:
    raise UpstreamUnavailableError(f"{service} reported an error: {message[:200]}", service=service)


def _answer(value: JsonObject, *, service: str) -> JsonObject:
    """`{answer: "<JSON>"}` (LearnerAI) → the decoded answer, rows in `data`."""
    answer = value.get("answer")
    if not isinstance(answer, str) or not answer.strip():
        return value
    decoded = decode_json(answer, service=service)
    if not isinstance(decoded, dict):
        raise UpstreamContractError(
            f"{service} sent an answer that is not an object", service=service
        )
    if decoded.get("success") is False:
        _raise_reported(service, _reported_error(decoded) or "success: false")
    return decoded


def _rag_batch(data: JsonObject, metadata: Any) -> JsonObject:
    meta = metadata if isinstance(metadata, Mapping) else {}
    page = data.get("page") or meta.get("page")
    has_more = bool(meta.get("has_more", data.get("has_more", False)))
    next_page = str(int(page) + 1) if has_more and isinstance(page, int) else None
    return {
        **data,
        "pagination": {"has_more": has_more and next_page is not None, "next_cursor": next_page},
    }


def filled_response(body: Any, *, service: str) -> JsonObject:
    """The filled template of a reply (see the module doc), or UpstreamContractError."""
    if not isinstance(body, dict):
        raise UpstreamContractError(
            f"{service} sent a reply that is not an object", service=service
        )
    if body.get("success") is False:
        _raise_reported(service, _reported_error(body) or "success: false")
    if str(body.get("status", "")).lower() == "error":
        _raise_reported(service, _reported_error(body) or "status: error")
    data = body.get("data")
    found: Any = None
    if isinstance(data, dict) and isinstance(data.get("response"), dict):
        found = data["response"]
    elif isinstance(body.get("response"), dict):
        found = body["response"]
    elif isinstance(data, dict) and isinstance(data.get("items"), list):
        found = _rag_batch(data, body.get("metadata"))
    elif isinstance(data, dict):
        found = data
    if not isinstance(found, dict):
        raise UpstreamContractError(f"{service} sent a reply without a response", service=service)
    message = _reported_error(found)
    if message is not None:
        _raise_reported(service, message)
    return _answer(found, service=service)


@dataclass(frozen=True, slots=True)
class Pagination:
    next_cursor: str | None  # None: the last page

    @classmethod
    def of(
        cls, response: Mapping[str, Any], *, sent_cursor: str | None, service: str
    ) -> Pagination:
        """The next page's cursor from `pagination` (or a service's own names), when there is one.

        `has_more` false or a null/empty `next_cursor` ends the loop; a cursor equal to the one
        sent would loop forever, and is a contract error.
        """
        pagination = response.get("pagination")
        if not isinstance(pagination, Mapping):
            return cls(next_cursor=None)
        cursor = pagination.get("next_cursor")
        has_more = pagination.get("has_more")
        if has_more is False or cursor in (None, ""):
            return cls(next_cursor=None)
        text = str(cursor)
        if text == sent_cursor:
            raise UpstreamContractError(
                f"{service} sent the same cursor again ({text[:40]})", service=service
            )
        return cls(next_cursor=text)


def request_envelope(payload: Mapping[str, Any], template: Mapping[str, Any]) -> JsonObject:
    return {"requester_service": REQUESTER, "payload": dict(payload), "response": dict(template)}


def batch_payload(
    *, route: str, origin: str, what: str, cursor: str | None, **extra: Any
) -> JsonObject:
    """The batch payload of Directory's BATCH_PAGINATION_GUIDE (EDUCORE.md §4.1)."""
    return {
        "type": "batch",
        "action": f"batch:ROUTE_TO_{route}: Fetching {what} from {route} service to populate "
        "learning analytics database",
        "service_origin": origin,
        "cursor": cursor,
        **extra,
    }


def on_demand_payload(
    *, route: str, origin: str, user_id: str | None, company_id: str | None = None, **extra: Any
) -> JsonObject:
    return {
        "type": "on-demand",
        "action": f"on-demand:ROUTE_TO_{route}: Manual refresh of {route} data requested by user",
        "service_origin": origin,
        "user_id": user_id,
        "company_id": company_id,
        "reason": "manual_refresh",
        **extra,
    }
