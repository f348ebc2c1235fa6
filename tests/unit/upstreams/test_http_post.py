"""`UpstreamClient.post`: a body through the same retries, budget and breaker as `get_json`,
with the caller's parser inside the breaker (the Coordinator pulls, SPEC §5.2)."""

from __future__ import annotations

import httpx2
import pytest

from learning_analytics.domain.errors import UpstreamContractError, UpstreamUnavailableError
from learning_analytics.infrastructure.upstreams.http import (
    RawReply,
    UpstreamClient,
    UpstreamPolicy,
)

pytestmark = pytest.mark.anyio

FAST = UpstreamPolicy(total_timeout=1.0, backoff_base=0.001, backoff_max=0.005, breaker_threshold=2)


def text(reply: RawReply) -> str:
    return reply.body.decode()


def refuse_odd(reply: RawReply) -> str:
    if reply.body != b"ok":
        raise UpstreamContractError("not ok", service="coordinator")
    return "ok"


async def test_post_sends_the_body_and_headers_and_retries_5xx() -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx2.Response(503)
        return httpx2.Response(200, content=b"filled", headers={"X-Service-Signature": "sig"})

    client = UpstreamClient(
        "directory", base_url="http://127.0.0.1:9", policy=FAST,
        transport=httpx2.MockTransport(handler),
    )  # fmt: skip
    async with client:
        reply = await client.post(
            "/api/fill-content-metrics/",
            content=b'{"a":1}',
            headers={"X-Signature": "abc", "Content-Type": "application/json"},
            parse=lambda r: r,
            request_id="req-9",
        )
    assert reply.body == b"filled"
    assert reply.headers["x-service-signature"] == "sig"  # header names lower-cased
    assert len(seen) == 2
    assert all(r.method == "POST" and r.content == b'{"a":1}' for r in seen)
    assert seen[-1].headers["x-signature"] == "abc"
    assert seen[-1].headers["x-request-id"] == "req-9"


async def test_a_reply_the_parser_refuses_counts_against_the_breaker() -> None:
    client = UpstreamClient(
        "devlab", base_url="http://127.0.0.1:9", policy=FAST,
        transport=httpx2.MockTransport(lambda _r: httpx2.Response(200, content=b"garbage")),
    )  # fmt: skip
    async with client:
        for _ in range(FAST.breaker_threshold):
            with pytest.raises(UpstreamContractError):
                await client.post("/x", content=b"{}", headers={}, parse=refuse_odd)
        assert client.breaker_state == "open"
        with pytest.raises(UpstreamUnavailableError, match="circuit breaker is open"):
            await client.post("/x", content=b"{}", headers={}, parse=text)
