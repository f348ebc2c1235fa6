"""Liveness, readiness and Prometheus metrics (SPEC §7, §13)."""

from __future__ import annotations

import hmac
import ipaddress
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from learning_analytics.domain.errors import AuthenticationError, ForbiddenError
from learning_analytics.presentation.responses import json_envelope
from learning_analytics.presentation.schemas import (
    CheckResponse,
    Envelope,
    HealthResponse,
    ReadinessResponse,
)
from learning_analytics.presentation.security import ServicesDep, bearer_token

router = APIRouter(tags=["operations"])


@router.get("/api/v1/health", response_model=Envelope[HealthResponse], summary="Liveness")
async def get_health() -> Response:
    return json_envelope(HealthResponse(), now=datetime.now(UTC))


async def _is_admin(request: Request, services: ServicesDep) -> bool:
    try:
        token = bearer_token(request)
        if token is None:
            return False
        principal = await services.verifier.verify(token)
    except AuthenticationError:
        return False
    return principal.is_admin


@router.get(
    "/api/v1/health/ready",
    response_model=Envelope[ReadinessResponse],
    responses={503: {"model": Envelope[ReadinessResponse]}},
    summary="Readiness: database, Redis, rate-limit storage (details for platform admins)",
)
async def get_readiness(request: Request, services: ServicesDep) -> Response:
    database_ok = await services.ping_database()
    cache_ok = await services.cache.ping()
    limits_degraded = services.limiter.degraded
    revocation_degraded = bool(getattr(services.revocations, "degraded", False))
    services.metrics.degraded.labels("rate_limits").set(1 if limits_degraded else 0)
    services.metrics.degraded.labels("token_revocation").set(1 if revocation_degraded else 0)
    checks = {
        "database": CheckResponse(ok=database_ok),
        "cache": CheckResponse(
            ok=cache_ok, detail=None if cache_ok else "shared cache unreachable; computing anew"
        ),
        "rateLimits": CheckResponse(
            ok=not limits_degraded,
            detail="Redis unreachable: limits kept in process" if limits_degraded else None,
        ),
        "tokenRevocation": CheckResponse(
            ok=not revocation_degraded,
            detail="Redis unreachable: revocations kept in process"
            if revocation_degraded
            else None,
        ),
    }
    breakers = services.upstream_states()
    open_breakers = sorted(name for name, state in breakers.items() if state != "closed")
    checks["upstreams"] = CheckResponse(
        ok=not open_breakers,
        detail=", ".join(f"{name}: {breakers[name]}" for name in open_breakers) or None,
    )
    if not database_ok:
        status = "unavailable"
    elif all(check.ok for check in checks.values()):
        status = "ready"
    else:
        status = "degraded"
    body = ReadinessResponse(
        status=status, checks=checks if await _is_admin(request, services) else None
    )
    return json_envelope(
        body, status_code=503 if status == "unavailable" else 200, now=datetime.now(UTC)
    )


def _metrics_allowed(request: Request, services: ServicesDep) -> bool:
    expected = services.settings.metrics_token
    if expected:
        token = bearer_token(request) or ""
        return hmac.compare_digest(token.encode(), expected.encode())
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return not services.settings.is_production
    return address.is_loopback or address.is_private or not services.settings.is_production


@router.get("/metrics", include_in_schema=False)
async def get_metrics(request: Request, services: ServicesDep) -> Response:
    if not _metrics_allowed(request, services):
        raise ForbiddenError("Metrics are for operators")
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
