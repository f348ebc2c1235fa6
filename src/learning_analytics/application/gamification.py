"""Gamification use cases (SPEC §11)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from learning_analytics.application.ports import (
    ActivityRepository,
    Clock,
    GamificationRepository,
    LeaderboardRow,
    LeaderboardScope,
    ResponseCache,
    UserProfile,
    UserRepository,
)
from learning_analytics.application.serving import GLOBAL_SCOPE
from learning_analytics.domain.errors import NotFoundError
from learning_analytics.domain.gamification.achievements import (
    AchievementStatus,
    evaluate_achievements,
)
from learning_analytics.domain.gamification.events import LearnerEvents
from learning_analytics.domain.gamification.leaderboard import (
    ALL_TIME,
    ANONYMOUS,
    Period,
    PeriodBounds,
    period_bounds,
    period_start_day,
)
from learning_analytics.domain.gamification.levels import Level, level_for
from learning_analytics.domain.gamification.rules import Award, RuleTable, derive_awards
from learning_analytics.domain.metrics.gamification import CALENDAR_DAYS, Streak, compute_streak
from learning_analytics.domain.timezones import zone_named

# The longest streak is looked for over this much history (a learner's streak rarely spans more).
STREAK_HISTORY = timedelta(days=730)


def resolve_timezone(requested: ZoneInfo | None, profile: UserProfile | None) -> ZoneInfo:
    """The tz of day boundaries: the requested one, else the user's, then the org's, then UTC."""
    if requested is not None:
        return requested
    names = (profile.timezone, profile.organization_timezone) if profile else ()
    return zone_named(next((name for name in names if zone_named(name).key == name), None))


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


# --------------------------------------------------------------------------------------------
# Points, levels, achievements, leaderboards


@dataclass(frozen=True, slots=True)
class AwardReport:
    users: int
    added: int  # new ledger rows


class AwardPoints:
    """Derive points from the store's events into the append-only ledger (SPEC §11).

    Each learner is evaluated over their whole history, so the ledger depends on the events,
    not on the order or the batches they arrived in; awards already in the ledger are kept and
    never duplicated. After every sync the learners touched by the round are evaluated;
    `replay` evaluates everyone. When awards were added, cached answers are invalidated.
    """

    def __init__(
        self,
        *,
        store: GamificationRepository,
        rules: RuleTable | None = None,
        cache: ResponseCache | None = None,
        batch_size: int = 500,
    ) -> None:
        self._store = store
        self._rules = rules or RuleTable()
        self._cache = cache
        self._batch = batch_size

    async def for_users(self, user_ids: Sequence[str]) -> AwardReport:
        added = 0
        for start in range(0, len(user_ids), self._batch):
            added += await self._award(user_ids[start : start + self._batch])
        await self._invalidate(added)
        return AwardReport(users=len(user_ids), added=added)

    async def for_user(self, user_id: str) -> AwardReport:
        """Evaluate one learner (after an on-demand refresh wrote their rows)."""
        return await self.for_users([user_id])

    async def since(self, moment: datetime) -> AwardReport:
        """Evaluate the learners with rows ingested at or after `moment` (a sync round)."""
        return await self.for_users(await self._store.users_touched_since(moment))

    async def replay(self) -> AwardReport:
        users = added = 0
        after: str | None = None
        while True:
            page = await self._store.user_ids_after(after, limit=self._batch)
            if not page:
                break
            users += len(page)
            added += await self._award(page)
            after = page[-1]
        await self._invalidate(added)
        return AwardReport(users=users, added=added)

    async def _award(self, user_ids: Sequence[str]) -> int:
        events = await self._store.learner_events(user_ids)
        zones = await self._store.timezones(user_ids)
        existing = await self._store.awards(user_ids)
        new: list[Award] = []
        for user_id in user_ids:
            new.extend(
                derive_awards(
                    events.get(user_id, LearnerEvents(user_id)),
                    rules=self._rules,
                    tz=zone_named(zones.get(user_id)),
                    existing=existing.get(user_id, ()),
                )
            )
        return await self._store.append_awards(new)

    async def _invalidate(self, added: int) -> None:
        if added and self._cache is not None:
            await self._cache.bump_data_version(GLOBAL_SCOPE)


@dataclass(frozen=True, slots=True)
class Rank:
    rank: int | None  # None: the user is not in the scope
    participants: int  # users of the scope with points


@dataclass(frozen=True, slots=True)
class Stats:
    user_id: str
    timezone: str  # the organisation's: the zone of the week and month
    total: int
    week: int
    month: int
    level: Level
    organization_rank: Rank
    badges: int
    current_streak: int


@dataclass(frozen=True, slots=True)
class AchievementsAnswer:
    user_id: str
    statuses: tuple[AchievementStatus, ...]


class GetAchievements:
    """The catalogue with each achievement earned (and when) or the progress toward it. Newly
    earned ones are recorded; a recorded achievement keeps its date."""

    def __init__(self, *, store: GamificationRepository, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def execute(self, user_id: str) -> AchievementsAnswer:
        _, statuses = await self.evaluate(user_id)
        return AchievementsAnswer(user_id=user_id, statuses=statuses)

    async def evaluate(self, user_id: str) -> tuple[LearnerEvents, tuple[AchievementStatus, ...]]:
        """The learner's events and the catalogue's statuses (recording new ones)."""
        now = self._clock.now()
        events = (await self._store.learner_events([user_id]))[user_id]
        zone = zone_named((await self._store.timezones([user_id])).get(user_id))
        awards = (await self._store.awards([user_id])).get(user_id, [])
        statuses = evaluate_achievements(events, awards=awards, tz=zone, now=now)
        recorded = await self._store.earned_achievements(user_id)
        fresh = {
            s.achievement.code: s.earned_at
            for s in statuses
            if s.earned_at is not None and s.achievement.code not in recorded
        }
        await self._store.record_achievements(user_id, fresh)
        merged = tuple(
            replace(
                s,
                earned_at=recorded[s.achievement.code],
                progress=s.achievement.target,
            )
            if s.achievement.code in recorded
            else s
            for s in statuses
        )
        return events, merged


class GetStats:
    def __init__(self, *, store: GamificationRepository, users: UserRepository, clock: Clock):
        self._store = store
        self._users = users
        self._clock = clock
        self._achievements = GetAchievements(store=store, clock=clock)

    async def execute(self, user_id: str) -> Stats:
        now = self._clock.now()
        profile = await self._users.get_profile(user_id)
        if profile is None:
            raise NotFoundError("No such learner")
        org_zone = zone_named(profile.organization_timezone)
        week = period_bounds("week", now=now, tz=org_zone)
        month = period_bounds("month", now=now, tz=org_zone)
        total, (this_week, this_month) = await self._store.points(
            user_id,
            periods=[(b.start, b.end) for b in (week, month) if b.start and b.end],
        )
        board = await self._store.leaderboard(
            LeaderboardScope(profile.organization_id),
            period="all",
            period_start=ALL_TIME,
            limit=0,
            caller_id=user_id,
        )
        rank = board.caller.rank if board.caller else board.participants + 1
        events, statuses = await self._achievements.evaluate(user_id)
        streak = compute_streak(
            events.activity, tz=resolve_timezone(None, profile), now=now, calendar_days=1
        )
        return Stats(
            user_id=user_id,
            timezone=org_zone.key,
            total=total,
            week=this_week,
            month=this_month,
            level=level_for(total),
            organization_rank=Rank(rank=rank, participants=board.participants),
            badges=sum(1 for s in statuses if s.earned),
            current_streak=streak.current,
        )


@dataclass(frozen=True, slots=True)
class LeaderboardEntry:
    rank: int
    user_id: str | None  # None for an opted-out user other than the caller
    display_name: str
    points: int
    is_caller: bool


@dataclass(frozen=True, slots=True)
class Leaderboard:
    scope: LeaderboardScope
    period: Period
    timezone: str
    bounds: PeriodBounds
    participants: int
    entries: tuple[LeaderboardEntry, ...]
    caller: LeaderboardEntry | None  # None: the caller is not in the scope


class GetLeaderboard:
    """A ranked page of the scope's points in the period (the organisation's calendar), with
    the caller's own entry even when outside the page; opted-out users are anonymised."""

    def __init__(
        self, *, store: GamificationRepository, users: UserRepository, clock: Clock
    ) -> None:
        self._store = store
        self._users = users
        self._clock = clock

    async def execute(
        self, *, scope: LeaderboardScope, period: Period, limit: int, caller_id: str
    ) -> Leaderboard:
        zone = zone_named(await self._store.organization_timezone(scope.organization_id))
        now = self._clock.now()
        bounds = period_bounds(period, now=now, tz=zone)
        board = await self._store.leaderboard(
            scope,
            period=period,
            period_start=period_start_day(period, at=now, tz=zone),
            limit=limit,
            caller_id=caller_id,
        )

        def entry(row: LeaderboardRow) -> LeaderboardEntry:
            mine = row.user_id == caller_id
            shown = mine or row.visible
            return LeaderboardEntry(
                rank=row.rank,
                user_id=row.user_id if shown else None,
                display_name=(row.display_name or row.user_id) if shown else ANONYMOUS,
                points=row.points,
                is_caller=mine,
            )

        caller: LeaderboardEntry | None = None
        if board.caller is not None:
            caller = entry(board.caller)
        elif await self._store.in_scope(caller_id, scope):
            # No points in the period: ranked after everyone who has some.
            profile = await self._users.get_profile(caller_id)
            caller = LeaderboardEntry(
                rank=board.participants + 1,
                user_id=caller_id,
                display_name=(profile.display_name if profile else None) or caller_id,
                points=0,
                is_caller=True,
            )
        return Leaderboard(
            scope=scope,
            period=period,
            timezone=zone.key,
            bounds=bounds,
            participants=board.participants,
            entries=tuple(entry(row) for row in board.top),
            caller=caller,
        )


class SetLeaderboardVisibility:
    """The caller's own leaderboard preference; cached leaderboards are invalidated."""

    def __init__(self, *, store: GamificationRepository, cache: ResponseCache) -> None:
        self._store = store
        self._cache = cache

    async def execute(self, user_id: str, *, visible: bool) -> None:
        if not await self._store.set_leaderboard_visible(user_id, visible=visible):
            raise NotFoundError("Your profile is not in the learning record store yet")
        await self._cache.bump_data_version(GLOBAL_SCOPE)
