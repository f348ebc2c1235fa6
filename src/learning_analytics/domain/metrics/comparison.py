"""Comparisons with other people (SPEC §10 Comparison), k-anonymous (SPEC §8.5).

No figure here is ever about fewer than k people: a peer metric needs values of at least k
people *other than* the learner, a skill-demand row at least k learners with a target on the
skill. Below that the figure is suppressed with its reason, and when nothing is left the whole
answer is an InsufficientDataError. Formulas and worked examples: docs/metrics.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from learning_analytics.domain.errors import InsufficientDataError
from learning_analytics.domain.metrics.learner import (
    latest_profiles,
    strategic_weights,
    target_level,
)
from learning_analytics.domain.records import SkillProfile, StrategicSkillTarget

DEMAND_TREND_BAND = 0.10  # ±10 % change in demand is "stable"
DEFAULT_TOP = 10


@dataclass(frozen=True, slots=True)
class Quartiles:
    q1: float
    median: float
    q3: float


@dataclass(frozen=True, slots=True)
class PeerMetric:
    metric: str
    value: float
    percentile_rank: float  # 0-100
    median: float
    q1: float
    q3: float
    cohort_size: int  # other people with a value


@dataclass(frozen=True, slots=True)
class SuppressedMetric:
    metric: str
    reason: str


@dataclass(frozen=True, slots=True)
class PeerComparison:
    k: int
    metrics: tuple[PeerMetric, ...]
    suppressed: tuple[SuppressedMetric, ...]


@dataclass(frozen=True, slots=True)
class SkillDemandItem:
    skill_id: str
    demand: float  # Σ gap * weight over learners with a gap
    supply: int  # learners at or above target
    ratio: float | None  # demand / supply; None when supply is 0
    learners: int  # learners with a target on the skill
    learners_with_gap: int
    weight: float  # 1 + strategic weight, or 1.0
    previous_demand: float | None  # 30 days ago; None when unknown or suppressed then
    change_pct: float | None
    trend: str | None  # rising | stable | falling


@dataclass(frozen=True, slots=True)
class SkillDemand:
    k: int
    skills: tuple[SkillDemandItem, ...]  # the top N by demand
    skills_ranked: int  # skills that passed k-anonymity
    suppressed: tuple[str, ...]  # skills with fewer than k learners involved


def _quantile(ordered: Sequence[float], q: float) -> float:
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def quartiles(values: Iterable[float]) -> Quartiles:
    """Linear interpolation between order statistics at (n - 1) * q (numpy's default,
    `statistics.quantiles(method="inclusive")`)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("quartiles of no values")
    return Quartiles(
        q1=_quantile(ordered, 0.25), median=_quantile(ordered, 0.5), q3=_quantile(ordered, 0.75)
    )


def median(values: Iterable[float]) -> float:
    return quartiles(values).median


def percentile_rank(value: float, cohort_values: Iterable[float]) -> float:
    """100 * (cohort values below + half of those equal) / cohort size, to one decimal."""
    below = equal = size = 0
    for other in cohort_values:
        size += 1
        if other < value:
            below += 1
        elif other == value:
            equal += 1
    if size == 0:
        raise ValueError("percentile rank in an empty cohort")
    return round(100.0 * (below + equal / 2) / size, 1)


