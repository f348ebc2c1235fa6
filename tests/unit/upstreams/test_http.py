"""UpstreamClient against httpx2.MockTransport handlers and a raw HTTP server on loopback."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace

import httpx2
import pytest
from pydantic import BaseModel, ConfigDict, Field

from learning_analytics.domain.errors import (
    UpstreamContractError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from learning_analytics.infrastructure.upstreams.http import (
    BreakerState,
    Outcome,
    UpstreamClient,
    UpstreamNotFoundError,
    UpstreamPolicy,
    UpstreamRegistry,
)

pytestmark = pytest.mark.anyio

BASE_URL = "http://upstream.test:8100/course-builder"
TOKEN = "svc-token"
PROGRESS = {"userId": "u-1", "completed": 3, "courses": ["c-1", "c-2"]}
# Fast, deterministic-enough defaults for the tests: tiny backoff, 1 s budget.
FAST = UpstreamPolicy(total_timeout=1.0, backoff_base=0.001, backoff_max=0.005)

Respond = Callable[[httpx2.Request], httpx2.Response | Awaitable[httpx2.Response]]


class Progress(BaseModel):
    model_config = ConfigDict(extra="ignore")

    user_id: str = Field(alias="userId")
    completed: int
    courses: list[str]


@dataclass
class Upstream:
    """A MockTransport handler that records requests and answers from a script."""

    responses: list[Respond]
    requests: list[httpx2.Request] = field(default_factory=list)

    async def handler(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        respond = self.responses[min(len(self.requests), len(self.responses)) - 1]
        response = respond(request)
        if isinstance(response, httpx2.Response):
            return response
        return await response


@dataclass
class Observer:
    calls: list[tuple[str, Outcome, float]] = field(default_factory=list)
    breaker: list[tuple[str, BreakerState]] = field(default_factory=list)

    def on_call(self, service: str, outcome: Outcome, seconds: float) -> None:
        self.calls.append((service, outcome, seconds))

    def on_breaker(self, service: str, state: BreakerState) -> None:
        self.breaker.append((service, state))

    @property
    def outcomes(self) -> list[Outcome]:
        return [outcome for _, outcome, _ in self.calls]


@dataclass
class Harness:
    upstream: Upstream
    client: UpstreamClient
    observer: Observer

    async def get(self, request_id: str | None = "req-1") -> Progress:
        return await self.client.get_json(
            "/api/v1/progress/u-1",
            params={"since": "2024-01-01"},
            model=Progress,
            request_id=request_id,
        )


Make = Callable[..., Harness]


@pytest.fixture
async def make() -> AsyncIterator[Make]:
    clients: list[UpstreamClient] = []

    def build(*responses: Respond, policy: UpstreamPolicy = FAST) -> Harness:
        upstream = Upstream(list(responses))
        observer = Observer()
        client = UpstreamClient(
            "course-builder",
            base_url=BASE_URL,
            policy=policy,
            service_token=TOKEN,
            transport=httpx2.MockTransport(upstream.handler),
            observer=observer,
        )
        clients.append(client)
        return Harness(upstream, client, observer)

    yield build
    for client in clients:
        await client.aclose()


def ok(body: object = PROGRESS) -> Respond:
    return lambda _: httpx2.Response(200, json=body)


def status(code: int) -> Respond:
    return lambda _: httpx2.Response(code, json={"error": "nope"})


def raw(body: bytes) -> Respond:
    return lambda _: httpx2.Response(200, content=body)


def refuse(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.ConnectError("connection refused", request=request)


def hang(seconds: float) -> Respond:
    async def respond(_: httpx2.Request) -> httpx2.Response:
        await asyncio.sleep(seconds)
        return httpx2.Response(200, json=PROGRESS)

    return respond


# --- one call -------------------------------------------------------------------------------


async def test_sends_path_query_and_headers_and_validates_the_reply(make: Make) -> None:
    harness = make(ok())
    progress = await harness.get()
    assert (progress.user_id, progress.completed, progress.courses) == ("u-1", 3, ["c-1", "c-2"])
    [request] = harness.upstream.requests
    assert request.method == "GET"
    assert request.url.path == "/course-builder/api/v1/progress/u-1"
    assert dict(request.url.params) == {"since": "2024-01-01"}
    assert request.headers["accept"] == "application/json"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["x-request-id"] == "req-1"
    assert harness.observer.outcomes == ["ok"]
    assert harness.client.breaker_state == "closed"


async def test_no_credential_or_request_id_when_not_given() -> None:
    upstream = Upstream([ok()])
    async with UpstreamClient(
        "course-builder",
        base_url=BASE_URL,
        policy=FAST,
        transport=httpx2.MockTransport(upstream.handler),
    ) as client:
        await client.get_json("/api/v1/progress/u-1", model=Progress)
    [request] = upstream.requests
    assert "authorization" not in request.headers
    assert "x-request-id" not in request.headers
    assert request.url.query == b""


@pytest.mark.parametrize("path", ["api/v1/x", "//evil.test/x", "http://evil.test/x"])
async def test_refuses_paths_that_could_leave_the_base_url(make: Make, path: str) -> None:
    harness = make(ok())
    with pytest.raises(ValueError, match="relative"):
        await harness.client.get_json(path, model=Progress)
    assert harness.upstream.requests == []


# --- retries ----------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [500, 502, 503, 429])
async def test_a_transient_status_is_retried_then_succeeds(make: Make, code: int) -> None:
    harness = make(status(code), ok())
    assert (await harness.get()).completed == 3
    assert len(harness.upstream.requests) == 2
    assert harness.observer.outcomes == ["ok"]


async def test_5xx_every_time_gives_unavailable_after_max_attempts(make: Make) -> None:
    harness = make(status(503))
    with pytest.raises(UpstreamUnavailableError, match="HTTP 503") as caught:
        await harness.get()
    assert caught.value.service == "course-builder"
    assert len(harness.upstream.requests) == FAST.max_attempts
    assert harness.observer.outcomes == ["unavailable"]


async def test_connect_error_is_retried_then_unavailable(make: Make) -> None:
    harness = make(refuse)
    with pytest.raises(UpstreamUnavailableError, match="unreachable: ConnectError"):
        await harness.get()
    assert len(harness.upstream.requests) == 3


async def test_a_transport_timeout_is_retried_then_reported_as_timeout(make: Make) -> None:
    def read_timeout(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadTimeout("slow", request=request)

    harness = make(read_timeout)
    with pytest.raises(UpstreamTimeoutError):
        await harness.get()
    assert len(harness.upstream.requests) == 3
    assert harness.observer.outcomes == ["timeout"]


async def test_404_is_not_found_without_retry(make: Make) -> None:
    harness = make(status(404))
    with pytest.raises(UpstreamNotFoundError):
        await harness.get()
    assert await harness.client.get_json_or_none("/api/v1/progress/u-9", model=Progress) is None
    assert len(harness.upstream.requests) == 2
    assert harness.observer.outcomes == ["not_found", "not_found"]


@pytest.mark.parametrize("code", [400, 401, 403, 409, 422, 301])
async def test_other_non_2xx_is_a_contract_error_without_retry(make: Make, code: int) -> None:
    harness = make(status(code))
    with pytest.raises(UpstreamContractError, match=f"HTTP {code}"):
        await harness.get()
    assert len(harness.upstream.requests) == 1


@pytest.mark.parametrize(
    "respond",
    [
        pytest.param(raw(b"<html>oops</html>"), id="not-json"),
        pytest.param(raw(b'{"userId": "u-1", "completed": '), id="truncated"),
        pytest.param(raw(b""), id="empty"),
        pytest.param(ok({"userId": "u-1", "completed": "many"}), id="wrong-shape"),
        pytest.param(ok([PROGRESS]), id="list-not-object"),
    ],
)
async def test_garbage_is_a_contract_error_without_retry(make: Make, respond: Respond) -> None:
    harness = make(respond)
    with pytest.raises(UpstreamContractError, match="does not match Progress") as caught:
        await harness.get()
    assert caught.value.details
    assert len(harness.upstream.requests) == 1
    assert harness.observer.outcomes == ["contract"]


async def _chunks(size: int) -> AsyncIterator[bytes]:
    for _ in range(size // 256):
        yield b" " * 256


@pytest.mark.parametrize(
    "respond",
    [
        pytest.param(lambda _: httpx2.Response(200, content=b" " * 2048), id="declared"),
        pytest.param(lambda _: httpx2.Response(200, content=_chunks(4096)), id="streamed"),
    ],
)
async def test_an_oversized_body_is_a_contract_error(make: Make, respond: Respond) -> None:
    harness = make(respond, policy=replace(FAST, max_response_bytes=1024))
    with pytest.raises(UpstreamContractError, match="larger than 1024 bytes"):
        await harness.get()
    assert len(harness.upstream.requests) == 1


# --- total budget -----------------------------------------------------------------------------


async def test_a_slow_upstream_times_out_within_the_budget(make: Make) -> None:
    harness = make(hang(5.0), policy=replace(FAST, total_timeout=0.3))
    started = time.monotonic()
    with pytest.raises(UpstreamTimeoutError, match=r"within 0\.3 s"):
        await harness.get()
    assert 0.25 <= time.monotonic() - started < 1.0
    assert len(harness.upstream.requests) == 1


async def test_backoff_never_sleeps_past_the_budget(make: Make) -> None:
    policy = replace(FAST, total_timeout=0.3, backoff_base=10.0, backoff_max=10.0)
    harness = make(status(503), policy=policy)
    started = time.monotonic()
    with pytest.raises(UpstreamUnavailableError):
        await harness.get()
    assert time.monotonic() - started < 0.5


# --- circuit breaker --------------------------------------------------------------------------


BREAKER = replace(FAST, max_attempts=1, breaker_threshold=2, breaker_recovery=0.2)


async def test_breaker_opens_fails_fast_half_opens_and_closes(make: Make) -> None:
    harness = make(status(500), status(500), ok(), policy=BREAKER)
    for _ in range(2):
        with pytest.raises(UpstreamUnavailableError, match="HTTP 500"):
            await harness.get()
    assert harness.client.breaker_state == "open"

    for _ in range(3):
        with pytest.raises(UpstreamUnavailableError, match="circuit breaker is open"):
            await harness.get()
    assert len(harness.upstream.requests) == 2  # no network call while open

    await asyncio.sleep(0.25)
    states = [harness.client.breaker_state]
    assert (await harness.get()).completed == 3
    states.append(harness.client.breaker_state)
    assert states == ["half-open", "closed"]
    assert len(harness.upstream.requests) == 3
    assert harness.observer.outcomes == ["unavailable"] * 2 + ["circuit_open"] * 3 + ["ok"]
    assert [state for _, state in harness.observer.breaker] == ["open", "half-open", "closed"]


async def test_a_failed_probe_reopens_the_circuit(make: Make) -> None:
    harness = make(status(500), policy=BREAKER)
    for _ in range(2):
        with pytest.raises(UpstreamUnavailableError):
            await harness.get()
    await asyncio.sleep(0.25)
    with pytest.raises(UpstreamUnavailableError, match="HTTP 500"):
        await harness.get()
    assert harness.client.breaker_state == "open"
    with pytest.raises(UpstreamUnavailableError, match="circuit breaker is open"):
        await harness.get()
    assert len(harness.upstream.requests) == 3


async def test_half_open_lets_one_probe_through_at_a_time(make: Make) -> None:
    harness = make(status(500), status(500), hang(0.1), policy=BREAKER)
    for _ in range(2):
        with pytest.raises(UpstreamUnavailableError):
            await harness.get()
    await asyncio.sleep(0.25)
    results = await asyncio.gather(harness.get(), harness.get(), return_exceptions=True)
    assert isinstance(results[0], Progress)
    assert isinstance(results[1], UpstreamUnavailableError)
    assert len(harness.upstream.requests) == 3
    assert harness.client.breaker_state == "closed"


async def test_garbage_counts_as_a_breaker_failure(make: Make) -> None:
    harness = make(raw(b"not json"), policy=BREAKER)
    for _ in range(2):
        with pytest.raises(UpstreamContractError):
            await harness.get()
    assert harness.client.breaker_state == "open"


async def test_not_found_does_not_count_as_a_breaker_failure(make: Make) -> None:
    harness = make(status(404), policy=replace(BREAKER, breaker_threshold=1))
    for _ in range(3):
        with pytest.raises(UpstreamNotFoundError):
            await harness.get()
    assert harness.client.breaker_state == "closed"
    assert len(harness.upstream.requests) == 3


async def test_a_success_resets_the_consecutive_failure_count(make: Make) -> None:
    harness = make(status(500), ok(), status(500), policy=BREAKER)
    with pytest.raises(UpstreamUnavailableError):
        await harness.get()
    await harness.get()
    with pytest.raises(UpstreamUnavailableError):
        await harness.get()
    assert harness.client.breaker_state == "closed"


async def test_a_call_cancelled_from_outside_is_no_breaker_failure(make: Make) -> None:
    harness = make(hang(5.0), policy=replace(BREAKER, breaker_threshold=1))
    task = asyncio.ensure_future(harness.get())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert harness.client.breaker_state == "closed"
    assert harness.observer.outcomes == ["cancelled"]


# --- bulkhead ---------------------------------------------------------------------------------


async def test_bulkhead_caps_calls_in_flight(make: Make) -> None:
    in_flight = peak = 0

    async def slow(_: httpx2.Request) -> httpx2.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        return httpx2.Response(200, json=PROGRESS)

    harness = make(slow, policy=replace(FAST, max_concurrency=2))
    results = await asyncio.gather(*(harness.get() for _ in range(6)))
    assert len(results) == 6
    assert peak == 2
    assert len(harness.upstream.requests) == 6


async def test_bulkhead_full_until_the_budget_ends_is_unavailable(make: Make) -> None:
    async def stubborn(_: httpx2.Request) -> httpx2.Response:
        try:
            await asyncio.sleep(5.0)
        except asyncio.CancelledError:
            await asyncio.sleep(0.4)  # slow clean-up keeps the slot past the others' budget
            raise
        return httpx2.Response(200, json=PROGRESS)

    policy = replace(FAST, max_concurrency=1, total_timeout=0.2)
    harness = make(stubborn, policy=policy)
    holder = asyncio.ensure_future(harness.get())
    await asyncio.sleep(0.05)
    started = time.monotonic()
    with pytest.raises(UpstreamUnavailableError, match="too many calls in flight"):
        await harness.get()
    assert time.monotonic() - started < 0.4
    with pytest.raises(UpstreamTimeoutError):
        await holder
    assert len(harness.upstream.requests) == 1
    assert sorted(harness.observer.outcomes) == ["bulkhead_full", "timeout"]
    assert harness.client.breaker_state == "closed"


# --- real HTTP on loopback --------------------------------------------------------------------


@dataclass
class RawServer:
    """A tiny HTTP/1.1 server: records request heads, answers with `reply` (None: never)."""

    reply: bytes | None
    heads: list[bytes] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            self.heads.append(await reader.readuntil(b"\r\n\r\n"))
            if self.reply is None:
                await reader.read()  # hold the connection until the client gives up
            else:
                writer.write(self.reply)
                await writer.drain()
        finally:
            writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[bytes | None], Awaitable[tuple[RawServer, str]]]]:
    servers: list[asyncio.Server] = []

    async def start(reply: bytes | None) -> tuple[RawServer, str]:
        raw_server = RawServer(reply)
        server = await asyncio.start_server(raw_server.handle, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return raw_server, f"http://127.0.0.1:{port}/skills"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def http_reply(body: bytes) -> bytes:
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


async def test_real_http_server_on_loopback(
    serve: Callable[[bytes | None], Awaitable[tuple[RawServer, str]]],
) -> None:
    raw_server, base_url = await serve(http_reply(json.dumps(PROGRESS).encode()))
    async with UpstreamClient(
        "skills-engine", base_url=base_url, policy=FAST, service_token=TOKEN
    ) as client:
        progress = await client.get_json(
            "/api/v1/progress/u-1", params={"cursor": "abc"}, model=Progress, request_id="r-9"
        )
    assert progress.courses == ["c-1", "c-2"]
    [head] = raw_server.heads
    request_line, *header_lines = head.decode().split("\r\n")
    assert request_line == "GET /skills/api/v1/progress/u-1?cursor=abc HTTP/1.1"
    headers = {
        name.lower(): value.strip()
        for name, _, value in (line.partition(":") for line in header_lines if line)
    }
    assert headers["accept"] == "application/json"
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["x-request-id"] == "r-9"


async def test_real_read_timeout_per_attempt_is_retried_then_timeout(
    serve: Callable[[bytes | None], Awaitable[tuple[RawServer, str]]],
) -> None:
    raw_server, base_url = await serve(None)
    policy = replace(FAST, read_timeout=0.15, max_attempts=2, total_timeout=2.0)
    started = time.monotonic()
    async with UpstreamClient("skills-engine", base_url=base_url, policy=policy) as client:
        with pytest.raises(UpstreamTimeoutError, match="ReadTimeout"):
            await client.get_json("/api/v1/progress/u-1", model=Progress)
    assert 0.25 <= time.monotonic() - started < 1.5
    assert len(raw_server.heads) == 2


async def test_connection_refused_on_a_closed_port() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    async with UpstreamClient("devlab", base_url=f"http://127.0.0.1:{port}", policy=FAST) as client:
        with pytest.raises(UpstreamUnavailableError, match="unreachable: ConnectError"):
            await client.get_json("/api/v1/progress/u-1", model=Progress)
    assert time.monotonic() - started < 1.0


# --- registry and policy ----------------------------------------------------------------------


async def test_registry_builds_one_client_per_configured_upstream() -> None:
    upstream = Upstream([ok()])
    async with UpstreamRegistry(
        {"directory": "http://sim.test/directory", "devlab": None, "rag": ""},
        policy=FAST,
        service_token=TOKEN,
        transport=httpx2.MockTransport(upstream.handler),
    ) as registry:
        assert registry.names == ("directory",)
        assert "directory" in registry
        assert "devlab" not in registry
        assert registry.get("devlab") is None
        assert registry.states() == {"directory": "closed"}
        await registry["directory"].get_json("/api/v1/progress/u-1", model=Progress)
    [request] = upstream.requests
    assert str(request.url) == "http://sim.test/directory/api/v1/progress/u-1"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


async def test_registry_clients_have_independent_breakers() -> None:
    upstream = Upstream([status(500)])
    async with UpstreamRegistry(
        {"directory": "http://sim.test/directory", "devlab": "http://sim.test/devlab"},
        policy=replace(BREAKER, breaker_threshold=1),
        transport=httpx2.MockTransport(upstream.handler),
    ) as registry:
        with pytest.raises(UpstreamUnavailableError):
            await registry["directory"].get_json("/x", model=Progress)
        assert registry.states() == {"directory": "open", "devlab": "closed"}


@pytest.mark.parametrize(
    "overrides",
    [
        {"total_timeout": 0},
        {"connect_timeout": -1.0},
        {"max_attempts": 0},
        {"max_concurrency": 0},
        {"breaker_threshold": 0},
        {"backoff_base": -0.1},
    ],
)
def test_policy_rejects_nonsense(overrides: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        UpstreamPolicy(**overrides)  # type: ignore[arg-type]


def test_client_rejects_a_non_http_base_url() -> None:
    with pytest.raises(ValueError, match="http"):
        UpstreamClient("x", base_url="ftp://x", policy=FAST)
