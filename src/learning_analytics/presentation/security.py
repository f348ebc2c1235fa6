"""Authenticate, rate limit, authorize — as route dependencies, before any cache or data access.

Order on every protected route: bearer token -> revocation -> standard rate limit (per user) ->
role and ownership (SPEC §8.3) -> the handler. Denials are audited and never say whether the
subject exists; only a platform admin, who could see any subject, is told 404.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, NoReturn, cast

import structlog
from fastapi import Depends, Path, Query, Request

from learning_analytics.application.ports import RateLimitDecision, RateLimitPolicy
from learning_analytics.domain.errors import (
    AuthenticationError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
    TokenExpiredError,
)
from learning_analytics.domain.models import Principal
from learning_analytics.domain.policy import (
    LearnerFacts,
    can_view_departments,
    can_view_learner,
    can_view_organization,
    can_view_trainer,
    member_organization,
)
from learning_analytics.presentation.middleware import NEW_ACCESS_TOKEN_KEY, RATE_LIMIT_STATE_KEY
from learning_analytics.presentation.state import Services

audit = structlog.get_logger(log="audit")

STANDARD_COUNTED_KEY = "standard_limit_counted_for"
SUBJECT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
_BEARER = re.compile(r"^[Bb][Ee][Aa][Rr][Ee][Rr] +(\S+) *$")


def services_of(request: Request) -> Services:
    return cast(Services, request.app.state.services)


async def get_services(request: Request) -> Services:
    """Async on purpose: FastAPI runs a sync dependency in a worker thread."""
    return services_of(request)


ServicesDep = Annotated[Services, Depends(get_services)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    match = _BEARER.match(header)
    if match is None:
        raise AuthenticationError("Authorization header must be 'Bearer <token>'")
    return match.group(1)


async def authenticate(request: Request, services: Services) -> Principal:
    token = bearer_token(request)
    if token is None:
        raise AuthenticationError("Missing bearer token")
    try:
        principal = await services.verifier.verify(token)
    except TokenExpiredError:
        # An expired nAuth token with a live session: the platform re-issues it through the
        # Coordinator, and the new token goes back in X-New-Access-Token.
        if services.revalidator is None:
            raise
        fresh = await services.revalidator.reissue(
            token, route=request.url.path, method=request.method
        )
        if fresh is None:
            raise
        principal = await services.verifier.verify(fresh)
        request.scope.setdefault("state", {})[NEW_ACCESS_TOKEN_KEY] = fresh
    if principal.token_id and await services.revocations.is_revoked(principal.token_id):
        raise AuthenticationError("Token has been revoked")
    return principal


async def enforce_rate_limit(
    request: Request, services: Services, *, policy: RateLimitPolicy, key: str
) -> None:
    decision = await services.limiter.hit(policy, key)
    current = request.scope.get("state", {}).get(RATE_LIMIT_STATE_KEY)
    # The headers describe the tightest limit the request met.
    if current is None or decision.remaining <= current.remaining:
        setattr(request.state, RATE_LIMIT_STATE_KEY, decision)
    if not decision.allowed:
        services.metrics.rate_limited.labels(policy.name).inc()
        raise_rate_limited(policy, decision)


def raise_rate_limited(policy: RateLimitPolicy, decision: RateLimitDecision) -> NoReturn:
    raise RateLimitedError(
        f"Rate limit of {policy.amount} requests per {policy.per_seconds} s exceeded",
        retry_after=max(decision.reset_after, 1),
    )


async def authenticated_caller(request: Request, services: Services) -> Principal:
    """The authenticated caller, counted once per request against the standard per-user limit
    (the cache-hit fast path may already have counted it)."""
    principal = await authenticate(request, services)
    if getattr(request.state, STANDARD_COUNTED_KEY, None) == principal.id:
        decision = getattr(request.state, RATE_LIMIT_STATE_KEY)
        if not decision.allowed:
            raise_rate_limited(services.policies.standard, decision)
        return principal
    setattr(request.state, STANDARD_COUNTED_KEY, principal.id)
    await enforce_rate_limit(
        request, services, policy=services.policies.standard, key=f"user:{principal.id}"
    )
    return principal


# Dependencies are kept flat (one node each, plain awaits inside): FastAPI's per-request cost
# grows with every node of the dependency graph, and these run on every request.


async def current_user(request: Request) -> Principal:
    return await authenticated_caller(request, services_of(request))


CurrentUser = Annotated[Principal, Depends(current_user)]


def deny(request: Request, services: Services, *, principal: Principal, subject: str) -> NoReturn:
    route = getattr(request.scope.get("route"), "path", request.url.path)
    services.metrics.auth_denials.labels(route).inc()
    audit.warning(
        "authorization_denied",
        principal=principal.id,
        roles=sorted(principal.roles),
        organization=principal.organization_id,
        route=route,
        subject=subject,
    )
    raise ForbiddenError("You are not allowed to view this subject")


@dataclass(frozen=True, slots=True)
class LearnerAccess:
    """A caller proven to be one of the subject's viewers, with what the route needs."""

    principal: Principal
    facts: LearnerFacts
    services: Services

    @property
    def user_id(self) -> str:
        return self.facts.user_id


async def viewable_learner(
    request: Request,
    user_id: Annotated[
        str,
        Path(alias="userId", pattern=SUBJECT_ID_PATTERN, description="The learner's id"),
    ],
) -> LearnerAccess:
    """The learner named in the path, once the caller is proven to be one of their viewers."""
    return await learner_access(request, user_id)


