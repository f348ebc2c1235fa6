"""Gamification use cases (SPEC §11)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from learning_analytics.application.ports import ActivityRepository, Clock, UserProfile
from learning_analytics.domain.metrics.gamification import CALENDAR_DAYS, Streak, compute_streak

# The longest streak is looked for over this much history (a learner's streak rarely spans more).
STREAK_HISTORY = timedelta(days=730)


def resolve_timezone(requested: ZoneInfo | None, profile: UserProfile | None) -> ZoneInfo:
    """The tz of day boundaries: the requested one, else the user's, then the org's, then UTC."""
    if requested is not None:
        return requested
    for name in (profile.timezone, profile.organization_timezone) if profile else ():
        if name:
            try:
                return ZoneInfo(name)
            except (KeyError, ValueError):
                continue
    return ZoneInfo("UTC")


class GetStreak:
    """Current and longest streak, today's status and a 90-day calendar for one learner."""

    def __init__(self, *, activity: ActivityRepository, clock: Clock) -> None:
        self._activity = activity
        self._clock = clock

    async def execute(self, *, user_id: str, tz: ZoneInfo) -> Streak:
        now = self._clock.now()
        times = await self._activity.activity_times(
            user_id, since=now - STREAK_HISTORY, until=now + timedelta(microseconds=1)
        )
        return compute_streak(times, tz=tz, now=now, calendar_days=CALENDAR_DAYS)