def peer_comparison(
    learner_values: Mapping[str, float],
    cohort: Mapping[str, Sequence[float]],
    *,
    k: int,
) -> PeerComparison:
    """The learner's value of each metric against the values of the OTHER people of the cohort.

    `cohort[metric]` must not contain the learner's own value. A metric with fewer than k other
    values is suppressed; if every metric is, InsufficientDataError.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    if not learner_values:
        raise InsufficientDataError("peer comparison: the learner has no metric to compare")
    metrics: list[PeerMetric] = []
    suppressed: list[SuppressedMetric] = []
    for metric, value in learner_values.items():
        others = cohort.get(metric, ())
        if len(others) < k:
            suppressed.append(
                SuppressedMetric(
                    metric, f"the cohort has fewer than {k} other people with a {metric} value"
                )
            )
            continue
        spread = quartiles(others)
        metrics.append(
            PeerMetric(
                metric=metric,
                value=value,
                percentile_rank=percentile_rank(value, others),
                median=spread.median,
                q1=spread.q1,
                q3=spread.q3,
                cohort_size=len(others),
            )
        )
    if not metrics:
        raise InsufficientDataError(
            f"peer comparison needs a cohort of at least {k} other people",
            details="; ".join(f"{s.metric}: {s.reason}" for s in suppressed),
        )
    return PeerComparison(k=k, metrics=tuple(metrics), suppressed=tuple(suppressed))


@dataclass(slots=True)
class _Tally:
    demand: float = 0.0
    supply: int = 0
    learners: int = 0
    with_gap: int = 0


def _tally(
    profiles: Iterable[SkillProfile], targets: Iterable[StrategicSkillTarget]
) -> dict[str, _Tally]:
    targets = tuple(targets)
    strategic = {target.skill_id: target for target in targets}
    weights = strategic_weights(targets)
    tallies: defaultdict[str, _Tally] = defaultdict(_Tally)
    for profile in latest_profiles(profiles).values():
        target = target_level(profile, strategic)
        if target is None:
            continue
        tally = tallies[profile.skill_id]
        tally.learners += 1
        gap = target - profile.current_level
        if gap > 0:
            tally.with_gap += 1
            tally.demand += gap * weights.get(profile.skill_id, 1.0)
        else:
            tally.supply += 1
    return dict(tallies)


def _demand_trend(demand: float, previous: float | None) -> tuple[str | None, float | None]:
    if previous is None:
        return None, None
    if previous == 0:
        return ("rising" if demand > 0 else "stable"), None
    change = (demand - previous) / previous
    if change > DEMAND_TREND_BAND:
        label = "rising"
    elif change < -DEMAND_TREND_BAND:
        label = "falling"
    else:
        label = "stable"
    return label, round(100.0 * change, 1)


def skill_demand(
    profiles: Iterable[SkillProfile],
    *,
    strategic_targets: Iterable[StrategicSkillTarget],
    previous_profiles: Iterable[SkillProfile] | None = None,
    k: int,
    top: int = DEFAULT_TOP,
) -> SkillDemand:
    """Per skill of the organisation: demand = Σ over learners with a gap of gap * weight,
    supply = learners at or above target, ratio = demand / supply.

    `profiles` is the org's skill profiles now, `previous_profiles` the snapshot 30 days ago
    (None: no trend). A learner's target is their own, else the strategic target; weight is
    1 + the strategic weight (1.0 for other skills). Skills with fewer than k learners with a
    target are suppressed, now and in the previous snapshot alike.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    targets = tuple(strategic_targets)
    weights = strategic_weights(targets)
    current = _tally(profiles, targets)
    previous = None if previous_profiles is None else _tally(previous_profiles, targets)

    ranked: list[SkillDemandItem] = []
    suppressed: list[str] = []
    for skill_id, tally in current.items():
        if tally.learners < k:
            suppressed.append(skill_id)
            continue
        before: float | None = None
        if previous is not None:
            earlier = previous.get(skill_id)
            before = earlier.demand if earlier is not None and earlier.learners >= k else None
        trend, change = _demand_trend(tally.demand, before)
        ranked.append(
            SkillDemandItem(
                skill_id=skill_id,
                demand=round(tally.demand, 2),
                supply=tally.supply,
                ratio=round(tally.demand / tally.supply, 2) if tally.supply else None,
                learners=tally.learners,
                learners_with_gap=tally.with_gap,
                weight=weights.get(skill_id, 1.0),
                previous_demand=None if before is None else round(before, 2),
                change_pct=change,
                trend=trend,
            )
        )
    if not ranked:
        raise InsufficientDataError(
            f"skill demand needs skills with at least {k} learners with a target",
            details=f"{len(suppressed)} skills suppressed",
        )
    ranked.sort(key=lambda item: (-item.demand, item.skill_id))
    return SkillDemand(
        k=k,
        skills=tuple(ranked[:top]),
        skills_ranked=len(ranked),
        suppressed=tuple(sorted(suppressed)),
    )
