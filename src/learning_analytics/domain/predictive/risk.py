"""Drop-off risk levels, the transparent rule-based score, and explanations (SPEC §10).

Levels: low < 0.25 <= medium < 0.5 <= high < 0.75 <= critical.

Rule-based score (used when no trained model passes the quality gate), each term in [0, 1]:
    inactivity = min(1, days_since_last_activity / inactivity_days)
    rhythm     = 1 - min(1, active_days_14 / 4)            (4 active days in 2 weeks is enough)
    pace       = 1 - min(1, pace_ratio)                      (behind the pace the due date needs)
    struggle   = min(1, failed_attempts / 3)
    risk = 0.55 * inactivity + 0.2 * rhythm + 0.15 * pace + 0.1 * struggle
The weights sum to 1, so risk is in [0, 1]; the factors of a rule-based answer are its terms
with their weighted contribution.

Explanations of a model's answer: for each feature, how much the probability changes when the
learner's value is replaced by the reference median (model-agnostic, one extra prediction per
feature); the largest absolute changes are the factors. `direction` says whether the learner's
value raises or lowers the risk against the median (where the model does not move at all, from
whether the value is better or worse than the median for that feature).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from learning_analytics.domain.predictive.features import (
    FEATURE_NAMES,
    HIGHER_IS_BETTER,
    EnrollmentFeatures,
)

LEVELS: tuple[tuple[float, str], ...] = ((0.75, "critical"), (0.5, "high"), (0.25, "medium"))
RULE_WEIGHTS: dict[str, float] = {
    "days_since_last_activity": 0.55,
    "active_days_14": 0.2,
    "pace_ratio": 0.15,
    "failed_attempts": 0.1,
}
ACTIVE_DAYS_ENOUGH = 4.0
FAILED_ENOUGH = 3.0
MAX_FACTORS = 5
MIN_FACTORS = 3
NO_CHANGE = 1e-9  # a probability change below this is none: direction from the value instead


def level(probability: float) -> str:
    for threshold, name in LEVELS:
        if probability >= threshold:
            return name
    return "low"


@dataclass(frozen=True, slots=True)
class Factor:
    feature: str
    value: float  # the learner's
    median: float  # the reference cohort's
    direction: str  # raises_risk | lowers_risk
    impact: float  # change of probability this feature accounts for (>= 0)


def rule_terms(features: EnrollmentFeatures, *, inactivity_days: int) -> dict[str, float]:
    """Each rule's term in [0, 1] (before weighting)."""
    return {
        "days_since_last_activity": min(
            1.0, features.get("days_since_last_activity") / inactivity_days
        ),
        "active_days_14": 1.0 - min(1.0, features.get("active_days_14") / ACTIVE_DAYS_ENOUGH),
        "pace_ratio": 1.0 - min(1.0, max(0.0, features.get("pace_ratio"))),
        "failed_attempts": min(1.0, features.get("failed_attempts") / FAILED_ENOUGH),
    }


def rule_score(features: EnrollmentFeatures, *, inactivity_days: int) -> float:
    terms = rule_terms(features, inactivity_days=inactivity_days)
    return round(sum(RULE_WEIGHTS[name] * term for name, term in terms.items()), 4)


def rule_factors(
    features: EnrollmentFeatures, *, inactivity_days: int, medians: Mapping[str, float]
) -> tuple[Factor, ...]:
    terms = rule_terms(features, inactivity_days=inactivity_days)
    factors = []
    for name, term in terms.items():
        value = features.get(name)
        median = medians.get(name, value)
        factors.append(
            Factor(
                feature=name,
                value=value,
                median=median,
                direction=_direction(name, value, median, weighted=RULE_WEIGHTS[name] * term),
                impact=round(RULE_WEIGHTS[name] * term, 4),
            )
        )
    factors.sort(key=lambda f: (-f.impact, f.feature))
    return tuple(factors)


def _direction(name: str, value: float, median: float, *, weighted: float) -> str:
    if value == median:
        return "raises_risk" if weighted > 0 else "lowers_risk"
    worse = value < median if HIGHER_IS_BETTER[name] else value > median
    return "raises_risk" if worse else "lowers_risk"


def model_factors(
    features: EnrollmentFeatures,
    probability: float,
    *,
    medians: Mapping[str, float],
    predict: Callable[[Sequence[Sequence[float]]], list[float]],
) -> tuple[Factor, ...]:
    """Top factors of a model's answer: probability change when each feature is set to its
    median (see the module docstring)."""
    rows = []
    names = []
    for index, name in enumerate(FEATURE_NAMES):
        median = medians.get(name)
        if median is None or median == features.values[index]:
            continue
        row = list(features.values)
        row[index] = median
        rows.append(row)
        names.append(name)
    changed = predict(rows) if rows else []
    factors = []
    for name, at_median in zip(names, changed, strict=True):
        delta = probability - at_median
        value = features.get(name)
        if abs(delta) < NO_CHANGE:
            direction = _direction(name, value, medians[name], weighted=0.0)
        else:
            direction = "raises_risk" if delta > 0 else "lowers_risk"
        factors.append(
            Factor(
                feature=name,
                value=value,
                median=medians[name],
                direction=direction,
                impact=round(abs(delta), 4),
            )
        )
    factors.sort(key=lambda f: (-f.impact, f.feature))
    return top_factors(factors, features=features, medians=medians)


def top_factors(
    ranked: Sequence[Factor], *, features: EnrollmentFeatures, medians: Mapping[str, float]
) -> tuple[Factor, ...]:
    """The MAX_FACTORS strongest; padded to MIN_FACTORS with the rule features (impact 0) when
    the learner sits at the median on most features."""
    chosen = list(ranked[:MAX_FACTORS])
    for name in RULE_WEIGHTS:
        if len(chosen) >= MIN_FACTORS:
            break
        if all(f.feature != name for f in chosen):
            value = features.get(name)
            median = medians.get(name, value)
            chosen.append(
                Factor(name, value, median, _direction(name, value, median, weighted=0.0), 0.0)
            )
    return tuple(chosen)
