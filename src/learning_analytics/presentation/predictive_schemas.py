"""Request and response models of the predictive analytics (SPEC §10 Predictive), camelCase.

Field names follow `application/predictive.py` and `domain/predictive/*`; docs/metrics.md
("Predictive") defines every number.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from learning_analytics.presentation.security import SUBJECT_ID_PATTERN


def _config(example: dict[str, Any] | None = None) -> ConfigDict:
    return ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        from_attributes=True,
        json_schema_extra={"example": example} if example else None,
    )


class PredictiveModel(BaseModel):
    model_config = _config()


class PredictiveHeader(PredictiveModel):
    user_id: str
    timezone: str = Field(description="IANA zone the learner's dates are shown in")
    as_of: datetime = Field(description="The instant the prediction is for")
    generated_by: Literal["model", "rules", "gemini"] = Field(
        description="model: the trained model passed the quality gate; rules: the documented "
        "rule-based score (docs/metrics.md); gemini (recommendations only): the rules' actions "
        "with their reasons phrased by Gemini"
    )
    model_version: str


class FactorResponse(PredictiveModel):
    feature: str
    value: float = Field(description="The learner's value")
    median: float = Field(
        description="Median of the reference cohort (the model's training snapshots)"
    )
    direction: Literal["raises_risk", "lowers_risk"]
    impact: float = Field(description="Probability points this factor accounts for")


class EnrollmentRiskResponse(PredictiveModel):
    enrollment_id: str
    course_id: str
    probability: float = Field(ge=0, le=1)
    level: Literal["low", "medium", "high", "critical"]
    factors: list[FactorResponse]


class DropOffRiskResponse(PredictiveHeader):
    model_config = _config(
        {
            "userId": "u-000001",
            "timezone": "Europe/Berlin",
            "asOf": "2026-11-27T10:00:00Z",
            "generatedBy": "model",
            "modelVersion": "gbm-20261127090000",
            "probability": 0.62,
            "level": "high",
            "enrollments": [
                {
                    "enrollmentId": "e-0000042",
                    "courseId": "c-007",
                    "probability": 0.62,
                    "level": "high",
                    "factors": [
                        {
                            "feature": "days_since_last_activity",
                            "value": 12.5,
                            "median": 1.2,
                            "direction": "raises_risk",
                            "impact": 0.31,
                        }
                    ],
                }
            ],
        }
    )
    probability: float = Field(ge=0, le=1, description="Highest risk among open enrollments")
    level: Literal["low", "medium", "high", "critical"]
    enrollments: list[EnrollmentRiskResponse]


class EnrollmentForecastResponse(PredictiveModel):
    enrollment_id: str
    course_id: str
    units_total: int
    units_done: int
    units_remaining: int
    weekly_counts: list[int] = Field(description="Units completed per week, oldest first")
    pace_basis: Literal["enrollment", "learner"] = Field(
        description="enrollment: this course's weeks; learner: all courses (enrollment under "
        "2 weeks old)"
    )
    pace_per_week: float | None
    expected_completion: datetime | None
    interval_low: datetime | None = Field(description="10th percentile of completion")
    interval_high: datetime | None = Field(
        description="90th percentile of completion; null: open-ended"
    )
    due_at: datetime | None
    probability_by_due: float | None
    projected_score: float | None
    reason: str | None = Field(description="Why this enrollment has no forecast")


class ForecastResponse(PredictiveHeader):
    enrollments: list[EnrollmentForecastResponse]


class ActionResponse(PredictiveModel):
    rank: int
    kind: Literal[
        "re_engage",
        "retake_assessment",
        "continue_course",
        "study_skill",
        "practice_devlab",
        "ask_assistant",
    ]
    priority: float
    reason: str
    course_id: str | None
    unit_id: str | None
    unit_title: str | None
    skill_id: str | None
    assessment_id: str | None


class RecommendationsResponse(PredictiveHeader):
    actions: list[ActionResponse] = Field(max_length=10)


class ModelCardResponse(PredictiveModel):
    """The card as stored with the artifact, and whether it passes this service's gate."""

    in_use: bool = Field(description="True: the model answers; false: the rules do")
    generated_by: Literal["model", "rules"]
    min_auc: float = Field(description="The quality gate (PREDICTIVE_MIN_AUC)")
    rules_version: str
    card: dict[str, Any] | None = Field(
        description="AUC, PR-AUC, Brier score, calibration table, per-week AUC, features, data "
        "window and training size; null when no model is installed"
    )


class FeedbackRequest(PredictiveModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid"
    )

    user_id: str = Field(pattern=SUBJECT_ID_PATTERN, description="The learner it was about")
    prediction: Literal["drop-off-risk", "forecast", "recommendations"]
    verdict: Literal["useful", "not_useful", "wrongly_flagged"]
    enrollment_id: str | None = Field(default=None, pattern=SUBJECT_ID_PATTERN)
    model_version: str | None = Field(default=None, max_length=64)
    probability: float | None = Field(default=None, ge=0, le=1)


class FeedbackResponse(PredictiveModel):
    id: str
    submitted_at: datetime
