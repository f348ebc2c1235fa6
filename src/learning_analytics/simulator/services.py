"""The eight data upstreams of the "rest" transport (docs/upstreams.md), one router per service.

Each collection of `feeds.COLLECTIONS` gets a bulk read, `GET /api/v1/<collection>` with
`since`, `cursor` and `limit`, and, for the per-user ones,
`GET /api/v1/users/{userId}/<collection>`.
Course Builder also serves the seed's `GET /api/v1/progress/{userId}`. The routers are mounted
by `app.create_simulator_app` at `/<service>`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from learning_analytics.simulator.envelope import failure, items_response, page_response
from learning_analytics.simulator.feeds import (
    COLLECTIONS,
    DEFAULT_LIMIT,
    MAX_LIMIT,
    SERVICES,
    CollectionSpec,
    Feed,
    Feeds,
    InvalidCursorError,
)

UserId = Annotated[str, Path(min_length=1, max_length=64)]
Since = Annotated[
    str | None,
    Query(max_length=64, description="ISO-8601 instant with an offset or Z: updatedAt >= since"),
]
Cursor = Annotated[str | None, Query(max_length=512, description="nextCursor of the last page")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")]


def _bad_parameter(message: str) -> Response:
    return failure(400, code="INVALID_PARAMETER", message=message)


def _no_such_user() -> Response:
    return failure(404, code="NOT_FOUND", message="No such user")


def _parse_since(value: str) -> datetime | None:
    """The instant, or None when it is not ISO-8601 with a timezone."""
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        return None
    return instant if instant.utcoffset() is not None else None


async def _feed(feeds: Feeds, collection: str) -> Feed:
    ready = feeds.ready(collection)
    if ready is not None:
        return ready
    return await anyio.to_thread.run_sync(feeds.feed, collection)


def _bulk_route(feeds: Feeds, spec: CollectionSpec) -> Callable[..., Awaitable[Response]]:
    async def list_items(
        since: Since = None, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
    ) -> Response:
        since_at = None
        if since is not None:
            since_at = _parse_since(since)
            if since_at is None:
                return _bad_parameter("since must be an ISO-8601 instant with a timezone")
        feed = await _feed(feeds, spec.name)
        try:
            page = feed.page(since=since_at, cursor=cursor, limit=limit)
        except InvalidCursorError as exc:
            return _bad_parameter(str(exc))
        return page_response(page.items, next_cursor=page.next_cursor)

    return list_items


def _user_route(feeds: Feeds, spec: CollectionSpec) -> Callable[..., Awaitable[Response]]:
    async def list_user_items(user_id: UserId) -> Response:
        if feeds.population.user(user_id) is None:
            return _no_such_user()
        items = await anyio.to_thread.run_sync(feeds.user_items, spec.name, user_id)
        return items_response(items)

    return list_user_items


def build_service_routers(feeds: Feeds) -> dict[str, APIRouter]:
    """service name (its path prefix without the slash) -> its router."""
    routers = {service: APIRouter(tags=[service]) for service in SERVICES}
    for spec in COLLECTIONS:
        router = routers[spec.service]
        router.add_api_route(
            f"/api/v1/{spec.name}",
            _bulk_route(feeds, spec),
            methods=["GET"],
            name=f"{spec.service}:list_{spec.name}",
            summary=f"Bulk read of {spec.name} (since, cursor, limit)",
        )
        if spec.per_user:
            router.add_api_route(
                f"/api/v1/users/{{user_id}}/{spec.name}",
                _user_route(feeds, spec),
                methods=["GET"],
                name=f"{spec.service}:list_user_{spec.name}",
                summary=f"One user's {spec.name}",
            )

    @routers["course-builder"].get("/api/v1/progress/{user_id}", summary="One user's progress")
    async def get_progress(user_id: UserId) -> Response:
        if feeds.population.user(user_id) is None:
            return _no_such_user()
        items = await anyio.to_thread.run_sync(feeds.user_items, "enrollments", user_id)
        return items_response(items, user_id=user_id)

    return routers
