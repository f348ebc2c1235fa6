"""Gamification endpoints (SPEC §7, §11): stats, achievements, streak, leaderboard, preferences.

Stats, achievements and streak are for the learner's viewers (SPEC §8.3); the leaderboard is
for any member of the organisation (a platform admin names it with `orgId`); the preference is
the caller's own. Everything but the preference goes through the serving pipeline; a ledger
change or a preference change bumps the data version, so cached answers are not served as fresh.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, Query, Request
from starlette.responses import Response

from learning_analytics.application.gamification import (
    GetAchievements,
    GetLeaderboard,
    GetStats,
    GetStreak,
    LeaderboardEntry,
    SetLeaderboardVisibility,
    resolve_timezone,
)
from learning_analytics.application.ports import LeaderboardScope
from learning_analytics.application.serving import CacheKey, Computed
from learning_analytics.domain.errors import InvalidInputError, NotFoundError
from learning_analytics.presentation.fastpath import CachedLearnerRoute
from learning_analytics.presentation.gamification_schemas import (
    AchievementResponse,
    AchievementsResponse,
    LeaderboardEntryResponse,
    LeaderboardResponse,
    LevelResponse,
    PreferencesRequest,
    PreferencesResponse,
    RankResponse,
    StatsResponse,
)
from learning_analytics.presentation.params import TZ_MAX_LENGTH, TzQuery, parse_timezone
from learning_analytics.presentation.responses import (
    json_envelope,
    render_data,
    serve_analytics,
    wants_refresh,
)
from learning_analytics.presentation.schemas import (
    PROBLEMS,
    CalendarDayResponse,
    Envelope,
    Problem,
    StreakResponse,
)
from learning_analytics.presentation.security import (
    SUBJECT_ID_PATTERN,
    CurrentUser,
    LearnerAccess,
    MemberOrganization,
    ViewableLearner,
    services_of,
)

router = APIRouter(prefix="/api/v1/gamification", tags=["gamification"])


def streak_cache_key(user_id: str, tz: ZoneInfo | None) -> CacheKey:
    return CacheKey.build(
        route="gamification.streak", subject=user_id, query={"tz": tz.key if tz else "default"}
    )


def streak_fast_key(user_id: str, query: Mapping[str, str]) -> CacheKey | None:
    """The cache key of a streak request, for the cache-hit fast path (None: let the route
    validate and answer)."""
    if not set(query) <= {"tz"} or len(query.get("tz", "")) > TZ_MAX_LENGTH:
        return None
    try:
        return streak_cache_key(user_id, parse_timezone(query.get("tz")))
    except InvalidInputError:
        return None


def stats_cache_key(user_id: str) -> CacheKey:
    return CacheKey.build(route="gamification.stats", subject=user_id, query={})


def achievements_cache_key(user_id: str) -> CacheKey:
    return CacheKey.build(route="gamification.achievements", subject=user_id, query={})


FastKey = Callable[[str, Mapping[str, str]], CacheKey | None]


def _without_query(build: Callable[[str], CacheKey]) -> FastKey:
    def fast_key(user_id: str, query: Mapping[str, str]) -> CacheKey | None:
        return None if query else build(user_id)

    return fast_key


FAST_ROUTES = (
    CachedLearnerRoute(
        path=router.prefix + "/streak/{userId}",
        cache_key=streak_fast_key,
        max_age=lambda settings: settings.http_max_age_learner,
    ),
    CachedLearnerRoute(
        path=router.prefix + "/stats/{userId}",
        cache_key=_without_query(stats_cache_key),
        max_age=lambda settings: settings.http_max_age_learner,
    ),
    CachedLearnerRoute(
        path=router.prefix + "/achievements/{userId}",
        cache_key=_without_query(achievements_cache_key),
        max_age=lambda settings: settings.http_max_age_learner,
    ),
)


@router.get(
    "/streak/{userId}",
    response_model=Envelope[StreakResponse],
    responses=PROBLEMS,
    summary="Current and longest streak, today's status and a 90-day activity calendar",
)
async def get_streak(
    request: Request,
    learner: ViewableLearner,
    tz: TzQuery = None,
) -> Response:
    services = learner.services
    requested = parse_timezone(tz)
    use_case = GetStreak(activity=services.activity, clock=services.clock)

    async def compute() -> Computed:
        # The default zone (the user's, else the org's) is resolved here, inside the cached
        # computation, so a cache hit costs no profile lookup.
        profile = None if requested else await services.users.get_profile(learner.user_id)
        zone = resolve_timezone(requested, profile)
        streak = await use_case.execute(user_id=learner.user_id, tz=zone)
        data = StreakResponse(
            user_id=learner.user_id,
            timezone=zone.key,
            current=streak.current,
            longest=streak.longest,
            last_active_date=streak.last_active_date,
            today=streak.today,
            today_done=streak.today_done,
            at_risk=streak.at_risk,
            calendar=[
                CalendarDayResponse(date=day.day, activities=day.activities)
                for day in streak.calendar
            ],
        )
        as_of = await services.activity.last_ingested_at(learner.user_id)
        return Computed(data=render_data(data), data_as_of=as_of)

    return await _serve_learner(
        request, learner, streak_cache_key(learner.user_id, requested), compute
    )


async def _serve_learner(
    request: Request,
    learner: LearnerAccess,
    key: CacheKey,
    compute: Callable[[], Awaitable[Computed]],
) -> Response:
    services = learner.services
    return await serve_analytics(
        request,
        services,
        key,
        compute,
        family="learner",
        max_age=services.settings.http_max_age_learner,
        force_refresh=wants_refresh(request, learner.principal, learner.user_id),
    )


@router.get(
    "/stats/{userId}",
    response_model=Envelope[StatsResponse],
    responses=PROBLEMS,
    summary="Points (all-time, this week, this month), level, organisation rank, badges, streak",
)
async def get_stats(request: Request, learner: ViewableLearner) -> Response:
    services = learner.services
    use_case = GetStats(store=services.gamification, users=services.users, clock=services.clock)

    async def compute() -> Computed:
        stats = await use_case.execute(learner.user_id)
        data = StatsResponse(
            user_id=stats.user_id,
            timezone=stats.timezone,
            total_points=stats.total,
            week_points=stats.week,
            month_points=stats.month,
            level=LevelResponse(
                number=stats.level.number,
                name=stats.level.name,
                min_points=stats.level.min_points,
                next_level_points=stats.level.next_level_points,
                points_to_next=stats.level.points_to_next,
                progress=stats.level.progress,
            ),
            organization_rank=RankResponse(
                rank=stats.organization_rank.rank,
                participants=stats.organization_rank.participants,
            ),
            badges=stats.badges,
            current_streak=stats.current_streak,
        )
        as_of = await services.activity.last_ingested_at(learner.user_id)
        return Computed(data=render_data(data), data_as_of=as_of)

    return await _serve_learner(request, learner, stats_cache_key(learner.user_id), compute)


@router.get(
    "/achievements/{userId}",
    response_model=Envelope[AchievementsResponse],
    responses=PROBLEMS,
    summary="The achievement catalogue: earned ones with their date, progress toward the rest",
)
async def get_achievements(request: Request, learner: ViewableLearner) -> Response:
    services = learner.services
    use_case = GetAchievements(store=services.gamification, clock=services.clock)

    async def compute() -> Computed:
        answer = await use_case.execute(learner.user_id)
        items = [
            AchievementResponse(
                code=status.achievement.code,
                name=status.achievement.name,
                description=status.achievement.description,
                earned=status.earned,
                earned_at=status.earned_at,
                progress=status.progress,
                target=status.achievement.target,
            )
            for status in answer.statuses
        ]
        data = AchievementsResponse(
            user_id=answer.user_id,
            earned=sum(1 for item in items if item.earned),
            total=len(items),
            achievements=items,
        )
        as_of = await services.activity.last_ingested_at(learner.user_id)
        return Computed(data=render_data(data), data_as_of=as_of)

    return await _serve_learner(request, learner, achievements_cache_key(learner.user_id), compute)


Scope = Literal["org", "department", "course"]
PeriodName = Literal["week", "month", "all"]


def _entry(entry: LeaderboardEntry) -> LeaderboardEntryResponse:
    return LeaderboardEntryResponse(
        rank=entry.rank,
        user_id=entry.user_id,
        display_name=entry.display_name,
        points=entry.points,
        is_you=entry.is_caller,
    )


@router.get(
    "/leaderboard",
    response_model=Envelope[LeaderboardResponse],
    responses=PROBLEMS,
    summary="Ranked points of the organisation, a department or a course over a week, a month or "
    "all time (periods in the organisation's timezone)",
)
async def get_leaderboard(
    request: Request,
    access: MemberOrganization,
    scope: Annotated[Scope, Query(description="Who competes")] = "org",
    period: Annotated[PeriodName, Query(description="The calendar period ranked")] = "week",
    limit: Annotated[int, Query(ge=1, le=100, description="Entries in the top list")] = 10,
    department_id: Annotated[
        str | None,
        Query(
            alias="departmentId",
            pattern=SUBJECT_ID_PATTERN,
            description="scope=department: the department (default: the caller's own)",
        ),
    ] = None,
    course_id: Annotated[
        str | None,
        Query(alias="courseId", pattern=SUBJECT_ID_PATTERN, description="scope=course: required"),
    ] = None,
) -> Response:
    services = access.services
    store = services.gamification
    organization_id = access.organization_id
    if department_id is not None and scope != "department":
        raise InvalidInputError("departmentId goes with scope=department", details="departmentId")
    if course_id is not None and scope != "course":
        raise InvalidInputError("courseId goes with scope=course", details="courseId")
    if scope == "department":
        if department_id is None:
            profile = await services.users.get_profile(access.principal.id)
            department_id = profile.department_id if profile else None
        if department_id is None:
            raise InvalidInputError(
                "departmentId is required: the caller has no department", details="departmentId"
            )
        if await store.department_organization(department_id) != organization_id:
            raise NotFoundError("No such department in this organisation")
    if scope == "course":
        if course_id is None:
            raise InvalidInputError("courseId is required with scope=course", details="courseId")
        if await store.course_organization(course_id) != organization_id:
            raise NotFoundError("No such course in this organisation")
    board_scope = LeaderboardScope(
        organization_id=organization_id, department_id=department_id, course_id=course_id
    )
    use_case = GetLeaderboard(store=store, users=services.users, clock=services.clock)
    caller_id = access.principal.id

    async def compute() -> Computed:
        board = await use_case.execute(
            scope=board_scope, period=period, limit=limit, caller_id=caller_id
        )
        you = board.caller
        data = LeaderboardResponse(
            scope=scope,
            organization_id=organization_id,
            department_id=department_id,
            course_id=course_id,
            period=period,
            timezone=board.timezone,
            period_start=board.bounds.start,
            period_end=board.bounds.end,
            participants=board.participants,
            entries=[_entry(entry) for entry in board.entries],
            you=_entry(you) if you is not None else None,
        )
        return Computed(data=render_data(data), data_as_of=None)

    # The answer holds the caller's own entry (and their name even when opted out): keyed by
    # the caller as well as by the board.
    key = CacheKey.build(
        route="gamification.leaderboard",
        subject=organization_id,
        query={
            "scope": scope,
            "period": period,
            "limit": limit,
            "departmentId": department_id,
            "courseId": course_id,
            "caller": caller_id,
        },
    )
    return await serve_analytics(
        request,
        services,
        key,
        compute,
        family="learner",
        max_age=services.settings.http_max_age_learner,
    )


@router.put(
    "/preferences",
    response_model=Envelope[PreferencesResponse],
    responses={status: {"model": Problem} for status in (401, 404, 422, 429)},
    summary="The caller's own leaderboard visibility",
)
async def put_preferences(
    request: Request,
    principal: CurrentUser,
    preferences: Annotated[PreferencesRequest, Body()],
) -> Response:
    services = services_of(request)
    await SetLeaderboardVisibility(store=services.gamification, cache=services.cache).execute(
        principal.id, visible=preferences.leaderboard_visible
    )
    data = PreferencesResponse(
        user_id=principal.id, leaderboard_visible=preferences.leaderboard_visible
    )
    return json_envelope(data, now=services.clock.now())
