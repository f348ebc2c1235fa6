"""Organisation analytics (SPEC §10 Organisation): pure arithmetic over per-department aggregates.

The store sums and counts per department (and per week) in SQL; everything here combines those
sums. Every learner belongs to exactly one department (their own, else their team's, else the
pseudo-department "" shown as "Unassigned"), so distinct counts add up across departments.

k-anonymity (SPEC §8.5), including differencing: a department with fewer than k learners is
*suppressed*: listed without figures, and its learners are left out of every figure of every
organisation endpoint (the store is asked only about the shown departments, `shown_departments`).
Organisation totals are therefore totals over the shown departments, and no total minus the shown
rows can reveal a suppressed department. Within a shown department, a rate or average whose
denominator counts fewer than k people is null. Formulas and worked examples: docs/metrics.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

from learning_analytics.domain.errors import InsufficientDataError
from learning_analytics.domain.metrics.trainer import pct

UNASSIGNED = ""
TREND_BAND = 0.10  # ±10 %
DEPTH_TARGET_HOURS_PER_WEEK = 2.0  # 2 h of study per active learner per week = depth 100


@dataclass(frozen=True, slots=True)
class DepartmentHeadcount:
    department_id: str  # "" for learners without a department
    name: str
    headcount: int


def shown_departments(
    headcounts: Sequence[DepartmentHeadcount], *, k: int
) -> tuple[list[DepartmentHeadcount], list[DepartmentHeadcount]]:
    """(shown, suppressed): departments with at least k learners, and the others."""
    shown = [d for d in headcounts if d.headcount >= k]
    hidden = [d for d in headcounts if d.headcount < k]
    return sorted(shown, key=lambda d: d.department_id), sorted(
        hidden, key=lambda d: d.department_id
    )


def require_shown(shown: Sequence[DepartmentHeadcount], *, k: int) -> None:
    if not shown:
        raise InsufficientDataError(
            f"no department (or selection) has at least {k} learners", details="k-anonymity"
        )


def trend_of(current: float | None, previous: float | None, *, up: str, down: str) -> str | None:
    if current is None or previous is None:
        return None
    if previous == 0:
        return "steady" if current == 0 else up
    change = (current - previous) / previous
    return up if change > TREND_BAND else down if change < -TREND_BAND else "steady"


def _ratio(part: float, whole: float, digits: int = 2) -> float | None:
    return None if whole <= 0 else round(part / whole, digits)


# --------------------------------------------------------------------------------------------
# learning-velocity


@dataclass(frozen=True, slots=True)
class WeekAggregate:
    department_id: str
    week: int  # 0 = the oldest week of the window
    active_learners: int
    units_completed: int
    seconds: int


@dataclass(frozen=True, slots=True)
class ActivityAggregate:
    """A department's learning events over the whole window."""

    department_id: str
    active_learners: int
    active_days: int  # distinct (learner, day) pairs
    units_completed: int
    seconds: int


@dataclass(frozen=True, slots=True)
class VelocityWeek:
    week_start: str  # ISO date (local) of the week's first day inside the window
    active_learners: int | None
    units_completed: int | None
    units_per_active_learner: float | None
    hours_per_active_learner: float | None


@dataclass(frozen=True, slots=True)
class DepartmentVelocity:
    department_id: str
    name: str
    suppressed: bool
    active_learners: int | None = None
    units_completed: int | None = None
    units_per_active_learner_per_week: float | None = None
    hours_per_active_learner: float | None = None


@dataclass(frozen=True, slots=True)
class LearningVelocity:
    k: int
    active_learners: int
    units_completed: int
    hours_per_active_learner: float | None
    trend: str | None  # accelerating | steady | decelerating (last 2 weeks vs the 2 before)
    weeks: tuple[VelocityWeek, ...]
    departments: tuple[DepartmentVelocity, ...]


