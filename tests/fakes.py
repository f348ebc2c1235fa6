"""In-memory fakes of our ports, for tests (never patches of our own code)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from learning_analytics.application.ports import AuthenticatedUser
from learning_analytics.domain.errors import UpstreamUnavailableError


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
