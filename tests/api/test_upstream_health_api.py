"""Upstream circuit breakers are visible in readiness and metrics (SPEC §5.2, §13)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.anyio

CLOSED_PORT = "http://127.0.0.1:1"


async def test_an_open_breaker_shows_in_readiness_and_metrics(api_factory: Any) -> None:
    async with api_factory(
        CONTENT_STUDIO_URL=f"{CLOSED_PORT}/content-studio", UPSTREAM_TIMEOUT_SECONDS=0.5
    ) as api:
        ready = await api.client.get("/api/v1/health/ready", headers=api.auth("ad-1"))
        assert ready.json()["data"]["checks"]["upstreams"] == {"ok": True, "detail": None}
        refresh = api.app.state.services.refresh
        for _ in range(5):  # the breaker's threshold of consecutive failures
            report = await refresh.execute("l-1")
            assert report.missing == ("content-studio.learning-events",)
        ready = await api.client.get("/api/v1/health/ready", headers=api.auth("ad-1"))
        body = ready.json()["data"]
        assert body["status"] == "degraded"
        assert body["checks"]["upstreams"] == {"ok": False, "detail": "content-studio: open"}
        metrics = (await api.client.get("/metrics")).text
        assert 'la_upstream_breaker_state{service="content-studio"} 1.0' in metrics
        assert 'la_upstream_calls_total{outcome="unavailable",service="content-studio"}' in metrics
