"""The serving pipeline, written once for every analytics endpoint (SPEC §3, §6, §9).

cache lookup (fresh hit: done) -> single-flight -> compute from the store -> cache write ->
an `Answer` the presentation layer renders into the envelope. When the computation fails
because an upstream cannot answer, the newest stored answer for the same subject and query is
served as `stale` (whatever data version it was computed at); without one the error propagates.

Cache keys are built from the route, the subject, the normalised query and the data version —
never from the caller: authorization has already run when the pipeline is entered.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlencode

from learning_analytics.application.ports import CachedResponse, Clock, ResponseCache
from learning_analytics.application.singleflight import SingleFlight
from learning_analytics.domain.errors import UpstreamError

DataSource = Literal["realtime", "cached", "stale", "mock"]
GLOBAL_SCOPE = "global"


@dataclass(frozen=True, slots=True)
class Computed:
    """What a use case returns: the `data` member rendered as JSON, and its provenance."""

    data: bytes
    data_as_of: datetime | None
    data_source: DataSource = "realtime"


@dataclass(frozen=True, slots=True)
class Answer:
    entry: CachedResponse
    data_source: DataSource
    hit: bool = False  # served from the response cache without computing

    @property
    def cache_expiry(self) -> datetime:
        return self.entry.fresh_until


@dataclass(frozen=True, slots=True)
class CacheKey:
    route: str
    subject: str
    query: tuple[tuple[str, str], ...] = ()

    @classmethod
    def build(cls, *, route: str, subject: str, query: Mapping[str, object | None]) -> CacheKey:
        items = tuple(sorted((k, str(v)) for k, v in query.items() if v is not None))
        return cls(route=route, subject=subject, query=items)

    def render(self, version: int | None = None) -> str:
        base = f"{self.route}|{self.subject}|{urlencode(self.query)}"
        return f"{base}|v{version}" if version is not None else f"{base}|latest"


def etag_for(data: bytes) -> str:
    return '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'


class ServingPipeline:
    def __init__(
        self,
        *,
        cache: ResponseCache,
        clock: Clock,
        ttl_seconds: int,
        stale_seconds: int,
        singleflight: SingleFlight | None = None,
    ) -> None:
        self._cache = cache
        self._clock = clock
        self._ttl = ttl_seconds
        self._keep = ttl_seconds + stale_seconds
        self._flight = singleflight or SingleFlight()

    async def lookup(self, key: CacheKey, *, scope: str = GLOBAL_SCOPE) -> Answer | None:
        """A fresh cached answer, or None: never computes."""
        return await self._fresh(key.render(await self._cache.data_version(scope)))

    async def _fresh(self, versioned: str) -> Answer | None:
        hit = await self._cache.get(versioned)
        if hit is not None and self._clock.now() < hit.fresh_until:
            # A cached mock or stale answer keeps saying so: never claim fresher than true.
            source: DataSource = (
                "mock"
                if hit.data_source == "mock"
                else "stale"
                if hit.data_source == "stale"
                else "cached"
            )
            return Answer(entry=hit, data_source=source, hit=True)
        return None

    async def serve(
        self,
        key: CacheKey,
        compute: Callable[[], Awaitable[Computed]],
        *,
        scope: str = GLOBAL_SCOPE,
        force_refresh: bool = False,
    ) -> Answer:
        version = await self._cache.data_version(scope)
        versioned = key.render(version)
        if not force_refresh:
            hit = await self._fresh(versioned)
            if hit is not None:
                return hit

        async def compute_and_store() -> Answer:
            try:
                computed = await compute()
            except UpstreamError:
                stale = await self._cache.get(key.render())
                if stale is None:
                    raise
                return Answer(entry=stale, data_source="stale")
            now = self._clock.now()
            entry = CachedResponse(
                data=computed.data,
                etag=etag_for(computed.data),
                calculated_at=now,
                data_as_of=computed.data_as_of,
                fresh_until=now + timedelta(seconds=self._ttl),
                data_source=computed.data_source,
            )
            await self._cache.set(versioned, entry, keep_seconds=self._keep)
            await self._cache.set(key.render(), entry, keep_seconds=self._keep)
            return Answer(entry=entry, data_source=computed.data_source)

        flight_key = versioned + ("|refresh" if force_refresh else "")
        return await self._flight.run(flight_key, compute_and_store)
