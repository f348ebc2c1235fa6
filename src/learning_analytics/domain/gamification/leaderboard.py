"""Leaderboard periods and ranking (SPEC §11).

Periods are calendar periods in the organisation's timezone: the ISO week (Monday 00:00 to the
next Monday 00:00) or the calendar month containing `now`; "all" has no bounds. Ranking (done
where the points are summed, in SQL) is competition ranking ("1224"): a learner's rank is 1 +
the number of learners with strictly more points.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal

Period = Literal["week", "month", "all"]
ANONYMOUS = "Anonymous learner"


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
