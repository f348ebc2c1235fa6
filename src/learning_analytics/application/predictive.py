"""Predictive analytics use cases (SPEC §10 Predictive): drop-off risk, forecast, recommendations,
and feedback on them.

On a cache miss the serving pipeline calls one of `Predictive.drop_off`, `.forecast`,
`.recommendations`, which refresh the learner's data within the refresh budget, load the whole
history up to `now` and run the pure functions of `domain/predictive`. Provenance follows the
learner analytics: `realtime` when the refresh reached every upstream or the store is within the
freshness budget, else `stale` with `dataAsOf`. Predictive answers are never mocked: a learner
without an open enrollment gets INSUFFICIENT_DATA.

Which scorer answers (`generated_by`): "model" when a trained model is loaded and its card
passes the quality gate (test AUC >= min_auc), else "rules" (domain/predictive/risk.py).
Recommendations come from the rules; when a `RecommendationPhraser` (application/phrasing.py)
phrases them, their reasons are the phrased texts and `generated_by` is "gemini".
Overall drop-off risk of a learner = the highest risk among their open enrollments.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from typing import Generic, Literal, Protocol, TypeVar

from learning_analytics.application.gamification import resolve_timezone
from learning_analytics.application.learner import LearnerSource
from learning_analytics.application.phrasing import RecommendationPhraser
from learning_analytics.application.ports import (
    ActivityRepository,
    Clock,
    LearnerHistoryRepository,
    UserRepository,
)
from learning_analytics.application.predictive_model import DropOffModel, ModelCard
from learning_analytics.application.refresh import RefreshLearner
from learning_analytics.domain.errors import InsufficientDataError
from learning_analytics.domain.metrics.learner import LearnerHistory
from learning_analytics.domain.predictive.features import (
    EnrollmentFeatures,
    enrollment_features,
    open_enrollments,
)
from learning_analytics.domain.predictive.forecast import EnrollmentForecast, forecast_enrollment
from learning_analytics.domain.predictive.recommendations import Action, recommend
from learning_analytics.domain.predictive.risk import (
    Factor,
    level,
    model_factors,
    rule_factors,
    rule_score,
)

T = TypeVar("T")
GeneratedBy = Literal["model", "rules"]
RULES_VERSION = "rules-v1"
PREDICTION_KINDS = ("drop-off-risk", "forecast", "recommendations")
VERDICTS = ("useful", "not_useful", "wrongly_flagged")


@dataclass(frozen=True, slots=True)
class Scorer:
    """The model in use, chosen once at start-up by the quality gate."""

    model: DropOffModel | None
    min_auc: float
    inactivity_days: int

    @property
    def card(self) -> ModelCard | None:
        return None if self.model is None else self.model.card

    @property
    def uses_model(self) -> bool:
        return self.model is not None and self.model.card.passes(self.min_auc)

    @property
    def generated_by(self) -> GeneratedBy:
        return "model" if self.uses_model else "rules"

    @property
    def version(self) -> str:
        return (
            self.model.card.version if self.model is not None and self.uses_model else RULES_VERSION
        )

    @property
    def medians(self) -> Mapping[str, float]:
        return {} if self.model is None else self.model.card.feature_medians

    def score(self, rows: list[EnrollmentFeatures]) -> list[tuple[float, tuple[Factor, ...]]]:
        if self.model is not None and self.uses_model:
            model = self.model
            probabilities = model.predict([list(row.values) for row in rows])
            return [
                (
                    round(p, 4),
                    model_factors(row, p, medians=self.medians, predict=model.predict),
                )
                for row, p in zip(rows, probabilities, strict=True)
            ]
        return [
            (
                rule_score(row, inactivity_days=self.inactivity_days),
                rule_factors(row, inactivity_days=self.inactivity_days, medians=self.medians),
            )
            for row in rows
        ]


@dataclass(frozen=True, slots=True)
class EnrollmentRisk:
    enrollment_id: str
    course_id: str
    probability: float
    level: str
    factors: tuple[Factor, ...]


@dataclass(frozen=True, slots=True)
class DropOff:
    probability: float
    level: str
    enrollments: tuple[EnrollmentRisk, ...]


@dataclass(frozen=True, slots=True)
class PredictiveAnswer(Generic[T]):
    value: T
    timezone: str
    as_of: datetime
    generated_by: str
    model_version: str
    data_source: LearnerSource
    data_as_of: datetime | None


@dataclass(frozen=True, slots=True)
class _Loaded:
    history: LearnerHistory
    now: datetime
    tz: tzinfo
    tz_name: str
    source: LearnerSource
    data_as_of: datetime | None


class Predictive:
    def __init__(
        self,
        *,
        scorer: Scorer,
        histories: LearnerHistoryRepository,
        users: UserRepository,
        activity: ActivityRepository,
        refresh: RefreshLearner,
        clock: Clock,
        freshness_budget: timedelta,
        phraser: RecommendationPhraser | None = None,
    ) -> None:
        self.scorer = scorer
        self._phraser = phraser
        self._histories = histories
        self._users = users
        self._activity = activity
        self._refresh = refresh
        self._clock = clock
        self._freshness_budget = freshness_budget

    async def _load(self, user_id: str, request_id: str | None) -> _Loaded:
        profile = await self._users.get_profile(user_id)
        tz = resolve_timezone(None, profile)
        report = await self._refresh.execute(user_id, request_id=request_id)
        now = self._clock.now()
        history = await self._histories.history(
            user_id, since=None, until=now + timedelta(microseconds=1)
        )
        as_of = await self._activity.last_ingested_at(user_id)
        fresh = as_of is not None and now - as_of <= self._freshness_budget
        source: LearnerSource = "realtime" if report.complete or fresh else "stale"
        return _Loaded(history, now, tz, tz.key, source, as_of)

    def _features(self, loaded: _Loaded, kind: str) -> list[EnrollmentFeatures]:
        enrollments = open_enrollments(loaded.history, at=loaded.now)
        if not enrollments:
            raise InsufficientDataError(
                f"{kind}: the learner has no open enrollment", details="enrollments"
            )
        return [enrollment_features(loaded.history, e, as_of=loaded.now) for e in enrollments]

    @staticmethod
    def _answer(
        loaded: _Loaded, value: T, *, generated_by: str, model_version: str = RULES_VERSION
    ) -> PredictiveAnswer[T]:
        return PredictiveAnswer(
            value=value,
            timezone=loaded.tz_name,
            as_of=loaded.now,
            generated_by=generated_by,
            model_version=model_version,
            data_source=loaded.source,
            data_as_of=loaded.data_as_of,
        )

    async def drop_off(
        self, user_id: str, *, request_id: str | None = None
    ) -> PredictiveAnswer[DropOff]:
        loaded = await self._load(user_id, request_id)
        rows = self._features(loaded, "drop-off-risk")
        # Off the event loop: a model's predictions take ~10 ms of CPU.
        scored = await asyncio.to_thread(self.scorer.score, rows)
        risks = tuple(
            EnrollmentRisk(row.enrollment_id, row.course_id, p, level(p), factors)
            for row, (p, factors) in zip(rows, scored, strict=True)
        )
        overall = max(r.probability for r in risks)
        value = DropOff(probability=overall, level=level(overall), enrollments=risks)
        return self._answer(
            loaded,
            value,
            generated_by=self.scorer.generated_by,
            model_version=self.scorer.version,
        )

    async def forecast(
        self, user_id: str, *, request_id: str | None = None
    ) -> PredictiveAnswer[tuple[EnrollmentForecast, ...]]:
        loaded = await self._load(user_id, request_id)
        enrollments = open_enrollments(loaded.history, at=loaded.now)
        if not enrollments:
            raise InsufficientDataError("forecast: the learner has no open enrollment")
        forecasts = tuple(
            forecast_enrollment(loaded.history, e, now=loaded.now) for e in enrollments
        )
        if all(f.pace_per_week is None for f in forecasts):
            raise InsufficientDataError(
                "forecast: the learner's weekly pace is unknown",
                details="; ".join(f"{f.course_id}: {f.reason}" for f in forecasts),
            )
        return self._answer(loaded, forecasts, generated_by="rules")

    async def recommendations(
        self, user_id: str, *, request_id: str | None = None
    ) -> PredictiveAnswer[tuple[Action, ...]]:
        loaded = await self._load(user_id, request_id)
        rows = [
            enrollment_features(loaded.history, e, as_of=loaded.now)
            for e in open_enrollments(loaded.history, at=loaded.now)
        ]
        actions = recommend(loaded.history, rows, now=loaded.now, tz=loaded.tz)
        if not actions and loaded.history.is_empty:
            raise InsufficientDataError("recommendations: no data about this learner yet")
        texts = None if self._phraser is None else await self._phraser.phrase(actions)
        if texts is None:
            return self._answer(loaded, actions, generated_by="rules")
        phrased = tuple(
            replace(action, reason=text) for action, text in zip(actions, texts, strict=True)
        )
        return self._answer(loaded, phrased, generated_by="gemini")


# --------------------------------------------------------------------------------------------
# Feedback


@dataclass(frozen=True, slots=True)
class PredictionFeedback:
    id: str
    user_id: str  # the learner the prediction was about
    prediction: str  # a PREDICTION_KINDS value
    verdict: str  # a VERDICTS value
    submitted_by: str
    submitted_at: datetime
    enrollment_id: str | None = None
    model_version: str | None = None
    probability: float | None = None


class PredictionFeedbackRepository(Protocol):
    async def add(self, feedback: PredictionFeedback) -> None: ...
