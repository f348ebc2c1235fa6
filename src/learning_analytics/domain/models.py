"""Value objects shared by every layer: the authenticated principal and its roles."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    LEARNER = "learner"
    TRAINER = "trainer"
    MANAGER = "manager"
    ORG_ADMIN = "org_admin"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, normalised from any accepted token shape."""

    id: str
    roles: frozenset[Role]
    organization_id: str | None
    email: str | None = None
    department_ids: tuple[str, ...] = ()
    token_id: str | None = None
    expires_at: datetime | None = None
    issuer: str | None = None
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    def has(self, role: Role) -> bool:
        return role in self.roles
