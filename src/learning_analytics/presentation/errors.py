"""The one mapping from errors to HTTP, and the RFC 9457 problem+json renderer (SPEC §6).

Every error leaves the service as `application/problem+json` with the seed's members
(`success: false`, `error.code`) — including the framework's own 404/405/422 — and no internals.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

import structlog
from asgi_correlation_id import correlation_id
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from learning_analytics.domain import errors as e

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger("learning_analytics.errors")


@dataclass(frozen=True, slots=True)
class ProblemKind:
    status: int
    code: str
    title: str
    slug: str


# Most specific class first: the first isinstance match wins.
ERROR_TABLE: tuple[tuple[type[e.LearningAnalyticsError], ProblemKind], ...] = (
    (e.TokenExpiredError, ProblemKind(401, "TOKEN_EXPIRED", "Token expired", "token-expired")),
    (
        e.AuthenticationError,
        ProblemKind(401, "UNAUTHENTICATED", "Unauthenticated", "unauthenticated"),
    ),
    (e.ForbiddenError, ProblemKind(403, "FORBIDDEN", "Forbidden", "forbidden")),
    (e.NotFoundError, ProblemKind(404, "NOT_FOUND", "Not found", "not-found")),
    (e.InvalidInputError, ProblemKind(422, "VALIDATION_ERROR", "Validation error", "validation")),
    (
        e.InsufficientDataError,
        ProblemKind(422, "INSUFFICIENT_DATA", "Insufficient data", "insufficient-data"),
    ),
    (
        e.PayloadTooLargeError,
        ProblemKind(413, "PAYLOAD_TOO_LARGE", "Payload too large", "payload-too-large"),
    ),
    (e.RateLimitedError, ProblemKind(429, "RATE_LIMITED", "Too many requests", "rate-limited")),
    (
        e.UpstreamError,
        ProblemKind(503, "UPSTREAM_UNAVAILABLE", "Upstream unavailable", "upstream-unavailable"),
    ),
)
INTERNAL = ProblemKind(500, "INTERNAL_ERROR", "Internal error", "internal")
HTTP_STATUS_KINDS: dict[int, ProblemKind] = {
    400: ProblemKind(400, "VALIDATION_ERROR", "Bad request", "bad-request"),
    401: ProblemKind(401, "UNAUTHENTICATED", "Unauthenticated", "unauthenticated"),
    403: ProblemKind(403, "FORBIDDEN", "Forbidden", "forbidden"),
    404: ProblemKind(404, "NOT_FOUND", "Not found", "not-found"),
    405: ProblemKind(405, "METHOD_NOT_ALLOWED", "Method not allowed", "method-not-allowed"),
    413: ProblemKind(413, "PAYLOAD_TOO_LARGE", "Payload too large", "payload-too-large"),
    415: ProblemKind(415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported media type", "media-type"),
    422: ProblemKind(422, "VALIDATION_ERROR", "Validation error", "validation"),
}


def kind_for(error: e.LearningAnalyticsError) -> ProblemKind:
    for cls, kind in ERROR_TABLE:
        if isinstance(error, cls):
            return kind
    return INTERNAL


def current_request_id() -> str | None:
    return correlation_id.get()


def problem_body(
    kind: ProblemKind,
    *,
    message: str,
    instance: str,
    request_id: str | None,
    details: Any = None,
) -> bytes:
    body: dict[str, Any] = {
        "type": f"/errors/{kind.slug}",
        "title": kind.title,
        "status": kind.status,
        "detail": message,
        "instance": instance,
        "requestId": request_id,
        "success": False,
        "error": {"code": kind.code, "message": message, "details": details},
    }
    return json.dumps(body, separators=(",", ":"), default=str).encode()


def problem_response(
    kind: ProblemKind,
    *,
    message: str,
    request: Request,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    all_headers = dict(headers or {})
    if kind.status == 401:
        all_headers.setdefault("WWW-Authenticate", 'Bearer realm="learning-analytics"')
    body = problem_body(
        kind,
        message=message,
        instance=request.url.path,
        request_id=current_request_id(),
        details=details,
    )
    return Response(body, status_code=kind.status, media_type=PROBLEM_JSON, headers=all_headers)


async def handle_domain_error(request: Request, exc: Exception) -> Response:
    exc = cast(e.LearningAnalyticsError, exc)
    kind = kind_for(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, e.RateLimitedError):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, e.UpstreamError):
        headers["Retry-After"] = "30"
        log.warning("upstream_error", service=exc.service, error=exc.message, path=request.url.path)
    return problem_response(
        kind, message=exc.message, request=request, details=exc.details, headers=headers
    )


async def handle_validation_error(request: Request, exc: Exception) -> Response:
    exc = cast(RequestValidationError, exc)
    details = [
        {
            "location": [str(part) for part in err.get("loc", ())],
            "message": str(err.get("msg", "")),
            "type": str(err.get("type", "")),
        }
        for err in exc.errors()
    ]
    return problem_response(
        HTTP_STATUS_KINDS[422],
        message="Request validation failed",
        request=request,
        details=details,
    )


async def handle_http_error(request: Request, exc: Exception) -> Response:
    exc = cast(StarletteHTTPException, exc)
    kind = HTTP_STATUS_KINDS.get(
        exc.status_code,
        ProblemKind(exc.status_code, "HTTP_ERROR", "HTTP error", "http"),
    )
    message = exc.detail if isinstance(exc.detail, str) else kind.title
    if exc.status_code == 404 and message == "Not Found":
        message = "No such resource"
    return problem_response(kind, message=message, request=request, headers=dict(exc.headers or {}))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(e.LearningAnalyticsError, handle_domain_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_error)
    # Unexpected exceptions are answered by EdgeMiddleware (inside the request-id context).
