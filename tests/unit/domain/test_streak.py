"""Streak: consecutive active days in the user's timezone (SPEC §11)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from learning_analytics.domain.metrics.gamification import compute_streak

UTC_ZONE = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def days_back(now: datetime, *offsets: int, hour: int = 12) -> list[datetime]:
    base = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    return [base - timedelta(days=offset) for offset in offsets]


NOW = at("2026-11-27T18:00:00+00:00")


@pytest.mark.parametrize(
    ("offsets", "current", "longest", "today_done", "at_risk"),
    [
        # no activity at all
        ((), 0, 0, False, False),
        # only today: a streak of 1, done
        ((0,), 1, 1, True, False),
        # today and the 2 days before: 3 in a row
        ((0, 1, 2), 3, 3, True, False),
        # yesterday and the day before, nothing yet today: alive (2) but at risk
        ((1, 2), 2, 2, False, True),
        # last activity 2 days ago: a whole day was missed, the streak is broken
        ((2, 3, 4), 0, 3, False, False),
        # gap day (offset 3 missing) breaks it: current 0..2 = 3, longest 4..9 = 6 kept
        ((0, 1, 2, 4, 5, 6, 7, 8, 9), 3, 6, True, False),
        # several activities on one day count as one day
        ((0, 0, 0, 1), 2, 2, True, False),
    ],
)
def test_streak_table(
    offsets: tuple[int, ...], current: int, longest: int, today_done: bool, at_risk: bool
) -> None:
    streak = compute_streak(days_back(NOW, *offsets), tz=UTC_ZONE, now=NOW)
    assert (streak.current, streak.longest, streak.today_done, streak.at_risk) == (
        current,
        longest,
        today_done,
        at_risk,
    )


def test_midnight_depends_on_the_users_timezone() -> None:
    # 23:30 UTC on the 25th and 00:30 UTC on the 27th.
    activity = [at("2026-11-25T23:30:00+00:00"), at("2026-11-27T00:30:00+00:00")]
    now = at("2026-11-27T01:00:00+00:00")
    # UTC: days 25 and 27 -> the 26th is missing; today (27th) done -> current 1, longest 1
    in_utc = compute_streak(activity, tz=UTC_ZONE, now=now)
    assert (in_utc.current, in_utc.longest) == (1, 1)
    # Tokyo (+9): 26th 08:30 and 27th 09:30 -> consecutive; now is 27th 10:00 -> 2
    in_tokyo = compute_streak(activity, tz=TOKYO, now=now)
    assert (in_tokyo.current, in_tokyo.longest, in_tokyo.today) == (2, 2, date(2026, 11, 27))
    # New York (-5): 25th 18:30 and 26th 19:30 -> consecutive; now is 26th 20:00 -> today done
    in_new_york = compute_streak(activity, tz=NEW_YORK, now=now)
    assert (in_new_york.current, in_new_york.today, in_new_york.today_done) == (
        2,
        date(2026, 11, 26),
        True,
    )


def test_dst_change_does_not_break_the_streak() -> None:
    # Europe/Berlin left summer time on 2026-10-25 (03:00 CEST -> 02:00 CET): that local day has
    # 25 hours. Activity at 23:30 local on the 24th, 25th and 26th stays on three local days.
    activity = [
        at("2026-10-24T23:30:00+02:00"),
        at("2026-10-25T23:30:00+01:00"),
        at("2026-10-26T23:30:00+01:00"),
    ]
    now = at("2026-10-26T23:45:00+01:00")
    streak = compute_streak(activity, tz=BERLIN, now=now)
    assert (streak.current, streak.longest, streak.today_done) == (3, 3, True)


def test_future_activity_is_ignored_and_calendar_covers_90_days() -> None:
    activity = [*days_back(NOW, 0, 1), NOW + timedelta(days=2)]
    streak = compute_streak(activity, tz=UTC_ZONE, now=NOW)
    assert streak.current == 2
    assert streak.last_active_date == date(2026, 11, 27)
    assert len(streak.calendar) == 90
    assert streak.calendar[-1].day == date(2026, 11, 27)
    assert streak.calendar[0].day == date(2026, 8, 30)
    assert [d.activities for d in streak.calendar[-3:]] == [0, 1, 1]
