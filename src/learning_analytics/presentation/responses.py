"""The success envelope and HTTP caching headers (SPEC §6).

Analytics answers are cached as pre-rendered `data` bytes; the envelope is assembled around them
per request (only `meta` differs), so a cache hit serialises nothing but a few timestamps.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from asgi_correlation_id import correlation_id
from fastapi import Request
from pydantic import BaseModel
from starlette.responses import Response

from learning_analytics.application.serving import Answer, CacheKey, Computed
from learning_analytics.domain.models import Principal

if TYPE_CHECKING:
    from learning_analytics.presentation.state import Services

JSON = "application/json"


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def render_data(model: BaseModel) -> bytes:
    return model.model_dump_json(by_alias=True).encode()


def envelope_bytes(data: bytes, meta: dict[str, Any]) -> bytes:
    return b'{"success":true,"data":' + data + b',"meta":' + json.dumps(meta).encode() + b"}"


def json_envelope(model: BaseModel, *, status_code: int = 200, now: datetime) -> Response:
    """An envelope for non-cached answers (auth, preferences): computed now, from live data."""
    meta = {
        "calculatedAt": iso(now),
        "dataSource": "realtime",
        "requestId": correlation_id.get(),
    }
    return Response(
        envelope_bytes(render_data(model), meta), status_code=status_code, media_type=JSON
    )


def cache_control(*, max_age: int, stale_while_revalidate: int) -> str:
    return f"private, max-age={max_age}, stale-while-revalidate={stale_while_revalidate}"


def wants_refresh(request: Request, principal: Principal, subject_id: str) -> bool:
    """`Cache-Control: no-cache` forces recomputation, for a platform admin or the subject."""
    if "no-cache" not in request.headers.get("cache-control", "").lower():
        return False
    return principal.is_admin or principal.id == subject_id


def etag_matches(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match")
    if not header:
        return False
    if header.strip() == "*":
        return True
    candidates = {part.strip().removeprefix("W/") for part in header.split(",")}
    return etag in candidates


def analytics_response(
    request: Request,
    answer: Answer,
    *,
    max_age: int,
    stale_while_revalidate: int,
    extra_meta: Mapping[str, str] | None = None,
) -> Response:
    entry = answer.entry
    headers = {
        "ETag": entry.etag,
        "Cache-Control": cache_control(
            max_age=max_age, stale_while_revalidate=stale_while_revalidate
        ),
        "Vary": "Authorization",
    }
    if etag_matches(request, entry.etag):
        return Response(status_code=304, headers=headers)
    meta = {
        "calculatedAt": iso(entry.calculated_at),
        "dataSource": answer.data_source,
        "cacheExpiry": iso(entry.fresh_until),
        "dataAsOf": iso(entry.data_as_of),
        "requestId": correlation_id.get(),
        **(extra_meta or {}),
    }
    return Response(envelope_bytes(entry.data, meta), media_type=JSON, headers=headers)


async def serve_analytics(
    request: Request,
    services: Services,
    key: CacheKey,
    compute: Callable[[], Awaitable[Computed]],
    *,
    family: str,
    max_age: int,
    force_refresh: bool = False,
) -> Response:
    """The shared serving pipeline's answer as an HTTP response, counted as a cache hit or
    miss of `family` (a hit is any answer from the cache: fresh, stale or labelled mock)."""
    answer = await services.pipeline.serve(key, compute, force_refresh=force_refresh)
    services.metrics.cache.labels(family, "hit" if answer.hit else "miss").inc()
    return analytics_response(
        request,
        answer,
        max_age=max_age,
        stale_while_revalidate=services.settings.http_stale_while_revalidate,
    )
