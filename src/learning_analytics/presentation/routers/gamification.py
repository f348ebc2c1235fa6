"""Gamification endpoints (SPEC §7, §11). This module starts with the streak."""

from __future__ import annotations

from collections.abc import Mapping
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from starlette.responses import Response

from learning_analytics.application.gamification import GetStreak, resolve_timezone
from learning_analytics.application.serving import CacheKey, Computed
from learning_analytics.domain.errors import InvalidInputError
from learning_analytics.presentation.fastpath import CachedLearnerRoute
from learning_analytics.presentation.params import TZ_MAX_LENGTH, TzQuery, parse_timezone
from learning_analytics.presentation.responses import analytics_response, render_data, wants_refresh
from learning_analytics.presentation.schemas import (
    CalendarDayResponse,
    Envelope,
    Problem,
    StreakResponse,
)
from learning_analytics.presentation.security import ViewableLearner

router = APIRouter(prefix="/api/v1/gamification", tags=["gamification"])
PROBLEMS: dict[int | str, dict[str, object]] = {
    status: {"model": Problem} for status in (401, 403, 404, 422, 429)
}


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


FAST_ROUTES = (
    CachedLearnerRoute(
        path=router.prefix + "/streak/{userId}",
        cache_key=streak_fast_key,
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

    key = streak_cache_key(learner.user_id, requested)
    answer = await services.pipeline.serve(
        key, compute, force_refresh=wants_refresh(request, learner.principal, learner.user_id)
    )
    services.metrics.cache.labels(
        "learner", "hit" if answer.data_source == "cached" else "miss"
    ).inc()
    settings = services.settings
    return analytics_response(
        request,
        answer,
        max_age=settings.http_max_age_learner,
        stale_while_revalidate=settings.http_stale_while_revalidate,
    )
