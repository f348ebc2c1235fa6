"""The API application: `create_app(settings)`; the lifespan builds every long-lived client once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx2
import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from learning_analytics.application.authorization import CachedMembershipRepository
from learning_analytics.application.gamification import AwardPoints
from learning_analytics.application.integration import HandleInbound
from learning_analytics.application.mastery_params import MasteryParameters
from learning_analytics.application.phrasing import RecommendationPhraser, TextGenerator
from learning_analytics.application.ports import AuthGateway, Clock, LeaderLock, ResponseCache
from learning_analytics.application.predictive import Scorer
from learning_analytics.application.refresh import RefreshLearner
from learning_analytics.application.serving import ServingPipeline
from learning_analytics.application.sync import SyncSources, sync_as_leader
from learning_analytics.config import (
    ConfigurationError,
    Settings,
    check_production_safety,
    resolve_signing_secret,
)
from learning_analytics.domain.gamification.rules import RuleTable
from learning_analytics.infrastructure.auth.revalidation import CoordinatorTokenRevalidator
from learning_analytics.infrastructure.auth.revocation import (
    MemoryTokenRevocationStore,
    RedisTokenRevocationStore,
)
from learning_analytics.infrastructure.auth.tokens import TokenIssuer, TokenVerifier
from learning_analytics.infrastructure.cache.memory import MemoryResponseCache
from learning_analytics.infrastructure.cache.redis import RedisResponseCache, create_redis_client
from learning_analytics.infrastructure.db.analytics import SqlAnalyticsRepository
from learning_analytics.infrastructure.db.cohorts import SqlCohortRepository
from learning_analytics.infrastructure.db.engine import create_engine, create_session_factory
from learning_analytics.infrastructure.db.evidence import SqlSkillEvidenceRepository
from learning_analytics.infrastructure.db.gamification import SqlGamificationRepository
from learning_analytics.infrastructure.db.histories import SqlLearnerHistoryRepository
from learning_analytics.infrastructure.db.platform import (
    SqlActivityItemsRepository,
    SqlPlatformRepository,
)
from learning_analytics.infrastructure.db.prediction_feedback import SqlPredictionFeedbackRepository
from learning_analytics.infrastructure.db.repositories import (
    SqlActivityRepository,
    SqlMembershipRepository,
    SqlRecordWriter,
    SqlSyncStateRepository,
    SqlUserRepository,
)
from learning_analytics.infrastructure.educore.signing import EnvelopeSigner
from learning_analytics.infrastructure.llm.gemini import GeminiTextGenerator
from learning_analytics.infrastructure.locks import LocalLeaderLock, RedisLeaderLock
from learning_analytics.infrastructure.predictive.model import load_configured_model
from learning_analytics.infrastructure.ratelimit import LimitsRateLimiter
from learning_analytics.infrastructure.upstreams.auth import HttpAuthGateway
from learning_analytics.presentation.errors import install_error_handlers
from learning_analytics.presentation.fastpath import CacheHitFastPath
from learning_analytics.presentation.grpc_process import ProcessServer
from learning_analytics.presentation.middleware import EdgeMiddleware
from learning_analytics.presentation.observability import (
    Metrics,
    UpstreamMetrics,
    configure_logging,
)
from learning_analytics.presentation.routers import (
    auth,
    comparison,
    gamification,
    health,
    integration,
    learner,
    organization,
    predictive,
    trainer,
)
from learning_analytics.presentation.state import RatePolicies, Services, SystemClock
from learning_analytics.presentation.transport import (
    UpstreamTransport,
    build_transport,
    educore_keys,
)

log = structlog.get_logger("learning_analytics.app")

DESCRIPTION = """
Learning analytics for learners, trainers and organisation admins, computed from the learning
record store fed by the platform's services. Every answer says where its numbers came from
(`meta.dataSource`); every error is an RFC 9457 problem with `error.code`.
"""


def _ping(engine: AsyncEngine) -> Callable[[], Awaitable[bool]]:
    async def ping_database() -> bool:
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            log.warning("database_unreachable", exc_info=True)
            return False
        return True

    return ping_database


def _revalidator(
    settings: Settings, http: httpx2.AsyncClient, signer: EnvelopeSigner | None
) -> CoordinatorTokenRevalidator | None:
    if not (settings.nauth_revalidation and settings.coordinator_url):
        return None
    return CoordinatorTokenRevalidator(
        http,
        coordinator_url=settings.coordinator_url,
        requester_service=settings.educore_service_name,
        path=settings.coordinator_request_path,
        signer=signer,
        timeout_seconds=settings.upstream_timeout_seconds,
    )


def _schedule_sync(
    transport: UpstreamTransport, *, sync: SyncSources, lock: LeaderLock, metrics: Metrics
) -> AsyncIOScheduler | None:
    """Every replica schedules the sync; the leader lock lets one of them run each round."""
    if transport.trigger is None or not sync.sources:
        return None

    async def sync_round() -> None:
        reports = await sync_as_leader(sync, lock=lock, ttl_seconds=transport.lock_seconds)
        for report in reports or ():
            metrics.sync_rows.labels(report.source).inc(report.rows)
            if report.ok:
                metrics.sync_last_success.labels(report.source).set_to_current_time()

    scheduler = AsyncIOScheduler(timezone="UTC")
    first_run = {"next_run_time": transport.first_run} if transport.first_run else {}
    scheduler.add_job(sync_round, transport.trigger, max_instances=1, coalesce=True, **first_run)
    scheduler.start()
    return scheduler


def create_app(
    settings: Settings,
    *,
    auth_gateway: AuthGateway | None = None,
    clock: Clock | None = None,
    signing_secret: str | None = None,
    text_generator: TextGenerator | None = None,
) -> FastAPI:
    """Build the API. Tests pass fakes for the Auth upstream, the clock and the language model
    that phrases recommendations (without one, Gemini when GEMINI_API_KEY is set)."""
    check_production_safety(settings)
    configure_logging(level=settings.log_level, json_logs=settings.log_json)
    secret = signing_secret or resolve_signing_secret(settings)
    metrics = Metrics()
    the_clock: Clock = clock or SystemClock()
    try:
        rules = RuleTable.with_overrides(settings.gamification_rules)
    except ValueError as exc:
        raise ConfigurationError(f"GAMIFICATION_RULES: {exc}") from exc

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        timeout = httpx2.Timeout(settings.upstream_timeout_seconds)
        http = httpx2.AsyncClient(timeout=timeout, limits=httpx2.Limits(max_connections=50))
        engine = create_engine(
            settings.database_url,
            pool_size=settings.database_pool_size,
            connect_args=settings.database_connect_args,
        )
        sessions = create_session_factory(engine)
        redis_client: Redis | None = None
        cache: ResponseCache
        prefix = settings.redis_key_prefix
        if settings.redis_url:
            redis_client = create_redis_client(settings.redis_url)
            cache = RedisResponseCache(redis_client, prefix=prefix)
            revocations: MemoryTokenRevocationStore | RedisTokenRevocationStore = (
                RedisTokenRevocationStore(redis_client, prefix=f"{prefix}revoked:")
            )
        else:
            cache = MemoryResponseCache(settings.cache_max_entries)
            revocations = MemoryTokenRevocationStore()
        limiter = LimitsRateLimiter.from_url(settings.redis_url, key_prefix=f"{prefix}rl")
        transport = build_transport(
            settings, clock=the_clock, observer=UpstreamMetrics(metrics)
        )  # rest or educore (UPSTREAM_TRANSPORT)
        upstreams = transport.registry
        writer = SqlRecordWriter(sessions)
        gamification_store = SqlGamificationRepository(sessions)
        users = SqlUserRepository(sessions)
        signer, verifier = educore_keys(settings)  # the EDUCORE keys, parsed once
        histories = SqlLearnerHistoryRepository(sessions)
        award_points = AwardPoints(
            store=gamification_store,
            rules=rules,
            cache=cache,
        )
        sync = SyncSources(
            sources=transport.sources,
            writer=writer,
            state=SqlSyncStateRepository(sessions),
            clock=the_clock,
            cache=cache,
            concurrency=transport.concurrency,
            after_write=award_points.since,
        )
        lock = (
            RedisLeaderLock(redis_client, prefix=f"{prefix}lock:")
            if redis_client
            else LocalLeaderLock()
        )
        scheduler = _schedule_sync(transport, sync=sync, lock=lock, metrics=metrics)
        gateway = auth_gateway
        if gateway is None and settings.auth_service_url:
            gateway = HttpAuthGateway(
                http, base_url=settings.auth_service_url, service_token=settings.service_token
            )
        analytics = SqlAnalyticsRepository(sessions)
        gemini: GeminiTextGenerator | None = None
        if text_generator is None and settings.gemini_api_key:
            gemini = GeminiTextGenerator(
                api_key=settings.gemini_api_key,
                model=settings.gemini_model,
                timeout_seconds=settings.gemini_timeout_seconds,
            )
        services = Services(
            settings=settings,
            clock=the_clock,
            metrics=metrics,
            verifier=TokenVerifier(
                hs256_secret=secret,
                rs256_public_key_pem=settings.jwt_public_key,
                jwks_url=settings.jwks_url,
                http_client=http,
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                leeway=settings.jwt_leeway_seconds,
                max_token_bytes=settings.max_token_bytes,
                jwks_cache_seconds=settings.jwks_cache_seconds,
            ),
            issuer=TokenIssuer(
                secret,
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                ttl_seconds=settings.access_token_ttl_seconds,
            ),
            revocations=revocations,
            limiter=limiter,
            policies=RatePolicies.from_settings(settings),
            cache=cache,
            pipeline=ServingPipeline(
                cache=cache,
                clock=the_clock,
                ttl_seconds=settings.cache_ttl_seconds,
                stale_seconds=settings.cache_stale_seconds,
            ),
            auth_gateway=gateway,
            membership=CachedMembershipRepository(
                SqlMembershipRepository(sessions),
                ttl_seconds=settings.membership_cache_seconds,
            ),
            users=users,
            activity=SqlActivityRepository(sessions),
            ping_database=_ping(engine),
            upstream_states=upstreams.states,
            histories=histories,
            refresh=RefreshLearner(
                sources=transport.user_sources,
                writer=writer,
                clock=the_clock,
                budget_seconds=settings.refresh_budget_seconds,
                after_write=award_points.for_user,
            ),
            cohorts=SqlCohortRepository(sessions),
            mastery_params=MasteryParameters(
                evidence=SqlSkillEvidenceRepository(sessions),
                clock=the_clock,
                ttl_seconds=settings.bkt_params_cache_seconds,
            ),
            inbound=HandleInbound(
                writer=writer,
                users=users,
                histories=histories,
                platform=SqlPlatformRepository(sessions),
                achievements=gamification_store,
                cache=cache,
                clock=the_clock,
                after_write=award_points.for_users,
                activity_items=SqlActivityItemsRepository(sessions),
                service_name=settings.educore_service_name,
            ),
            revalidator=_revalidator(settings, http, signer),
            coordinator_verifier=verifier,
            predictive_scorer=Scorer(
                model=await asyncio.to_thread(load_configured_model, settings.predictive_model_dir),
                min_auc=settings.predictive_min_auc,
                inactivity_days=settings.predictive_inactivity_days,
            ),
            recommendation_phraser=RecommendationPhraser(
                generator=text_generator or gemini,
                model=settings.gemini_model,
                cache=cache,
                clock=the_clock,
                timeout_seconds=settings.gemini_timeout_seconds,
            ),
            prediction_feedback=SqlPredictionFeedbackRepository(sessions),
            trainer_analytics=analytics,
            organization_analytics=analytics,
            gamification=gamification_store,
            award_points=award_points,
        )
        app.state.services = services
        grpc_server: ProcessServer | None = None
        if settings.grpc_port is not None:
            grpc_server = ProcessServer(services, host=settings.grpc_host, port=settings.grpc_port)
            await grpc_server.start()
            app.state.grpc_port = grpc_server.port
        log.info(
            "predictive",
            model=services.predictive_scorer.card.version
            if services.predictive_scorer.card
            else None,
            generated_by=services.predictive_scorer.generated_by,
            recommendations="gemini" if services.recommendation_phraser.enabled else "rules",
        )
        log.info(
            "started",
            mode=settings.app_env.value,
            database="sqlite" if settings.is_sqlite else "postgresql",
            shared_state="redis" if redis_client else "in-process",
            upstreams=list(upstreams.names),
            transport=transport.name,
            sync_schedule=str(transport.trigger) if scheduler else None,
        )
        try:
            yield
        finally:
            if grpc_server is not None:
                await grpc_server.stop()
            if scheduler is not None:
                scheduler.shutdown(wait=False)
            await upstreams.close()
            if gemini is not None:
                await gemini.close()
            await limiter.close()
            await cache.close()
            await http.aclose()
            if redis_client is not None:
                await redis_client.aclose()
            await engine.dispose()
            log.info("stopped")

    app = FastAPI(
        title="Learning Analytics API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(gamification.router)
    app.include_router(learner.router)
    app.include_router(comparison.router)
    app.include_router(integration.router)
    app.include_router(predictive.router)
    app.include_router(trainer.router)
    app.include_router(organization.router)
    app.add_middleware(
        CacheHitFastPath,
        routes=(*gamification.FAST_ROUTES, *learner.FAST_ROUTES, *comparison.FAST_ROUTES),
    )
    app.add_middleware(EdgeMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(CorrelationIdMiddleware, header_name="X-Request-ID")
    return app
