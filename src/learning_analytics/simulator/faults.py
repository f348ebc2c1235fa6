"""Fault injection per simulated service (SPEC §5.3), effective at once for all its endpoints.

Control surface (mounted under `/_sim`): `PUT /faults/{service}` with
`{"mode": "ok|down|error|timeout|garbage|latency", "latencyMs": 0, "errorRate": 0.0,
"afterRequests": 0}`,
`GET /faults` (every service's current fault), `DELETE /faults` (all back to ok). Services are
`auth` and the eight data upstreams, named by their path prefix.

`FaultInjectionMiddleware` (pure ASGI) looks at the first path segment of each request and, when
that service has a fault, answers instead of the service or delays it:

| mode | effect |
|---|---|
| ok | none (the same as no fault) |
| down | 503 at once |
| error | 500 with probability `errorRate` (1.0 when 0 is given), after `latencyMs`; else served |
| timeout | holds the request `TIMEOUT_SECONDS`, then 504; released when the client disconnects |
| garbage | 200 after `latencyMs`, alternating a truncated JSON body and a JSON of the wrong shape |
| latency | served after `latencyMs` |

`afterRequests` lets that many requests of the service through before the fault starts (e.g. a
sibling failing in the middle of a paged sync). The fake Coordinator (`coordinator.py`) applies
the fault of the sibling each envelope is routed to, so `PUT /faults/devlab` fails DevLab on
both transports.

The error draws come from a generator seeded with the population's seed: one run is reproducible.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from learning_analytics.simulator.envelope import JSON, failure

TIMEOUT_SECONDS = 30.0
MAX_LATENCY_MS = 120_000

FaultMode = Literal["ok", "down", "error", "timeout", "garbage", "latency"]

GARBAGE_BODIES = (
    b'{"success": true, "data": {"items": [{"id": "trunc',  # not JSON at all
    b'{"success": true, "data": "items are somewhere else"}',  # JSON of the wrong shape
)


class FaultRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: FaultMode
    latency_ms: Annotated[int, Field(alias="latencyMs", ge=0, le=MAX_LATENCY_MS)] = 0
    error_rate: Annotated[float, Field(alias="errorRate", ge=0.0, le=1.0)] = 0.0
    after_requests: Annotated[int, Field(alias="afterRequests", ge=0, le=1_000_000)] = 0


@dataclass(frozen=True, slots=True)
class Fault:
    mode: FaultMode = "ok"
    latency_ms: int = 0
    error_rate: float = 0.0
    after_requests: int = 0

    def as_wire(self) -> dict[str, str | int | float]:
        wire: dict[str, str | int | float] = {
            "mode": self.mode,
            "latencyMs": self.latency_ms,
            "errorRate": self.error_rate,
        }
        if self.after_requests:
            wire["afterRequests"] = self.after_requests
        return wire


_OK = Fault()


class FaultBoard:
    """The current fault of every service; shared by the control routes and the middleware."""

    def __init__(self, services: tuple[str, ...], *, seed: int) -> None:
        self.services = services
        self._faults: dict[str, Fault] = {}
        self._random = random.Random(seed)
        self._garbage_served: dict[str, int] = {}
        self._let_through: dict[str, int] = {}
        self._lock = threading.Lock()

    def set(self, service: str, fault: Fault) -> None:
        with self._lock:
            self._let_through.pop(service, None)
            if fault.mode == "ok":
                self._faults.pop(service, None)
            else:
                self._faults[service] = fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._garbage_served.clear()
            self._let_through.clear()

    def get(self, service: str) -> Fault:
        return self._faults.get(service, _OK)

    def take(self, service: str) -> Fault:
        """The fault for one more request: none while `after_requests` are still let through."""
        with self._lock:
            fault = self._faults.get(service, _OK)
            if fault.after_requests:
                passed = self._let_through.get(service, 0)
                if passed < fault.after_requests:
                    self._let_through[service] = passed + 1
                    return _OK
            return fault

    def snapshot(self) -> dict[str, Fault]:
        return {service: self.get(service) for service in self.services}

    def draw_error(self, fault: Fault) -> bool:
        """Whether this request fails, for a fault in `error` mode."""
        rate = fault.error_rate or 1.0
        with self._lock:
            return self._random.random() < rate

    def next_garbage(self, service: str) -> bytes:
        with self._lock:
            served = self._garbage_served.get(service, 0)
            self._garbage_served[service] = served + 1
        return GARBAGE_BODIES[served % len(GARBAGE_BODIES)]


class FaultInjectionMiddleware:
    """Applies each service's fault before (or instead of) the service (see module doc)."""

    def __init__(self, app: ASGIApp, *, board: FaultBoard) -> None:
        self.app = app
        self.board = board

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        service = str(scope["path"]).lstrip("/").split("/", 1)[0]
        fault = self.board.take(service) if service in self.board.services else _OK
        response = await fault_response(self.board, service, fault, receive)
        if response is _GONE:
            return  # the client gave up: nobody to answer
        if response is None:
            await self.app(scope, receive, send)
        else:
            await response(scope, receive, send)


