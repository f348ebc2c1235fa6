"""Cache-hit path benchmark (SPEC §14): our API against the seed's Express stack, side by side.

Runs, on loopback, with each server pinned to CPU 0 and wrk pinned to CPU 1:
  A  the Express peer as written     GET /api/v1/analytics/learner/velocity/{id}
  B  the Express peer tuned          (JWT_KEYOBJECT=1)
  C  this service                    GET /api/v1/analytics/learner/velocity/{id}
Each is an authenticated, authorised, rate-limited, cached learner endpoint in one process with
in-process cache and limits. Rounds are interleaved (A B C A B C ...); the median requests/s of
each and the ratios are printed, with p50/p99 latencies.

    .venv/bin/python bench/cache_hit.py --duration 10 --connections 64 --rounds 3

Needs: wrk (Debian package) and npm (the peer's dependencies are installed into a temporary
copy of shared/peers/express-seed, which is never committed).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEER = ROOT.parent / "shared" / "peers" / "express-seed"
SUMMARY = re.compile(
    r"SUMMARY rps=([\d.]+) p50_ms=([\d.]+) p75_ms=[\d.]+ p90_ms=[\d.]+ p99_ms=([\d.]+)"
)


def wait_until_up(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 — loopback only
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


async def seed_store(database_url: str) -> str:
    """Migrate a fresh SQLite store and fill it from a small simulated population; return the
    demo learner's id."""
    from learning_analytics.infrastructure.db.engine import create_engine, create_session_factory
    from learning_analytics.infrastructure.db.migrate import upgrade
    from learning_analytics.infrastructure.db.repositories import SqlRecordWriter
    from learning_analytics.simulator.population import DEMO_LEARNER_EMAIL, generate_population
    from learning_analytics.simulator.seed import load_population

    await upgrade(database_url)
    population = generate_population(learners=50, anchor=datetime.now(UTC))
    engine = create_engine(database_url)
    try:
        await load_population(
            SqlRecordWriter(create_session_factory(engine)),
            population,
            ingested_at=datetime.now(UTC),
        )
    finally:
        await engine.dispose()
    learner = population.user_by_email(DEMO_LEARNER_EMAIL)
    assert learner is not None
    return learner.id


def run_wrk(
    url: str, token: str, *, duration: int, connections: int, peer: Path
) -> tuple[float, float, float]:
    out = subprocess.run(
        [str(peer / "run_wrk.sh"), url, token, f"{duration}s", str(connections)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = SUMMARY.search(out)
    if match is None or "non2xx3xx=0" not in out:
        raise RuntimeError(f"wrk run failed or saw errors:\n{out}")
    return float(match.group(1)), float(match.group(2)), float(match.group(3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for tool in ("wrk", "npm", "node", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is required (see bench/README.md)")

    work = Path(tempfile.mkdtemp(prefix="la-bench-"))
    peer = work / "express-seed"
    shutil.copytree(PEER, peer)
    subprocess.run(["npm", "ci", "--silent", "--no-audit", "--no-fund"], cwd=peer, check=True)

    secret = secrets.token_hex(32)
    database_url = f"sqlite+aiosqlite:///{work / 'store.db'}"
    learner_id = asyncio.run(seed_store(database_url))
    env = {**os.environ, "JWT_SECRET": secret}
    mint = [sys.executable, str(peer / "mint_jwt.py"), "--user-id", learner_id]
    mint += ["--roles", "learner", "--org", "org-1"]
    token = subprocess.run(mint, env=env, check=True, capture_output=True, text=True).stdout.strip()

    ours_env = {
        **env,
        "APP_ENV": "demo",
        "DATABASE_URL": database_url,
        "RATE_LIMIT_STANDARD": "100000000",
        "LOG_LEVEL": "WARNING",
    }
    ours_env.pop("REDIS_URL", None)
    servers = {
        "express": (
            ["taskset", "-c", "0", "node", "server.js"],
            {**env, "PORT": "3001", "RATE_MAX": "100000000"},
            peer,
            f"http://127.0.0.1:3001/api/v1/analytics/learner/velocity/{learner_id}",
        ),
        "express-tuned": (
            ["taskset", "-c", "0", "node", "server.js"],
            {**env, "PORT": "3002", "RATE_MAX": "100000000", "JWT_KEYOBJECT": "1"},
            peer,
            f"http://127.0.0.1:3002/api/v1/analytics/learner/velocity/{learner_id}",
        ),
        "learning-analytics": (
            ["taskset", "-c", "0", str(ROOT / ".venv/bin/learning-analytics"), "serve", "--port=3003"],  # noqa: E501
            ours_env,
            ROOT,
            f"http://127.0.0.1:3003/api/v1/analytics/learner/velocity/{learner_id}",
        ),
    }  # fmt: skip
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in servers}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for command, server_env, cwd, _ in servers.values():
            processes.append(
                subprocess.Popen(command, env=server_env, cwd=cwd, stdout=subprocess.DEVNULL)
            )
        wait_until_up("http://127.0.0.1:3001/health")
        wait_until_up("http://127.0.0.1:3002/health")
        wait_until_up("http://127.0.0.1:3003/api/v1/health")
        for _, _, _, url in servers.values():  # warm-up, fills the caches
            run_wrk(url, token, duration=2, connections=args.connections, peer=peer)
        for _ in range(args.rounds):
            for name, (_, _, _, url) in servers.items():
                results[name].append(
                    run_wrk(
                        url, token, duration=args.duration, connections=args.connections, peer=peer
                    )
                )
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)

    medians = {name: statistics.median(r[0] for r in runs) for name, runs in results.items()}
    print(f"\n{'server':<20}{'median rps':>12}{'p50 ms':>10}{'p99 ms':>10}   runs (rps)")
    for name, runs in results.items():
        p50 = statistics.median(r[1] for r in runs)
        p99 = statistics.median(r[2] for r in runs)
        all_rps = ", ".join(f"{r[0]:.0f}" for r in runs)
        print(f"{name:<20}{medians[name]:>12.0f}{p50:>10.2f}{p99:>10.2f}   {all_rps}")
    ours = medians["learning-analytics"]
    print(f"\nratio vs express as written: {ours / medians['express']:.2f}x (target >= 1.5x)")
    print(f"ratio vs express tuned:      {ours / medians['express-tuned']:.2f}x (target >= 1.0x)")


if __name__ == "__main__":
    main()
