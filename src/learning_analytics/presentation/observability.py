"""Structured JSON logs (structlog) and Prometheus metrics (SPEC §13)."""

from __future__ import annotations

import logging
import sys

import structlog
from asgi_correlation_id import correlation_id
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from structlog.typing import EventDict, WrappedLogger


def _stderr_logger(*_: object) -> structlog.PrintLogger:
    """A logger on the process's stderr of the moment the line is written (loggers are not
    cached): a stream bound at configuration time may be gone by then, as the one a CLI run
    was given under a test runner, or one redirected and closed since."""
    return structlog.PrintLogger(sys.stderr)


def _add_request_id(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    request_id = correlation_id.get()
    if request_id and "request_id" not in event:
        event["request_id"] = request_id
    return event


def configure_logging(*, level: str = "INFO", json_logs: bool = True) -> None:
    """JSON lines on stderr with timestamp, level, logger and request id."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _add_request_id,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,  # so reconfiguration (and log capture) applies at once
    )


class Metrics:
    """The service's Prometheus metrics, on a registry of their own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "la_http_requests_total",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "la_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.cache = Counter(
            "la_response_cache_total",
            "Response cache outcomes (hit, miss, stale)",
            ["family", "outcome"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "la_rate_limit_rejections_total",
            "Requests refused by a rate limit",
            ["policy"],
            registry=self.registry,
        )
        self.auth_denials = Counter(
            "la_authorization_denials_total",
            "Authorization denials by route",
            ["route"],
            registry=self.registry,
        )
        self.upstream_calls = Counter(
            "la_upstream_calls_total",
            "Upstream calls by service and outcome",
            ["service", "outcome"],
            registry=self.registry,
        )
        self.upstream_latency = Histogram(
            "la_upstream_call_duration_seconds",
            "Upstream call latency (all attempts of one call)",
            ["service"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
            registry=self.registry,
        )
        self.breaker_open = Gauge(
            "la_upstream_breaker_state",
            "Circuit breaker per upstream: 0 closed, 0.5 half-open, 1 open",
            ["service"],
            registry=self.registry,
        )
        self.sync_rows = Counter(
            "la_sync_rows_total",
            "Rows written by sync per source",
            ["source"],
            registry=self.registry,
        )
        self.sync_last_success = Gauge(
            "la_sync_last_success_timestamp_seconds",
            "When each source last synced completely (sync lag = now - this)",
            ["source"],
            registry=self.registry,
        )
        self.degraded = Gauge(
            "la_degraded",
            "1 while a shared component runs on its in-process fallback",
            ["component"],
            registry=self.registry,
        )


BREAKER_LEVEL = {"closed": 0.0, "half-open": 0.5, "open": 1.0}


class UpstreamMetrics:
    """Feeds the upstream client's observations into the Prometheus metrics."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def on_call(self, service: str, outcome: str, seconds: float) -> None:
        self._metrics.upstream_calls.labels(service, outcome).inc()
        self._metrics.upstream_latency.labels(service).observe(seconds)

    def on_breaker(self, service: str, state: str) -> None:
        self._metrics.breaker_open.labels(service).set(BREAKER_LEVEL.get(state, 1.0))