def learning_velocity(
    *,
    shown: Sequence[DepartmentHeadcount],
    suppressed: Sequence[DepartmentHeadcount],
    weeks: Sequence[WeekAggregate],
    window_activity: Sequence[ActivityAggregate],
    week_starts: Sequence[str],
    window_weeks: float,
    k: int,
) -> LearningVelocity:
    require_shown(shown, k=k)
    shown_ids = {d.department_id for d in shown}
    series: list[VelocityWeek] = []
    per_week_rate: list[float | None] = []
    for index, start in enumerate(week_starts):
        rows = [w for w in weeks if w.week == index and w.department_id in shown_ids]
        active = sum(w.active_learners for w in rows)
        units = sum(w.units_completed for w in rows)
        seconds = sum(w.seconds for w in rows)
        if active < k:
            series.append(VelocityWeek(start, None, None, None, None))
            per_week_rate.append(None)
            continue
        rate = _ratio(units, active)
        per_week_rate.append(rate)
        series.append(VelocityWeek(start, active, units, rate, _ratio(seconds / 3600.0, active)))
    trend = None
    if len(per_week_rate) >= 4 and None not in per_week_rate[-4:]:
        last = [r for r in per_week_rate[-2:] if r is not None]
        before = [r for r in per_week_rate[-4:-2] if r is not None]
        trend = trend_of(sum(last), sum(before), up="accelerating", down="decelerating")
    by_department = {a.department_id: a for a in window_activity}
    departments: list[DepartmentVelocity] = []
    for department in shown:
        activity = by_department.get(department.department_id)
        active = activity.active_learners if activity else 0
        units = activity.units_completed if activity else 0
        seconds = activity.seconds if activity else 0
        enough = active >= k
        departments.append(
            DepartmentVelocity(
                department_id=department.department_id,
                name=department.name,
                suppressed=False,
                active_learners=active,
                units_completed=units,
                units_per_active_learner_per_week=_ratio(units / window_weeks, active)
                if enough
                else None,
                hours_per_active_learner=_ratio(seconds / 3600.0, active) if enough else None,
            )
        )
    departments.extend(
        DepartmentVelocity(d.department_id, d.name, suppressed=True) for d in suppressed
    )
    total_active = sum(by_department[d].active_learners for d in shown_ids if d in by_department)
    total_units = sum(by_department[d].units_completed for d in shown_ids if d in by_department)
    total_seconds = sum(by_department[d].seconds for d in shown_ids if d in by_department)
    return LearningVelocity(
        k=k,
        active_learners=total_active,
        units_completed=total_units,
        hours_per_active_learner=_ratio(total_seconds / 3600.0, total_active)
        if total_active >= k
        else None,
        trend=trend,
        weeks=tuple(series),
        departments=tuple(departments),
    )


# --------------------------------------------------------------------------------------------
# strategic-alignment


@dataclass(frozen=True, slots=True)
class SkillTargetAggregate:
    skill_id: str
    weight: float
    target_level: int
    learners: int  # learners with a profile on the skill
    at_target: int  # ... whose current level reaches the organisation's target level
    gap_sum: int  # sum of max(target level - current level, 0)
    seconds: int  # learning time on units tagged with the skill, in the window


@dataclass(frozen=True, slots=True)
class EffortAggregate:
    seconds: int  # all learning time in the window
    weighted_seconds: float  # learning time x (max strategic weight of the unit / max weight)


@dataclass(frozen=True, slots=True)
class StrategicSkill:
    skill_id: str
    weight: float
    target_level: int
    suppressed: bool
    learners_targeted: int | None = None
    share_at_target: float | None = None
    average_gap: float | None = None
    hours: float | None = None
    effort_share: float | None = None  # % of all learning time


@dataclass(frozen=True, slots=True)
class StrategicAlignment:
    k: int
    alignment_score: float | None  # 0-100
    previous_alignment_score: float | None
    trend: str | None  # improving | steady | declining
    total_hours: float
    skills: tuple[StrategicSkill, ...]


def alignment_score(effort: EffortAggregate) -> float | None:
    return pct(effort.weighted_seconds, effort.seconds)


def strategic_alignment(
    *,
    shown: Sequence[DepartmentHeadcount],
    skills: Sequence[SkillTargetAggregate],
    effort: EffortAggregate,
    previous_effort: EffortAggregate,
    k: int,
) -> StrategicAlignment:
    require_shown(shown, k=k)
    rows: list[StrategicSkill] = []
    for skill in sorted(skills, key=lambda s: (-s.weight, s.skill_id)):
        if skill.learners < k:
            rows.append(StrategicSkill(skill.skill_id, skill.weight, skill.target_level, True))
            continue
        rows.append(
            StrategicSkill(
                skill_id=skill.skill_id,
                weight=skill.weight,
                target_level=skill.target_level,
                suppressed=False,
                learners_targeted=skill.learners,
                share_at_target=pct(skill.at_target, skill.learners),
                average_gap=_ratio(skill.gap_sum, skill.learners),
                hours=round(skill.seconds / 3600.0, 1),
                effort_share=pct(skill.seconds, effort.seconds),
            )
        )
    current = alignment_score(effort)
    previous = alignment_score(previous_effort)
    return StrategicAlignment(
        k=k,
        alignment_score=current,
        previous_alignment_score=previous,
        trend=trend_of(current, previous, up="improving", down="declining"),
        total_hours=round(effort.seconds / 3600.0, 1),
        skills=tuple(rows),
    )


