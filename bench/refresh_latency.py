"""On-demand refresh latency (issue 3 benchmark): one learner's data from every upstream that
serves per-user reads, fanned out in parallel, with each upstream answering in ~50 ms.

    .venv/bin/python bench/refresh_latency.py --latency-ms 50 --runs 50

Prints p50/p95 of the whole refresh (fetch from all upstreams + write to the store) next to
the sum of the upstream latencies a sequential refresh would pay.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx2
from sync_throughput import serve_simulator  # type: ignore[import-not-found]

from learning_analytics.application.refresh import RefreshLearner
from learning_analytics.infrastructure.db.engine import create_engine, create_session_factory
from learning_analytics.infrastructure.db.migrate import upgrade
from learning_analytics.infrastructure.db.repositories import SqlRecordWriter
from learning_analytics.infrastructure.upstreams.catalog import FACTORIES, per_user_collections
from learning_analytics.infrastructure.upstreams.http import UpstreamPolicy, UpstreamRegistry
from learning_analytics.presentation.state import SystemClock


async def run(simulator: str, *, latency_ms: int, runs: int, learners: list[str]) -> None:
    async with httpx2.AsyncClient(base_url=simulator) as control:
        for service in FACTORIES:
            await control.put(
                f"/_sim/faults/{service}", json={"mode": "latency", "latencyMs": latency_ms}
            )
    database = Path(tempfile.mkdtemp()) / "refresh.db"
    url = f"sqlite+aiosqlite:///{database}"
    await upgrade(url)
    engine = create_engine(url)
    urls = {name: f"{simulator}/{name}" for name in FACTORIES}
    registry = UpstreamRegistry(urls, policy=UpstreamPolicy(total_timeout=2.0))
    try:
        sources = per_user_collections(registry)
        refresh = RefreshLearner(
            sources=sources,
            writer=SqlRecordWriter(create_session_factory(engine)),
            clock=SystemClock(),
            budget_seconds=1.5,
        )
        await refresh.execute(learners[0])  # warm the connections
        timings = []
        for i in range(runs):
            started = time.perf_counter()
            report = await refresh.execute(learners[i % len(learners)])
            timings.append((time.perf_counter() - started) * 1000)
            assert report.complete, report.missing
    finally:
        await registry.close()
        await engine.dispose()
    timings.sort()
    p95 = timings[int(0.95 * (len(timings) - 1))]
    sequential = len(sources) * latency_ms
    print(f"{len(sources)} per-user reads over {len(FACTORIES) - 1} upstreams, "
          f"each delayed {latency_ms} ms; sequential would be >= {sequential} ms")  # fmt: skip
    print(f"refresh p50 {statistics.median(timings):.0f} ms, p95 {p95:.0f} ms, "
          f"max {timings[-1]:.0f} ms over {runs} runs")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    url, server, thread = serve_simulator(200)
    try:
        learners = [f"u-{n:06d}" for n in range(30, 80)]
        asyncio.run(run(url, latency_ms=args.latency_ms, runs=args.runs, learners=learners))
    finally:
        server.should_exit = True
        thread.join(timeout=10)


if __name__ == "__main__":
    main()
