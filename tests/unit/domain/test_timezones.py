"""Local days and a zone's offsets over a span (domain/timezones.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from learning_analytics.domain.timezones import (
    OffsetSegment,
    day_number,
    day_of_number,
    local_day_number,
    offset_segments,
    same_local_days,
    zone_named,
)

BERLIN = ZoneInfo("Europe/Berlin")


def test_day_numbers_count_from_1970() -> None:
    assert day_number(date(1970, 1, 1)) == 0
    assert day_number(date(2026, 11, 27)) == 20784
    assert day_of_number(20784) == date(2026, 11, 27)


def test_local_day_of_an_instant_near_midnight() -> None:
    late = datetime(2026, 10, 24, 22, 30, tzinfo=UTC)  # 00:30 on the 25th in Berlin (CEST)
    assert local_day_number(late, BERLIN) == day_number(date(2026, 10, 25))
    assert local_day_number(late, UTC) == day_number(date(2026, 10, 24))


def test_offsets_over_a_year_change_at_the_exact_transitions() -> None:
    segments = offset_segments(
        BERLIN, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 12, 31, tzinfo=UTC)
    )
    assert segments == [
        OffsetSegment(None, 3600),
        OffsetSegment(datetime(2026, 3, 29, 1, tzinfo=UTC), 7200),
        OffsetSegment(datetime(2026, 10, 25, 1, tzinfo=UTC), 3600),
    ]


def test_offsets_of_a_quiet_span_are_one_segment() -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    assert offset_segments(BERLIN, start, start + timedelta(days=30)) == [OffsetSegment(None, 3600)]
    assert offset_segments(UTC, start, start + timedelta(days=400)) == [OffsetSegment(None, 0)]


def test_unknown_or_missing_zone_names_are_utc() -> None:
    assert zone_named("Europe/Berlin") == BERLIN
    assert zone_named("Mars/Olympus") == ZoneInfo("UTC")
    assert zone_named(None) == ZoneInfo("UTC")


def test_zones_with_the_same_offsets_count_the_same_local_days() -> None:
    year = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    winter = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC))
    assert same_local_days(BERLIN, ZoneInfo("Europe/Paris"), *year)
    assert not same_local_days(BERLIN, ZoneInfo("Europe/London"), *year)
    assert not same_local_days(BERLIN, UTC, *winter)
    # A fixed UTC+1 is Berlin's winter time, not its summer time.
    assert same_local_days(BERLIN, ZoneInfo("Etc/GMT-1"), *winter)
    assert not same_local_days(BERLIN, ZoneInfo("Etc/GMT-1"), *year)
