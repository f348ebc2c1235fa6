"""Risk levels, the rule-based score and explanations (domain/predictive/risk.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from learning_analytics.domain.predictive.features import FEATURE_NAMES, EnrollmentFeatures
from learning_analytics.domain.predictive.risk import level, model_factors, rule_factors, rule_score

AS_OF = datetime(2026, 3, 1, tzinfo=UTC)


def features(**values: float) -> EnrollmentFeatures:
    row = dict.fromkeys(FEATURE_NAMES, 0.0)
    row.update(values)
    return EnrollmentFeatures("u1", "e1", "c1", AS_OF, tuple(row[name] for name in FEATURE_NAMES))


@pytest.mark.parametrize(
    ("probability", "name"),
    [
        (0.0, "low"),
        (0.2499, "low"),
        (0.25, "medium"),
        (0.5, "high"),
        (0.75, "critical"),
        (1.0, "critical"),
    ],
)
def test_levels(probability: float, name: str) -> None:
    assert level(probability) == name


def test_rule_score_extremes_and_a_known_answer() -> None:
    idle = features(days_since_last_activity=30, active_days_14=0, pace_ratio=0, failed_attempts=5)
    assert rule_score(idle, inactivity_days=21) == 1.0
    keen = features(days_since_last_activity=0, active_days_14=6, pace_ratio=2, failed_attempts=0)
    assert rule_score(keen, inactivity_days=21) == 0.0
    some = features(days_since_last_activity=7, active_days_14=1, pace_ratio=0.5, failed_attempts=1)
    expected = 0.55 * 7 / 21 + 0.2 * 0.75 + 0.15 * 0.5 + 0.1 / 3
    assert rule_score(some, inactivity_days=21) == pytest.approx(expected, abs=1e-4)
    factors = rule_factors(some, inactivity_days=21, medians={"days_since_last_activity": 1.0})
    assert [f.feature for f in factors] == [
        "days_since_last_activity", "active_days_14", "pace_ratio", "failed_attempts",
    ]  # fmt: skip
    assert factors[0].direction == "raises_risk"
    assert (factors[0].value, factors[0].median) == (7.0, 1.0)


def test_model_factors_rank_by_the_change_at_the_median() -> None:
    """A stand-in model whose probability is recency / 30: only recency moves it."""
    row = features(days_since_last_activity=15, active_days_14=1)

    def predict(rows: list[list[float]]) -> list[float]:
        return [r[0] / 30 for r in rows]

    medians = dict.fromkeys(FEATURE_NAMES, 0.0) | {"days_since_last_activity": 3.0,
                                                        "active_days_14": 4.0}  # fmt: skip
    factors = model_factors(row, 0.5, medians=medians, predict=predict)
    assert factors[0].feature == "days_since_last_activity"
    assert factors[0].impact == pytest.approx(0.4)
    assert factors[0].direction == "raises_risk"
    assert 3 <= len(factors) <= 5
