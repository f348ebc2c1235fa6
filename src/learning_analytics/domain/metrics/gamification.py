"""Gamification metrics (SPEC §11). Pure functions: activity and the clock are passed in."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

CALENDAR_DAYS = 90


@dataclass(frozen=True, slots=True)
class CalendarDay:
    day: date
    activities: int


@dataclass(frozen=True, slots=True)
class Streak:
    current: int
    longest: int
    last_active_date: date | None
    today: date
    today_done: bool
    at_risk: bool
    calendar: tuple[CalendarDay, ...]


def local_activity_days(activity: Iterable[datetime], tz: tzinfo) -> Counter[date]:
    """Activities per local day of `tz` ("active day", SPEC §10)."""
    return Counter(moment.astimezone(tz).date() for moment in activity)


def compute_streak(
    activity: Iterable[datetime],
    *,
    tz: tzinfo,
    now: datetime,
    calendar_days: int = CALENDAR_DAYS,
) -> Streak:
    """Consecutive active days in the user's timezone.

    The current streak counts back from today when today is active, else from yesterday: a
    streak is not broken until a whole local day passes without activity, so before today's
    first activity it is still alive but "at risk". Activity after `now` is ignored.
    """
    today = now.astimezone(tz).date()
    per_day = local_activity_days((m for m in activity if m <= now), tz)
    days = sorted(per_day)

    longest = 0
    run = 0
    previous: date | None = None
    for day in days:
        run = run + 1 if previous is not None and day - previous == timedelta(days=1) else 1
        longest = max(longest, run)
        previous = day

    today_done = today in per_day
    anchor = today if today_done else today - timedelta(days=1)
    current = 0
    while anchor - timedelta(days=current) in per_day:
        current += 1

    first_day = today - timedelta(days=calendar_days - 1)
    calendar = tuple(
        CalendarDay(
            day=first_day + timedelta(days=i),
            activities=per_day.get(first_day + timedelta(days=i), 0),
        )
        for i in range(calendar_days)
    )
    return Streak(
        current=current,
        longest=longest,
        last_active_date=days[-1] if days else None,
        today=today,
        today_done=today_done,
        at_risk=current > 0 and not today_done,
        calendar=calendar,
    )
