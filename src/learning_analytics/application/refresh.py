"""On-demand refresh of one learner's data (SPEC §3, §5): a parallel fan-out to every upstream
that serves per-user reads, within a latency budget. What answers in time is written to the
store (its reply archived as received, like the sync's); what does not is left for the next
refresh (or the scheduled sync), and the report says so, so the answer built on it can be
marked as not fully fresh. When rows were written, the `after_write` hook runs for the learner
(gamification awards their points, SPEC §11).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog

from learning_analytics.application.ports import Clock, RecordWriter, SourcePage, UserSource
from learning_analytics.domain.errors import UpstreamError

log = structlog.get_logger("learning_analytics.refresh")


@dataclass(frozen=True, slots=True)
class RefreshReport:
    refreshed: tuple[str, ...]
    missing: tuple[str, ...]  # failed or did not answer within the budget
    rows: int

    @property
    def complete(self) -> bool:
        return not self.missing


class RefreshLearner:
    def __init__(
        self,
        *,
        sources: Sequence[UserSource],
        writer: RecordWriter,
        clock: Clock,
        budget_seconds: float = 1.5,
        after_write: Callable[[str], Awaitable[object]] | None = None,
    ) -> None:
        self._sources = sources
        self._writer = writer
        self._clock = clock
        self._budget = budget_seconds
        self._after_write = after_write

    async def execute(self, user_id: str, *, request_id: str | None = None) -> RefreshReport:
        tasks = {
            asyncio.create_task(source.fetch_user(user_id, request_id=request_id)): source
            for source in self._sources
        }
        done: set[asyncio.Task[SourcePage]] = set()
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=self._budget)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        refreshed: list[str] = []
        missing: list[str] = []
        rows = 0
        now = self._clock.now()
        for task, source in tasks.items():
            if task not in done:
                missing.append(source.name)
                continue
            error = task.exception()
            if error is not None:
                if not isinstance(error, UpstreamError):
                    raise error
                log.info("refresh_source_failed", source=source.name, error=error.message)
                missing.append(source.name)
                continue
            page = task.result()
            await self._writer.archive_raw_payload(
                source=source.name, fetched_at=now, payload=page.raw
            )
            rows += await source.write(self._writer, page, ingested_at=now)
            refreshed.append(source.name)
        if rows and self._after_write is not None:
            await self._after_write(user_id)
        return RefreshReport(refreshed=tuple(refreshed), missing=tuple(missing), rows=rows)
