"""The points ledger and leaderboards in SQL (SQLite and PostgreSQL): idempotent awarding, a
replay equal to incremental awarding, the daily cap, and ranked period sums."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from learning_analytics.application.gamification import AwardPoints, GetLeaderboard
from learning_analytics.application.ports import LeaderboardScope
from learning_analytics.domain.gamification.leaderboard import ALL_TIME, PERIODS, period_start_day
from learning_analytics.domain.records import (
    Course,
    Department,
    Enrollment,
    LearningEvent,
    Organization,
    Team,
    User,
)
from learning_analytics.infrastructure.db.gamification import SqlGamificationRepository
from learning_analytics.infrastructure.db.repositories import SqlRecordWriter, SqlUserRepository
from learning_analytics.infrastructure.db.tables import PointsLedgerRow, PointsPeriodRow
from tests.fakes import FakeClock

pytestmark = pytest.mark.anyio

BERLIN = ZoneInfo("Europe/Berlin")
# Monday 2026-11-09 00:01 in Berlin (UTC+1): the week began one minute ago.
MONDAY = datetime(2026, 11, 9, 0, 1, tzinfo=BERLIN)
SUNDAY_LATE = datetime(2026, 11, 8, 23, 59, tzinfo=BERLIN)
Sessions = async_sessionmaker[AsyncSession]


def completed(event_id: str, user: str, at: datetime, course: str = "c-1") -> LearningEvent:
    return LearningEvent(event_id, user, course, None, "completed", at.astimezone(UTC), 60)


async def seed_people(writer: SqlRecordWriter, *, at: datetime) -> None:
    stamp = {"source": "test", "ingested_at": at}
    await writer.upsert_organizations(
        [Organization("org-1", "One", "Europe/Berlin"), Organization("org-2", "Two", "UTC")],
        **stamp,
    )
    await writer.upsert_departments(
        [Department("dep-a", "org-1", "A"), Department("dep-b", "org-1", "B")], **stamp
    )
    await writer.upsert_teams([Team("team-b", "dep-b", "B1")], **stamp)
    users = [
        User("a", "org-1", None, "Ann", "learner", "dep-a"),
        User("b", "org-1", None, "Ben", "learner", "dep-a"),
        User("c", "org-1", None, "Cy", "learner", "dep-b"),
        User("d", "org-1", None, "Di", "learner", None, "team-b"),  # dep-b through the team
        User("e", "org-1", None, "Eve", "learner", "dep-b"),
        User("x", "org-2", None, "Xavi", "learner", "dep-x"),
    ]
    await writer.upsert_users(users, **stamp)
    await writer.upsert_courses([Course("c-1", "org-1", "Python")], **stamp)
    start = MONDAY.astimezone(UTC) - timedelta(days=60)
    await writer.upsert_enrollments(
        [
            Enrollment("e-a", "a", "c-1", start),
            Enrollment("e-c", "c", "c-1", start),
            Enrollment("e-e", "e", "c-1", start, withdrawn_at=start + timedelta(days=1)),
        ],
        **stamp,
    )


async def ledger_rows(sessions: Sessions) -> set[tuple[Any, ...]]:
    async with sessions() as session:
        rows = await session.execute(
            select(
                PointsLedgerRow.user_id,
                PointsLedgerRow.rule,
                PointsLedgerRow.source_event,
                PointsLedgerRow.points,
                PointsLedgerRow.awarded_at,
            )
        )
        return {tuple(row) for row in rows}


async def test_the_same_event_ingested_twice_and_a_full_replay_award_once(
    session_factory: Sessions,
) -> None:
    writer = SqlRecordWriter(session_factory)
    store = SqlGamificationRepository(session_factory)
    award = AwardPoints(store=store)
    first_sync = MONDAY.astimezone(UTC) - timedelta(days=3)
    await seed_people(writer, at=first_sync)
    day = MONDAY - timedelta(days=3)
    batch = [completed(f"ev-{i}", "a", day + timedelta(hours=i)) for i in range(3)]
    await writer.upsert_learning_events(batch, source="test", ingested_at=first_sync)
    assert (await award.since(first_sync)).added == 3

    # The same events again in a later sync (and a new one the day after): only the new one
    # (and its streak day) earns.
    second_sync = first_sync + timedelta(days=1)
    later = [*batch, completed("ev-9", "a", day + timedelta(days=1))]
    await writer.upsert_learning_events(later, source="test", ingested_at=second_sync)
    report = await award.since(second_sync)
    assert report.users == 1
    assert report.added == 2  # lesson ev-9 + streak day
    incremental = await ledger_rows(session_factory)
    assert len(incremental) == 5

    assert (await award.replay()).added == 0  # a replay over a full ledger adds nothing
    async with session_factory.begin() as session:
        await session.execute(delete(PointsLedgerRow))
    assert (await award.replay()).added == 5
    assert await ledger_rows(session_factory) == incremental
    total, _ = await store.points("a", periods=[])
    assert total == 4 * 10 + 5


async def test_farming_500_lessons_in_a_day_awards_at_most_the_cap(
    session_factory: Sessions,
) -> None:
    writer = SqlRecordWriter(session_factory)
    at = MONDAY.astimezone(UTC)
    await seed_people(writer, at=at)
    farm = [completed(f"ev-{i:03}", "b", MONDAY + timedelta(seconds=i)) for i in range(500)]
    await writer.upsert_learning_events(farm, source="test", ingested_at=at)

    await AwardPoints(store=SqlGamificationRepository(session_factory)).replay()

    rows = await ledger_rows(session_factory)
    assert {row[1] for row in rows} == {"lesson_completed"}
    assert sum(row[3] for row in rows) == 200  # cap 20 a day x 10 points


async def award_points(
    writer: SqlRecordWriter, sessions: Sessions, points: dict[str, list[datetime]]
) -> None:
    """Give each user one completed lesson (10 points) per listed instant, then award."""
    events = [
        completed(f"ev-{user}-{i}", user, at)
        for user, moments in points.items()
        for i, at in enumerate(moments)
    ]
    await writer.upsert_learning_events(events, source="test", ingested_at=MONDAY.astimezone(UTC))
    await AwardPoints(store=SqlGamificationRepository(sessions)).replay()


def leaderboard(sessions: Sessions) -> GetLeaderboard:
    return GetLeaderboard(
        store=SqlGamificationRepository(sessions),
        users=SqlUserRepository(sessions),
        clock=FakeClock(MONDAY.astimezone(UTC) + timedelta(hours=1)),
    )


def hours(start: datetime, count: int) -> list[datetime]:
    return [start + timedelta(hours=i) for i in range(count)]


async def test_weekly_board_ranks_with_ties_and_keeps_the_callers_own_rank(
    session_factory: Sessions,
) -> None:
    writer = SqlRecordWriter(session_factory)
    await seed_people(writer, at=MONDAY.astimezone(UTC))
    this_week = MONDAY + timedelta(minutes=1)
    await award_points(
        writer,
        session_factory,
        {
            "a": hours(this_week, 3),  # 30
            "b": hours(this_week, 2),  # 20
            "c": hours(this_week, 2),  # 20 (tie with b)
            "d": hours(this_week, 1),  # 10
            "x": hours(this_week, 9),  # another organisation
            # Sunday 23:59 in Berlin is last week: not on this week's board
            "e": [SUNDAY_LATE - timedelta(minutes=i) for i in range(5)],
        },
    )
    board = await leaderboard(session_factory).execute(
        scope=LeaderboardScope("org-1"), period="week", limit=2, caller_id="d"
    )
    assert board.timezone == "Europe/Berlin"
    assert board.bounds.start == MONDAY.replace(minute=0).astimezone(UTC)
    # ties share a rank and the next rank skips ("1224"); the page is cut at `limit` rows
    assert [(e.rank, e.user_id, e.points) for e in board.entries] == [(1, "a", 30), (2, "b", 20)]
    assert board.participants == 4
    assert board.caller is not None
    assert (board.caller.rank, board.caller.points, board.caller.is_caller) == (4, 10, True)

    everything = await leaderboard(session_factory).execute(
        scope=LeaderboardScope("org-1"), period="all", limit=10, caller_id="a"
    )
    assert [(e.rank, e.user_id) for e in everything.entries] == [
        (1, "e"),
        (2, "a"),
        (3, "b"),
        (3, "c"),
        (5, "d"),
    ]


async def test_opted_out_learners_are_anonymous_except_to_themselves(
    session_factory: Sessions,
) -> None:
    writer = SqlRecordWriter(session_factory)
    await seed_people(writer, at=MONDAY.astimezone(UTC))
    await award_points(writer, session_factory, {"a": hours(MONDAY, 2), "b": hours(MONDAY, 1)})
    store = SqlGamificationRepository(session_factory)
    assert await store.set_leaderboard_visible("a", visible=False)
    assert not await store.set_leaderboard_visible("nobody", visible=False)

    seen_by_b = await leaderboard(session_factory).execute(
        scope=LeaderboardScope("org-1"), period="week", limit=10, caller_id="b"
    )
    assert [(e.rank, e.user_id, e.display_name) for e in seen_by_b.entries] == [
        (1, None, "Anonymous learner"),
        (2, "b", "Ben"),
    ]
    seen_by_a = await leaderboard(session_factory).execute(
        scope=LeaderboardScope("org-1"), period="week", limit=10, caller_id="a"
    )
    assert (seen_by_a.entries[0].user_id, seen_by_a.entries[0].display_name) == ("a", "Ann")


async def test_department_and_course_scopes(session_factory: Sessions) -> None:
    writer = SqlRecordWriter(session_factory)
    await seed_people(writer, at=MONDAY.astimezone(UTC))
    await award_points(
        writer,
        session_factory,
        {
            "a": hours(MONDAY, 1),
            "b": hours(MONDAY, 2),
            "c": hours(MONDAY, 3),
            "d": hours(MONDAY, 4),
            "e": hours(MONDAY, 5),
        },
    )
    board = leaderboard(session_factory)

    dep_b = await board.execute(
        scope=LeaderboardScope("org-1", department_id="dep-b"),
        period="month",
        limit=10,
        caller_id="a",
    )
    # d belongs to dep-b through team-b; a (dep-a) is not in the scope
    assert [e.user_id for e in dep_b.entries] == ["e", "d", "c"]
    assert dep_b.caller is None

    course = await board.execute(
        scope=LeaderboardScope("org-1", course_id="c-1"), period="month", limit=10, caller_id="a"
    )
    # enrolled and not withdrawn: a and c (e withdrew)
    assert [e.user_id for e in course.entries] == ["c", "a"]


async def test_a_member_without_points_ranks_after_everyone_with_points(
    session_factory: Sessions,
) -> None:
    writer = SqlRecordWriter(session_factory)
    await seed_people(writer, at=MONDAY.astimezone(UTC))
    await award_points(writer, session_factory, {"a": hours(MONDAY, 1), "b": hours(MONDAY, 1)})

    board = await leaderboard(session_factory).execute(
        scope=LeaderboardScope("org-1"), period="week", limit=1, caller_id="c"
    )
    assert [(e.rank, e.user_id) for e in board.entries] == [(1, "a")]  # a and b tie; cut at 1
    assert board.caller is not None
    assert (board.caller.rank, board.caller.points, board.caller.display_name) == (3, 0, "Cy")


async def test_period_totals_are_the_ledgers_sums_in_the_organisations_zone(
    session_factory: Sessions,
) -> None:
    writer = SqlRecordWriter(session_factory)
    await seed_people(writer, at=MONDAY.astimezone(UTC))
    store = SqlGamificationRepository(session_factory)
    award = AwardPoints(store=store)
    # Two runs: Sunday 23:59 and Monday 00:01 (Berlin), then more on Monday and a user of org-2.
    await award_points(writer, session_factory, {"a": [SUNDAY_LATE, MONDAY]})
    later = [
        completed("ev-later-a", "a", MONDAY + timedelta(hours=5)),
        completed("ev-later-x", "x", MONDAY + timedelta(hours=1)),
    ]
    await writer.upsert_learning_events(later, source="test", ingested_at=MONDAY.astimezone(UTC))
    await award.since(MONDAY.astimezone(UTC))
    await award.replay()  # nothing new: the totals must not move

    homes = {"a": ("org-1", BERLIN), "x": ("org-2", ZoneInfo("UTC"))}
    expected: dict[tuple[str, str, date, str], int] = {}
    for user, _, _, points, at in await ledger_rows(session_factory):
        organization, zone = homes[user]
        for period in PERIODS:
            key = (organization, period, period_start_day(period, at=at, tz=zone), user)
            expected[key] = expected.get(key, 0) + points
    async with session_factory() as session:
        rows = await session.execute(
            select(
                PointsPeriodRow.organization_id,
                PointsPeriodRow.period,
                PointsPeriodRow.period_start,
                PointsPeriodRow.user_id,
                PointsPeriodRow.points,
            )
        )
        stored = {(o, p, s, u): n for o, p, s, u, n in rows}
    assert stored == expected
    # Sunday 23:59 is in the week of Monday Nov 2; Monday 00:01 opens the week of Nov 9.
    assert stored["org-1", "week", date(2026, 11, 2), "a"] == 10
    assert stored["org-1", "week", date(2026, 11, 9), "a"] == 10 + 10 + 5  # + a streak day
    assert stored["org-1", "all", ALL_TIME, "a"] == 35
    assert stored["org-2", "week", date(2026, 11, 9), "x"] == 10
