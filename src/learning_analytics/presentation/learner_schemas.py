"""Response models of the learner analytics (SPEC §10 Learner), camelCase on the wire.

Field names follow the domain results (`domain/metrics/learner.py`), so a result validates into
its model by attributes; `docs/metrics.md` defines every number.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


def _config(example: dict[str, Any] | None = None) -> ConfigDict:
    return ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        from_attributes=True,
        json_schema_extra={"example": example} if example else None,
    )


class LearnerModel(BaseModel):
    model_config = _config()


class WindowResponse(LearnerModel):
    from_: date = Field(alias="from", description="First local day of the window")
    to: date = Field(description="Last local day of the window")


class LearnerHeader(LearnerModel):
    """What every learner answer starts with: whose, in which zone, over which window."""

    user_id: str
    timezone: str = Field(description="IANA zone of the day and week boundaries")
    window: WindowResponse
    course_id: str | None = Field(description="The course the answer is limited to, if any")


_HEADER_EXAMPLE: dict[str, Any] = {
    "userId": "u-000001",
    "timezone": "Europe/Berlin",
    "window": {"from": "2026-10-29", "to": "2026-11-27"},
    "courseId": None,
}


# --------------------------------------------------------------------------------------------
# velocity


class WeekValueResponse(LearnerModel):
    week_start: date = Field(description="Monday of the ISO week, local")
    value: float


class CourseVelocityResponse(LearnerModel):
    course_id: str
    units_completed: int = Field(description="In the last 4 weeks")
    current_pace: float = Field(description="Units/week over the last 4 weeks")
    units_done: int
    units_total: int | None
    units_remaining: int | None
    due_at: datetime | None
    target_pace: float | None
    on_track: bool | None


class VelocityResponse(LearnerHeader):
    model_config = _config(
        {
            **_HEADER_EXAMPLE,
            "asOf": "2026-11-27",
            "currentPace": 4.5,
            "targetPace": 3.2,
            "onTrack": True,
            "unitsCompleted": 18,
            "recentPace": 5.0,
            "previousPace": 4.0,
            "trend": "accelerating",
            "trendChangePct": 25.0,
            "series": [{"weekStart": "2026-11-23", "value": 4.0}],
            "byCourse": [
                {
                    "courseId": "c-101",
                    "unitsCompleted": 18,
                    "currentPace": 4.5,
                    "unitsDone": 30,
                    "unitsTotal": 48,
                    "unitsRemaining": 18,
                    "dueAt": "2027-01-31T00:00:00Z",
                    "targetPace": 3.2,
                    "onTrack": True,
                }
            ],
        }
    )

    as_of: date
    current_pace: float = Field(description="Learning units completed per week, last 4 weeks")
    target_pace: float = Field(
        description="Units/week the open enrollments need by their due dates"
    )
    on_track: bool
    units_completed: int
    recent_pace: float
    previous_pace: float | None
    trend: Literal["accelerating", "steady", "decelerating"] | None
    trend_change_pct: float | None
    series: list[WeekValueResponse] = Field(description="Units completed per ISO week (12 weeks)")
    by_course: list[CourseVelocityResponse]


# --------------------------------------------------------------------------------------------
# skill-gap


class SkillGapItemResponse(LearnerModel):
    skill_id: str
    current_level: int
    target_level: int
    gap: int
    strategic: bool
    weight: float
    priority: float = Field(description="gap * (1 + strategic weight)")


class SkillGapResponse(LearnerHeader):
    model_config = _config(
        {
            **_HEADER_EXAMPLE,
            "asOf": "2026-11-27",
            "skills": [
                {
                    "skillId": "python",
                    "currentLevel": 2,
                    "targetLevel": 4,
                    "gap": 2,
                    "strategic": True,
                    "weight": 1.5,
                    "priority": 3.0,
                }
            ],
            "untargetedSkills": ["excel"],
            "skillsWithTarget": 1,
            "skillsAtTarget": 0,
            "atTargetPct": 0.0,
            "totalGap": 2,
            "totalPriority": 3.0,
        }
    )

    as_of: date
    skills: list[SkillGapItemResponse] = Field(description="By priority, highest first")
    untargeted_skills: list[str]
    skills_with_target: int
    skills_at_target: int
    at_target_pct: float
    total_gap: int
    total_priority: float


# --------------------------------------------------------------------------------------------
# engagement


class EngagementComponentResponse(LearnerModel):
    name: str
    value: float
    unit: str
    reference: float = Field(description="The value that earns the full score")
    score: float = Field(description="min(1, value / reference)")
    weight: float
    points: float = Field(description="100 * weight * score")


class EngagementResponse(LearnerHeader):
    model_config = _config(
        {
            **_HEADER_EXAMPLE,
            "start": "2026-10-29",
            "end": "2026-11-27",
            "days": 30,
            "score": 62.4,
            "level": "medium",
            "components": [
                {
                    "name": "active_days",
                    "value": 0.5,
                    "unit": "share of days",
                    "reference": 0.714,
                    "score": 0.7,
                    "weight": 0.3,
                    "points": 21.0,
                }
            ],
            "previousScore": 55.0,
            "trend": "rising",
        }
    )

    start: date
    end: date = Field(description="The last covered day")
    days: int
    score: float = Field(description="0-100")
    level: Literal["low", "medium", "high"]
    components: list[EngagementComponentResponse]
    previous_score: float | None
    trend: Literal["rising", "stable", "falling"] | None


# --------------------------------------------------------------------------------------------
# mastery


class SkillMasteryResponse(LearnerModel):
    skill_id: str
    p_mastery: float = Field(description="Probability the skill is known (BKT)")
    mastered: bool
    evidence_count: int
    correct_count: int
    last_evidence_at: datetime
    last_evidence_date: date
    fitted_params: bool


class MasteryResponse(LearnerHeader):
    model_config = _config(
        {
            **_HEADER_EXAMPLE,
            "asOf": "2026-11-27",
            "skills": [
                {
                    "skillId": "sql",
                    "pMastery": 0.9774,
                    "mastered": True,
                    "evidenceCount": 3,
                    "correctCount": 3,
                    "lastEvidenceAt": "2026-11-20T10:00:00Z",
                    "lastEvidenceDate": "2026-11-20",
                    "fittedParams": False,
                }
            ],
            "masteredCount": 1,
            "threshold": 0.95,
        }
    )

    as_of: date
    skills: list[SkillMasteryResponse] = Field(description="By probability, highest first")
    mastered_count: int
    threshold: float


# --------------------------------------------------------------------------------------------
# performance


class SkillAverageResponse(LearnerModel):
    skill_id: str
    average_score: float
    attempts: int


class CoursePerformanceResponse(LearnerModel):
    course_id: str
    attempts: int
    average_score: float | None
    pass_rate: float | None
    learning_gain: float | None = Field(description="Last post-course score - first baseline score")


class AttemptSummaryResponse(LearnerModel):
    attempt_id: str
    assessment_id: str
    course_id: str | None
    exam_type: str | None
    score_pct: float
    passed: bool
    submitted_at: datetime


class PerformanceResponse(LearnerHeader):
    model_config = _config(
        {
            **_HEADER_EXAMPLE,
            "start": "2026-10-29",
            "end": "2026-11-27",
            "attempts": 4,
            "averageScore": 76.3,
            "passRate": 75.0,
            "passed": 3,
            "trendSlope": 3.5,
            "trend": "improving",
            "skills": [{"skillId": "sql", "averageScore": 82.0, "attempts": 4}],
            "bestSkills": [{"skillId": "sql", "averageScore": 82.0, "attempts": 4}],
            "weakestSkills": [{"skillId": "sql", "averageScore": 82.0, "attempts": 4}],
            "byCourse": [
                {
                    "courseId": "c-101",
                    "attempts": 4,
                    "averageScore": 76.3,
                    "passRate": 75.0,
                    "learningGain": None,
                }
            ],
            "recentAttempts": [
                {
                    "attemptId": "at-9",
                    "assessmentId": "as-3",
                    "courseId": "c-101",
                    "examType": "practice",
                    "scorePct": 81.0,
                    "passed": True,
                    "submittedAt": "2026-11-25T14:00:00Z",
                }
            ],
        }
    )

    start: date
    end: date
    attempts: int = Field(description="Graded (non-baseline) attempts in the window")
    average_score: float
    pass_rate: float
    passed: int
    trend_slope: float | None = Field(description="Score points per attempt")
    trend: Literal["improving", "stable", "declining"] | None
    skills: list[SkillAverageResponse]
    best_skills: list[SkillAverageResponse]
    weakest_skills: list[SkillAverageResponse]
    by_course: list[CoursePerformanceResponse]
    recent_attempts: list[AttemptSummaryResponse] = Field(description="Newest first")


# --------------------------------------------------------------------------------------------
# content-effectiveness


class ContentTypeEffectResponse(LearnerModel):
    content_type: str
    seconds_spent: int
    hours_spent: float
    units_started: int
    units_completed: int
    completion_rate: float
    learning_gain: float | None = Field(description="Mean skill score change after the content")
    gain_samples: int


class ContentEffectivenessResponse(LearnerHeader):
    model_config = _config(
        {
            **_HEADER_EXAMPLE,
            "start": "2026-10-29",
            "end": "2026-11-27",
            "contentTypes": [
                {
                    "contentType": "exercise",
                    "secondsSpent": 5400,
                    "hoursSpent": 1.5,
                    "unitsStarted": 4,
                    "unitsCompleted": 3,
                    "completionRate": 75.0,
                    "learningGain": 6.5,
                    "gainSamples": 3,
                }
            ],
            "ranking": ["exercise"],
        }
    )

    start: date
    end: date
    content_types: list[ContentTypeEffectResponse] = Field(description="In ranking order")
    ranking: list[str] = Field(description="What works for you, best first")