# --------------------------------------------------------------------------------------------
# department-analytics


@dataclass(frozen=True, slots=True)
class DepartmentAggregate:
    """A department's sums and counts (activity over the window, the rest as of now)."""

    department_id: str
    active_learners: int = 0
    active_days: int = 0
    seconds: int = 0
    enrollments: int = 0
    completed_enrollments: int = 0
    enrolled_learners: int = 0
    attempts: int = 0
    score_sum: float = 0.0
    scored_learners: int = 0
    gap_sum: int = 0
    gap_profiles: int = 0
    gap_learners: int = 0
    at_risk: int = 0


@dataclass(frozen=True, slots=True)
class DepartmentFigures:
    headcount: int | None = None
    active_pct: float | None = None
    engagement: float | None = None  # active-day ratio, 0-100
    completion_rate: float | None = None
    average_score: float | None = None
    average_skill_gap: float | None = None
    at_risk: int | None = None
    hours_per_learner: float | None = None


@dataclass(frozen=True, slots=True)
class DepartmentRow:
    department_id: str
    name: str
    suppressed: bool
    figures: DepartmentFigures | None = None
    vs_organization: DepartmentFigures | None = None  # difference from the organisation


@dataclass(frozen=True, slots=True)
class DepartmentAnalytics:
    k: int
    organization: DepartmentFigures  # over the shown departments
    departments: tuple[DepartmentRow, ...]


def _merge(department_id: str, parts: Iterable[DepartmentAggregate]) -> DepartmentAggregate:
    names = [f.name for f in fields(DepartmentAggregate) if f.name != "department_id"]
    values: dict[str, float] = dict.fromkeys(names, 0)
    for part in parts:
        for name in names:
            values[name] += getattr(part, name)
    return DepartmentAggregate(department_id, **values)  # type: ignore[arg-type]


def department_figures(
    aggregate: DepartmentAggregate, *, headcount: int, window_days: int, k: int
) -> DepartmentFigures:
    return DepartmentFigures(
        headcount=headcount,
        active_pct=pct(aggregate.active_learners, headcount),
        engagement=pct(aggregate.active_days, headcount * window_days),
        completion_rate=pct(aggregate.completed_enrollments, aggregate.enrollments)
        if aggregate.enrolled_learners >= k
        else None,
        average_score=round(aggregate.score_sum / aggregate.attempts, 1)
        if aggregate.scored_learners >= k and aggregate.attempts
        else None,
        average_skill_gap=_ratio(aggregate.gap_sum, aggregate.gap_profiles)
        if aggregate.gap_learners >= k
        else None,
        at_risk=aggregate.at_risk,
        hours_per_learner=_ratio(aggregate.seconds / 3600.0, headcount),
    )


def _difference(mine: DepartmentFigures, org: DepartmentFigures) -> DepartmentFigures:
    values: dict[str, float | None] = {}
    for f in fields(DepartmentFigures):
        a, b = getattr(mine, f.name), getattr(org, f.name)
        if f.name in ("headcount", "at_risk"):
            values[f.name] = None
        else:
            values[f.name] = None if a is None or b is None else round(a - b, 2)
    return DepartmentFigures(**values)  # type: ignore[arg-type]


def department_analytics(
    *,
    shown: Sequence[DepartmentHeadcount],
    suppressed: Sequence[DepartmentHeadcount],
    aggregates: Sequence[DepartmentAggregate],
    window_days: int,
    k: int,
    visible: frozenset[str] | None = None,
) -> DepartmentAnalytics:
    """Per shown department, its figures and their difference from the organisation's (pooled
    over all shown departments). `visible`: the departments the caller may see (managers)."""
    require_shown(shown, k=k)
    by_id = {a.department_id: a for a in aggregates}
    org_aggregate = _merge("", (by_id[d.department_id] for d in shown if d.department_id in by_id))
    org = department_figures(
        org_aggregate,
        headcount=sum(d.headcount for d in shown),
        window_days=window_days,
        k=k,
    )
    rows: list[DepartmentRow] = []
    for department in shown:
        if visible is not None and department.department_id not in visible:
            continue
        figures = department_figures(
            by_id.get(department.department_id, DepartmentAggregate(department.department_id)),
            headcount=department.headcount,
            window_days=window_days,
            k=k,
        )
        rows.append(
            DepartmentRow(
                department.department_id,
                department.name,
                False,
                figures,
                _difference(figures, org),
            )
        )
    rows.extend(
        DepartmentRow(d.department_id, d.name, True)
        for d in suppressed
        if visible is None or d.department_id in visible
    )
    return DepartmentAnalytics(k=k, organization=org, departments=tuple(rows))


