"""MasteryParameters: BKT parameters fitted per skill of an organisation, cached, single-flight."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

import pytest

from learning_analytics.application.mastery_params import MasteryParameters, fit_from_scores
from learning_analytics.domain.metrics import bkt
from tests.fakes import FakeClock

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
ENOUGH = bkt.MIN_FIT_SEQUENCES


def learners(count: int, scores: list[float]) -> list[list[float]]:
    return [list(scores) for _ in range(count)]


class FakeEvidence:
    """Per organisation, score sequences per skill; counts its loads; can hold them back."""

    def __init__(self, by_org: dict[str, dict[str, list[list[float]]]]) -> None:
        self.by_org = by_org
        self.loads: list[str] = []
        self.release = asyncio.Event()
        self.release.set()
        self.fail = False

    async def skill_score_sequences(self, organization_id: str) -> dict[str, list[list[float]]]:
        self.loads.append(organization_id)
        await self.release.wait()
        if self.fail:
            raise ConnectionError("store down")
        return self.by_org.get(organization_id, {})


EVIDENCE = {
    "org-1": {
        # Mostly learned between the 2nd and 3rd observation: fitted.
        "python": learners(ENOUGH - 10, [40, 50, 80, 90]) + learners(10, [80, 90, 90, 95]),
        # One sequence short of the minimum: defaults.
        "sql": learners(ENOUGH - 1, [40, 80]),
        # Empty sequences do not count.
        "excel": learners(ENOUGH - 1, [90]) + learners(5, []),
    },
    "org-2": {"sql": learners(ENOUGH, [40, 80])},
}


def service(evidence: FakeEvidence, clock: FakeClock, **kw: float) -> MasteryParameters:
    return MasteryParameters(evidence=evidence, clock=clock, ttl_seconds=kw.get("ttl", 3600))


async def test_fits_skills_with_enough_sequences_and_leaves_the_others_to_the_defaults() -> None:
    params = await service(FakeEvidence(EVIDENCE), FakeClock(NOW)).for_organization("org-1")

    assert set(params) == {"python"}
    python = params["python"]
    assert python != bkt.DEFAULT_PARAMS
    # The same as fitting the correct/wrong observations directly.
    observations = [[bkt.is_correct(s) for s in seq] for seq in EVIDENCE["org-1"]["python"]]
    assert python == bkt.fit(observations)


async def test_exactly_the_minimum_number_of_sequences_is_fitted() -> None:
    params = await service(FakeEvidence(EVIDENCE), FakeClock(NOW)).for_organization("org-2")
    assert set(params) == {"sql"}


async def test_an_organisation_without_evidence_gets_no_fitted_parameters() -> None:
    assert await service(FakeEvidence(EVIDENCE), FakeClock(NOW)).for_organization("org-x") == {}


async def test_fit_runs_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[threading.Thread] = []
    real_fit_skills = bkt.fit_skills

    def spy(*args: object, **kwargs: object) -> object:
        threads.append(threading.current_thread())
        return real_fit_skills(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(bkt, "fit_skills", spy)
    await service(FakeEvidence(EVIDENCE), FakeClock(NOW)).for_organization("org-1")
    assert threads
    assert threads[0] is not threading.main_thread()


async def test_cached_per_organisation_until_the_ttl_expires() -> None:
    evidence = FakeEvidence(EVIDENCE)
    clock = FakeClock(NOW)
    mastery = service(evidence, clock, ttl=6 * 3600)

    first = await mastery.for_organization("org-1")
    clock.moment = NOW + timedelta(hours=6) - timedelta(seconds=1)
    assert await mastery.for_organization("org-1") is first
    assert await mastery.for_organization("org-2") != first  # keyed by organisation
    assert evidence.loads == ["org-1", "org-2"]

    clock.moment = NOW + timedelta(hours=6)
    evidence.by_org = {"org-1": {}}  # the store changed
    assert await mastery.for_organization("org-1") == {}
    assert evidence.loads == ["org-1", "org-2", "org-1"]


async def test_concurrent_requests_of_one_organisation_share_one_fit() -> None:
    evidence = FakeEvidence(EVIDENCE)
    evidence.release.clear()
    mastery = service(evidence, FakeClock(NOW))

    callers = [asyncio.create_task(mastery.for_organization("org-1")) for _ in range(20)]
    await asyncio.sleep(0)
    evidence.release.set()
    results = await asyncio.gather(*callers)

    assert evidence.loads == ["org-1"]
    assert all(result is results[0] for result in results)
    assert set(results[0]) == {"python"}


async def test_a_failure_is_not_cached() -> None:
    evidence = FakeEvidence(EVIDENCE)
    evidence.fail = True
    mastery = service(evidence, FakeClock(NOW))
    with pytest.raises(ConnectionError):
        await mastery.for_organization("org-1")

    evidence.fail = False
    assert set(await mastery.for_organization("org-1")) == {"python"}
    assert evidence.loads == ["org-1", "org-1"]


def test_fit_from_scores_counts_a_score_as_correct_from_the_threshold() -> None:
    at_threshold = {"sql": learners(ENOUGH, [bkt.CORRECT_THRESHOLD] * 3)}
    below = {"sql": learners(ENOUGH, [bkt.CORRECT_THRESHOLD - 0.1] * 3)}
    assert fit_from_scores(at_threshold)["sql"] == bkt.fit([[True] * 3] * ENOUGH)
    assert fit_from_scores(below)["sql"] == bkt.fit([[False] * 3] * ENOUGH)
