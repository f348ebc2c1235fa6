"""Liveness, readiness and metrics (SPEC §7, §13)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.anyio


async def test_liveness_needs_nothing(api: Api) -> None:
    response = await api.client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json()["data"] == {"status": "ok"}


async def test_readiness_hides_details_from_anyone_but_a_platform_admin(api: Api) -> None:
    anonymous = await api.client.get("/api/v1/health/ready")
    assert anonymous.status_code == 200
    assert anonymous.json()["data"] == {"status": "ready", "checks": None}
    learner = await api.client.get("/api/v1/health/ready", headers=api.auth("l-1"))
    assert learner.json()["data"]["checks"] is None
    admin = await api.client.get("/api/v1/health/ready", headers=api.auth("ad-1"))
    checks = admin.json()["data"]["checks"]
    assert set(checks) == {"database", "cache", "rateLimits", "tokenRevocation", "upstreams"}
    assert all(check["ok"] for check in checks.values())


async def test_readiness_reports_an_unreachable_database(api_factory: Any) -> None:
    # Nothing listens on port 1: every connection is refused.
    unreachable = "postgresql+asyncpg://postgres@127.0.0.1:1/test"
    async with api_factory(DATABASE_URL=unreachable, DATABASE_SCHEMA=None) as api:
        response = await api.client.get("/api/v1/health/ready", headers=api.auth("ad-1"))
        assert response.status_code == 503
        body = response.json()["data"]
        assert body["status"] == "unavailable"
        assert body["checks"]["database"]["ok"] is False


async def test_metrics_count_requests_by_route_template(api: Api) -> None:
    await api.client.get("/api/v1/gamification/streak/l-1", headers=api.auth("l-1"))
    await api.client.get("/api/v1/gamification/streak/l-1", headers=api.auth("l-1"))
    response = await api.client.get("/metrics")
    assert response.status_code == 200
    text = response.text
    assert (
        'la_http_requests_total{method="GET",route="/api/v1/gamification/streak/{userId}",'
        'status="200"} 2.0'
    ) in text
    assert 'la_response_cache_total{family="learner",outcome="hit"} 1.0' in text
    assert "la_http_request_duration_seconds_bucket" in text


async def test_metrics_require_the_operator_token_when_one_is_configured(api_factory: Any) -> None:
    async with api_factory(METRICS_TOKEN="operator-secret") as api:
        refused = await api.client.get("/metrics")
        assert refused.status_code == 403
        allowed = await api.client.get(
            "/metrics", headers={"Authorization": "Bearer operator-secret"}
        )
        assert allowed.status_code == 200


async def test_openapi_documents_the_envelope_and_problems(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    streak = spec["paths"]["/api/v1/gamification/streak/{userId}"]["get"]
    assert {"200", "401", "403", "404", "422", "429"} <= set(streak["responses"])
    docs = await api.client.get("/docs")
    assert docs.status_code == 200
