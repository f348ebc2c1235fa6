"""Peer comparison and skill demand: percentiles, quartiles and k-anonymity (SPEC §8.5)."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

import pytest

from learning_analytics.domain.errors import InsufficientDataError
from learning_analytics.domain.metrics.comparison import (
    Quartiles,
    median,
    peer_comparison,
    percentile_rank,
    quartiles,
    skill_demand,
)
from learning_analytics.domain.records import SkillProfile, StrategicSkillTarget

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
MONTH_AGO = NOW - timedelta(days=30)


@pytest.mark.parametrize(
    ("value", "cohort", "expected"),
    [
        # 2 below, 1 equal of 4: (2 + 0.5) / 4 = 62.5 %
        (3.0, [1.0, 2.0, 3.0, 4.0], 62.5),
        # above everyone: 4 / 4
        (9.0, [1.0, 2.0, 3.0, 4.0], 100.0),
        # below everyone
        (0.0, [1.0, 2.0, 3.0, 4.0], 0.0),
        # all tied: (0 + 5 / 2) / 5 = 50 %
        (2.0, [2.0] * 5, 50.0),
        # 1 below of 3: 33.33 -> 33.3
        (5.0, [4.0, 6.0, 7.0], 33.3),
    ],
)
def test_percentile_rank(value: float, cohort: list[float], expected: float) -> None:
    assert percentile_rank(value, cohort) == expected


def test_percentile_rank_of_an_empty_cohort_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        percentile_rank(1.0, [])


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # positions (n-1)q = 0.75, 1.5, 2.25: 1 + 0.75*1 = 1.75, 2.5, 3 + 0.25*1 = 3.25
        ([4.0, 1.0, 3.0, 2.0], Quartiles(1.75, 2.5, 3.25)),
        # positions 1, 2, 3 fall on values
        ([1.0, 2.0, 3.0, 4.0, 5.0], Quartiles(2.0, 3.0, 4.0)),
        # one value: everything is that value
        ([7.0], Quartiles(7.0, 7.0, 7.0)),
        # positions 1.5, 3, 4.5 of [10,20,30,40,50,60,70]: 25, 40, 55
        ([10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0], Quartiles(25.0, 40.0, 55.0)),
    ],
)
def test_quartiles(values: list[float], expected: Quartiles) -> None:
    assert quartiles(values) == expected
    assert median(values) == expected.median


def test_quartiles_match_the_standard_librarys_inclusive_method() -> None:
    values = [3.0, 8.5, 1.0, 9.0, 4.4, 7.0, 2.0, 6.5, 5.0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    assert quartiles(values) == pytest.approx(Quartiles(q1, q2, q3))


# --------------------------------------------------------------------------------------------
# Peer comparison


def test_peer_comparison_reports_rank_median_and_quartiles() -> None:
    # 5 others: [1, 2, 3, 4, 5]; learner 4.5 -> 4 below / 5 = 80 %; q1 2, median 3, q3 4
    comparison = peer_comparison({"velocity": 4.5}, {"velocity": [1.0, 2.0, 3.0, 4.0, 5.0]}, k=5)
    (metric,) = comparison.metrics
    assert (metric.value, metric.percentile_rank, metric.median, metric.q1, metric.q3) == (
        4.5,
        80.0,
        3.0,
        2.0,
        4.0,
    )
    assert metric.cohort_size == 5
    assert comparison.suppressed == ()


@pytest.mark.parametrize(("others", "reported"), [(4, False), (5, True), (6, True)])
def test_k_anonymity_needs_k_other_people(others: int, reported: bool) -> None:
    cohort = {"engagement": [50.0 + i for i in range(others)]}
    if reported:
        comparison = peer_comparison({"engagement": 60.0}, cohort, k=5)
        assert comparison.metrics[0].cohort_size == others
    else:
        # k - 1 others: the whole comparison is refused, with the reason, and no number
        with pytest.raises(InsufficientDataError, match="at least 5 other people") as caught:
            peer_comparison({"engagement": 60.0}, cohort, k=5)
        assert caught.value.details is not None
        assert "engagement" in caught.value.details


def test_one_small_metric_is_suppressed_and_the_others_kept() -> None:
    comparison = peer_comparison(
        {"velocity": 2.0, "points": 300.0, "average_score": 80.0},
        {"velocity": [1.0, 2.0, 3.0], "points": [100.0, 200.0, 300.0, 400.0, 500.0]},
        k=5,
    )
    assert [m.metric for m in comparison.metrics] == ["points"]
    assert [s.metric for s in comparison.suppressed] == ["velocity", "average_score"]
    assert "fewer than 5 other people" in comparison.suppressed[0].reason


def test_a_learner_without_values_has_nothing_to_compare() -> None:
    with pytest.raises(InsufficientDataError, match="no metric"):
        peer_comparison({}, {"velocity": [1.0] * 10}, k=5)


def test_k_must_be_positive() -> None:
    with pytest.raises(ValueError, match="k must be"):
        peer_comparison({"velocity": 1.0}, {"velocity": [1.0]}, k=0)


# --------------------------------------------------------------------------------------------
# Skill demand


def profile(
    user: str, skill: str, current: int, target: int | None = None, at: datetime = NOW
) -> SkillProfile:
    return SkillProfile(
        user_id=user, skill_id=skill, current_level=current, updated_at=at, target_level=target
    )


STRATEGIC = (StrategicSkillTarget("org-1", "sql", weight=0.5, target_level=4),)


def sql_profiles(levels: list[int], at: datetime = NOW) -> list[SkillProfile]:
    return [profile(f"u{i}", "sql", level, at=at) for i, level in enumerate(levels, start=1)]


def test_skill_demand_weighs_gaps_by_strategic_weight_and_counts_supply() -> None:
    # sql: strategic target 4, multiplier 1 + 0.5 = 1.5. Levels 1, 2, 4, 5, 3 -> gaps 3, 2, 0,
    # 0, 1: demand (3 + 2 + 1) * 1.5 = 9.0; supply 2 (levels 4 and 5); ratio 9 / 2 = 4.5.
    # 30 days ago levels 1, 1, 3, 5, 3 -> gaps 3, 3, 1, 0, 1 = 8 * 1.5 = 12.0;
    # change (9 - 12) / 12 = -25 % -> falling.
    # python: own target 3, not strategic (1.0): levels 1, 2, 3, 3, 3 -> demand 2 + 1 = 3.0,
    # supply 3, ratio 1.0; no snapshot 30 days ago -> no trend.
    profiles = [
        *sql_profiles([1, 2, 4, 5, 3]),
        *(profile(f"u{i}", "python", lvl, 3) for i, lvl in enumerate([1, 2, 3, 3, 3], start=1)),
    ]
    demand = skill_demand(
        profiles,
        strategic_targets=STRATEGIC,
        previous_profiles=sql_profiles([1, 1, 3, 5, 3], at=MONTH_AGO),
        k=5,
    )
    sql, python = demand.skills
    assert (sql.skill_id, sql.demand, sql.supply, sql.ratio, sql.learners) == (
        "sql",
        9.0,
        2,
        4.5,
        5,
    )
    assert (sql.learners_with_gap, sql.weight) == (3, 1.5)
    assert (sql.previous_demand, sql.change_pct, sql.trend) == (12.0, -25.0, "falling")
    assert (python.demand, python.supply, python.ratio, python.weight) == (3.0, 3, 1.0, 1.0)
    assert (python.previous_demand, python.trend) == (None, None)
    assert demand.suppressed == ()


@pytest.mark.parametrize(("learners", "suppressed"), [(4, True), (5, False)])
def test_skill_demand_suppresses_skills_below_k_learners(learners: int, suppressed: bool) -> None:
    profiles = [
        *sql_profiles([1] * 6),
        *(profile(f"u{i}", "python", 1, 3) for i in range(learners)),
    ]
    demand = skill_demand(profiles, strategic_targets=STRATEGIC, k=5)
    assert ("python" in demand.suppressed) is suppressed
    assert ("python" in {item.skill_id for item in demand.skills}) is not suppressed


def test_skill_demand_with_no_skill_at_k_is_insufficient_data() -> None:
    with pytest.raises(InsufficientDataError, match="at least 5 learners"):
        skill_demand(sql_profiles([1, 2, 3, 4]), strategic_targets=STRATEGIC, k=5)


def test_skill_demand_top_n_zero_supply_and_untargeted_profiles() -> None:
    # sql: 5 learners at level 0 -> gaps 4 each -> demand 5 * 4 * 1.5 = 30, supply 0 -> no ratio.
    # python: 5 learners with gap 1 -> demand 5. cooking has no target at all -> ignored.
    profiles = [
        *sql_profiles([0] * 5),
        *(profile(f"u{i}", "python", 2, 3) for i in range(5)),
        *(profile(f"u{i}", "cooking", 1) for i in range(5)),
    ]
    demand = skill_demand(profiles, strategic_targets=STRATEGIC, k=5, top=1)
    (top,) = demand.skills
    assert (top.skill_id, top.demand, top.supply, top.ratio) == ("sql", 30.0, 0, None)
    assert demand.skills_ranked == 2


def test_skill_demand_uses_each_learners_latest_profile() -> None:
    # u1's older profile (level 0) is replaced by the newer one (level 4): gaps 0, 3, 3, 3, 3.
    profiles = [
        profile("u1", "sql", 0, at=NOW - timedelta(days=3)),
        *sql_profiles([4, 1, 1, 1, 1]),
    ]
    demand = skill_demand(profiles, strategic_targets=STRATEGIC, k=5)
    # (3 * 4) * 1.5 = 18
    assert (demand.skills[0].demand, demand.skills[0].supply) == (18.0, 1)
