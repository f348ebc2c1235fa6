"""Organisation analytics (SPEC §7, §10 Organisation).

Who may call: an org admin of `orgId`, a platform admin; `department-analytics` also a manager
of the organisation, who sees only the departments they manage (checked by the security
dependencies before any cache or store access). Filters: `departmentId`, `courseId`, `from`,
`to`, `tz`. `Accept: text/csv` returns the main table. k-anonymous (see the domain module).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

from learning_analytics.application.org_analytics import (
    AnalyticsQuery,
    Answer,
    OrganizationAnalytics,
)
from learning_analytics.presentation.group_serving import (
    CsvTable,
    add_group_route,
    analytics_query,
    cache_key,
    serve_group,
)
from learning_analytics.presentation.org_schemas import (
    DepartmentAnalyticsResponse,
    LearningCultureResponse,
    LearningVelocityResponse,
    StrategicAlignmentResponse,
)
from learning_analytics.presentation.params import FromQuery, ToQuery, TzQuery
from learning_analytics.presentation.security import (
    SUBJECT_ID_PATTERN,
    OrganizationAnalyticsAccess,
    ViewableDepartments,
    ViewableOrganization,
)

router = APIRouter(prefix="/api/v1/analytics/organization", tags=["organization"])

CourseIdQuery = Annotated[
    str | None,
    Query(alias="courseId", pattern=SUBJECT_ID_PATTERN, description="Only this course's activity"),
]

FIGURES = (
    "headcount",
    "activePct",
    "engagement",
    "completionRate",
    "averageScore",
    "averageSkillGap",
    "atRisk",
    "hoursPerLearner",
)
TABLES = {
    "learning-velocity": CsvTable(
        "learning-velocity",
        "weeks",
        (
            "weekStart",
            "activeLearners",
            "unitsCompleted",
            "unitsPerActiveLearner",
            "hoursPerActiveLearner",
        ),
    ),
    "strategic-alignment": CsvTable(
        "strategic-alignment",
        "skills",
        (
            "skillId",
            "weight",
            "targetLevel",
            "suppressed",
            "learnersTargeted",
            "shareAtTarget",
            "averageGap",
            "hours",
            "effortShare",
        ),
    ),
    "department-analytics": CsvTable(
        "department-analytics",
        "departments",
        (
            "departmentId",
            "name",
            "suppressed",
            *(f"figures.{name}" for name in FIGURES),
            *(f"vsOrganization.{name}" for name in FIGURES if name not in ("headcount", "atRisk")),
        ),
    ),
    "learning-culture": CsvTable(
        "learning-culture",
        "departments",
        (
            "departmentId",
            "name",
            "suppressed",
            "index",
            "components.participation",
            "components.consistency",
            "components.depth",
            "components.collaboration",
            "components.growth",
        ),
    ),
}


async def _serve(
    request: Request,
    access: OrganizationAnalyticsAccess,
    *,
    metric: str,
    query: AnalyticsQuery,
    run: Callable[[OrganizationAnalytics], Awaitable[Answer[Any]]],
    model: type[BaseModel],
) -> Response:
    services = access.services
    use_case = OrganizationAnalytics(
        organizations=services.organization_analytics,
        clock=services.clock,
        k=services.settings.k_anonymity,
    )
    return await serve_group(
        request,
        services=services,
        principal=access.principal,
        family="organization",
        key=cache_key(
            f"organization.{metric}", access.organization_id, query, visible=access.departments
        ),
        subject_field="organization_id",
        compute=lambda: run(use_case),
        model=model,
        table=TABLES[metric],
    )


def _query(
    access: OrganizationAnalyticsAccess,
    start: str | None,
    end: str | None,
    tz: str | None,
    course_id: str | None,
) -> AnalyticsQuery:
    return analytics_query(
        start=start, end=end, tz=tz, course_id=course_id, department_id=access.department_id
    )


ENDPOINTS: tuple[tuple[str, type[BaseModel], str, str], ...] = (
    (
        "learning-velocity",
        LearningVelocityResponse,
        "learning_velocity",
        "Weekly units completed and hours per active learner, trend, by department, "
        "active learners (CSV: one row per week)",
    ),
    (
        "strategic-alignment",
        StrategicAlignmentResponse,
        "strategic_alignment",
        "Per strategic skill target: learners targeted, share at target, average gap, "
        "learning effort; the weighted alignment score and its trend (CSV: one row per skill)",
    ),
    (
        "department-analytics",
        DepartmentAnalyticsResponse,
        "department_analytics",
        "Per department: headcount, active %, engagement, completion, average score, "
        "skill gap, at-risk count, hours per learner, against the organisation (managers: their "
        "departments only; CSV: one row per department)",
    ),
    (
        "learning-culture",
        LearningCultureResponse,
        "learning_culture",
        "Learning culture index 0-100 from participation, consistency, depth, "
        "collaboration and growth; components, trend, by department (CSV: one row per "
        "department)",
    ),
)
# Managers may ask for these, restricted to the departments they manage (`visible`).
FOR_MANAGERS = frozenset({"department-analytics"})


def _register(metric: str, model: type[BaseModel], method: str, summary: str) -> None:
    """One GET route per metric: the same parameters, the use case's method of that name."""
    managers = metric in FOR_MANAGERS

    async def endpoint(
        request: Request,
        access: ViewableOrganization,
        course_id: CourseIdQuery = None,
        start: FromQuery = None,
        end: ToQuery = None,
        tz: TzQuery = None,
    ) -> Response:
        query = _query(access, start, end, tz, course_id)
        scoped = {"visible": access.departments} if managers else {}
        return await _serve(
            request,
            access,
            metric=metric,
            query=query,
            run=lambda uc: getattr(uc, method)(access.organization_id, query, **scoped),
            model=model,
        )

    if managers:  # the dependency that also admits a manager of the organisation
        endpoint.__annotations__["access"] = ViewableDepartments
    add_group_route(
        router, f"/{metric}/{{orgId}}", endpoint, name=f"get_{method}", model=model, summary=summary
    )


for _metric, _model, _method, _summary in ENDPOINTS:
    _register(_metric, _model, _method, _summary)
