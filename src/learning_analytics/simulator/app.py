"""The upstream simulator as one ASGI app (SPEC §5.3): every sibling service under its own prefix.

Each service is one router built over the shared `Population` and mounted at its prefix, so the
per-upstream base URLs of SPEC §2 all point into this one app (`AUTH_SERVICE_URL` =
`http://127.0.0.1:8100/auth`, ...). Served ("rest" contract, docs/upstreams.md):

- Auth (MS12): `POST /auth/api/v1/auth/login`, `GET /auth/api/v1/users/{id}`;
- the eight data upstreams (`services.py`): `/directory`, `/course-builder`, `/content-studio`,
  `/assessment`, `/skills-engine`, `/learner-ai`, `/devlab`, `/rag`;
- control surface: `GET /_sim/ground-truth`, `GET|DELETE /_sim/faults`,
  `PUT /_sim/faults/{service}` (`faults.py`);
- the fake EDUCORE Coordinator (`coordinator.py`): `POST /coordinator/api/fill-content-metrics/`,
  the same population in the siblings' own formats, for the educore transport.

Every service answers in the envelope `{"success": true, "data": ...}` or
`{"success": false, "error": {"code", "message"}}`; bad requests are 400, unknown paths 404.
Roles are our role names (learner, trainer, manager, org_admin, admin).

On startup (the ASGI lifespan, e.g. under uvicorn) the app builds every bulk feed before it
accepts requests, so no sync request waits for it (about 20 s for 10 000 learners); without a
lifespan (e.g. `httpx.ASGITransport`) feeds are built on first use.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from learning_analytics.domain.records import User
from learning_analytics.simulator.coordinator import (
    PREFIX as COORDINATOR_PREFIX,
)
from learning_analytics.simulator.coordinator import (
    CoordinatorConfig,
    build_coordinator_router,
)
from learning_analytics.simulator.envelope import failure
from learning_analytics.simulator.faults import (
    FaultBoard,
    FaultInjectionMiddleware,
    build_fault_router,
)
from learning_analytics.simulator.feeds import SERVICES, Feeds
from learning_analytics.simulator.population import Population
from learning_analytics.simulator.services import build_service_routers

AUTH_PREFIX = "/auth"
CONTROL_PREFIX = "/_sim"

_INVALID_CREDENTIALS = {
    "success": False,
    "error": {"code": "INVALID_CREDENTIALS", "message": "Invalid email or password"},
}


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    email: Annotated[str, Field(min_length=1, max_length=320)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


def _user_payload(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "displayName": user.display_name,
        "roles": [user.role],
        "organizationId": user.organization_id,
        "departmentIds": [user.department_id] if user.department_id else [],
    }


def build_auth_router(population: Population) -> APIRouter:
    """The Auth service (MS12): credential check and user lookup."""
    router = APIRouter(tags=["auth"])
    expected = population.password.encode()

    @router.post("/api/v1/auth/login")
    async def login(body: LoginRequest) -> JSONResponse:
        user = population.user_by_email(body.email)
        # Compare even for an unknown email, so both refusals cost the same.
        password_ok = hmac.compare_digest(body.password.encode(), expected)
        if user is None or not password_ok:
            return JSONResponse(status_code=401, content=_INVALID_CREDENTIALS)
        return JSONResponse(content={"success": True, "data": {"user": _user_payload(user)}})

    @router.get("/api/v1/users/{user_id}")
    async def get_user(user_id: Annotated[str, Path(max_length=64)]) -> JSONResponse:
        user = population.user(user_id)
        if user is None:
            return failure(404, code="NOT_FOUND", message="No such user")
        return JSONResponse(content={"success": True, "data": {"user": _user_payload(user)}})

    return router


def build_control_router(population: Population) -> APIRouter:
    """The simulator's own surface for tests and benchmarks."""
    router = APIRouter(tags=["simulator"])

    @router.get("/ground-truth")
    async def get_ground_truth() -> JSONResponse:
        return JSONResponse(
            content=[
                {
                    "userId": person.user_id,
                    "email": person.email,
                    "role": person.role,
                    "orgId": person.org_id,
                    "departmentId": person.department_id,
                    "archetype": person.archetype,
                    "droppedOut": person.dropped_out,
                    "dropDate": person.drop_date.isoformat() if person.drop_date else None,
                }
                for person in population.people
            ]
        )

    return router


async def _invalid_request(_request: Request, error: Exception) -> JSONResponse:
    message = "The request is not valid"
    if isinstance(error, RequestValidationError) and error.errors():
        first = error.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        message = f"{message}: {where}: {first.get('msg', '')}"
    return failure(400, code="VALIDATION_ERROR", message=message)


async def _http_error(_request: Request, error: Exception) -> JSONResponse:
    status = error.status_code if isinstance(error, HTTPException) else 500
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(status, "HTTP_ERROR")
    detail = error.detail if isinstance(error, HTTPException) else "Error"
    return failure(status, code=code, message=str(detail))


def _warm_up(feeds: Feeds) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(feeds.warm)
        yield

    return lifespan


def create_simulator_app(
    population: Population, *, coordinator: CoordinatorConfig | None = None
) -> FastAPI:
    """The simulator app over `population` (separate from the API app; no shared state).
    `coordinator`: the fake Coordinator's keys and quirks (default: no signatures)."""
    feeds = Feeds(population)
    board = FaultBoard(("auth", *SERVICES), seed=population.seed)
    app = FastAPI(
        title="Learning Analytics upstream simulator",
        description="Synthetic sibling services over one deterministic population.",
        version="1",
        lifespan=_warm_up(feeds),
    )
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_middleware(FaultInjectionMiddleware, board=board)
    app.include_router(build_auth_router(population), prefix=AUTH_PREFIX)
    for service, router in build_service_routers(feeds).items():
        app.include_router(router, prefix=f"/{service}")
    app.include_router(
        build_coordinator_router(feeds, board, coordinator), prefix=COORDINATOR_PREFIX
    )
    app.include_router(build_control_router(population), prefix=CONTROL_PREFIX)
    app.include_router(build_fault_router(board), prefix=CONTROL_PREFIX)
    return app
