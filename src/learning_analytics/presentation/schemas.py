"""Request and response models of the public API (camelCase on the wire)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

T = TypeVar("T")


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class Meta(ApiModel):
    calculated_at: datetime | None = None
    data_source: Literal["realtime", "cached", "stale", "mock"] = "realtime"
    cache_expiry: datetime | None = None
    data_as_of: datetime | None = None
    request_id: str | None = None
    generated_by: Literal["model", "rules", "gemini"] | None = Field(
        default=None, description="Predictive answers only: what produced the answer"
    )
    model_version: str | None = Field(default=None, description="Predictive answers only")


class Envelope(ApiModel, Generic[T]):
    success: Literal[True] = True
    data: T
    meta: Meta


class ErrorBody(ApiModel):
    code: str
    message: str
    details: object | None = None


class Problem(ApiModel):
    """RFC 9457 problem details with the seed's members."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    request_id: str | None = None
    success: Literal[False] = False
    error: ErrorBody


# --------------------------------------------------------------------------------------------
# auth


# The problem responses the analytics routes document (RFC 9457 bodies, SPEC §6).
PROBLEMS: dict[int | str, dict[str, object]] = {
    status: {"model": Problem} for status in (401, 403, 404, 422, 429)
}


class LoginRequest(ApiModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    password: str = Field(min_length=1, max_length=256)


class PrincipalResponse(ApiModel):
    id: str
    email: str | None
    display_name: str | None = None
    roles: list[str]
    organization_id: str | None
    department_ids: list[str]
    team_id: str | None = None
    timezone: str | None = None
    profile_source: Literal["store", "token"] = Field(
        description="Where the profile came from: the learning record store (synced from "
        "Directory) or, for users not yet synced, the token's claims."
    )


class LoginResponse(ApiModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 — the scheme name, not a secret
    expires_at: datetime
    expires_in: int
    user: PrincipalResponse


class LogoutResponse(ApiModel):
    revoked: bool


# --------------------------------------------------------------------------------------------
# gamification


class CalendarDayResponse(ApiModel):
    date: date
    activities: int


class StreakResponse(ApiModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        json_schema_extra={
            "example": {
                "userId": "u-000001",
                "timezone": "Europe/Berlin",
                "current": 6,
                "longest": 21,
                "lastActiveDate": "2026-11-26",
                "today": "2026-11-27",
                "todayDone": False,
                "atRisk": True,
                "calendar": [{"date": "2026-08-30", "activities": 3}],
            }
        },
    )

    user_id: str
    timezone: str
    current: int = Field(description="Consecutive active days up to today (or yesterday)")
    longest: int
    last_active_date: date | None
    today: date
    today_done: bool
    at_risk: bool = Field(description="A running streak that ends unless there is activity today")
    calendar: list[CalendarDayResponse] = Field(description="The last 90 local days, oldest first")


# --------------------------------------------------------------------------------------------
# health


class HealthResponse(ApiModel):
    status: Literal["ok"] = "ok"


class CheckResponse(ApiModel):
    ok: bool
    detail: str | None = None


class ReadinessResponse(ApiModel):
    status: Literal["ready", "degraded", "unavailable"]
    checks: dict[str, CheckResponse] | None = Field(
        default=None, description="Per-component results; shown to platform admins only"
    )


# --------------------------------------------------------------------------------------------
# comparison


class PeerMetricResponse(ApiModel):
    metric: Literal["velocity", "averageScore", "engagement", "masteredSkills", "points"]
    unit: str
    value: float = Field(description="The learner's own value")
    percentile_rank: float = Field(
        description="0-100: share of the other people below the learner, ties counted half"
    )
    median: float
    q1: float
    q3: float
    cohort_size: int = Field(description="Other people with a value (at least k)")


class MetricNoteResponse(ApiModel):
    metric: str
    reason: str


class CohortResponse(ApiModel):
    type: Literal["department", "org", "course"]
    id: str
    others: int = Field(description="Learners of the cohort other than the learner")


class PeerComparisonResponse(ApiModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        json_schema_extra={
            "example": {
                "userId": "u-000001",
                "cohort": {"type": "department", "id": "dep-01", "others": 24},
                "k": 5,
                "from": "2026-10-29",
                "to": "2026-11-27",
                "timezone": "Europe/Berlin",
                "metrics": [
                    {
                        "metric": "velocity",
                        "unit": "units/week",
                        "value": 4.5,
                        "percentileRank": 80.0,
                        "median": 3.0,
                        "q1": 2.0,
                        "q3": 4.0,
                        "cohortSize": 22,
                    }
                ],
                "suppressed": [
                    {
                        "metric": "masteredSkills",
                        "reason": "the cohort has fewer than 5 other people with a "
                        "masteredSkills value",
                    }
                ],
                "unavailable": [
                    {
                        "metric": "points",
                        "reason": "points are not compared yet: no points are awarded until "
                        "the gamification ledger exists",
                    }
                ],
            }
        },
    )

    user_id: str
    cohort: CohortResponse
    k: int = Field(description="Minimum number of other people behind any figure")
    start: date = Field(alias="from")
    end: date = Field(alias="to")
    timezone: str
    metrics: list[PeerMetricResponse]
    suppressed: list[MetricNoteResponse] = Field(
        description="Metrics withheld because fewer than k other people have a value"
    )
    unavailable: list[MetricNoteResponse] = Field(
        description="Metrics the learner has no value for (not enough data), or not offered yet"
    )


class SkillDemandItemResponse(ApiModel):
    skill_id: str
    strategic: bool = Field(description="The organisation has a strategic target on the skill")
    weight: float = Field(description="1 + the strategic weight, 1.0 for other skills")
    demand: float = Field(description="Sum over learners below target of gap * weight")
    supply: int = Field(description="Learners at or above their target")
    ratio: float | None = Field(description="demand / supply; null when supply is 0")
    learners: int = Field(description="Learners with a target on the skill (at least k)")
    learners_with_gap: int
    previous_demand: float | None = Field(
        description="Demand 30 days ago; null when unknown or below k then"
    )
    change_pct: float | None
    trend: Literal["rising", "stable", "falling"] | None


class SkillDemandResponse(ApiModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        json_schema_extra={
            "example": {
                "organizationId": "org-01",
                "k": 5,
                "comparedWith": None,
                "skills": [
                    {
                        "skillId": "sql",
                        "strategic": True,
                        "weight": 1.5,
                        "demand": 9.0,
                        "supply": 2,
                        "ratio": 4.5,
                        "learners": 5,
                        "learnersWithGap": 3,
                        "previousDemand": None,
                        "changePct": None,
                        "trend": None,
                    }
                ],
                "skillsRanked": 1,
                "suppressedSkills": 2,
            }
        },
    )

    organization_id: str
    k: int
    compared_with: datetime | None = Field(
        description="The instant the trend compares with; null while the store keeps no skill "
        "profile history (then every trend is null)"
    )
    skills: list[SkillDemandItemResponse] = Field(description="Top skills by demand")
    skills_ranked: int = Field(description="Skills with at least k learners with a target")
    suppressed_skills: int = Field(
        description="Skills withheld: fewer than k learners with a target"
    )
