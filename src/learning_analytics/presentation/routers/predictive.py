"""Predictive analytics endpoints (SPEC §7, §10 Predictive).

`GET /api/v1/analytics/predictive/{drop-off-risk,forecast,recommendations}/{userId}`
(subject-viewers): subject-viewer check -> the serving pipeline; on a miss, before computing, one
hit on the predictive limit of the caller (SPEC §8.4: 10 computations/hour; answers from the
cache count only against the standard limit) -> the `Predictive` use case -> envelope with
`meta.generatedBy` and `meta.modelVersion`. The model version is part of the cache key, so a
newly installed model never serves answers of the previous one. Recommendations may be phrased
by Gemini (application/phrasing.py): their `meta.generatedBy` is read from the answer itself
(`gemini` or `rules`), cached or not, and whether phrasing is on is part of their cache key.

`GET /api/v1/analytics/predictive/model` (org admin, platform admin): the model card.
`POST /api/v1/analytics/predictive/feedback` (subject-viewers of the body's `userId`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from asgi_correlation_id import correlation_id
from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import Response

from learning_analytics.application.predictive import (
    RULES_VERSION,
    PredictionFeedback,
    Predictive,
    PredictiveAnswer,
)
from learning_analytics.application.serving import CacheKey, Computed
from learning_analytics.domain.policy import can_view_model_card
from learning_analytics.presentation.predictive_schemas import (
    DropOffRiskResponse,
    FeedbackRequest,
    FeedbackResponse,
    ForecastResponse,
    ModelCardResponse,
    RecommendationsResponse,
)
from learning_analytics.presentation.responses import (
    analytics_response,
    json_envelope,
    render_data,
    wants_refresh,
)
from learning_analytics.presentation.schemas import PROBLEMS, Envelope, Problem
from learning_analytics.presentation.security import (
    CurrentUser,
    LearnerAccess,
    ViewableLearner,
    deny,
    enforce_rate_limit,
    learner_access,
    services_of,
)
from learning_analytics.presentation.state import Services

router = APIRouter(prefix="/api/v1/analytics/predictive", tags=["predictive analytics"])


def predictive_use_case(services: Services) -> Predictive:
    return Predictive(
        scorer=services.predictive_scorer,
        histories=services.histories,
        users=services.users,
        activity=services.activity,
        refresh=services.refresh,
        clock=services.clock,
        freshness_budget=timedelta(seconds=services.settings.freshness_budget_seconds),
        phraser=services.recommendation_phraser,
    )


def _header(answer: PredictiveAnswer[Any], user_id: str) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "timezone": answer.timezone,
        "as_of": answer.as_of,
        "generated_by": answer.generated_by,
        "model_version": answer.model_version,
    }


def render_drop_off(answer: PredictiveAnswer[Any], user_id: str) -> BaseModel:
    return DropOffRiskResponse.model_validate({**_header(answer, user_id), **asdict(answer.value)})


def render_forecast(answer: PredictiveAnswer[Any], user_id: str) -> BaseModel:
    return ForecastResponse.model_validate(
        {**_header(answer, user_id), "enrollments": [asdict(f) for f in answer.value]}
    )


def render_recommendations(answer: PredictiveAnswer[Any], user_id: str) -> BaseModel:
    actions = [{"rank": rank, **asdict(a)} for rank, a in enumerate(answer.value, start=1)]
    return RecommendationsResponse.model_validate({**_header(answer, user_id), "actions": actions})


async def serve_prediction(
    request: Request,
    learner: LearnerAccess,
    *,
    name: str,
    run: Callable[[Predictive], Awaitable[PredictiveAnswer[Any]]],
    render: Callable[[PredictiveAnswer[Any], str], BaseModel],
    uses_model: bool,
    phrased: bool = False,
) -> Response:
    services = learner.services
    settings = services.settings
    use_case = predictive_use_case(services)
    scorer = use_case.scorer
    generated_by = scorer.generated_by if uses_model else "rules"
    version = scorer.version if uses_model else RULES_VERSION

    async def compute() -> Computed:
        # Only a computation counts against the predictive limit (SPEC §8.4).
        await enforce_rate_limit(
            request,
            services,
            policy=services.policies.predictive,
            key=f"user:{learner.principal.id}",
        )
        answer = await run(use_case)
        data = render_data(render(answer, learner.user_id))
        return Computed(data=data, data_as_of=answer.data_as_of, data_source=answer.data_source)

    query = {"model": version}
    if phrased:
        query["phrasing"] = "gemini" if services.recommendation_phraser.enabled else "rules"
    key = CacheKey.build(route=f"predictive.{name}", subject=learner.user_id, query=query)
    answer = await services.pipeline.serve(
        key,
        compute,
        force_refresh=wants_refresh(request, learner.principal, learner.user_id),
    )
    services.metrics.cache.labels("predictive", "hit" if answer.hit else "miss").inc()
    if phrased:
        generated_by = json.loads(answer.entry.data)["generatedBy"]
    return analytics_response(
        request,
        answer,
        max_age=settings.http_max_age_predictive,
        stale_while_revalidate=settings.http_stale_while_revalidate,
        extra_meta={"generatedBy": generated_by, "modelVersion": version},
    )


@router.get(
    "/drop-off-risk/{userId}",
    response_model=Envelope[DropOffRiskResponse],
    responses=PROBLEMS,
    summary="Calibrated probability of dropping off, per open enrollment and overall, with "
    "the factors that drive it",
)
async def get_drop_off_risk(request: Request, learner: ViewableLearner) -> Response:
    async def run(use_case: Predictive) -> PredictiveAnswer[Any]:
        return await use_case.drop_off(learner.user_id, request_id=correlation_id.get())

    return await serve_prediction(
        request, learner, name="drop-off-risk", run=run, render=render_drop_off, uses_model=True
    )


@router.get(
    "/forecast/{userId}",
    response_model=Envelope[ForecastResponse],
    responses=PROBLEMS,
    summary="Expected completion date with an 80 % interval, probability of finishing by the "
    "due date and projected final score, per open enrollment",
)
async def get_forecast(request: Request, learner: ViewableLearner) -> Response:
    async def run(use_case: Predictive) -> PredictiveAnswer[Any]:
        return await use_case.forecast(learner.user_id, request_id=correlation_id.get())

    return await serve_prediction(
        request, learner, name="forecast", run=run, render=render_forecast, uses_model=False
    )


@router.get(
    "/recommendations/{userId}",
    response_model=Envelope[RecommendationsResponse],
    responses=PROBLEMS,
    summary="Up to 10 ranked next actions, each with its reason (rules; the reasons phrased "
    "by Gemini when configured)",
)
async def get_recommendations(request: Request, learner: ViewableLearner) -> Response:
    async def run(use_case: Predictive) -> PredictiveAnswer[Any]:
        return await use_case.recommendations(learner.user_id, request_id=correlation_id.get())

    return await serve_prediction(
        request,
        learner,
        name="recommendations",
        run=run,
        render=render_recommendations,
        uses_model=False,
        phrased=True,
    )


@router.get(
    "/model",
    response_model=Envelope[ModelCardResponse],
    responses={status: {"model": Problem} for status in (401, 403, 429)},
    summary="The drop-off model's card and whether it passes the quality gate",
)
async def get_model_card(request: Request, principal: CurrentUser) -> Response:
    services = services_of(request)
    if not can_view_model_card(principal):
        deny(request, services, principal=principal, subject="predictive-model")
    scorer = services.predictive_scorer
    card = scorer.card
    body = ModelCardResponse(
        in_use=scorer.uses_model,
        generated_by=scorer.generated_by,
        min_auc=scorer.min_auc,
        rules_version=RULES_VERSION,
        card=None if card is None else card.to_json(),
    )
    return json_envelope(body, now=services.clock.now())


@router.post(
    "/feedback",
    response_model=Envelope[FeedbackResponse],
    status_code=201,
    responses={status: {"model": Problem} for status in (401, 403, 404, 413, 422, 429)},
    summary="Say whether a prediction was useful, not useful, or wrongly flagged the learner",
)
async def post_feedback(request: Request, caller: CurrentUser, body: FeedbackRequest) -> Response:
    # `caller` authenticates before the body is validated (401 before 422); ownership needs the
    # body's userId, so it is checked here (the standard limit is not counted twice).
    del caller
    learner = await learner_access(request, body.user_id)
    services = learner.services
    now = services.clock.now()
    feedback = PredictionFeedback(
        id=str(uuid.uuid4()),
        user_id=learner.user_id,
        prediction=body.prediction,
        verdict=body.verdict,
        submitted_by=learner.principal.id,
        submitted_at=now,
        enrollment_id=body.enrollment_id,
        model_version=body.model_version,
        probability=body.probability,
    )
    await services.prediction_feedback.add(feedback)
    return json_envelope(
        FeedbackResponse(id=feedback.id, submitted_at=now), status_code=201, now=now
    )
