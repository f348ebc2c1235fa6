"""Points rules, caps, levels, achievements and leaderboard periods (SPEC §11)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from learning_analytics.domain.gamification.achievements import evaluate_achievements
from learning_analytics.domain.gamification.events import (
    AttemptFact,
    LearnerEvents,
    Occurrence,
    PracticeFact,
)
from learning_analytics.domain.gamification.leaderboard import (
    ALL_TIME,
    period_bounds,
    period_start_day,
    period_start_days,
)
from learning_analytics.domain.gamification.levels import level_for
from learning_analytics.domain.gamification.rules import (
    Award,
    Rule,
    RuleTable,
    derive_awards,
)

UTC_ZONE = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
TOKYO = ZoneInfo("Asia/Tokyo")
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday


def points_by_rule(awards: list[Award]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for award in awards:
        totals[award.rule] = totals.get(award.rule, 0) + award.points
    return totals


def test_default_rule_table_awards_each_kind_of_event() -> None:
    events = LearnerEvents(
        user_id="u",
        lessons=(Occurrence("ev-1", T0),),
        courses=(Occurrence("c-1", T0),),
        assessments=(
            AttemptFact("a-1", "exam-1", T0, 95.0, passed=True),
            AttemptFact("a-2", "exam-2", T0, 70.0, passed=True),
            AttemptFact("a-3", "exam-3", T0, 30.0, passed=False),
        ),
        skills_at_target=(Occurrence("python", T0),),
        practice=(
            PracticeFact("p-1", T0, completed=True, won=True),
            PracticeFact("p-2", T0, completed=True, won=False),
            PracticeFact("p-3", T0, completed=False, won=False),
        ),
        feedback=(Occurrence("f-1", T0),),
        activity=(T0, T0 + timedelta(days=1)),
    )

    awards = derive_awards(events, rules=RuleTable(), tz=UTC_ZONE)

    assert points_by_rule(awards) == {
        "lesson_completed": 10,
        "course_completed": 100,
        "assessment_passed": 100,  # exam-1 and exam-2: 2 x 50; exam-3 failed
        "assessment_excellent": 25,  # exam-1 at 95 % >= 90 %
        "skill_reached_target": 40,
        "practice_completed": 20,  # p-1 and p-2 completed: 2 x 10
        "practice_won": 20,
        "feedback_given": 5,
        "streak_day": 5,  # the second day continues the first
    }


def test_an_assessment_passed_again_earns_once() -> None:
    retakes = tuple(
        AttemptFact(f"a-{i}", "exam-1", T0 + timedelta(days=i), 80.0, passed=True) for i in range(3)
    )
    awards = derive_awards(LearnerEvents("u", assessments=retakes), rules=RuleTable(), tz=UTC_ZONE)
    assert [(a.rule, a.source_event, a.awarded_at) for a in awards] == [
        ("assessment_passed", "exam-1", T0)
    ]


def test_deriving_again_with_the_ledger_adds_nothing() -> None:
    events = LearnerEvents("u", lessons=tuple(Occurrence(f"ev-{i}", T0) for i in range(5)))
    first = derive_awards(events, rules=RuleTable(), tz=UTC_ZONE)
    assert len(first) == 5
    assert derive_awards(events, rules=RuleTable(), tz=UTC_ZONE, existing=first) == []


def test_farming_500_lessons_in_a_day_awards_at_most_the_cap() -> None:
    lessons = tuple(Occurrence(f"ev-{i:03}", T0 + timedelta(seconds=i)) for i in range(500))
    awards = derive_awards(LearnerEvents("u", lessons=lessons), rules=RuleTable(), tz=UTC_ZONE)
    # default cap 20 lessons a day x 10 points = 200; the earliest 20 are the ones awarded
    assert points_by_rule(awards) == {"lesson_completed": 200}
    assert [a.source_event for a in awards] == [f"ev-{i:03}" for i in range(20)]


def test_the_cap_counts_awards_already_in_the_ledger_and_resets_the_next_local_day() -> None:
    rules = RuleTable([Rule("lesson_completed", 10, 3, "lesson")])
    # Tokyo is UTC+9: 14:30 UTC on Nov 2 is 23:30 on Nov 2 local; 15:30 UTC is Nov 3 00:30.
    day_one = [datetime(2026, 11, 2, 14, m, tzinfo=UTC) for m in range(0, 50, 10)]
    day_two = [datetime(2026, 11, 2, 15, 30, tzinfo=UTC)]
    lessons = tuple(Occurrence(f"ev-{i}", at) for i, at in enumerate(day_one + day_two))
    ledger = [Award("u", "lesson_completed", "ev-0", 10, day_one[0])]

    awards = derive_awards(
        LearnerEvents("u", lessons=lessons), rules=rules, tz=TOKYO, existing=ledger
    )

    # day one: cap 3, 1 already awarded -> 2 more (ev-1, ev-2); day two: ev-5
    assert [a.source_event for a in awards] == ["ev-1", "ev-2", "ev-5"]


def test_streak_days_need_the_previous_local_day_active() -> None:
    # Berlin: 22:30 UTC on Nov 2 is 23:30 Nov 2; 23:30 UTC is 00:30 Nov 3; Nov 5 after a gap.
    activity = (
        datetime(2026, 11, 2, 22, 30, tzinfo=UTC),
        datetime(2026, 11, 2, 23, 30, tzinfo=UTC),
        datetime(2026, 11, 5, 10, 0, tzinfo=UTC),
    )
    events = LearnerEvents("u", activity=activity)
    in_berlin = derive_awards(events, rules=RuleTable(), tz=BERLIN)
    in_utc = derive_awards(events, rules=RuleTable(), tz=UTC_ZONE)
    assert [a.source_event for a in in_berlin] == ["2026-11-03"]
    assert in_utc == []  # both early instants are Nov 2 in UTC: one day, no streak day


def test_rule_overrides_and_unknown_rules() -> None:
    table = RuleTable.with_overrides({"lesson_completed": {"points": 15, "daily_cap": 2}})
    rule = table.get("lesson_completed")
    assert rule is not None
    assert (rule.points, rule.daily_cap) == (15, 2)
    with pytest.raises(ValueError, match="unknown gamification rules"):
        RuleTable.with_overrides({"login": {"points": 1}})


@pytest.mark.parametrize(
    ("points", "number", "name", "to_next", "progress"),
    [
        (0, 1, "Newcomer", 100, 0.0),
        (99, 1, "Newcomer", 1, 0.99),
        (100, 2, "Explorer", 200, 0.0),
        # Achiever starts at 1000, Specialist at 1600: (1240 - 1000) / 600 = 0.4
        (1240, 5, "Achiever", 360, 0.4),
        (9000, 10, "Legend", 0, 1.0),
        (50_000, 10, "Legend", 0, 1.0),
    ],
)
def test_levels(points: int, number: int, name: str, to_next: int, progress: float) -> None:
    level = level_for(points)
    assert (level.number, level.name, level.points_to_next, level.progress) == (
        number,
        name,
        to_next,
        progress,
    )


def test_achievements_earned_with_date_and_progress_for_the_rest() -> None:
    days = [T0 + timedelta(days=i) for i in range(8)]
    events = LearnerEvents(
        "u",
        lessons=tuple(Occurrence(f"ev-{i}", at) for i, at in enumerate(days)),
        assessments=(AttemptFact("a-1", "exam-1", days[2], 100.0, passed=True),),
        # 20 idle days, then back: a comeback
        activity=(*days, days[-1] + timedelta(days=20)),
    )
    now = days[-1] + timedelta(days=30)

    statuses = {
        s.achievement.code: s
        for s in evaluate_achievements(events, awards=[], tz=UTC_ZONE, now=now)
    }

    assert len(statuses) >= 12
    assert statuses["first_lesson"].earned_at == days[0]
    assert statuses["perfect_score"].earned_at == days[2]
    assert statuses["first_pass"].earned_at == days[2]
    assert statuses["streak_7"].earned_at == days[6]  # the 7th consecutive day
    assert statuses["comeback"].earned_at == days[-1] + timedelta(days=20)
    assert statuses["streak_30"].earned_at is None
    assert statuses["streak_30"].progress == 8
    assert statuses["lessons_100"].progress == 8
    assert statuses["first_course"].progress == 0


def test_achievements_ignore_what_happens_after_now() -> None:
    events = LearnerEvents("u", lessons=(Occurrence("ev-1", T0),), activity=(T0,))
    statuses = evaluate_achievements(events, awards=[], tz=UTC_ZONE, now=T0 - timedelta(hours=1))
    assert not any(s.earned for s in statuses)


def test_the_points_achievement_is_earned_when_the_running_total_crosses_1000() -> None:
    awards = [
        Award("u", "course_completed", f"c-{i}", 100, T0 + timedelta(days=i)) for i in range(12)
    ]
    statuses = {
        s.achievement.code: s
        for s in evaluate_achievements(
            LearnerEvents("u"), awards=awards, tz=UTC_ZONE, now=T0 + timedelta(days=30)
        )
    }
    assert statuses["points_1000"].earned_at == T0 + timedelta(days=9)  # the 10th award


def test_week_starts_monday_midnight_in_the_organisations_zone() -> None:
    # Sunday 2026-11-08 23:59 and Monday 2026-11-09 00:01 in Berlin (UTC+1 in November)
    sunday = datetime(2026, 11, 8, 23, 59, tzinfo=BERLIN)
    monday = datetime(2026, 11, 9, 0, 1, tzinfo=BERLIN)
    bounds = period_bounds("week", now=monday, tz=BERLIN)
    assert bounds.start == datetime(2026, 11, 8, 23, 0, tzinfo=UTC)
    assert bounds.end == datetime(2026, 11, 15, 23, 0, tzinfo=UTC)
    assert bounds.start is not None
    assert sunday < bounds.start <= monday


def test_month_and_all_time_bounds() -> None:
    now = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)  # already January 1 in Tokyo
    month = period_bounds("month", now=now, tz=TOKYO)
    assert month.start == datetime(2027, 1, 1, tzinfo=TOKYO)
    assert month.end == datetime(2027, 2, 1, tzinfo=TOKYO)
    everything = period_bounds("all", now=now, tz=TOKYO)
    assert (everything.start, everything.end) == (None, None)


def test_period_start_days_name_the_period_in_the_organisations_zone() -> None:
    sunday_late = datetime(2026, 11, 8, 22, 59, tzinfo=UTC)  # Sunday 23:59 in Berlin
    monday_early = datetime(2026, 11, 8, 23, 1, tzinfo=UTC)  # Monday 00:01 in Berlin
    assert period_start_day("week", at=sunday_late, tz=BERLIN) == date(2026, 11, 2)
    assert period_start_day("week", at=monday_early, tz=BERLIN) == date(2026, 11, 9)
    assert period_start_day("week", at=monday_early, tz=UTC_ZONE) == date(2026, 11, 2)
    assert period_start_day("month", at=monday_early, tz=BERLIN) == date(2026, 11, 1)
    assert period_start_day("all", at=monday_early, tz=BERLIN) == ALL_TIME


def test_every_period_of_an_instant_at_once() -> None:
    monday_early = datetime(2026, 11, 8, 23, 1, tzinfo=UTC)  # Monday 00:01 in Berlin
    assert period_start_days(at=monday_early, tz=BERLIN) == (
        ("week", date(2026, 11, 9)),
        ("month", date(2026, 11, 1)),
        ("all", ALL_TIME),
    )
