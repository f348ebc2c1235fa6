"""Bayesian Knowledge Tracing: known answers worked by hand, and fitting."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from learning_analytics.domain.metrics.bkt import (
    DEFAULT_PARAMS,
    MASTERY_THRESHOLD,
    BktParams,
    evidence_by_skill,
    fit,
    fit_skills,
    is_correct,
    log_likelihood,
    trace,
    update,
)
from learning_analytics.domain.records import AssessmentAttempt, SkillScore

T0 = datetime(2026, 2, 1, 12, tzinfo=UTC)


def test_defaults_are_the_documented_ones() -> None:
    assert BktParams(p_init=0.2, p_transit=0.15, p_slip=0.1, p_guess=0.2) == DEFAULT_PARAMS
    assert MASTERY_THRESHOLD == 0.95


@pytest.mark.parametrize(
    ("p_known", "correct", "expected"),
    [
        # correct: 0.2*0.9 = 0.18 known, 0.8*0.2 = 0.16 guessed -> 0.18/0.34 = 0.529412;
        # learn: 0.529412 + 0.470588*0.15 = 0.6
        (0.2, True, 0.6),
        # wrong: 0.6*0.1 = 0.06 slipped, 0.4*0.8 = 0.32 unknown -> 0.06/0.38 = 0.157895;
        # learn: 0.157895 + 0.842105*0.15 = 0.284211
        (0.6, False, 0.284211),
        # wrong from L0: 0.2*0.1 = 0.02, 0.8*0.8 = 0.64 -> 0.02/0.66 = 0.030303;
        # learn: 0.030303 + 0.969697*0.15 = 0.175758
        (0.2, False, 0.175758),
    ],
)
def test_update_known_answers(p_known: float, correct: bool, expected: float) -> None:
    assert update(p_known, correct, DEFAULT_PARAMS) == pytest.approx(expected, abs=1e-6)


def test_trace_right_wrong_right_worked_by_hand() -> None:
    # 1 right: 0.6 (above); 2 wrong: 0.284211 (above);
    # 3 right: 0.284211*0.9 = 0.255789 known, 0.715789*0.2 = 0.143158 guessed
    #   -> 0.255789/0.398947 = 0.641161; learn: 0.641161 + 0.358839*0.15 = 0.694987
    assert trace([True, False, True]) == pytest.approx([0.6, 0.284211, 0.694987], abs=1e-6)


def test_three_right_answers_reach_mastery() -> None:
    # 0.6; then 0.6*0.9 = 0.54 vs 0.4*0.2 = 0.08 -> 0.870968 + 0.129032*0.15 = 0.890323;
    # then 0.801290 vs 0.021935 -> 0.973354 + 0.026646*0.15 = 0.977351 >= 0.95
    path = trace([True, True, True])
    assert path == pytest.approx([0.6, 0.890323, 0.977351], abs=1e-6)
    assert path[1] < MASTERY_THRESHOLD <= path[2]


def test_trace_of_nothing_is_empty() -> None:
    assert trace([]) == []


def test_log_likelihood_of_one_right_answer() -> None:
    # P(right) = 0.2*0.9 + 0.8*0.2 = 0.34
    assert log_likelihood([[True]], DEFAULT_PARAMS) == pytest.approx(math.log(0.34))
    # two answers: log 0.34 + log P(wrong | L = 0.6) = log 0.34 + log(1 - (0.54 + 0.08))
    assert log_likelihood([[True, False]], DEFAULT_PARAMS) == pytest.approx(
        math.log(0.34) + math.log(0.38)
    )


@pytest.mark.parametrize(
    ("score", "correct"), [(70.0, True), (69.9, False), (100.0, True), (0.0, False)]
)
def test_an_observation_is_correct_from_70_percent(score: float, correct: bool) -> None:
    assert is_correct(score) is correct


def test_evidence_is_per_skill_in_submission_order() -> None:
    def attempt(number: int, hours: int, *scores: tuple[str, float]) -> AssessmentAttempt:
        return AssessmentAttempt(
            id=f"a{number}",
            user_id="u1",
            course_id="c1",
            assessment_id="x",
            score_pct=50.0,
            passed=False,
            submitted_at=T0 + timedelta(hours=hours),
            skill_scores=tuple(SkillScore(skill, value) for skill, value in scores),
        )

    attempts = [
        attempt(2, 5, ("python", 40.0)),
        attempt(1, 1, ("python", 75.0), ("sql", 70.0)),
        attempt(3, 9, ("sql", 20.0)),
    ]
    assert evidence_by_skill(attempts) == {"python": [True, False], "sql": [True, False]}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"p_init": 0.0},
        {"p_transit": 1.0},
        {"p_slip": -0.1},
        {"p_slip": 0.6, "p_guess": 0.5},
    ],
)
def test_invalid_parameters_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="p_"):
        BktParams(**kwargs)


def _simulate(
    rng: random.Random, params: BktParams, *, learners: int, length: int
) -> list[list[bool]]:
    sequences = []
    for _ in range(learners):
        known = rng.random() < params.p_init
        sequence = []
        for _ in range(length):
            sequence.append(
                rng.random() >= params.p_slip if known else rng.random() < params.p_guess
            )
            if not known and rng.random() < params.p_transit:
                known = True
        sequences.append(sequence)
    return sequences


def test_fit_recovers_the_generating_parameters() -> None:
    true = BktParams(p_init=0.3, p_transit=0.1, p_slip=0.1, p_guess=0.2)
    sequences = _simulate(random.Random(42), true, learners=300, length=8)
    fitted = fit(sequences)
    assert fitted.p_init == pytest.approx(true.p_init, abs=0.1)
    assert fitted.p_transit == pytest.approx(true.p_transit, abs=0.1)
    assert fitted.p_slip == pytest.approx(true.p_slip, abs=0.1)
    assert fitted.p_guess == pytest.approx(true.p_guess, abs=0.1)
    assert log_likelihood(sequences, fitted) >= log_likelihood(sequences, DEFAULT_PARAMS)


def test_fit_keeps_the_defaults_below_the_minimum_number_of_sequences() -> None:
    sequences = _simulate(random.Random(1), BktParams(0.6, 0.3, 0.05, 0.3), learners=29, length=8)
    # 29 non-empty sequences (plus empty ones, which do not count) < 30
    assert fit([*sequences, [], []]) == DEFAULT_PARAMS
    custom = BktParams(p_init=0.5)
    assert fit(sequences, default=custom) == custom
    assert fit(sequences, min_sequences=29) != DEFAULT_PARAMS


def test_fit_skills_only_returns_skills_with_enough_evidence() -> None:
    rng = random.Random(3)
    many = _simulate(rng, DEFAULT_PARAMS, learners=40, length=5)
    few = _simulate(rng, DEFAULT_PARAMS, learners=5, length=5)
    fitted = fit_skills({"python": many, "sql": few})
    assert set(fitted) == {"python"}
