"""Which upstream transport a deployment uses (`UPSTREAM_TRANSPORT=rest|educore`, SPEC §5.1):
the clients, the sync sources, the per-learner refresh sources and the sync schedule.

- rest (default): one client per configured base URL, every collection of every upstream, a
  sync every `SYNC_INTERVAL_SECONDS` (first round within 30 s of startup);
- educore: one client per sibling, all to `COORDINATOR_URL`, signed with `EDUCORE_PRIVATE_KEY`
  as `EDUCORE_SERVICE_NAME`, a sync on `EDUCORE_SYNC_CRON` (02:00 UTC daily by default), one
  source at a time in dependency order (Directory's people first: the others are mapped onto
  them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from learning_analytics.application.ports import Clock, CollectionSource, UserSource
from learning_analytics.config import ConfigurationError, Settings
from learning_analytics.infrastructure.educore.catalog import (
    coordinator_registry,
    educore_sources,
    per_user_sources,
)
from learning_analytics.infrastructure.educore.coordinator import DirectoryToken
from learning_analytics.infrastructure.educore.signing import (
    EnvelopeSigner,
    SignatureVerifier,
    SigningKeyError,
)
from learning_analytics.infrastructure.upstreams.catalog import (
    per_user_collections,
    rest_collections,
)
from learning_analytics.infrastructure.upstreams.http import (
    UpstreamObserver,
    UpstreamPolicy,
    UpstreamRegistry,
)

TRANSPORTS = ("rest", "educore")
EDUCORE_MAX_RESPONSE_BYTES = 64 * 1024 * 1024  # a Directory page holds 1 000 companies
MIN_LOCK_SECONDS = 600


@dataclass(frozen=True, slots=True)
class UpstreamTransport:
    name: str
    registry: UpstreamRegistry
    sources: Sequence[CollectionSource]
    user_sources: Sequence[UserSource]
    concurrency: int  # sources synced at once
    trigger: BaseTrigger | None  # when the scheduler syncs (None: never)
    first_run: datetime | None  # the first round, when not the trigger's first time
    lock_seconds: float  # how long one round may hold the sync lock


def build_transport(
    settings: Settings,
    *,
    clock: Clock,
    total_timeout: float | None = None,
    observer: UpstreamObserver | None = None,
) -> UpstreamTransport:
    """The configured transport (ConfigurationError when its settings cannot work)."""
    transport = settings.upstream_transport.strip().lower()
    if transport not in TRANSPORTS:
        raise ConfigurationError(f"UPSTREAM_TRANSPORT must be one of {', '.join(TRANSPORTS)}")
    if transport == "educore":
        return _educore(settings, clock=clock, observer=observer)
    registry = UpstreamRegistry(
        settings.upstream_urls,
        policy=UpstreamPolicy(total_timeout=total_timeout or settings.upstream_timeout_seconds),
        service_token=settings.service_token,
        observer=observer,
    )
    interval = settings.sync_interval_seconds
    trigger = IntervalTrigger(seconds=interval, timezone=UTC) if interval else None
    return UpstreamTransport(
        name="rest",
        registry=registry,
        sources=rest_collections(registry),
        user_sources=per_user_collections(registry),
        concurrency=3,
        trigger=trigger,
        first_run=datetime.now(UTC) + timedelta(seconds=min(interval, 30)),
        lock_seconds=max(interval, MIN_LOCK_SECONDS),
    )


def educore_keys(settings: Settings) -> tuple[EnvelopeSigner | None, SignatureVerifier | None]:
    """Our envelope signer and the Coordinator's verifier, from the configured PEM keys (None
    where a key is not configured); a key that is not EC P-256 PEM stops start-up."""
    try:
        signer = (
            EnvelopeSigner(settings.educore_private_key, settings.educore_service_name)
            if settings.educore_private_key
            else None
        )
        verifier = (
            SignatureVerifier(settings.coordinator_public_key)
            if settings.coordinator_public_key
            else None
        )
    except SigningKeyError as error:
        raise ConfigurationError(str(error)) from error
    return signer, verifier


def _educore(
    settings: Settings, *, clock: Clock, observer: UpstreamObserver | None
) -> UpstreamTransport:
    if not settings.coordinator_url:
        raise ConfigurationError("UPSTREAM_TRANSPORT=educore needs COORDINATOR_URL")
    signer, verifier = educore_keys(settings)
    if signer is None and settings.is_production:
        raise ConfigurationError(
            "UPSTREAM_TRANSPORT=educore in production needs EDUCORE_PRIVATE_KEY (the Coordinator "
            "accepts signed envelopes only)"
        )
    timeout = settings.educore_timeout_seconds
    registry = coordinator_registry(
        settings.coordinator_url,
        policy=UpstreamPolicy(
            connect_timeout=min(timeout, 5.0),
            read_timeout=timeout,
            total_timeout=timeout,
            max_response_bytes=EDUCORE_MAX_RESPONSE_BYTES,
        ),
        observer=observer,
    )
    sources = educore_sources(
        registry,
        signer=signer,
        verifier=verifier,
        clock=clock,
        directory_token=DirectoryToken(
            value=settings.educore_directory_token, path=settings.educore_directory_token_file
        ),
        page_size=settings.educore_page_size,
        timeout_header_ms=int(timeout * 1000),
    )
    cron = settings.educore_sync_cron.strip()
    try:
        trigger = CronTrigger.from_crontab(cron, timezone=UTC) if cron else None
    except ValueError as error:
        raise ConfigurationError(f"EDUCORE_SYNC_CRON is not a crontab line: {error}") from error
    return UpstreamTransport(
        name="educore",
        registry=registry,
        sources=sources,
        user_sources=per_user_sources(sources),
        concurrency=1,
        trigger=trigger,
        first_run=None,
        lock_seconds=max(3600.0, MIN_LOCK_SECONDS),
    )
