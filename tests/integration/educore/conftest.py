"""The simulator with its fake Coordinator on a real loopback port, signing both ways."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest
import uvicorn

from learning_analytics.infrastructure.educore.signing import generate_key_pair
from learning_analytics.simulator.app import create_simulator_app
from learning_analytics.simulator.coordinator import CoordinatorConfig
from learning_analytics.simulator.population import Population, generate_population

ANCHOR = datetime(2026, 11, 20, 12, tzinfo=UTC)
SERVICE_NAME = "learning-analytics-service"
DIRECTORY_TOKEN = "admin-nauth-token"  # what the fake Directory demands (an opaque string)
DIRECTORY_PAGE = 1  # companies per Directory / Course Builder page: 2 organisations, 2 pages


@dataclass(frozen=True)
class Platform:
    url: str  # the simulator; the Coordinator is at `{url}/coordinator`
    our_private_key: str  # what we sign with (the Coordinator knows its public half)
    coordinator_public_key: str  # what the Coordinator's replies verify with

    @property
    def coordinator_url(self) -> str:
        return f"{self.url}/coordinator"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def educore_population() -> Population:
    return generate_population(seed=11, learners=40, history_days=60, anchor=ANCHOR)


@pytest.fixture(scope="session")
def platform(educore_population: Population) -> Iterator[Platform]:
    ours_private, ours_public = generate_key_pair()
    coordinator_private, coordinator_public = generate_key_pair()
    config = CoordinatorConfig(
        caller_keys={SERVICE_NAME: ours_public},
        signing_key=coordinator_private,
        directory_token=DIRECTORY_TOKEN,
        page_size=DIRECTORY_PAGE,
    )
    port = _free_port()
    app = create_simulator_app(educore_population, coordinator=config)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
        )
    )
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the simulator did not start")
        time.sleep(0.02)
    try:
        yield Platform(f"http://127.0.0.1:{port}", ours_private, coordinator_public)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
async def sim_faults(platform: Platform) -> AsyncIterator[Any]:
    async with httpx2.AsyncClient(base_url=platform.url) as client:

        async def set_fault(service: str, mode: str, **extra: Any) -> None:
            response = await client.put(f"/_sim/faults/{service}", json={"mode": mode, **extra})
            assert response.status_code == 200, response.text

        yield set_fault
        await client.delete("/_sim/faults")
