"""Leaderboard periods and ranking (SPEC §11).

Periods are calendar periods in the organisation's timezone: the ISO week (Monday 00:00 to the
next Monday 00:00) or the calendar month containing `now`; "all" has no bounds. A period is
named by its first local day (`period_start_day`; all time by `ALL_TIME`): the key of the
per-period point totals the leaderboard ranks. Ranking (done in SQL) is competition ranking
("1224"): a learner's rank is 1 + the number of learners with strictly more points.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal

Period = Literal["week", "month", "all"]
PERIODS: tuple[Period, ...] = ("week", "month", "all")
ANONYMOUS = "Anonymous learner"
ALL_TIME = date(1970, 1, 1)  # the one "period start" of all time


@dataclass(frozen=True, slots=True)
class PeriodBounds:
    start: datetime | None  # inclusive, UTC; None for all time
    end: datetime | None  # exclusive, UTC


def _local_midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tz).astimezone(UTC)


def period_bounds(period: Period, *, now: datetime, tz: tzinfo) -> PeriodBounds:
    today = now.astimezone(tz).date()
    if period == "week":
        monday = today - timedelta(days=today.weekday())
        return PeriodBounds(
            _local_midnight(monday, tz), _local_midnight(monday + timedelta(days=7), tz)
        )
    if period == "month":
        first = today.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return PeriodBounds(_local_midnight(first, tz), _local_midnight(following, tz))
    return PeriodBounds(None, None)


def _start_of(period: Period, day: date) -> date:
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return ALL_TIME


def period_start_day(period: Period, *, at: datetime, tz: tzinfo) -> date:
    """The first local day of the period containing `at` (ALL_TIME for all time)."""
    return _start_of(period, at.astimezone(tz).date())


def period_start_days(*, at: datetime, tz: tzinfo) -> tuple[tuple[Period, date], ...]:
    """Every period containing `at`, each with its first local day."""
    day = at.astimezone(tz).date()
    return tuple((period, _start_of(period, day)) for period in PERIODS)
