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
