"""Local calendar days of instants, for a timezone, as plain numbers (no I/O).

A local day is numbered like `date.toordinal()` less that of 1970-01-01, so day 0 is
1970-01-01 and the number of the local date of instant `t` is
`floor((epoch(t) + offset(t)) / 86 400)`, where `offset(t)` is the zone's UTC offset in seconds
at `t`. Over a span of instants a zone has a handful of offsets; `offset_segments` lists them so
that a database can evaluate the same formula with one CASE over the transitions (SQLite has no
time zones; PostgreSQL gets the same expression, so both stores count the same days).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

EPOCH_DAY = date(1970, 1, 1).toordinal()
DAY_SECONDS = 86_400
_STEP = timedelta(hours=6)  # no zone changes its offset twice within six hours


@dataclass(frozen=True, slots=True)
class OffsetSegment:
    """From `since` (inclusive; None = from the beginning of time) the zone is `offset` seconds
    ahead of UTC, until the next segment's `since`."""

    since: datetime | None
    offset: int


def day_number(day: date) -> int:
    return day.toordinal() - EPOCH_DAY


def day_of_number(number: int) -> date:
    return date.fromordinal(number + EPOCH_DAY)


def _offset(tz: tzinfo, instant: datetime) -> int:
    delta = instant.astimezone(tz).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


def local_day_number(instant: datetime, tz: tzinfo) -> int:
    """The number of the local date of `instant` in `tz`."""
    return day_number(instant.astimezone(tz).date())


def _transition(tz: tzinfo, before: datetime, after: datetime) -> datetime:
    """The first instant in (before, after] with the offset of `after` (whole seconds)."""
    target = _offset(tz, after)
    low, high = before, after
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle <= low:
            break
        if _offset(tz, middle) == target:
            high = middle
        else:
            low = middle
    return high


def offset_segments(tz: tzinfo, start: datetime, end: datetime) -> list[OffsetSegment]:
    """The offsets of `tz` over [start, end]: the first segment holds from the beginning of time,
    each later one from its transition instant."""
    start = start.astimezone(UTC)
    end = max(end.astimezone(UTC), start)
    segments = [OffsetSegment(None, _offset(tz, start))]
    previous = start
    while previous < end:
        current = min(previous + _STEP, end)
        offset = _offset(tz, current)
        if offset != segments[-1].offset:
            segments.append(OffsetSegment(_transition(tz, previous, current), offset))
        previous = current
    return segments


def same_local_days(a: tzinfo, b: tzinfo, start: datetime, end: datetime) -> bool:
    """Whether every instant in [start, end] has the same local date in `a` as in `b`: the two
    zones keep the same offsets, with the same transitions, over that span (Paris and Berlin,
    say; not London and Berlin)."""
    return offset_segments(a, start, end) == offset_segments(b, start, end)


def zone_named(name: str | None) -> ZoneInfo:
    """The zone called `name`, UTC when it is missing or unknown."""
    if name:
        try:
            return ZoneInfo(name)
        except (KeyError, ValueError):
            pass
    return ZoneInfo("UTC")
