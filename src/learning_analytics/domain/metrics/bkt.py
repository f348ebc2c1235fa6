"""Bayesian Knowledge Tracing (Corbett & Anderson, 1995) for the mastery metric (SPEC §10).

A skill is either known or not known. Each assessment attempt that scores the skill is one
observation, "correct" when the skill score is at least CORRECT_THRESHOLD percent. Four
parameters per skill: L0 (`p_init`, known before any evidence), T (`p_transit`, learning between
two observations), S (`p_slip`, wrong although known) and G (`p_guess`, right although unknown).
`fit` estimates them per skill from the store's evidence when there is enough of it; otherwise
the documented defaults hold. Formulas and a worked example: docs/metrics.md, "Mastery".
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from itertools import product

from learning_analytics.domain.records import AssessmentAttempt

CORRECT_THRESHOLD = 70.0  # skill score % at which an observation counts as correct (= pass mark)
MASTERY_THRESHOLD = 0.95  # P(known) at which a skill is "mastered"
MIN_FIT_SEQUENCES = 30  # learners with evidence on a skill before its parameters are fitted

# Slip and guess stay below 0.5: above it a correct answer would count as evidence of *not*
# knowing the skill (the degenerate solution of BKT's likelihood).
_MAX_SLIP_GUESS = 0.45
_MIN_PROBABILITY = 0.01
_MAX_PROBABILITY = 0.99
_COARSE_GRID: Mapping[str, tuple[float, ...]] = {
    "p_init": (0.1, 0.3, 0.5, 0.7, 0.9),
    "p_transit": (0.05, 0.15, 0.25, 0.35, 0.45),
    "p_slip": (0.05, 0.15, 0.25, 0.35, 0.45),
    "p_guess": (0.05, 0.15, 0.25, 0.35, 0.45),
}
_REFINE_STEPS = (0.05, 0.025)


@dataclass(frozen=True, slots=True)
class BktParams:
    p_init: float = 0.2  # L0
    p_transit: float = 0.15  # T
    p_slip: float = 0.1  # S
    p_guess: float = 0.2  # G

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not 0.0 < value < 1.0:
                raise ValueError(f"{field.name} must be strictly between 0 and 1, not {value}")
        if self.p_slip + self.p_guess >= 1.0:
            raise ValueError("p_slip + p_guess must be below 1")


DEFAULT_PARAMS = BktParams()


def is_correct(score_pct: float, threshold: float = CORRECT_THRESHOLD) -> bool:
    return score_pct >= threshold


def p_correct(p_known: float, params: BktParams) -> float:
    """P(correct) = P(L)(1 - S) + (1 - P(L))G."""
    return p_known * (1.0 - params.p_slip) + (1.0 - p_known) * params.p_guess


def update(p_known: float, correct: bool, params: BktParams) -> float:
    """P(known) after one observation, then the chance to learn before the next one.

    correct:  P(L|obs) = P(L)(1-S) / (P(L)(1-S) + (1-P(L))G)
    wrong:    P(L|obs) = P(L)S / (P(L)S + (1-P(L))(1-G))
    then:     P(L_next) = P(L|obs) + (1 - P(L|obs))T
    """
    slip, guess = params.p_slip, params.p_guess
    if correct:
        known = p_known * (1.0 - slip)
        posterior = known / (known + (1.0 - p_known) * guess)
    else:
        known = p_known * slip
        posterior = known / (known + (1.0 - p_known) * (1.0 - guess))
    return posterior + (1.0 - posterior) * params.p_transit


def trace(observations: Iterable[bool], params: BktParams = DEFAULT_PARAMS) -> list[float]:
    """P(known) after each observation, starting from L0."""
    p_known = params.p_init
    path: list[float] = []
    for correct in observations:
        p_known = update(p_known, correct, params)
        path.append(p_known)
    return path


def evidence_by_skill(
    attempts: Iterable[AssessmentAttempt], *, threshold: float = CORRECT_THRESHOLD
) -> dict[str, list[bool]]:
    """Per skill, the correct/wrong observations of `attempts` in submission order."""
    ordered = sorted(attempts, key=lambda attempt: (attempt.submitted_at, attempt.id))
    evidence: defaultdict[str, list[bool]] = defaultdict(list)
    for attempt in ordered:
        for skill_score in attempt.skill_scores:
            evidence[skill_score.skill_id].append(is_correct(skill_score.score_pct, threshold))
    return dict(evidence)


def log_likelihood(sequences: Iterable[Sequence[bool]], params: BktParams) -> float:
    """Σ over sequences and observations of log P(observation | the observations before it)."""
    return _log_likelihood(Counter(tuple(sequence) for sequence in sequences), params)


def _log_likelihood(counted: Mapping[tuple[bool, ...], int], params: BktParams) -> float:
    slip, guess, transit = params.p_slip, params.p_guess, params.p_transit
    total = 0.0
    for sequence, count in counted.items():
        p_known = params.p_init
        subtotal = 0.0
        for correct in sequence:
            right = p_known * (1.0 - slip) + (1.0 - p_known) * guess
            if correct:
                subtotal += math.log(right)
                posterior = p_known * (1.0 - slip) / right
            else:
                subtotal += math.log(1.0 - right)
                posterior = p_known * slip / (1.0 - right)
            p_known = posterior + (1.0 - posterior) * transit
        total += count * subtotal
    return total


def fit(
    sequences: Iterable[Sequence[bool]],
    *,
    min_sequences: int = MIN_FIT_SEQUENCES,
    default: BktParams = DEFAULT_PARAMS,
) -> BktParams:
    """Maximum-likelihood parameters of one skill, or `default` with too little evidence.

    A sequence is one learner's observations on the skill in time order; empty ones are ignored.
    With fewer than `min_sequences` of them the defaults are returned. Otherwise a grid search
    maximises the log-likelihood: a coarse grid (L0 0.1-0.9 by 0.2; T, S, G 0.05-0.45 by 0.1),
    then two refinements that try every combination of each parameter ± 0.05 and then ± 0.025
    around the best point, keeping S and G at most 0.45 and L0 and T within 0.01-0.99.
    """
    counted = Counter(tuple(sequence) for sequence in sequences if sequence)
    if sum(counted.values()) < min_sequences:
        return default

    best = default
    best_ll = -math.inf
    for values in product(*_COARSE_GRID.values()):
        candidate = BktParams(*values)
        candidate_ll = _log_likelihood(counted, candidate)
        if candidate_ll > best_ll:
            best, best_ll = candidate, candidate_ll
    for step in _REFINE_STEPS:
        centre = best
        for deltas in product((-step, 0.0, step), repeat=4):
            candidate = _shifted(centre, deltas)
            if candidate == centre:
                continue
            candidate_ll = _log_likelihood(counted, candidate)
            if candidate_ll > best_ll:
                best, best_ll = candidate, candidate_ll
    return best


def fit_skills(
    sequences_by_skill: Mapping[str, Iterable[Sequence[bool]]],
    *,
    min_sequences: int = MIN_FIT_SEQUENCES,
) -> dict[str, BktParams]:
    """Fitted parameters of each skill with at least `min_sequences` sequences (others omitted)."""
    fitted: dict[str, BktParams] = {}
    for skill, sequences in sequences_by_skill.items():
        usable = [sequence for sequence in sequences if sequence]
        if len(usable) >= min_sequences:
            fitted[skill] = fit(usable, min_sequences=min_sequences)
    return fitted


def _shifted(params: BktParams, deltas: tuple[float, ...]) -> BktParams:
    def clamp(value: float, high: float) -> float:
        return round(min(high, max(_MIN_PROBABILITY, value)), 4)

    return replace(
        params,
        p_init=clamp(params.p_init + deltas[0], _MAX_PROBABILITY),
        p_transit=clamp(params.p_transit + deltas[1], _MAX_PROBABILITY),
        p_slip=clamp(params.p_slip + deltas[2], _MAX_SLIP_GUESS),
        p_guess=clamp(params.p_guess + deltas[3], _MAX_SLIP_GUESS),
    )
