"""Normalise the claims of any accepted token shape into one Principal (SPEC §8.1).

Two shapes are accepted:

- seed / legacy Auth MS12 / our own tokens: `sub` (or `id`), `email`, `roles[]` (or `role`),
  `organizationId` | `organization_id`, `departmentIds` | `department_ids` | `departmentId` |
  `department_id`;
- nAuth: `directoryUserId` (the Directory user id, our join key; `sub` is nAuth's own auth-user
  id and is kept in `extra["auth_user_id"]`), `organizationId`, `primaryRole`, optional
  `roles[]`, `isSystemAdmin`.

Role names of the platform and our own lowercase names both map onto `Role`; unknown names are
ignored. A token that carries a subject but no recognised role is a learner: the least privilege,
which only ever lets the caller see their own data. A token without a subject is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from learning_analytics.domain.errors import AuthenticationError
from learning_analytics.domain.models import Principal, Role

_ROLE_NAMES: dict[str, Role] = {
    # EDUCORE platform roles (Directory / nAuth / MS12)
    "regular_employee": Role.LEARNER,
    "trainer": Role.TRAINER,
    "department_manager": Role.MANAGER,
    "team_manager": Role.MANAGER,
    "hr": Role.ORG_ADMIN,
    "decision_maker": Role.ORG_ADMIN,
    "directory_admin": Role.ADMIN,
    # our own names and their obvious aliases
    "learner": Role.LEARNER,
    "employee": Role.LEARNER,
    "student": Role.LEARNER,
    "instructor": Role.TRAINER,
    "manager": Role.MANAGER,
    "org_admin": Role.ORG_ADMIN,
    "organization_admin": Role.ORG_ADMIN,
    "organisation_admin": Role.ORG_ADMIN,
    "admin": Role.ADMIN,
    "system_admin": Role.ADMIN,
    "platform_admin": Role.ADMIN,
}

# The spellings tokens actually carry, looked up before any normalisation.
_EXACT_NAMES = {**_ROLE_NAMES, **{name.upper(): role for name, role in _ROLE_NAMES.items()}}

_SUBJECT_KEYS = ("sub", "id")
_ORGANIZATION_KEYS = ("organizationId", "organization_id")
_DEPARTMENT_KEYS = ("departmentIds", "department_ids", "departmentId", "department_id")
_ROLE_KEYS = ("roles", "role", "primaryRole")
_LEARNER_ONLY = frozenset({Role.LEARNER})


def map_role(name: object) -> Role | None:
    """The role a platform or local role name stands for; None when the name is unknown.

    Case, surrounding blanks, and `-` or blank separators are not significant:
    `TEAM_MANAGER`, `team-manager` and `Team Manager` are the same name.
    """
    if not isinstance(name, str):
        return None
    exact = _EXACT_NAMES.get(name)
    if exact is not None:
        return exact
    key = "_".join(name.strip().lower().replace("-", " ").split())
    return _ROLE_NAMES.get(key)


def principal_from_claims(
    claims: Mapping[str, object],
    *,
    token_id: str | None = None,
    expires_at: datetime | None = None,
    issuer: str | None = None,
) -> Principal:
    """The principal described by verified token claims.

    `token_id`, `expires_at` and `issuer` default to the `jti`, `exp` and `iss` claims.
    Raises AuthenticationError when the claims name no subject.
    """
    extra: dict[str, str] = {}
    subject: str | None
    if "directoryUserId" in claims:
        # nAuth: `sub` is nAuth's own id, never a Directory id, so it cannot stand in.
        subject = _text(claims.get("directoryUserId"))
        auth_user_id = _text(claims.get("sub"))
        if auth_user_id is not None:
            extra["auth_user_id"] = auth_user_id
    else:
        subject = _first_text(claims, _SUBJECT_KEYS)
    if subject is None:
        raise AuthenticationError("Token names no subject")

    roles: set[Role] = set()
    for key in _ROLE_KEYS:
        value = claims.get(key)
        if value is not None:
            roles.update(role for name in _strings(value) if (role := map_role(name)) is not None)
    primary_role = _text(claims.get("primaryRole"))
    if primary_role is not None:
        extra["primary_role"] = primary_role
    if claims.get("isSystemAdmin") is True or claims.get("is_system_admin") is True:
        roles.add(Role.ADMIN)

    provider = _text(claims.get("provider"))
    if provider is not None:
        extra["provider"] = provider

    departments: list[str] = []
    for key in _DEPARTMENT_KEYS:
        value = claims.get(key)
        if value is not None:
            departments.extend(_strings(value))

    return Principal(
        id=subject,
        roles=frozenset(roles) if roles else _LEARNER_ONLY,
        organization_id=_first_text(claims, _ORGANIZATION_KEYS),
        email=_text(claims.get("email")),
        department_ids=tuple(dict.fromkeys(departments))
        if len(departments) > 1
        else (*departments,),
        token_id=token_id if token_id is not None else _text(claims.get("jti")),
        expires_at=expires_at if expires_at is not None else _instant(claims.get("exp")),
        issuer=issuer if issuer is not None else _text(claims.get("iss")),
        extra=extra,
    )


def _text(value: object) -> str | None:
    """A non-blank identifier: strings are stripped, integers (not booleans) are accepted."""
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _first_text(claims: Mapping[str, object], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = _text(claims.get(key))
        if value is not None:
            return value
    return None


def _strings(value: object) -> list[str]:
    """A claim that may be one identifier or a list of them; anything else counts as none."""
    if isinstance(value, list | tuple):
        return [text for item in value if (text := _text(item)) is not None]
    text = _text(value)
    return [text] if text is not None else []


def _instant(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None
