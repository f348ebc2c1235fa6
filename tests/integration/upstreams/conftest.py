"""The simulated platform on a real loopback port, for the adapters' contract tests."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import uvicorn

from learning_analytics.simulator.app import create_simulator_app
from learning_analytics.simulator.population import Population, generate_population

ANCHOR = datetime(2026, 11, 20, 12, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def population() -> Population:
    return generate_population(seed=11, learners=40, history_days=60, anchor=ANCHOR)


@pytest.fixture(scope="session")
def simulator_url(population: Population) -> Iterator[str]:
    """The simulator served by uvicorn in a thread of its own (its own event loop)."""
    port = free_port()
    config = uvicorn.Config(
        create_simulator_app(population), host="127.0.0.1", port=port, log_config=None,
        access_log=False, lifespan="on",
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the simulator did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
