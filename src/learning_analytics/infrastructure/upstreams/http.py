"""The shared resilient HTTP helper for idempotent GETs to the upstream services (SPEC §5.2).

One `UpstreamClient` per upstream owns one `httpx2.AsyncClient` (its own timeouts and connection
pool) and wraps every `get_json` call in, from the outside in:

1. circuit breaker check (purgatory, per upstream): open -> `UpstreamUnavailableError` at once,
   no network call; after the recovery time one probe goes through (half-open), and its outcome
   closes or reopens the circuit;
2. bulkhead (`asyncio.Semaphore`, `max_concurrency`): waits for a slot at most until the total
   budget runs out, then `UpstreamUnavailableError` (not a breaker failure: it is our own load);
3. total budget (`total_timeout`, all attempts and backoff sleeps): `UpstreamTimeoutError`;
4. retries (tenacity, jittered exponential backoff, `max_attempts`) on connection errors,
   timeouts, 429 and 5xx only; never on 4xx or on a body that breaks the contract;
5. one attempt: `GET` with `Accept: application/json`, `X-Request-ID` and the service
   credential, the body read up to `max_response_bytes`, validated with the pydantic model.

`post` sends a body (e.g. a signed EDUCORE envelope to the Coordinator) through the same five
layers; its reply is checked by the caller's `parse` function inside the breaker, so a reply that
breaks the contract counts as a failure exactly as for `get_json`. Only read-like POSTs (the
Coordinator pulls) go through it: they are retried like GETs.

Errors raised (every library exception is translated here):
    UpstreamUnavailableError   connection failure, 429/5xx after the retries, circuit open,
                               bulkhead full
    UpstreamTimeoutError       no answer within the per-attempt timeouts or the total budget
    UpstreamContractError      other 4xx, 3xx, a body over the size limit, not JSON, wrong shape
    UpstreamNotFoundError      404 (defined here, a subclass of UpstreamError): the subject does
                               not exist upstream. Neither retried nor a breaker failure.
                               `get_json_or_none` returns None instead. Adapters turn it into
                               their own answer; if one escapes it maps like any UpstreamError.

Breaker failures are the unavailable, timeout and contract errors; a 404 is a success for the
breaker, and a call cancelled from outside (e.g. by a fan-out budget) gives no verdict.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType, TracebackType
from typing import Literal, Protocol, Self, TypeVar

import httpx2
from purgatory import AsyncCircuitBreakerFactory, ContextChanged, Event
from purgatory.domain.model import Context, OpenedState
from pydantic import BaseModel, ValidationError
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from learning_analytics.domain.errors import (
    UpstreamContractError,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)

M = TypeVar("M", bound=BaseModel)

BreakerState = Literal["closed", "open", "half-open"]
Outcome = Literal[
    "ok",
    "not_found",
    "unavailable",
    "timeout",
    "contract",
    "circuit_open",
    "bulkhead_full",
    "cancelled",
]

_PURGATORY_STATES: Mapping[str, BreakerState] = MappingProxyType(
    {"closed": "closed", "opened": "open", "half-opened": "half-open"}
)
_MAX_ERROR_DETAILS = 5


class UpstreamNotFoundError(UpstreamError):
    """The upstream answered 404: it has no such resource."""


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RawReply:
    """A reply as received: its body (within the size limit) and its headers."""

    body: bytes
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class _Call:
    method: Literal["GET", "POST"]
    path: str
    params: Mapping[str, str] | None = None
    content: bytes | None = None
    headers: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class UpstreamPolicy:
    """Timeouts (seconds), retries, breaker and bulkhead settings of one upstream."""

    connect_timeout: float = 0.5
    read_timeout: float = 2.0
    total_timeout: float = 2.0
    max_attempts: int = 3
    backoff_base: float = 0.05
    backoff_max: float = 0.5
    breaker_threshold: int = 5
    breaker_recovery: float = 30.0
    max_concurrency: int = 10
    max_response_bytes: int = 8 * 1024 * 1024

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "total_timeout", "breaker_recovery"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.backoff_base < 0 or self.backoff_max < 0:
            raise ValueError("backoff_base and backoff_max must not be negative")
        for name in ("max_attempts", "breaker_threshold", "max_concurrency", "max_response_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")


class UpstreamObserver(Protocol):
    """Receives call outcomes and breaker transitions (e.g. to feed Prometheus metrics)."""

    def on_call(self, service: str, outcome: Outcome, seconds: float) -> None: ...

    def on_breaker(self, service: str, state: BreakerState) -> None: ...


class _NullObserver:
    def on_call(self, service: str, outcome: Outcome, seconds: float) -> None:
        pass

    def on_breaker(self, service: str, state: BreakerState) -> None:
        pass


class UpstreamClient:
    """Resilient JSON GETs against one upstream; build once (lifespan), `aclose()` at the end.

    `breaker` may be a shared `AsyncCircuitBreakerFactory` (e.g. Redis-backed); by default each
    client gets its own in-memory factory, so the circuit is per upstream and per process.
    """

    def __init__(
        self,
        name: str,
        *,
        base_url: str,
        policy: UpstreamPolicy,
        service_token: str | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        breaker: AsyncCircuitBreakerFactory | None = None,
        observer: UpstreamObserver | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url of {name} must be an http(s) URL")
        self.name = name
        self.policy = policy
        headers = {"Accept": "application/json"}
        if service_token:
            headers["Authorization"] = f"Bearer {service_token}"
        self._client = httpx2.AsyncClient(
            base_url=base_url,
            headers=headers,
            timeout=httpx2.Timeout(
                connect=policy.connect_timeout,
                read=policy.read_timeout,
                write=policy.read_timeout,
                pool=policy.connect_timeout,
            ),
            limits=httpx2.Limits(
                max_connections=policy.max_concurrency,
                max_keepalive_connections=policy.max_concurrency,
            ),
            transport=transport,
            follow_redirects=False,
        )
        self._breakers = breaker or AsyncCircuitBreakerFactory(
            default_threshold=policy.breaker_threshold, default_ttl=policy.breaker_recovery
        )
        self._breakers.add_listener(self._on_breaker_event)
        self._context: Context | None = None
        self._probing = False
        self._slots = asyncio.Semaphore(policy.max_concurrency)
        self._observer: UpstreamObserver = observer or _NullObserver()

    @property
    def breaker_state(self) -> BreakerState:
        """The circuit as last seen: "half-open" once an open circuit may let a probe through."""
        context = self._context
        if context is None:
            return "closed"
        state = _PURGATORY_STATES[context.state]
        if state == "open" and time.time() > (context.opened_at or 0.0) + context.ttl:
            return "half-open"
        return state

    async def get_json(
        self,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        model: type[M],
        request_id: str | None = None,
    ) -> M:
        """GET `path` (relative to the base URL; quote user-supplied segments) as `model`."""

        def parse(reply: RawReply) -> M:
            return _validated(self.name, model, reply.body)

        return await self._call(_Call("GET", path, params=params), parse, request_id=request_id)

    async def post(
        self,
        path: str,
        *,
        content: bytes,
        headers: Mapping[str, str],
        parse: Callable[[RawReply], T],
        request_id: str | None = None,
    ) -> T:
        """POST `content` to `path`; `parse` turns the reply into the result or raises
        `UpstreamContractError` (counted by the breaker like any contract failure)."""
        call = _Call("POST", path, content=content, headers=headers)
        return await self._call(call, parse, request_id=request_id)

    async def _call(
        self, call: _Call, parse: Callable[[RawReply], T], *, request_id: str | None
    ) -> T:
        path = call.path
        if not path.startswith("/") or path.startswith("//"):
            raise ValueError("path must be relative to the base URL and start with one '/'")
        started = time.perf_counter()
        outcome: Outcome = "unavailable"
        try:
            result = await self._guarded(call, parse, request_id=request_id)
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except UpstreamNotFoundError:
            outcome = "not_found"
            raise
        except _Rejected as rejection:
            outcome = rejection.outcome
            raise UpstreamUnavailableError(
                f"{self.name}: {rejection.reason}", service=self.name
            ) from None
        except UpstreamTimeoutError:
            outcome = "timeout"
            raise
        except UpstreamContractError:
            outcome = "contract"
            raise
        except UpstreamUnavailableError:
            outcome = "unavailable"
            raise
        else:
            outcome = "ok"
        finally:
            self._observer.on_call(self.name, outcome, time.perf_counter() - started)
        return result

    async def get_json_or_none(
        self,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        model: type[M],
        request_id: str | None = None,
    ) -> M | None:
        """Like `get_json`, but a 404 gives None."""
        try:
            return await self.get_json(path, params=params, model=model, request_id=request_id)
        except UpstreamNotFoundError:
            return None

    async def aclose(self) -> None:
        self._breakers.remove_listener(self._on_breaker_event)
        await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _guarded(
        self, call: _Call, parse: Callable[[RawReply], T], *, request_id: str | None
    ) -> T:
        # purgatory lets every request through while half-open; one probe at a time is enough.
        state = self.breaker_state
        if state == "open" or (state == "half-open" and self._probing):
            raise _Rejected("circuit_open", "circuit breaker is open")
        probe = state == "half-open"
        self._probing = self._probing or probe
        try:
            deadline = asyncio.get_running_loop().time() + self.policy.total_timeout
            try:
                async with asyncio.timeout_at(deadline):
                    await self._slots.acquire()
            except TimeoutError:
                raise _Rejected("bulkhead_full", "too many calls in flight") from None
            try:
                return await self._through_breaker(
                    call, parse, request_id=request_id, deadline=deadline
                )
            finally:
                self._slots.release()
        finally:
            if probe:
                self._probing = False

    async def _through_breaker(
        self,
        call: _Call,
        parse: Callable[[RawReply], T],
        *,
        request_id: str | None,
        deadline: float,
    ) -> T:
        breaker = await self._breakers.get_breaker(
            self.name,
            threshold=self.policy.breaker_threshold,
            ttl=self.policy.breaker_recovery,
            exclude=[UpstreamNotFoundError],
        )
        self._context = breaker.context
        try:
            await breaker.__aenter__()
        except OpenedState:
            raise _Rejected("circuit_open", "circuit breaker is open") from None
        # Entered and exited by hand rather than with `async with`: a cancellation from outside
        # must leave the breaker untouched, and purgatory would count it as a failure (or, if
        # excluded, as a success that closes a half-open circuit).
        try:
            result = await self._within_budget(
                call, parse, request_id=request_id, deadline=deadline
            )
        except asyncio.CancelledError:
            raise
        except BaseException as error:
            await breaker.__aexit__(type(error), error, error.__traceback__)
            raise
        await breaker.__aexit__(None, None, None)
        return result

    async def _within_budget(
        self,
        call: _Call,
        parse: Callable[[RawReply], T],
        *,
        request_id: str | None,
        deadline: float,
    ) -> T:
        remaining = deadline - asyncio.get_running_loop().time()
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.policy.max_attempts) | stop_before_delay(remaining),
            wait=wait_random_exponential(
                multiplier=self.policy.backoff_base, max=self.policy.backoff_max
            ),
            retry=retry_if_exception_type((UpstreamUnavailableError, UpstreamTimeoutError)),
            reraise=True,
        )
        try:
            async with asyncio.timeout_at(deadline):
                reply: RawReply = await retrying(self._attempt, call, request_id=request_id)
        except TimeoutError:
            raise UpstreamTimeoutError(
                f"{self.name} did not answer within {self.policy.total_timeout} s",
                service=self.name,
            ) from None
        return parse(reply)

    async def _attempt(self, call: _Call, *, request_id: str | None) -> RawReply:
        headers = dict(call.headers or {})
        if request_id:
            headers["X-Request-ID"] = request_id
        try:
            async with self._client.stream(
                call.method, call.path, params=call.params, content=call.content, headers=headers
            ) as response:
                self._check_status(response.status_code)
                body = await self._read_limited(response)
                return RawReply(
                    body=body, headers={k.lower(): v for k, v in response.headers.items()}
                )
        except httpx2.TimeoutException as error:
            raise UpstreamTimeoutError(
                f"{self.name} timed out: {type(error).__name__}", service=self.name
            ) from error
        except httpx2.DecodingError as error:
            raise UpstreamContractError(
                f"{self.name} sent an undecodable body", service=self.name
            ) from error
        except httpx2.HTTPError as error:
            raise UpstreamUnavailableError(
                f"{self.name} is unreachable: {type(error).__name__}", service=self.name
            ) from error

    def _check_status(self, status: int) -> None:
        if 200 <= status < 300:
            return
        if status == 404:
            raise UpstreamNotFoundError(f"{self.name} answered HTTP 404", service=self.name)
        if status == 429 or status >= 500:
            raise UpstreamUnavailableError(f"{self.name} answered HTTP {status}", service=self.name)
        raise UpstreamContractError(
            f"{self.name} answered unexpected HTTP {status}", service=self.name
        )

    async def _read_limited(self, response: httpx2.Response) -> bytes:
        limit = self.policy.max_response_bytes
        declared = response.headers.get("Content-Length", "")
        size = int(declared) if declared.isdigit() else 0
        chunks: list[bytes] = []
        if size <= limit:
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    break
                chunks.append(chunk)
        if size > limit:
            raise UpstreamContractError(
                f"{self.name} reply is larger than {limit} bytes", service=self.name
            )
        return b"".join(chunks)

    def _on_breaker_event(self, circuit: str, _event_type: str, event: Event) -> None:
        if circuit == self.name and isinstance(event, ContextChanged):
            self._observer.on_breaker(self.name, _PURGATORY_STATES[event.state])


def _validated(service: str, model: type[M], body: bytes) -> M:
    try:
        return model.model_validate_json(body)
    except ValidationError as error:
        problems = [
            f"{'.'.join(map(str, item['loc'])) or '<root>'}: {item['type']}"
            for item in error.errors(include_url=False, include_input=False)
        ]
        raise UpstreamContractError(
            f"{service} sent a reply that does not match {model.__name__}",
            service=service,
            details="; ".join(problems[:_MAX_ERROR_DETAILS]),
        ) from error


class _Rejected(Exception):
    """Refused before any network call (circuit open, bulkhead full); never a breaker failure."""

    def __init__(self, outcome: Outcome, reason: str) -> None:
        super().__init__(reason)
        self.outcome: Outcome = outcome
        self.reason = reason


class UpstreamRegistry:
    """One `UpstreamClient` per configured upstream (unset URLs are skipped)."""

    def __init__(
        self,
        base_urls: Mapping[str, str | None],
        *,
        policy: UpstreamPolicy,
        service_token: str | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        observer: UpstreamObserver | None = None,
    ) -> None:
        self._clients = {
            name: UpstreamClient(
                name,
                base_url=url,
                policy=policy,
                service_token=service_token,
                transport=transport,
                observer=observer,
            )
            for name, url in base_urls.items()
            if url
        }

    def __contains__(self, name: object) -> bool:
        return name in self._clients

    def __getitem__(self, name: str) -> UpstreamClient:
        return self._clients[name]

    def get(self, name: str) -> UpstreamClient | None:
        return self._clients.get(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._clients)

    def states(self) -> dict[str, BreakerState]:
        """Breaker state per configured upstream, for /health/ready and /metrics."""
        return {name: client.breaker_state for name, client in self._clients.items()}

    async def close(self) -> None:
        await asyncio.gather(*(client.aclose() for client in self._clients.values()))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
