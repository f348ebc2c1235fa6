"""The simulated services' reply envelope: `{"success": true, "data": ...}` or
`{"success": false, "error": {"code", "message"}}` (docs/upstreams.md)."""

from __future__ import annotations

import json
from collections.abc import Iterable

from fastapi.responses import JSONResponse, Response

JSON = "application/json"


def failure(status_code: int, *, code: str, message: str) -> JSONResponse:
    return JSONResponse(
        status_code=status_code,
        content={"success": False, "error": {"code": code, "message": message}},
    )


def items_response(items: Iterable[bytes], *, user_id: str | None = None) -> Response:
    """`{"success": true, "data": {"items": [...]}}` from items serialised already (with
    `"userId"` first when given)."""
    head = b"{" if user_id is None else b'{"userId":' + json.dumps(user_id).encode() + b","
    return _raw(head + b'"items":[' + b",".join(items) + b"]}")


def page_response(items: Iterable[bytes], *, next_cursor: str | None) -> Response:
    """A bulk page: the items and `nextCursor` (null on the last page)."""
    cursor = b"null" if next_cursor is None else json.dumps(next_cursor).encode()
    return _raw(b'{"items":[' + b",".join(items) + b'],"nextCursor":' + cursor + b"}")


def _raw(data: bytes) -> Response:
    return Response(content=b'{"success":true,"data":' + data + b"}", media_type=JSON)
