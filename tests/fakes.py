"""In-memory fakes of our ports, for tests (never patches of our own code)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from learning_analytics.application.ports import AuthenticatedUser
from learning_analytics.domain.errors import UpstreamUnavailableError
from learning_analytics.domain.records import SyncState


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.moment = now

    def now(self) -> datetime:
        return self.moment


@dataclass
class FakeAuthGateway:
    """The Auth upstream: accepts the registered (email, password) pairs; can be 'down'."""

    accounts: dict[str, tuple[str, AuthenticatedUser]] = field(default_factory=dict)
    down: bool = False
    calls: int = 0
    last_request_id: str | None = None

    def register(self, user: AuthenticatedUser, password: str) -> None:
        self.accounts[user.email] = (password, user)

    async def authenticate(
        self, *, email: str, password: str, request_id: str | None = None
    ) -> AuthenticatedUser | None:
        self.calls += 1
        self.last_request_id = request_id
        if self.down:
            raise UpstreamUnavailableError("auth service is down", service="auth")
        account = self.accounts.get(email)
        if account is None or account[0] != password:
            return None
        return account[1]


@dataclass
class FakeRecordWriter:
    """Keeps what sync writes: rows by key (idempotent, like the store), raw payloads, bumps."""

    rows: dict[str, object] = field(default_factory=dict)
    raw: list[str] = field(default_factory=list)
    versions: int = 0

    async def archive_raw_payload(self, *, source: str, fetched_at: datetime, payload: str) -> None:
        self.raw.append(payload)

    async def bump_data_version(self, scope: str) -> int:
        self.versions += 1
        return self.versions


@dataclass
class FakeSyncState:
    saved: dict[str, SyncState] = field(default_factory=dict)

    async def get(self, source: str) -> SyncState | None:
        return self.saved.get(source)

    async def record_success(self, source: str, *, cursor: str | None, at: datetime) -> None:
        old = self.saved.get(source)
        self.saved[source] = SyncState(
            source=source,
            cursor=cursor,
            last_success_at=at,
            last_error=old.last_error if old else None,
            last_error_at=old.last_error_at if old else None,
        )

    async def record_failure(self, source: str, *, error: str, at: datetime) -> None:
        old = self.saved.get(source)
        self.saved[source] = SyncState(
            source=source,
            cursor=old.cursor if old else None,
            last_success_at=old.last_success_at if old else None,
            last_error=error,
            last_error_at=at,
        )


@dataclass
class RecordingTextGenerator:
    """A language model that records every (system, prompt) and answers from `reply`.

    `reply`: the reply text, or a callable of the prompt giving it; `error`: raised instead;
    `delay`: seconds slept before answering (to exceed a timeout).
    """

    reply: str | Callable[[str], str] = ""
    error: Exception | None = None
    delay: float = 0.0
    prompts: list[tuple[str, str]] = field(default_factory=list)

    async def generate(self, *, system: str, prompt: str) -> str:
        self.prompts.append((system, prompt))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return self.reply(prompt) if callable(self.reply) else self.reply
