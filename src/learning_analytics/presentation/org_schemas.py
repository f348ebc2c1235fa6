"""Response models of the trainer and organisation analytics (camelCase on the wire).

They mirror the domain results (`domain/metrics/trainer.py`, `organization.py`) field by field;
the routers validate `dataclasses.asdict(result)` into them. Null figures are suppressed
(k-anonymity) or not computable (minimum data); docs/metrics.md says which.
"""

from __future__ import annotations

from datetime import date

from pydantic import Field

from learning_analytics.presentation.schemas import ApiModel


class WindowFields(ApiModel):
    start: date
    end: date
    timezone: str
    k: int


# --------------------------------------------------------------------------------------------
# trainer


class CoursePerformanceRowResponse(ApiModel):
    course_id: str
    title: str
    suppressed: bool
    enrolled: int | None = None
    active: int | None = None
    completion_rate: float | None = None
    average_progress: float | None = None
    average_score: float | None = None
    pass_rate: float | None = None
    median_days_to_complete: float | None = None


class CoursePerformanceResponse(WindowFields):
    trainer_id: str
    courses: list[CoursePerformanceRowResponse]


class HealthComponentsResponse(ApiModel):
    completion: float | None
    engagement: float | None
    assessment: float | None
    retention: float | None


class FunnelStepResponse(ApiModel):
    unit_id: str
    title: str
    position: int
    reached: int
    stalled: int
    stall_share: float | None


class HealthFlagResponse(ApiModel):
    kind: str
    subject: str
    value: float | None
    message: str


class CourseHealthRowResponse(ApiModel):
    course_id: str
    title: str
    suppressed: bool
    health_score: float | None = None
    status: str | None = None
    components: HealthComponentsResponse | None = None
    drop_off_rate: float | None = None
    funnel: list[FunnelStepResponse] = Field(default_factory=list)
    flags: list[HealthFlagResponse] = Field(default_factory=list)


class CourseHealthResponse(WindowFields):
    trainer_id: str
    courses: list[CourseHealthRowResponse]


class BandResponse(ApiModel):
    band: str
    count: int


class AtRiskLearnerResponse(ApiModel):
    user_id: str
    course_id: str
    risk: str
    main_factor: str
    inactive_days: int


class StudentDistributionResponse(WindowFields):
    trainer_id: str
    learners: int
    enrollments: int
    progress_bands: list[BandResponse]
    score_bands: list[BandResponse]
    risk_levels: list[BandResponse]
    at_risk: list[AtRiskLearnerResponse]


class CourseEffectivenessResponse(ApiModel):
    course_id: str
    title: str
    suppressed: bool
    learners_measured: int | None = None
    average_pre: float | None = None
    average_post: float | None = None
    learning_gain: float | None = None
    completion_rate: float | None = None
    pass_rate: float | None = None


class RateComparisonResponse(ApiModel):
    trainer: float | None
    organization: float | None
    difference: float | None


class TeachingEffectivenessResponse(WindowFields):
    trainer_id: str
    learning_gain: float | None
    learners_measured: int
    completion_rate: RateComparisonResponse
    pass_rate: RateComparisonResponse
    courses: list[CourseEffectivenessResponse]


# --------------------------------------------------------------------------------------------
# organisation


class VelocityWeekResponse(ApiModel):
    week_start: str
    active_learners: int | None
    units_completed: int | None
    units_per_active_learner: float | None
    hours_per_active_learner: float | None


class DepartmentVelocityResponse(ApiModel):
    department_id: str
    name: str
    suppressed: bool
    active_learners: int | None = None
    units_completed: int | None = None
    units_per_active_learner_per_week: float | None = None
    hours_per_active_learner: float | None = None


class LearningVelocityResponse(WindowFields):
    organization_id: str
    active_learners: int
    units_completed: int
    hours_per_active_learner: float | None
    trend: str | None
    weeks: list[VelocityWeekResponse]
    departments: list[DepartmentVelocityResponse]


class StrategicSkillResponse(ApiModel):
    skill_id: str
    weight: float
    target_level: int
    suppressed: bool
    learners_targeted: int | None = None
    share_at_target: float | None = None
    average_gap: float | None = None
    hours: float | None = None
    effort_share: float | None = None


class StrategicAlignmentResponse(WindowFields):
    organization_id: str
    alignment_score: float | None
    previous_alignment_score: float | None
    trend: str | None
    total_hours: float
    skills: list[StrategicSkillResponse]


class DepartmentFiguresResponse(ApiModel):
    headcount: int | None = None
    active_pct: float | None = None
    engagement: float | None = None
    completion_rate: float | None = None
    average_score: float | None = None
    average_skill_gap: float | None = None
    at_risk: int | None = None
    hours_per_learner: float | None = None


class DepartmentRowResponse(ApiModel):
    department_id: str
    name: str
    suppressed: bool
    figures: DepartmentFiguresResponse | None = None
    vs_organization: DepartmentFiguresResponse | None = None


class DepartmentAnalyticsResponse(WindowFields):
    organization_id: str
    organization: DepartmentFiguresResponse
    departments: list[DepartmentRowResponse]


class CultureComponentsResponse(ApiModel):
    participation: float | None
    consistency: float | None
    depth: float | None
    collaboration: float | None
    growth: float | None


class CultureRowResponse(ApiModel):
    department_id: str
    name: str
    suppressed: bool
    index: float | None = None
    components: CultureComponentsResponse | None = None


class LearningCultureResponse(WindowFields):
    organization_id: str
    index: float | None
    previous_index: float | None
    trend: str | None
    components: CultureComponentsResponse
    departments: list[CultureRowResponse]
