"""The simulated platform on a real loopback port, for the adapters' contract tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from learning_analytics.simulator.app import create_simulator_app
from learning_analytics.simulator.population import Population, generate_population
from tests.servers import serve

ANCHOR = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture(scope="session")
def population() -> Population:
    return generate_population(seed=11, learners=40, history_days=60, anchor=ANCHOR)


@pytest.fixture(scope="session")
def simulator_url(population: Population) -> Iterator[str]:
    """The simulator served by uvicorn in a thread of its own (its own event loop)."""
    with serve(create_simulator_app(population)) as url:
        yield url
