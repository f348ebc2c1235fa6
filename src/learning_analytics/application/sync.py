"""Incremental sync of the upstream collections into the store (SPEC §5.4).

Per source: resume from its stored state (`since` watermark and, after an interrupted run, the
page cursor), read page after page, archive each raw reply, upsert its records, and store the
cursor after every page — so a failure part-way resumes where it stopped. When a source is
read to the end, the newest `updatedAt` seen becomes the next run's `since`. A failing source
is recorded and skipped; the others go on. When anything was written, the `after_write` hook
runs (gamification awards points for what arrived, SPEC §11) and the data version is bumped so
cached answers computed from older data are not served as fresh.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog

from learning_analytics.application.ports import (
    Clock,
    CollectionSource,
    LeaderLock,
    RecordWriter,
    ResponseCache,
    SyncStateRepository,
)
from learning_analytics.application.serving import GLOBAL_SCOPE
from learning_analytics.domain.errors import UpstreamError

log = structlog.get_logger("learning_analytics.sync")


@dataclass(frozen=True, slots=True)
class SyncPosition:
    since: datetime | None
    cursor: str | None

    def dump(self) -> str:
        return json.dumps(
            {"since": self.since.isoformat() if self.since else None, "cursor": self.cursor}
        )

    @classmethod
    def load(cls, text: str | None) -> SyncPosition:
        if not text:
            return cls(since=None, cursor=None)
        raw = json.loads(text)
        since = datetime.fromisoformat(raw["since"]) if raw.get("since") else None
        return cls(since=since, cursor=raw.get("cursor"))


@dataclass(frozen=True, slots=True)
class SourceReport:
    source: str
    ok: bool
    pages: int
    rows: int
    seconds: float
    error: str | None = None


ProgressCallback = Callable[[str, int], None]


class SyncSources:
    """Run one sync round over every source (`learning-analytics sync` and the scheduler)."""

    def __init__(
        self,
        *,
        sources: Sequence[CollectionSource],
        writer: RecordWriter,
        state: SyncStateRepository,
        clock: Clock,
        cache: ResponseCache | None = None,
        concurrency: int = 3,
        after_write: Callable[[datetime], Awaitable[object]] | None = None,
    ) -> None:
        self.sources = tuple(sources)
        self._writer = writer
        self._state = state
        self._clock = clock
        self._cache = cache
        self._concurrency = concurrency
        self._after_write = after_write  # called with the round's start: rows since are new

    async def execute(self, *, progress: ProgressCallback | None = None) -> list[SourceReport]:
        started = self._clock.now()
        gate = asyncio.Semaphore(self._concurrency)
        round_id = f"sync-{uuid.uuid4().hex}"  # sent as X-Request-ID: one id per round

        async def one(source: CollectionSource) -> SourceReport:
            async with gate:
                return await self._sync(source, progress, request_id=round_id)

        reports = list(await asyncio.gather(*(one(source) for source in self.sources)))
        if any(report.rows for report in reports):
            if self._after_write is not None:
                await self._after_write(started)
            await self._writer.bump_data_version(GLOBAL_SCOPE)
            if self._cache is not None:
                await self._cache.bump_data_version(GLOBAL_SCOPE)
        return reports

    async def _sync(
        self, source: CollectionSource, progress: ProgressCallback | None, *, request_id: str
    ) -> SourceReport:
        started = time.perf_counter()
        saved = await self._state.get(source.name)
        position = SyncPosition.load(saved.cursor if saved else None)
        newest = position.since
        pages = rows = 0
        try:
            while True:
                page = await source.fetch(
                    since=position.since, cursor=position.cursor, request_id=request_id
                )
                now = self._clock.now()
                await self._writer.archive_raw_payload(
                    source=source.name, fetched_at=now, payload=page.raw
                )
                written = await source.write(self._writer, page, ingested_at=now)
                pages += 1
                rows += written
                if page.newest is not None and (newest is None or page.newest > newest):
                    newest = page.newest
                if progress is not None:
                    progress(source.name, written)
                if page.next_cursor is None:
                    position = SyncPosition(since=newest, cursor=None)
                    await self._state.record_success(source.name, cursor=position.dump(), at=now)
                    break
                position = SyncPosition(since=position.since, cursor=page.next_cursor)
                await self._state.record_success(source.name, cursor=position.dump(), at=now)
        except UpstreamError as exc:
            await self._state.record_failure(
                source.name, error=f"{type(exc).__name__}: {exc.message}", at=self._clock.now()
            )
            log.warning("sync_source_failed", source=source.name, error=exc.message, pages=pages)
            return SourceReport(
                source.name, False, pages, rows, time.perf_counter() - started, exc.message
            )
        return SourceReport(source.name, True, pages, rows, time.perf_counter() - started)


SYNC_LOCK = "sync"


async def sync_as_leader(
    sync: SyncSources, *, lock: LeaderLock, ttl_seconds: float
) -> list[SourceReport] | None:
    """One round, run only by the replica that takes the lock (None: another replica has it).

    The lock outlives a normal round (`ttl_seconds`) and expires by itself if its holder dies.
    """
    token = await lock.acquire(SYNC_LOCK, ttl_seconds=ttl_seconds)
    if token is None:
        log.info("sync_round_skipped", reason="another replica holds the sync lock")
        return None
    try:
        return await sync.execute()
    finally:
        await lock.release(SYNC_LOCK, token)