_GONE = Response(status_code=499)  # marker: the client disconnected while held


async def fault_response(
    board: FaultBoard, service: str, fault: Fault, receive: Receive
) -> Response | None:
    """What a fault answers instead of the service (None: serve it, maybe after a delay)."""
    response: Response | None = None
    match fault.mode:
        case "ok":
            pass
        case "down":
            response = failure(503, code="SERVICE_UNAVAILABLE", message="Service is down")
        case "timeout":
            if await _hold(receive):
                return _GONE
            response = failure(504, code="TIMEOUT", message="Service did not answer")
        case "error":
            await _delay(fault)
            if board.draw_error(fault):
                response = failure(500, code="INTERNAL_ERROR", message="Simulated failure")
        case "garbage":
            await _delay(fault)
            response = Response(board.next_garbage(service), media_type=JSON)
        case "latency":
            await _delay(fault)
    return response


async def _hold(receive: Receive) -> bool:
    """Wait `TIMEOUT_SECONDS` or until the client disconnects; True if it did."""
    disconnected = False

    async def watch(scope: anyio.CancelScope) -> None:
        nonlocal disconnected
        while (await receive())["type"] != "http.disconnect":
            pass
        disconnected = True
        scope.cancel()

    async with anyio.create_task_group() as group:
        group.start_soon(watch, group.cancel_scope)
        await anyio.sleep(TIMEOUT_SECONDS)
        group.cancel_scope.cancel()
    return disconnected


async def _delay(fault: Fault) -> None:
    if fault.latency_ms:
        await anyio.sleep(fault.latency_ms / 1000)


def build_fault_router(board: FaultBoard) -> APIRouter:
    """`/faults` routes of the control surface."""
    router = APIRouter(tags=["simulator"])

    def listing() -> JSONResponse:
        faults = board.snapshot()
        return JSONResponse(
            {"success": True, "data": {name: fault.as_wire() for name, fault in faults.items()}}
        )

    @router.get("/faults")
    async def list_faults() -> JSONResponse:
        return listing()

    @router.put("/faults/{service}")
    async def put_fault(
        service: Annotated[str, Path(max_length=64)], body: FaultRequest
    ) -> JSONResponse:
        if service not in board.services:
            return failure(404, code="NOT_FOUND", message=f"No service {service!r}")
        fault = Fault(
            mode=body.mode,
            latency_ms=body.latency_ms,
            error_rate=body.error_rate,
            after_requests=body.after_requests,
        )
        board.set(service, fault)
        effective = board.get(service).as_wire()
        return JSONResponse({"success": True, "data": {"service": service, **effective}})

    @router.delete("/faults")
    async def clear_faults() -> JSONResponse:
        board.clear()
        return listing()

    return router
