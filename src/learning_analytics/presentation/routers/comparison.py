"""Comparison endpoints (SPEC §7, §10 Comparison): peer comparison and skill demand.

Every figure is k-anonymous (SPEC §8.5): a metric about fewer than k other people is suppressed,
and when nothing is left the answer is 422 INSUFFICIENT_DATA with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, cast

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from learning_analytics.application.comparison import (
    CohortKind,
    GetPeerComparison,
    GetSkillDemand,
    PeerQuery,
)
from learning_analytics.application.learner import LearnerQuery
from learning_analytics.application.serving import CacheKey, Computed
from learning_analytics.domain.errors import InvalidInputError
from learning_analytics.domain.metrics.comparison import DEFAULT_TOP
from learning_analytics.presentation.fastpath import CachedLearnerRoute
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
from learning_analytics.presentation.schemas import (
    PROBLEMS,
    CohortResponse,
    Envelope,
    MetricNoteResponse,
    PeerComparisonResponse,
    PeerMetricResponse,
    SkillDemandItemResponse,
    SkillDemandResponse,
)
from learning_analytics.presentation.security import (
    SUBJECT_ID_PATTERN,
    MemberOrganization,
    ViewableLearner,
)

router = APIRouter(prefix="/api/v1/analytics/comparison", tags=["comparison"])
MAX_TOP = 50
PEER_QUERY_KEYS = frozenset({"cohort", "courseId", "from", "to", "tz"})

CohortQuery = Annotated[
    str,
    Query(
        max_length=16,
        description="Who to compare with: the learner's department, organisation (org), or the "
        "learners of a course (course, with courseId) the learner is enrolled in",
        examples=["department"],
    ),
]
CourseIdQuery = Annotated[
    str | None,
    Query(
        alias="courseId",
        pattern=SUBJECT_ID_PATTERN,
        description="With cohort=course: the course (every metric is then on that course only)",
    ),
]


def peer_query(
    *,
    cohort: str,
    course_id: str | None,
    start: str | None,
    end: str | None,
    tz: str | None,
) -> PeerQuery:
    """The validated query of a peer comparison (InvalidInputError on any bad value)."""
    first, last = parse_window(start, end)
    return PeerQuery(
        cohort=cast(CohortKind, cohort),  # checked by PeerQuery
        course_id=course_id,
        window=LearnerQuery(start=first, end=last, tz=parse_timezone(tz)),
    )


def peer_cache_key(user_id: str, query: PeerQuery) -> CacheKey:
    window = query.window
    return CacheKey.build(
        route="comparison.peer",
        subject=user_id,
        query={
            "cohort": query.cohort,
            "courseId": query.course_id,
            "tz": window.tz.key if window.tz else "default",
            **window_cache_query(window.start, window.end),
        },
    )


def peer_fast_key(user_id: str, query: Mapping[str, str]) -> CacheKey | None:
    """The cache key of a peer request, for the cache-hit fast path (None: let the route
    validate and answer)."""
    if not set(query) <= PEER_QUERY_KEYS or len(query.get("tz", "")) > TZ_MAX_LENGTH:
        return None
    try:
        parsed = peer_query(
            cohort=query.get("cohort", "department"),
            course_id=query.get("courseId"),
            start=query.get("from"),
            end=query.get("to"),
            tz=query.get("tz"),
        )
    except InvalidInputError:
        return None
    return peer_cache_key(user_id, parsed)


FAST_ROUTES = (
    CachedLearnerRoute(
        path=router.prefix + "/peer/{userId}",
        cache_key=peer_fast_key,
        max_age=lambda settings: settings.http_max_age_learner,
    ),
)


@router.get(
    "/peer/{userId}",
    response_model=Envelope[PeerComparisonResponse],
    responses=PROBLEMS,
    summary="The learner's velocity, average score, engagement and mastered skills against "
    "the other learners of a cohort: percentile rank, median and quartiles (k-anonymous)",
)
async def get_peer_comparison(
    request: Request,
    learner: ViewableLearner,
    cohort: CohortQuery = "department",
    course_id: CourseIdQuery = None,
    start: FromQuery = None,
    end: ToQuery = None,
    tz: TzQuery = None,
) -> Response:
    services = learner.services
    query = peer_query(cohort=cohort, course_id=course_id, start=start, end=end, tz=tz)
    use_case = GetPeerComparison(
        cohorts=services.cohorts,
        histories=services.histories,
        users=services.users,
        activity=services.activity,
        clock=services.clock,
        k=services.settings.k_anonymity,
        mastery_params=services.mastery_params,
        ledger=services.gamification,
    )

    async def compute() -> Computed:
        answer = await use_case.execute(learner=learner.facts, query=query)
        comparison = answer.comparison
        data = PeerComparisonResponse(
            user_id=answer.user_id,
            cohort=CohortResponse(type=answer.cohort, id=answer.cohort_id, others=answer.others),
            k=comparison.k,
            start=answer.window.start,
            end=answer.window.end,
            timezone=answer.timezone,
            metrics=[
                PeerMetricResponse(
                    metric=metric.metric,
                    unit=answer.units[metric.metric],
                    value=round(metric.value, 2),
                    percentile_rank=metric.percentile_rank,
                    median=round(metric.median, 2),
                    q1=round(metric.q1, 2),
                    q3=round(metric.q3, 2),
                    cohort_size=metric.cohort_size,
                )
                for metric in comparison.metrics
            ],
            suppressed=[
                MetricNoteResponse(metric=s.metric, reason=s.reason) for s in comparison.suppressed
            ],
            unavailable=[
                MetricNoteResponse(metric=u.metric, reason=u.reason) for u in answer.unavailable
            ],
        )
        return Computed(data=render_data(data), data_as_of=answer.data_as_of)

    return await serve_analytics(
        request,
        services,
        peer_cache_key(learner.user_id, query),
        compute,
        family="learner",
        max_age=services.settings.http_max_age_learner,
        force_refresh=wants_refresh(request, learner.principal, learner.user_id),
    )


@router.get(
    "/skill-demand",
    response_model=Envelope[SkillDemandResponse],
    responses=PROBLEMS,
    summary="Per skill of the caller's organisation: demand (weighted gaps), supply (learners "
    "at target), their ratio and the trend against 30 days ago; top skills by demand",
)
async def get_skill_demand(
    request: Request,
    access: MemberOrganization,
    limit: Annotated[
        int, Query(ge=1, le=MAX_TOP, description="How many skills to return, by demand")
    ] = DEFAULT_TOP,
) -> Response:
    services = access.services
    organization_id = access.organization_id
    use_case = GetSkillDemand(
        cohorts=services.cohorts, clock=services.clock, k=services.settings.k_anonymity
    )

    async def compute() -> Computed:
        answer = await use_case.execute(organization_id=organization_id, top=limit)
        demand = answer.demand
        data = SkillDemandResponse(
            organization_id=answer.organization_id,
            k=demand.k,
            compared_with=answer.compared_with,
            skills=[
                SkillDemandItemResponse(
                    skill_id=item.skill_id,
                    strategic=item.skill_id in answer.strategic_skills,
                    weight=item.weight,
                    demand=item.demand,
                    supply=item.supply,
                    ratio=item.ratio,
                    learners=item.learners,
                    learners_with_gap=item.learners_with_gap,
                    previous_demand=item.previous_demand,
                    change_pct=item.change_pct,
                    trend=item.trend,
                )
                for item in demand.skills
            ],
            skills_ranked=demand.skills_ranked,
            suppressed_skills=len(demand.suppressed),
        )
        return Computed(data=render_data(data), data_as_of=answer.data_as_of)

    # Organisation-scoped: keyed by the organisation, never by the caller.
    key = CacheKey.build(
        route="comparison.skill-demand", subject=organization_id, query={"limit": limit}
    )
    return await serve_analytics(
        request,
        services,
        key,
        compute,
        family="organization",
        max_age=services.settings.http_max_age_organization,
        force_refresh=wants_refresh(request, access.principal, organization_id),
    )