async def learner_access(request: Request, user_id: str) -> LearnerAccess:
    """The learner `user_id` (from a path or a body), once the caller is proven to be one of
    their viewers."""
    services = services_of(request)
    principal = await authenticated_caller(request, services)
    facts = await services.membership.learner_facts(user_id)
    if facts is not None and can_view_learner(principal, facts):
        return LearnerAccess(principal=principal, facts=facts, services=services)
    if facts is None and principal.is_admin:
        raise NotFoundError("No such learner")
    deny(request, services, principal=principal, subject=user_id)


ViewableLearner = Annotated[LearnerAccess, Depends(viewable_learner)]


@dataclass(frozen=True, slots=True)
class OrganizationAccess:
    """A member-scoped request: the caller and the organisation the answer is about."""

    principal: Principal
    organization_id: str
    services: Services


async def member_organization_access(
    request: Request,
    org_id: Annotated[
        str | None,
        Query(
            alias="orgId",
            pattern=SUBJECT_ID_PATTERN,
            description="Platform admins only: the organisation to answer for (default: the "
            "caller's own). Anyone else naming another organisation gets 403.",
        ),
    ] = None,
) -> OrganizationAccess:
    """The caller's own organisation (SPEC §8.3: never from a query parameter), or for a
    platform admin the `orgId` asked for."""
    services = services_of(request)
    principal = await authenticated_caller(request, services)
    if org_id is not None and not principal.is_admin and org_id != principal.organization_id:
        deny(request, services, principal=principal, subject=org_id)
    organization_id = member_organization(principal, org_id)
    if organization_id is None:
        if principal.is_admin:
            raise InvalidInputError("orgId is required for a caller without an organisation")
        deny(request, services, principal=principal, subject="organization")
    return OrganizationAccess(
        principal=principal, organization_id=organization_id, services=services
    )


MemberOrganization = Annotated[OrganizationAccess, Depends(member_organization_access)]


# --------------------------------------------------------------------------------------------
# Trainer and organisation analytics (SPEC §8.3)


@dataclass(frozen=True, slots=True)
class TrainerAccess:
    """A caller proven to be the trainer, an org admin of the trainer's organisation or an
    admin; `organization_id` is the trainer's."""

    principal: Principal
    trainer_id: str
    organization_id: str
    services: Services


async def viewable_trainer(
    request: Request,
    trainer_id: Annotated[
        str,
        Path(alias="trainerId", pattern=SUBJECT_ID_PATTERN, description="The trainer's id"),
    ],
) -> TrainerAccess:
    services = services_of(request)
    principal = await authenticated_caller(request, services)
    facts = await services.membership.learner_facts(trainer_id)
    organization_id = facts.organization_id if facts is not None else None
    if principal.id == trainer_id and organization_id is None:
        organization_id = principal.organization_id
    if organization_id is not None and can_view_trainer(principal, trainer_id, organization_id):
        return TrainerAccess(principal, trainer_id, organization_id, services)
    if facts is None and principal.is_admin:
        raise NotFoundError("No such trainer")
    deny(request, services, principal=principal, subject=trainer_id)


ViewableTrainer = Annotated[TrainerAccess, Depends(viewable_trainer)]

OrgIdPath = Annotated[
    str, Path(alias="orgId", pattern=SUBJECT_ID_PATTERN, description="The organisation's id")
]
DepartmentIdQuery = Annotated[
    str | None,
    Query(
        alias="departmentId",
        pattern=SUBJECT_ID_PATTERN,
        description="Only this department (a manager: one of the departments they manage)",
    ),
]


@dataclass(frozen=True, slots=True)
class OrganizationAnalyticsAccess:
    """A caller allowed to see `organization_id`'s analytics; `departments` is None for org
    admins and admins (everything), else the departments a manager may see."""

    principal: Principal
    organization_id: str
    services: Services
    department_id: str | None = None
    departments: frozenset[str] | None = None


async def viewable_organization(
    request: Request, org_id: OrgIdPath, department_id: DepartmentIdQuery = None
) -> OrganizationAnalyticsAccess:
    """Organisation analytics: an org admin of `orgId` or an admin."""
    services = services_of(request)
    principal = await authenticated_caller(request, services)
    if not can_view_organization(principal, org_id):
        deny(request, services, principal=principal, subject=org_id)
    return OrganizationAnalyticsAccess(principal, org_id, services, department_id)


async def viewable_departments(
    request: Request, org_id: OrgIdPath, department_id: DepartmentIdQuery = None
) -> OrganizationAnalyticsAccess:
    """Department analytics: as `viewable_organization`, and also a manager of the organisation,
    restricted to the departments they manage (naming another one is refused)."""
    services = services_of(request)
    principal = await authenticated_caller(request, services)
    if can_view_organization(principal, org_id):
        return OrganizationAnalyticsAccess(principal, org_id, services, department_id)
    if can_view_departments(principal, org_id):
        managed = await services.organization_analytics.managed_departments(principal.id)
        if managed and (department_id is None or department_id in managed):
            return OrganizationAnalyticsAccess(
                principal, org_id, services, department_id, frozenset(managed)
            )
    deny(request, services, principal=principal, subject=org_id)


ViewableOrganization = Annotated[OrganizationAnalyticsAccess, Depends(viewable_organization)]
ViewableDepartments = Annotated[OrganizationAnalyticsAccess, Depends(viewable_departments)]
