"""POST /auth/login, POST /auth/logout, GET /auth/me (SPEC §8.1)."""

from __future__ import annotations

import math

from asgi_correlation_id import correlation_id
from fastapi import APIRouter, Request
from starlette.responses import Response

from learning_analytics.domain.errors import InvalidCredentialsError, UpstreamUnavailableError
from learning_analytics.domain.models import Principal
from learning_analytics.presentation.responses import json_envelope
from learning_analytics.presentation.schemas import (
    Envelope,
    LoginRequest,
    LoginResponse,
    LogoutResponse,
    PrincipalResponse,
    Problem,
)
from learning_analytics.presentation.security import (
    CurrentUser,
    ServicesDep,
    enforce_rate_limit,
)

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
PROBLEMS: dict[int | str, dict[str, object]] = {
    401: {"model": Problem, "description": "Not authenticated"},
    429: {"model": Problem, "description": "Rate limited"},
}


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def principal_response(principal: Principal) -> PrincipalResponse:
    return PrincipalResponse(
        id=principal.id,
        email=principal.email,
        roles=sorted(principal.roles),
        organization_id=principal.organization_id,
        department_ids=list(principal.department_ids),
        profile_source="token",
    )


@router.post(
    "/login",
    response_model=Envelope[LoginResponse],
    responses={**PROBLEMS, 503: {"model": Problem, "description": "Auth service unavailable"}},
    summary="Exchange email and password for an access token",
)
async def login(body: LoginRequest, request: Request, services: ServicesDep) -> Response:
    ip = client_ip(request)
    email = body.email.strip().lower()
    policies = services.policies
    await enforce_rate_limit(request, services, policy=policies.login_per_ip, key=f"ip:{ip}")
    await enforce_rate_limit(
        request, services, policy=policies.login_per_email, key=f"ip-email:{ip}:{email}"
    )
    if services.auth_gateway is None:
        raise UpstreamUnavailableError(
            "The Auth service is not configured (AUTH_SERVICE_URL)", service="auth"
        )
    user = await services.auth_gateway.authenticate(
        email=email, password=body.password, request_id=correlation_id.get()
    )
    if user is None:
        raise InvalidCredentialsError("Invalid email or password")
    now = services.clock.now()
    token, expires_at = services.issuer.issue(
        subject=user.id,
        email=user.email,
        roles=user.roles,
        organization_id=user.organization_id,
        department_ids=user.department_ids,
        now=now,
    )
    principal = await services.verifier.verify(token)
    answer = LoginResponse(
        access_token=token,
        expires_at=expires_at,
        expires_in=math.ceil((expires_at - now).total_seconds()),
        user=principal_response(principal),
    )
    return json_envelope(answer, now=now)


@router.post(
    "/logout",
    response_model=Envelope[LogoutResponse],
    responses=PROBLEMS,
    summary="Revoke the presented token on every replica until it expires",
)
async def logout(principal: CurrentUser, services: ServicesDep) -> Response:
    revoked = False
    if principal.token_id and principal.expires_at:
        await services.revocations.revoke(principal.token_id, expires_at=principal.expires_at)
        revoked = True
    return json_envelope(LogoutResponse(revoked=revoked), now=services.clock.now())


@router.get(
    "/me",
    response_model=Envelope[PrincipalResponse],
    responses=PROBLEMS,
    summary="The caller, enriched from the learning record store",
)
async def get_me(principal: CurrentUser, services: ServicesDep) -> Response:
    profile = await services.users.get_profile(principal.id)
    answer = principal_response(principal)
    if profile is not None:
        answer = answer.model_copy(
            update={
                "email": profile.email or principal.email,
                "display_name": profile.display_name,
                "team_id": profile.team_id,
                "timezone": profile.timezone or profile.organization_timezone,
                "department_ids": [profile.department_id]
                if profile.department_id
                else list(principal.department_ids),
                "profile_source": "store",
            }
        )
    return json_envelope(answer, now=services.clock.now())


__all__ = ["router"]
