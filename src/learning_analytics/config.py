"""Configuration from the environment (12-factor), with the ecosystem's variable names.

Two modes: `demo` (the default: embedded SQLite, in-process cache and limits, simulated upstreams,
a generated signing secret) and `production` (refuses to start with a weak or missing
`JWT_SECRET`, or with `MOCK_FALLBACK` left unset).
"""

from __future__ import annotations

import secrets
from enum import StrEnum
from functools import lru_cache
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_BYTES = 32
DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./var/learning_analytics.db"


class AppMode(StrEnum):
    DEMO = "demo"
    PRODUCTION = "production"


class ConfigurationError(RuntimeError):
    """The configuration cannot be used; the message says what to set."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    app_env: AppMode = Field(default=AppMode.DEMO, validation_alias="APP_ENV")
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    log_json: bool = Field(default=True, validation_alias="LOG_JSON")

    database_url: str = Field(default=DEFAULT_SQLITE_URL, validation_alias="DATABASE_URL")
    database_schema: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$",
        validation_alias="DATABASE_SCHEMA",
        description="PostgreSQL schema of the store (default: the server's search_path)",
    )
    database_pool_size: int = Field(default=10, ge=1, validation_alias="DATABASE_POOL_SIZE")
    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    redis_key_prefix: str = Field(
        default="la:",
        pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        validation_alias="REDIS_KEY_PREFIX",
        description="Namespace of every Redis key (cache, rate limits, revoked tokens), so "
        "several deployments (or test runs) can share one Redis",
    )

    # Authentication (SPEC §8.1)
    jwt_secret: str | None = Field(default=None, validation_alias="JWT_SECRET")
    jwt_public_key: str | None = Field(default=None, validation_alias="JWT_PUBLIC_KEY")
    jwks_url: str | None = Field(default=None, validation_alias="JWKS_URL")
    jwks_cache_seconds: int = Field(default=300, ge=1, validation_alias="JWKS_CACHE_SECONDS")
    jwt_issuer: str | None = Field(default=None, validation_alias="JWT_ISSUER")
    jwt_audience: str | None = Field(default=None, validation_alias="JWT_AUDIENCE")
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300, validation_alias="JWT_LEEWAY_SECONDS")
    access_token_ttl_seconds: int = Field(
        default=3600, ge=60, validation_alias="ACCESS_TOKEN_TTL_SECONDS"
    )
    max_token_bytes: int = Field(default=8192, validation_alias="MAX_TOKEN_BYTES")

    # Upstreams (SPEC §2, §5)
    auth_service_url: str | None = Field(default=None, validation_alias="AUTH_SERVICE_URL")
    directory_url: str | None = Field(default=None, validation_alias="DIRECTORY_URL")
    course_builder_url: str | None = Field(default=None, validation_alias="COURSE_BUILDER_URL")
    content_studio_url: str | None = Field(default=None, validation_alias="CONTENT_STUDIO_URL")
    assessment_url: str | None = Field(default=None, validation_alias="ASSESSMENT_URL")
    skills_engine_url: str | None = Field(default=None, validation_alias="SKILLS_ENGINE_URL")
    learner_ai_url: str | None = Field(default=None, validation_alias="LEARNER_AI_URL")
    devlab_url: str | None = Field(default=None, validation_alias="DEVLAB_URL")
    rag_url: str | None = Field(default=None, validation_alias="RAG_URL")
    upstream_transport: str = Field(default="rest", validation_alias="UPSTREAM_TRANSPORT")
    coordinator_url: str | None = Field(default=None, validation_alias="COORDINATOR_URL")
    # EDUCORE (contracts/EDUCORE.md §2.3): our registered name and signing key for envelopes
    # we send; the Coordinator's public key to verify what it sends us (unset: not verified).
    educore_service_name: str = Field(
        default="learning-analytics-service", validation_alias="EDUCORE_SERVICE_NAME"
    )
    educore_private_key: str | None = Field(default=None, validation_alias="EDUCORE_PRIVATE_KEY")
    coordinator_public_key: str | None = Field(
        default=None, validation_alias="COORDINATOR_PUBLIC_KEY"
    )
    # Re-validate expired nAuth tokens through the Coordinator's `/request` (EDUCORE.md §3.10)
    # and return the re-issued token in `X-New-Access-Token`; needs COORDINATOR_URL.
    nauth_revalidation: bool = Field(default=False, validation_alias="NAUTH_REVALIDATION")
    coordinator_request_path: str = Field(
        default="/request", validation_alias="COORDINATOR_REQUEST_PATH"
    )
    # Senders whose unsigned pushes are accepted (marked unverified) even when a Coordinator
    # key is configured: Course Builder's live feedback push carries no signature.
    educore_unsigned_allowlist: str = Field(
        default="LearningAnalytics,course-builder-service",
        validation_alias="EDUCORE_UNSIGNED_ALLOWLIST",
    )
    # Outbound EDUCORE transport (UPSTREAM_TRANSPORT=educore, docs/educore.md)
    educore_sync_cron: str = Field(
        default="0 2 * * *",
        max_length=100,
        validation_alias="EDUCORE_SYNC_CRON",
        description="When the educore transport pulls every sibling (crontab, UTC; empty: never)",
    )
    educore_timeout_seconds: float = Field(
        default=30.0, gt=0, le=600, validation_alias="EDUCORE_TIMEOUT_SECONDS"
    )
    educore_page_size: int = Field(
        default=1000, ge=1, le=1000, validation_alias="EDUCORE_PAGE_SIZE"
    )
    # Directory answers only a system admin's nAuth token (EDUCORE.md §3.3): a value, or a file
    # re-read on every pull (kept fresh by whoever holds the admin session).
    educore_directory_token: str | None = Field(
        default=None, validation_alias="EDUCORE_DIRECTORY_TOKEN"
    )
    educore_directory_token_file: str | None = Field(
        default=None, validation_alias="EDUCORE_DIRECTORY_TOKEN_FILE"
    )
    service_token: str | None = Field(default=None, validation_alias="SERVICE_TOKEN")
    upstream_timeout_seconds: float = Field(
        default=2.0, gt=0, validation_alias="UPSTREAM_TIMEOUT_SECONDS"
    )
    sync_interval_seconds: int = Field(
        default=900,
        ge=0,
        validation_alias="SYNC_INTERVAL_SECONDS",
        description="Scheduled sync period of the serving replicas (0: no scheduled sync)",
    )
    refresh_budget_seconds: float = Field(
        default=1.5, gt=0, validation_alias="REFRESH_BUDGET_SECONDS"
    )
    gemini_api_key: str | None = Field(default=None, validation_alias="GEMINI_API_KEY")
    gemini_model: str = Field(
        default="gemini-2.5-flash",
        pattern=r"^[A-Za-z0-9._/-]{1,100}$",
        validation_alias="GEMINI_MODEL",
        description="Model that phrases recommendations (only with GEMINI_API_KEY)",
    )
    gemini_timeout_seconds: float = Field(
        default=3.0, gt=0, le=30, validation_alias="GEMINI_TIMEOUT_SECONDS"
    )
    mock_fallback: bool | None = Field(default=None, validation_alias="MOCK_FALLBACK")

    # Rate limits (SPEC §8.4)
    rate_limit_standard: int = Field(default=100, ge=1, validation_alias="RATE_LIMIT_STANDARD")
    rate_limit_predictive: int = Field(default=10, ge=1, validation_alias="RATE_LIMIT_PREDICTIVE")
    rate_limit_login_per_email: int = Field(
        default=5, ge=1, validation_alias="RATE_LIMIT_LOGIN_PER_EMAIL"
    )
    rate_limit_login_per_ip: int = Field(
        default=20, ge=1, validation_alias="RATE_LIMIT_LOGIN_PER_IP"
    )
    # The platform's gRPC Process channel (EDUCORE.md §2.5): off unless a port is given (0: any
    # free port); insecure by the platform's design, so loopback unless told otherwise.
    grpc_port: int | None = Field(default=None, ge=0, le=65535, validation_alias="GRPC_PORT")
    grpc_host: str = Field(default="127.0.0.1", validation_alias="GRPC_HOST")
    rate_limit_integration: int = Field(
        default=60, ge=1, validation_alias="RATE_LIMIT_INTEGRATION"
    )  # per minute and sending service, on /api/fill-content-metrics
    integration_max_body_bytes: int = Field(
        default=262_144, ge=1024, validation_alias="INTEGRATION_MAX_BODY_BYTES"
    )

    # Caching (SPEC §9, §6)
    cache_ttl_seconds: int = Field(default=300, ge=1, validation_alias="CACHE_TTL_SECONDS")
    cache_stale_seconds: int = Field(default=86400, ge=0, validation_alias="CACHE_STALE_SECONDS")
    cache_max_entries: int = Field(default=10000, ge=1, validation_alias="CACHE_MAX_ENTRIES")
    http_max_age_learner: int = Field(default=4 * 3600, validation_alias="HTTP_MAX_AGE_LEARNER")
    http_max_age_trainer: int = Field(default=2 * 3600, validation_alias="HTTP_MAX_AGE_TRAINER")
    http_max_age_organization: int = Field(
        default=6 * 3600, validation_alias="HTTP_MAX_AGE_ORGANIZATION"
    )
    http_max_age_predictive: int = Field(
        default=48 * 3600, validation_alias="HTTP_MAX_AGE_PREDICTIVE"
    )
    http_stale_while_revalidate: int = Field(default=60, validation_alias="HTTP_SWR_SECONDS")

    # Predictive (SPEC §10): quality gate, label, and where a trained model lives (default: the
    # model shipped with the package, trained on simulated data).
    predictive_min_auc: float = Field(
        default=0.75, ge=0, le=1, validation_alias="PREDICTIVE_MIN_AUC"
    )
    predictive_inactivity_days: int = Field(
        default=21, ge=1, validation_alias="PREDICTIVE_INACTIVITY_DAYS"
    )
    predictive_model_dir: str | None = Field(default=None, validation_alias="PREDICTIVE_MODEL_DIR")

    membership_cache_seconds: float = Field(
        default=30.0, ge=0, validation_alias="MEMBERSHIP_CACHE_SECONDS"
    )
    bkt_params_cache_seconds: float = Field(
        default=6 * 3600.0, ge=0, validation_alias="BKT_PARAMS_CACHE_SECONDS"
    )
    # Changes to the points rule table (docs/gamification.md), as JSON:
    # {"lesson_completed": {"points": 15, "daily_cap": 10}}
    gamification_rules: dict[str, dict[str, int]] = Field(
        default_factory=dict, validation_alias="GAMIFICATION_RULES"
    )

    # Requests, privacy, operations
    max_body_bytes: int = Field(default=1_048_576, ge=1024, validation_alias="MAX_BODY_BYTES")
    k_anonymity: int = Field(default=5, ge=2, validation_alias="K_ANONYMITY")
    metrics_token: str | None = Field(default=None, validation_alias="METRICS_TOKEN")
    freshness_budget_seconds: int = Field(
        default=900, ge=1, validation_alias="FRESHNESS_BUDGET_SECONDS"
    )

    @model_validator(mode="after")
    def _normalise(self) -> Self:
        url = self.database_url
        if url.startswith(("postgres://", "postgresql://")):
            object.__setattr__(
                self, "database_url", "postgresql+asyncpg://" + url.split("://", 1)[1]
            )
        elif url.startswith("sqlite:///"):
            object.__setattr__(
                self, "database_url", "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
            )
        return self

    @property
    def upstream_urls(self) -> dict[str, str | None]:
        """Base URL of each data upstream (Auth is separate: it is never synced)."""
        return {
            "directory": self.directory_url,
            "course-builder": self.course_builder_url,
            "content-studio": self.content_studio_url,
            "assessment": self.assessment_url,
            "skills-engine": self.skills_engine_url,
            "learner-ai": self.learner_ai_url,
            "devlab": self.devlab_url,
            "rag": self.rag_url,
        }

    @property
    def is_production(self) -> bool:
        return self.app_env is AppMode.PRODUCTION

    @property
    def mock_fallback_enabled(self) -> bool:
        if self.mock_fallback is None:
            return not self.is_production
        return self.mock_fallback

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def database_connect_args(self) -> dict[str, object]:
        if self.database_schema and not self.is_sqlite:
            return {"server_settings": {"search_path": self.database_schema}}
        return {}


def check_production_safety(settings: Settings) -> None:
    """Refuse to run production with settings that are only safe for a demo."""
    if not settings.is_production:
        return
    problems: list[str] = []
    if not settings.jwt_secret:
        problems.append("JWT_SECRET is not set")
    elif len(settings.jwt_secret.encode()) < MIN_SECRET_BYTES:
        problems.append(f"JWT_SECRET is weaker than {MIN_SECRET_BYTES} bytes")
    if settings.mock_fallback is None:
        problems.append("MOCK_FALLBACK must be set explicitly (true or false) in production")
    if not settings.auth_service_url:
        problems.append("AUTH_SERVICE_URL is not set (login is never mocked)")
    if problems:
        raise ConfigurationError("refusing to start in production: " + "; ".join(problems))


def resolve_signing_secret(settings: Settings) -> str:
    """The HS256 secret: configured, or (demo mode only) a fresh random one per process."""
    if settings.jwt_secret:
        return settings.jwt_secret
    if settings.is_production:
        raise ConfigurationError("JWT_SECRET is required in production")
    return secrets.token_urlsafe(48)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
