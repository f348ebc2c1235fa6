"""Trainer analytics (SPEC §7, §10 Trainer): the courses a trainer owns.

Who may call: the trainer, an org admin of the trainer's organisation, a platform admin (checked
by `ViewableTrainer` before any cache or store access). Filters: `courseId` (one of the trainer's
courses), `departmentId` (only the learners of that department of the trainer's organisation),
`from`, `to`, `tz`. `Accept: text/csv` returns the main table.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

from learning_analytics.application.org_analytics import AnalyticsQuery, Answer, TrainerAnalytics
from learning_analytics.presentation.group_serving import (
    CsvTable,
    add_group_route,
    analytics_query,
    cache_key,
    serve_group,
)
from learning_analytics.presentation.org_schemas import (
    CourseHealthResponse,
    CoursePerformanceResponse,
    StudentDistributionResponse,
    TeachingEffectivenessResponse,
)
from learning_analytics.presentation.params import FromQuery, ToQuery, TzQuery
from learning_analytics.presentation.security import (
    SUBJECT_ID_PATTERN,
    DepartmentIdQuery,
    TrainerAccess,
    ViewableTrainer,
)

router = APIRouter(prefix="/api/v1/analytics/trainer", tags=["trainer"])

CourseIdQuery = Annotated[
    str | None,
    Query(alias="courseId", pattern=SUBJECT_ID_PATTERN, description="Only this course"),
]

TABLES = {
    "course-performance": CsvTable(
        "course-performance",
        "courses",
        (
            "courseId",
            "title",
            "suppressed",
            "enrolled",
            "active",
            "completionRate",
            "averageProgress",
            "averageScore",
            "passRate",
            "medianDaysToComplete",
        ),
    ),
    "course-health": CsvTable(
        "course-health",
        "courses",
        (
            "courseId",
            "title",
            "suppressed",
            "healthScore",
            "status",
            "components.completion",
            "components.engagement",
            "components.assessment",
            "components.retention",
            "dropOffRate",
            "flags",
        ),
        join_key="kind",
    ),
    "student-distribution": CsvTable(
        "student-distribution",
        "atRisk",
        ("userId", "courseId", "risk", "mainFactor", "inactiveDays"),
    ),
    "teaching-effectiveness": CsvTable(
        "teaching-effectiveness",
        "courses",
        (
            "courseId",
            "title",
            "suppressed",
            "learnersMeasured",
            "averagePre",
            "averagePost",
            "learningGain",
            "completionRate",
            "passRate",
        ),
    ),
}


async def _serve(
    request: Request,
    access: TrainerAccess,
    *,
    metric: str,
    query: AnalyticsQuery,
    run: Callable[[TrainerAnalytics], Awaitable[Answer[Any]]],
    model: type[BaseModel],
) -> Response:
    services = access.services
    use_case = TrainerAnalytics(
        trainers=services.trainer_analytics,
        organizations=services.organization_analytics,
        clock=services.clock,
        k=services.settings.k_anonymity,
    )
    return await serve_group(
        request,
        services=services,
        principal=access.principal,
        family="trainer",
        key=cache_key(f"trainer.{metric}", access.trainer_id, query),
        subject_field="trainer_id",
        compute=lambda: run(use_case),
        model=model,
        table=TABLES[metric],
    )


ENDPOINTS: tuple[tuple[str, type[BaseModel], str, str], ...] = (
    (
        "course-performance",
        CoursePerformanceResponse,
        "course_performance",
        "Per course of the trainer: enrolled, active (14 d), completion rate, average "
        "progress, average score, pass rate, median days to complete (k-anonymous)",
    ),
    (
        "course-health",
        CourseHealthResponse,
        "course_health",
        "Per course: health score 0-100 from completion, engagement, pass rate and "
        "drop-off; the drop-off funnel by unit; flags (stalls, low pass rates, inactivity)",
    ),
    (
        "student-distribution",
        StudentDistributionResponse,
        "student_distribution",
        "The trainer's enrolments by progress band, score band and risk level, and the "
        "at-risk learners with their main factor (CSV: the at-risk list)",
    ),
    (
        "teaching-effectiveness",
        TeachingEffectivenessResponse,
        "teaching_effectiveness",
        "Learning gain (baseline to post-course score) of the trainer's learners, and "
        "completion and pass rates against the organisation's",
    ),
)


def _register(metric: str, model: type[BaseModel], method: str, summary: str) -> None:
    """One GET route per metric: the same parameters, the use case's method of that name."""

    async def endpoint(
        request: Request,
        access: ViewableTrainer,
        course_id: CourseIdQuery = None,
        department_id: DepartmentIdQuery = None,
        start: FromQuery = None,
        end: ToQuery = None,
        tz: TzQuery = None,
    ) -> Response:
        query = analytics_query(
            start=start, end=end, tz=tz, course_id=course_id, department_id=department_id
        )
        return await _serve(
            request,
            access,
            metric=metric,
            query=query,
            run=lambda uc: getattr(uc, method)(access.trainer_id, access.organization_id, query),
            model=model,
        )

    add_group_route(
        router,
        f"/{metric}/{{trainerId}}",
        endpoint,
        name=f"get_{method}",
        model=model,
        summary=summary,
    )


for _metric, _model, _method, _summary in ENDPOINTS:
    _register(_metric, _model, _method, _summary)
