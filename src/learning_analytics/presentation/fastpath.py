"""The cache-hit fast path: a fresh cached analytics answer served without the framework.

A pure ASGI middleware in front of the router. For a GET on a registered learner route it runs
the same security as the route — authenticate (token, revocation), the standard rate limit,
role and ownership — and then looks the answer up in the response cache. Only a fresh hit is
answered here; anything else (no token, a denial, a bad parameter, a miss, `no-cache`) goes on
to the route, which answers it in full. The rate-limit hit counted here is remembered for the
request, so falling through never counts a request twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from learning_analytics.application.serving import CacheKey
from learning_analytics.config import Settings
from learning_analytics.domain.errors import LearningAnalyticsError
from learning_analytics.domain.policy import can_view_learner
from learning_analytics.presentation.responses import analytics_response
from learning_analytics.presentation.security import (
    SUBJECT_ID_PATTERN,
    authenticated_caller,
    services_of,
)


@dataclass(frozen=True, slots=True)
class CachedLearnerRoute:
    """A learner analytics route (`{userId}` in its path) whose cached answers the fast path
    may serve. `cache_key` returns None for any query it does not fully understand."""

    path: str
    cache_key: Callable[[str, Mapping[str, str]], CacheKey | None]
    max_age: Callable[[Settings], int]

    def compile(self) -> re.Pattern[str]:
        subject = SUBJECT_ID_PATTERN.removeprefix("^").removesuffix("$")
        prefix, _, suffix = self.path.partition("{userId}")
        return re.compile(f"^{re.escape(prefix)}(?P<subject>{subject}){re.escape(suffix)}$")


class CacheHitFastPath:
    def __init__(self, app: ASGIApp, *, routes: Sequence[CachedLearnerRoute]) -> None:
        self.app = app
        self.routes = [(route.compile(), route) for route in routes]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            for pattern, route in self.routes:
                match = pattern.match(scope["path"])
                if match is not None:
                    response = await self._cached(scope, route, match.group("subject"))
                    if response is not None:
                        scope["route"] = route  # the route template, for metrics and logs
                        await response(scope, receive, send)
                        return
                    break
        await self.app(scope, receive, send)

    async def _cached(
        self, scope: Scope, route: CachedLearnerRoute, subject: str
    ) -> Response | None:
        request = Request(scope)
        if "no-cache" in request.headers.get("cache-control", "").lower():
            return None
        pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        query = dict(pairs)
        if len(query) != len(pairs):
            return None
        key = route.cache_key(subject, query)
        if key is None:
            return None
        services = services_of(request)
        try:
            principal = await authenticated_caller(request, services)
        except LearningAnalyticsError:
            return None
        facts = await services.membership.learner_facts(subject)
        if facts is None or not can_view_learner(principal, facts):
            return None
        answer = await services.pipeline.lookup(key)
        if answer is None:
            return None
        services.metrics.cache.labels("learner", "hit").inc()
        return analytics_response(
            request,
            answer,
            max_age=route.max_age(services.settings),
            stale_while_revalidate=services.settings.http_stale_while_revalidate,
        )