# --------------------------------------------------------------------------------------------
# learning-culture


@dataclass(frozen=True, slots=True)
class CultureAggregate:
    department_id: str
    active_learners: int = 0  # any learning event, attempt, practice session or question
    consistent_learners: int = 0  # active in at least half of the window's weeks
    seconds: int = 0  # learning-event time
    collaborating_learners: int = 0  # asked the assistant, practised, or gave feedback
    growth_measured: int = 0  # learners with >= 2 graded attempts in the window
    growing_learners: int = 0  # ... whose latest score beats their first


@dataclass(frozen=True, slots=True)
class CultureComponents:
    participation: float | None
    consistency: float | None
    depth: float | None
    collaboration: float | None
    growth: float | None


@dataclass(frozen=True, slots=True)
class CultureRow:
    department_id: str
    name: str
    suppressed: bool
    index: float | None = None
    components: CultureComponents | None = None


@dataclass(frozen=True, slots=True)
class LearningCulture:
    k: int
    index: float | None  # 0-100, mean of the available components
    previous_index: float | None
    trend: str | None  # improving | steady | declining
    components: CultureComponents
    departments: tuple[CultureRow, ...]


def culture_components(
    aggregate: CultureAggregate, *, headcount: int, window_weeks: float, k: int
) -> CultureComponents:
    active = aggregate.active_learners
    hours_per_week = (
        aggregate.seconds / 3600.0 / active / window_weeks if active and window_weeks else 0.0
    )
    return CultureComponents(
        participation=pct(active, headcount),
        consistency=pct(aggregate.consistent_learners, active) if active >= k else None,
        depth=round(min(100.0, 100.0 * hours_per_week / DEPTH_TARGET_HOURS_PER_WEEK), 1)
        if active >= k
        else None,
        collaboration=pct(aggregate.collaborating_learners, active) if active >= k else None,
        growth=pct(aggregate.growing_learners, aggregate.growth_measured)
        if aggregate.growth_measured >= k
        else None,
    )


def culture_index(components: CultureComponents) -> float | None:
    values = [getattr(components, f.name) for f in fields(CultureComponents)]
    present = [v for v in values if v is not None]
    return round(sum(present) / len(present), 1) if present else None


def _merge_culture(parts: Iterable[CultureAggregate]) -> CultureAggregate:
    names = [f.name for f in fields(CultureAggregate) if f.name != "department_id"]
    values = dict.fromkeys(names, 0)
    for part in parts:
        for name in names:
            values[name] += getattr(part, name)
    return CultureAggregate("", **values)


def learning_culture(
    *,
    shown: Sequence[DepartmentHeadcount],
    suppressed: Sequence[DepartmentHeadcount],
    current: Sequence[CultureAggregate],
    previous: Sequence[CultureAggregate],
    window_weeks: float,
    k: int,
) -> LearningCulture:
    require_shown(shown, k=k)
    headcount = sum(d.headcount for d in shown)
    shown_ids = {d.department_id for d in shown}

    def pooled(parts: Sequence[CultureAggregate]) -> CultureComponents:
        merged = _merge_culture(p for p in parts if p.department_id in shown_ids)
        return culture_components(merged, headcount=headcount, window_weeks=window_weeks, k=k)

    components = pooled(current)
    index = culture_index(components)
    previous_index = culture_index(pooled(previous))
    by_id = {a.department_id: a for a in current}
    rows: list[CultureRow] = []
    for department in shown:
        part = by_id.get(department.department_id, CultureAggregate(department.department_id))
        mine = culture_components(
            part, headcount=department.headcount, window_weeks=window_weeks, k=k
        )
        rows.append(
            CultureRow(department.department_id, department.name, False, culture_index(mine), mine)
        )
    rows.extend(CultureRow(d.department_id, d.name, True) for d in suppressed)
    return LearningCulture(
        k=k,
        index=index,
        previous_index=previous_index,
        trend=trend_of(index, previous_index, up="improving", down="declining"),
        components=components,
        departments=tuple(rows),
    )
