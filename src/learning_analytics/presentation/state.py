"""The long-lived things one app instance holds, built once in the lifespan (typed app state)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from learning_analytics.application.gamification import AwardPoints
from learning_analytics.application.integration import HandleInbound
from learning_analytics.application.mastery_params import MasteryParameters
from learning_analytics.application.phrasing import RecommendationPhraser
from learning_analytics.application.ports import (
    ActivityRepository,
    AuthGateway,
    Clock,
    CohortRepository,
    GamificationRepository,
    LearnerHistoryRepository,
    MembershipRepository,
    OrganizationAnalyticsRepository,
    RateLimiter,
    RateLimitPolicy,
    ResponseCache,
    TokenRevocationStore,
    TrainerAnalyticsRepository,
    UserRepository,
)
from learning_analytics.application.predictive import PredictionFeedbackRepository, Scorer
from learning_analytics.application.refresh import RefreshLearner
from learning_analytics.application.serving import ServingPipeline
from learning_analytics.config import Settings
from learning_analytics.infrastructure.auth.revalidation import CoordinatorTokenRevalidator
from learning_analytics.infrastructure.auth.tokens import TokenIssuer, TokenVerifier
from learning_analytics.infrastructure.educore.signing import SignatureVerifier
from learning_analytics.presentation.observability import Metrics


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class RatePolicies:
    standard: RateLimitPolicy
    predictive: RateLimitPolicy
    login_per_email: RateLimitPolicy
    login_per_ip: RateLimitPolicy
    integration: RateLimitPolicy

    @classmethod
    def from_settings(cls, settings: Settings) -> RatePolicies:
        return cls(
            standard=RateLimitPolicy("standard", settings.rate_limit_standard, 60),
            predictive=RateLimitPolicy("predictive", settings.rate_limit_predictive, 3600),
            login_per_email=RateLimitPolicy("login-email", settings.rate_limit_login_per_email, 60),
            login_per_ip=RateLimitPolicy("login-ip", settings.rate_limit_login_per_ip, 60),
            integration=RateLimitPolicy("integration", settings.rate_limit_integration, 60),
        )


@dataclass(slots=True)
class Services:
    settings: Settings
    clock: Clock
    metrics: Metrics
    verifier: TokenVerifier
    issuer: TokenIssuer
    revocations: TokenRevocationStore
    limiter: RateLimiter
    policies: RatePolicies
    cache: ResponseCache
    pipeline: ServingPipeline
    auth_gateway: AuthGateway | None
    membership: MembershipRepository
    users: UserRepository
    activity: ActivityRepository
    ping_database: Callable[[], Awaitable[bool]]
    upstream_states: Callable[[], Mapping[str, str]]
    histories: LearnerHistoryRepository
    refresh: RefreshLearner
    cohorts: CohortRepository
    mastery_params: MasteryParameters
    inbound: HandleInbound
    coordinator_verifier: SignatureVerifier | None
    revalidator: CoordinatorTokenRevalidator | None
    predictive_scorer: Scorer
    recommendation_phraser: RecommendationPhraser
    prediction_feedback: PredictionFeedbackRepository
    trainer_analytics: TrainerAnalyticsRepository
    organization_analytics: OrganizationAnalyticsRepository
    gamification: GamificationRepository
    award_points: AwardPoints
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
