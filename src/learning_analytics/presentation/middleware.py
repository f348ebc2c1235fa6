"""Pure ASGI middleware at the edge: body size limit, metrics, access log, rate-limit headers,
and the last-resort 500.

Pure ASGI (no BaseHTTPMiddleware) so the cache-hit path pays for no extra task or copy.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from asgi_correlation_id import correlation_id
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from learning_analytics.application.ports import RateLimitDecision
from learning_analytics.presentation.errors import (
    HTTP_STATUS_KINDS,
    INTERNAL,
    PROBLEM_JSON,
    problem_body,
)
from learning_analytics.presentation.observability import Metrics

access_log = structlog.get_logger("learning_analytics.access")
RATE_LIMIT_STATE_KEY = "rate_limit"
# A re-issued nAuth token, sent back in a header (a state key, not a secret).
NEW_ACCESS_TOKEN_KEY = "new_access_token"  # noqa: S105


def rate_limit_headers(decision: RateLimitDecision) -> list[tuple[bytes, bytes]]:
    return [
        (b"ratelimit-limit", str(decision.limit).encode()),
        (b"ratelimit-remaining", str(decision.remaining).encode()),
        (b"ratelimit-reset", str(decision.reset_after).encode()),
    ]


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: Metrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_holder = [500]
        response_started = [False]

        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._send_problem(scope, send, status=413, message=self._too_large)
            self._observe(scope, 413, started)
            return

        received = 0

        async def limited_receive() -> Message:
            # A body without (or lying about) Content-Length is counted as it streams in; the
            # 413 is raised where the route reads it, so the one error handler answers it.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise HTTPException(413, self._too_large)
            return message

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_started[0] = True
                status_holder[0] = message["status"]
                state = scope.get("state", {})
                decision = state.get(RATE_LIMIT_STATE_KEY)
                fresh_token = state.get(NEW_ACCESS_TOKEN_KEY)
                if isinstance(decision, RateLimitDecision) or fresh_token:
                    headers = list(message.get("headers", []))
                    if isinstance(decision, RateLimitDecision):
                        headers.extend(rate_limit_headers(decision))
                    if isinstance(fresh_token, str):
                        headers.append((b"x-new-access-token", fresh_token.encode("ascii")))
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, limited_receive, send_wrapper)
        except Exception:
            # Last line of defence: a bug must still answer as a problem, without internals.
            access_log.exception("unhandled_error", path=scope.get("path"))
            if not response_started[0]:
                await self._send_problem(
                    scope, send, status=500, message="An internal error occurred"
                )
            status_holder[0] = 500
        finally:
            self._observe(scope, status_holder[0], started)

    @property
    def _too_large(self) -> str:
        return f"Request body exceeds {self.max_body_bytes} bytes"

    async def _send_problem(self, scope: Scope, send: Send, *, status: int, message: str) -> None:
        kind = HTTP_STATUS_KINDS.get(status, INTERNAL)
        body = problem_body(
            kind, message=message, instance=scope.get("path", ""), request_id=correlation_id.get()
        )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _observe(self, scope: Scope, status: int, started: float) -> None:
        elapsed = time.perf_counter() - started
        route = _route_template(scope)
        self.metrics.requests.labels(route, scope.get("method", ""), str(status)).inc()
        self.metrics.latency.labels(route).observe(elapsed)
        access_log.info(
            "request",
            method=scope.get("method"),
            route=route,
            status=status,
            duration_ms=round(elapsed * 1000, 2),
        )


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"
