"""Learner analytics endpoints (SPEC §7, §10 Learner): six metrics of one learner.

`GET /api/v1/analytics/learner/{metric}/{userId}` with the common query `from`, `to`, `tz`,
`courseId`. Every route runs the same way: subject-viewer check (ViewableLearner) -> query
validation -> the serving pipeline (cache, single-flight, `GetLearnerMetric` on a miss) ->
envelope with ETag and `Cache-Control` of the learner family. Every route is registered with the
cache-hit fast path (FAST_ROUTES) under the same cache key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import timedelta
from functools import partial
from typing import Annotated, Any

from asgi_correlation_id import correlation_id
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from learning_analytics.application.learner import (
    CONTENT_EFFECTIVENESS,
    ENGAGEMENT,
    MASTERY,
    PERFORMANCE,
    SKILL_GAP,
    VELOCITY,
    GetLearnerMetric,
    LearnerAnswer,
    LearnerMetric,
    LearnerQuery,
)
from learning_analytics.application.serving import CacheKey, Computed
from learning_analytics.domain.errors import InvalidInputError
from learning_analytics.presentation.fastpath import CachedLearnerRoute
from learning_analytics.presentation.learner_schemas import (
    ContentEffectivenessResponse,
    EngagementResponse,
    LearnerHeader,
    MasteryResponse,
    PerformanceResponse,
    SkillGapResponse,
    VelocityResponse,
)
from learning_analytics.presentation.params import (
    TZ_MAX_LENGTH,
    FromQuery,
    ToQuery,
    TzQuery,
    parse_timezone,
    parse_window,
    window_cache_query,
)
from learning_analytics.presentation.responses import (
    render_data,
    serve_analytics,
    wants_refresh,
)
from learning_analytics.presentation.schemas import PROBLEMS, Envelope
from learning_analytics.presentation.security import (
    SUBJECT_ID_PATTERN,
    LearnerAccess,
    ViewableLearner,
)

router = APIRouter(prefix="/api/v1/analytics/learner", tags=["learner analytics"])
QUERY_NAMES = frozenset({"from", "to", "tz", "courseId"})
COURSE_ID_MAX_LENGTH = 128
_ID = re.compile(SUBJECT_ID_PATTERN)

CourseIdQuery = Annotated[
    str | None,
    Query(
        alias="courseId",
        max_length=COURSE_ID_MAX_LENGTH,
        description="Only this course: its enrolment, units, events, attempts and questions, "
        "and practice and skill profiles on the skills its units cover",
        examples=["c-101"],
    ),
]


def parse_learner_query(
    *, start: str | None, end: str | None, tz: str | None, course_id: str | None
) -> LearnerQuery:
    """The common learner query; InvalidInputError (422) naming the first bad parameter."""
    first, last = parse_window(start, end)
    if tz is not None and len(tz) > TZ_MAX_LENGTH:
        raise InvalidInputError("tz is too long", details="tz")
    zone = parse_timezone(tz)
    if course_id is not None and not _valid_id(course_id):
        raise InvalidInputError(f"courseId is not a valid id: {course_id!r}", details="courseId")
    return LearnerQuery(start=first, end=last, tz=zone, course_id=course_id)


def _valid_id(value: str) -> bool:
    return _ID.match(value) is not None


async def learner_query(
    start: FromQuery = None,
    end: ToQuery = None,
    tz: TzQuery = None,
    course_id: CourseIdQuery = None,
) -> LearnerQuery:
    return parse_learner_query(start=start, end=end, tz=tz, course_id=course_id)


LearnerQueryDep = Annotated[LearnerQuery, Depends(learner_query)]


@dataclass(frozen=True, slots=True)
class Endpoint:
    metric: LearnerMetric[Any]
    response: type[LearnerHeader]
    summary: str

    @property
    def path(self) -> str:
        return f"/{self.metric.name}/{{userId}}"


ENDPOINTS = {
    endpoint.metric.name: endpoint
    for endpoint in (
        Endpoint(
            VELOCITY,
            VelocityResponse,
            "Learning pace (units/week) against the pace the open enrollments need",
        ),
        Endpoint(
            SKILL_GAP,
            SkillGapResponse,
            "Per skill with a target: current and target level, gap and priority",
        ),
        Endpoint(
            ENGAGEMENT,
            EngagementResponse,
            "Engagement score 0-100 with its components, level and trend",
        ),
        Endpoint(
            MASTERY,
            MasteryResponse,
            "Per skill probability of mastery (Bayesian Knowledge Tracing)",
        ),
        Endpoint(
            PERFORMANCE,
            PerformanceResponse,
            "Assessment scores: average, pass rate, trend, skills, courses, recent attempts",
        ),
        Endpoint(
            CONTENT_EFFECTIVENESS,
            ContentEffectivenessResponse,
            "Per content type: time, completion and learning gain; what works for you",
        ),
    )
}


def learner_cache_key(metric: str, user_id: str, query: LearnerQuery) -> CacheKey:
    return CacheKey.build(
        route=f"learner.{metric}",
        subject=user_id,
        query={
            **window_cache_query(query.start, query.end),
            "tz": query.tz.key if query.tz else "default",
            "courseId": query.course_id,
        },
    )


def learner_fast_key(metric: str, user_id: str, raw: Mapping[str, str]) -> CacheKey | None:
    """The cache key of a request, for the fast path; None for anything not fully understood."""
    if not set(raw) <= QUERY_NAMES:
        return None
    try:
        query = parse_learner_query(
            start=raw.get("from"),
            end=raw.get("to"),
            tz=raw.get("tz"),
            course_id=raw.get("courseId"),
        )
    except InvalidInputError:
        return None
    return learner_cache_key(metric, user_id, query)


FAST_ROUTES = tuple(
    CachedLearnerRoute(
        path=router.prefix + endpoint.path,
        cache_key=partial(learner_fast_key, name),
        max_age=lambda settings: settings.http_max_age_learner,
    )
    for name, endpoint in ENDPOINTS.items()
)


def render(
    endpoint: Endpoint, answer: LearnerAnswer[Any], *, user_id: str, course_id: str | None
) -> bytes:
    value = answer.value
    model = endpoint.response.model_validate(
        {
            "user_id": user_id,
            "timezone": answer.timezone,
            "window": {"from": answer.window.start, "to": answer.window.end},
            "course_id": course_id,
            **{field.name: getattr(value, field.name) for field in fields(value)},
        }
    )
    return render_data(model)


async def serve_metric(
    request: Request, learner: LearnerAccess, query: LearnerQuery, *, metric: str
) -> Response:
    endpoint = ENDPOINTS[metric]
    services = learner.services
    settings = services.settings
    use_case = GetLearnerMetric(
        endpoint.metric,
        histories=services.histories,
        users=services.users,
        activity=services.activity,
        refresh=services.refresh,
        clock=services.clock,
        freshness_budget=timedelta(seconds=settings.freshness_budget_seconds),
        mock_fallback=settings.mock_fallback_enabled,
        mastery_params=services.mastery_params,
    )

    async def compute() -> Computed:
        answer = await use_case.execute(
            user_id=learner.user_id,
            query=query,
            request_id=correlation_id.get(),
            organization_id=learner.facts.organization_id,
        )
        data = render(endpoint, answer, user_id=learner.user_id, course_id=query.course_id)
        return Computed(data=data, data_as_of=answer.data_as_of, data_source=answer.data_source)

    return await serve_analytics(
        request,
        services,
        learner_cache_key(metric, learner.user_id, query),
        compute,
        family="learner",
        max_age=settings.http_max_age_learner,
        force_refresh=wants_refresh(request, learner.principal, learner.user_id),
    )


def _register(endpoint: Endpoint) -> None:
    """One GET route per learner metric: the same parameters, served by `serve_metric`."""
    metric = endpoint.metric.name

    async def get_metric(
        request: Request, learner: ViewableLearner, query: LearnerQueryDep
    ) -> Response:
        return await serve_metric(request, learner, query, metric=metric)

    get_metric.__name__ = get_metric.__qualname__ = f"get_{metric.replace('-', '_')}"
    router.get(
        endpoint.path,
        response_model=Envelope[endpoint.response],  # type: ignore[name-defined]
        responses=PROBLEMS,
        summary=endpoint.summary,
    )(get_metric)


for _endpoint in ENDPOINTS.values():
    _register(_endpoint)
