"""Response and request models of the gamification endpoints (SPEC §11), camelCase on the wire.

`docs/gamification.md` defines the rules, levels and achievements behind every number.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


def _config(example: dict[str, Any] | None = None, *, forbid: bool = False) -> ConfigDict:
    return ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        extra="forbid" if forbid else "ignore",
        json_schema_extra={"example": example} if example else None,
    )


class LevelResponse(BaseModel):
    model_config = _config()

    number: int = Field(description="1 for the first level")
    name: str
    min_points: int = Field(description="All-time points where this level starts")
    next_level_points: int | None = Field(description="Where the next level starts (None: top)")
    points_to_next: int
    progress: float = Field(description="0-1 through this level toward the next")


class RankResponse(BaseModel):
    model_config = _config()

    rank: int | None = Field(description="Competition rank (ties share a rank) by all-time points")
    participants: int = Field(description="Members of the organisation with points")


class StatsResponse(BaseModel):
    model_config = _config(
        {
            "userId": "u-000001",
            "timezone": "Europe/Berlin",
            "totalPoints": 1240,
            "weekPoints": 85,
            "monthPoints": 310,
            "level": {
                "number": 5,
                "name": "Achiever",
                "minPoints": 1000,
                "nextLevelPoints": 1600,
                "pointsToNext": 360,
                "progress": 0.4,
            },
            "organizationRank": {"rank": 12, "participants": 180},
            "badges": 6,
            "currentStreak": 4,
        }
    )

    user_id: str
    timezone: str = Field(description="The organisation's zone: where weeks and months start")
    total_points: int
    week_points: int = Field(description="Points of the current ISO week (Monday 00:00 local)")
    month_points: int = Field(description="Points of the current calendar month")
    level: LevelResponse
    organization_rank: RankResponse
    badges: int = Field(description="Achievements earned")
    current_streak: int = Field(description="Consecutive active days, in the user's zone")


class AchievementResponse(BaseModel):
    model_config = _config()

    code: str
    name: str
    description: str
    earned: bool
    earned_at: datetime | None
    progress: int = Field(description="The measure so far, capped at the target")
    target: int


class AchievementsResponse(BaseModel):
    model_config = _config(
        {
            "userId": "u-000001",
            "earned": 1,
            "total": 16,
            "achievements": [
                {
                    "code": "streak_7",
                    "name": "Week streak",
                    "description": "Be active 7 days in a row",
                    "earned": True,
                    "earnedAt": "2026-11-02T08:12:00.000Z",
                    "progress": 7,
                    "target": 7,
                },
                {
                    "code": "courses_5",
                    "name": "Course collector",
                    "description": "Complete 5 courses",
                    "earned": False,
                    "earnedAt": None,
                    "progress": 2,
                    "target": 5,
                },
            ],
        }
    )

    user_id: str
    earned: int
    total: int
    achievements: list[AchievementResponse]


class LeaderboardEntryResponse(BaseModel):
    model_config = _config()

    rank: int = Field(description='Competition rank: ties share a rank, the next skips ("1224")')
    user_id: str | None = Field(description="None for a learner who opted out")
    display_name: str = Field(description='"Anonymous learner" for a learner who opted out')
    points: int = Field(description="Points earned in the period")
    is_you: bool


class LeaderboardResponse(BaseModel):
    model_config = _config(
        {
            "scope": "org",
            "organizationId": "org-1",
            "departmentId": None,
            "courseId": None,
            "period": "week",
            "timezone": "Europe/Berlin",
            "periodStart": "2026-11-22T23:00:00.000Z",
            "periodEnd": "2026-11-29T23:00:00.000Z",
            "participants": 143,
            "entries": [
                {
                    "rank": 1,
                    "userId": "u-000017",
                    "displayName": "Ana Lopez",
                    "points": 310,
                    "isYou": False,
                },
                {
                    "rank": 2,
                    "userId": None,
                    "displayName": "Anonymous learner",
                    "points": 280,
                    "isYou": False,
                },
            ],
            "you": {
                "rank": 37,
                "userId": "u-000001",
                "displayName": "Lee One",
                "points": 85,
                "isYou": True,
            },
        }
    )

    scope: Literal["org", "department", "course"]
    organization_id: str
    department_id: str | None
    course_id: str | None
    period: Literal["week", "month", "all"]
    timezone: str = Field(description="The organisation's zone: where the period starts")
    period_start: datetime | None = Field(description="Inclusive; None for all time")
    period_end: datetime | None = Field(description="Exclusive; None for all time")
    participants: int = Field(description="Members of the scope with points in the period")
    entries: list[LeaderboardEntryResponse]
    you: LeaderboardEntryResponse | None = Field(
        description="The caller's own entry, also when outside the top (None: not in the scope)"
    )


class PreferencesRequest(BaseModel):
    model_config = _config({"leaderboardVisible": False}, forbid=True)

    leaderboard_visible: bool = Field(
        description='False: shown to others as "Anonymous learner" on leaderboards'
    )


class PreferencesResponse(BaseModel):
    model_config = _config({"userId": "u-000001", "leaderboardVisible": False})

    user_id: str
    leaderboard_visible: bool
