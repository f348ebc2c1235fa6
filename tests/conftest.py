"""Shared fixtures: which real services this run has.

`DATABASE_URL` (PostgreSQL) and `REDIS_URL` name the real servers; `.ci/run` sets both and
`REQUIRE_SERVICES=1`, so in CI a missing server fails the run instead of skipping its suite.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def _service_or_skip(variable: str, prefix: tuple[str, ...]) -> str:
    value = os.environ.get(variable, "")
    if value.startswith(prefix):
        return value
    if REQUIRE_SERVICES:
        pytest.fail(f"{variable} must name a real server when REQUIRE_SERVICES=1")
    pytest.skip(f"{variable} not set: this suite needs the real server")


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """Base URL of the real PostgreSQL server (database `test`)."""
    url = _service_or_skip("DATABASE_URL", ("postgresql", "postgres"))
    if url.startswith(("postgres://", "postgresql://")):
        url = "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the real Redis server."""
    return _service_or_skip("REDIS_URL", ("redis://", "rediss://"))


@pytest.fixture
def unique_prefix() -> Iterator[str]:
    """A prefix no other test (or concurrent run) uses: for Redis keys and schema names."""
    yield f"t{uuid.uuid4().hex[:12]}"
