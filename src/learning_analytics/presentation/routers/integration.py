"""The platform's integration endpoint (SPEC §12, contracts/EDUCORE.md): `POST
/api/fill-content-metrics`, with and without the trailing slash, outside `/api/v1`.

Every answer, refusals included, is the sender's envelope with `response` filled (errors in
`response.error`), because that is what the senders' code reads. Order of work: size limit,
wire form, what is asked, signature and allow-list, per-sender rate limit, then the store.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from learning_analytics.application.integration import (
    Outcome,
    Signature,
    admission,
    refused,
)
from learning_analytics.domain.integration import (
    InboundMessage,
    MalformedMessageError,
    classify,
    parse_message,
    service_key,
)
from learning_analytics.domain.integration import Request as Asked
from learning_analytics.infrastructure.educore.signing import (
    SERVICE_NAME_HEADER,
    SIGNATURE_HEADER,
)
from learning_analytics.presentation.security import services_of
from learning_analytics.presentation.state import Services

router = APIRouter(tags=["integration"])
log = structlog.get_logger("learning_analytics.integration")
COORDINATOR = "coordinator"

ENVELOPE_EXAMPLE = {
    "requester_service": "directory-service",
    "payload": {
        "action": "fetch_learning_progress_for_employee_dashboard",
        "employee_id": "EMP001",
        "company_id": "550e8400-e29b-41d4-a716-446655440000",
    },
    "response": {
        "progress_summary": {},
        "recent_activity": [],
        "upcoming_deadlines": [],
        "achievements": [],
    },
}


@lru_cache(maxsize=4)
def _allowlist(configured: str) -> frozenset[str]:
    """EDUCORE_UNSIGNED_ALLOWLIST as sender keys (read once per configured value)."""
    return frozenset(service_key(name) for name in configured.split(",") if name.strip())


def _reply(outcome: Outcome) -> JSONResponse:
    return JSONResponse(outcome.envelope, status_code=outcome.status)


async def _body(request: Request, limit: int) -> bytes | None:
    """The body, or None when it is larger than `limit` (counted as it streams in)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
    except HTTPException as error:  # the edge's own, larger limit
        if error.status_code == 413:
            return None
        raise
    return b"".join(chunks)


def _signature(request: Request, services: Services, body: bytes, envelope: Any) -> Signature:
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature:
        return Signature.ABSENT
    verifier = services.coordinator_verifier
    if verifier is None:
        return Signature.UNCHECKED
    signer = request.headers.get(SERVICE_NAME_HEADER, "")
    if signer.strip().lower() != COORDINATOR:
        return Signature.INVALID
    if verifier.verify(signer.strip(), signature, body=body, envelope=envelope):
        return Signature.VALID
    return Signature.INVALID


@router.post(
    "/api/fill-content-metrics",
    summary="Answer the platform's services (Coordinator envelopes and Course Builder's push)",
    description=(
        "Accepts a JSON envelope `{requester_service, payload, response}`, the same envelope "
        "sent as a JSON string, or form fields `serviceName` + `payload` (a JSON string). "
        "Course Builder's course analytics are stored and acknowledged with `response: {}`; "
        "Directory's `fetch_learning_progress_for_employee_dashboard` and Management "
        "Reporting's statistics request are answered with `response` filled; anything else is "
        "refused with HTTP 400 and `response.error`. With `COORDINATOR_PUBLIC_KEY` set, "
        "requests must carry `X-Service-Name: coordinator` and a valid `X-Signature`, except "
        "pushes from the unsigned allow-list, which are stored marked unverified."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"example": ENVELOPE_EXAMPLE},
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "serviceName": {"type": "string"},
                            "payload": {"type": "string", "description": "a JSON object"},
                        },
                        "required": ["serviceName", "payload"],
                    }
                },
            },
        },
        "responses": {
            "400": {"description": "Malformed or unsupported message (`response.error`)"},
            "401": {"description": "Signature missing or invalid (`response.error`)"},
            "404": {"description": "The employee is not known in that company"},
            "413": {"description": "Body too large"},
            "429": {"description": "Too many messages from this service"},
        },
    },
)
@router.post("/api/fill-content-metrics/", include_in_schema=False)
async def fill_content_metrics(request: Request) -> JSONResponse:
    services = services_of(request)
    settings = services.settings
    body = await _body(request, settings.integration_max_body_bytes)
    if body is None:
        limit = settings.integration_max_body_bytes
        return _reply(refused(None, 413, f"the body exceeds {limit} bytes"))
    try:
        message = parse_message(request.headers.get("content-type"), body)
    except MalformedMessageError as error:
        return _reply(refused(None, 400, str(error)))

    kind = classify(message)
    admitted = admission(
        kind,
        message.requester,
        signature=_signature(request, services, body, message.envelope),
        key_configured=services.coordinator_verifier is not None,
        production=settings.is_production,
        unsigned_allowlist=_allowlist(settings.educore_unsigned_allowlist),
    )
    if admitted.refusal is not None:
        log.warning(
            "integration_refused",
            requester=message.requester,
            request=kind.value,
            reason=admitted.refusal,
        )
        return _reply(refused(message, 401, admitted.refusal))

    outcome, retry_after = await dispatch(services, message, kind, verified=admitted.verified)
    response = _reply(outcome)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


async def dispatch(
    services: Services, message: InboundMessage, kind: Asked, *, verified: bool
) -> tuple[Outcome, int | None]:
    """An admitted message: the sender's rate limit, then the answer (and, when limited, the
    seconds to wait). Shared by the HTTP endpoint and the gRPC `Process` method."""
    policy = services.policies.integration
    decision = await services.limiter.hit(policy, f"service:{service_key(message.requester)}")
    if not decision.allowed:
        services.metrics.rate_limited.labels(policy.name).inc()
        outcome = refused(message, 429, "too many messages from this service; retry later")
        return outcome, max(decision.reset_after, 1)
    outcome = await services.inbound.execute(message, kind=kind, verified=verified)
    log.info(
        "integration_message",
        requester=message.requester,
        request=kind.value,
        form=message.form.value,
        verified=verified,
        status=outcome.status,
    )
    return outcome, None
