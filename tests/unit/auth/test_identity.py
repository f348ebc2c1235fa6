"""principal_from_claims and map_role: both token shapes, every role name."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from learning_analytics.domain.errors import AuthenticationError
from learning_analytics.domain.identity import map_role, principal_from_claims
from learning_analytics.domain.models import Principal, Role


@pytest.mark.parametrize(
    ("name", "role"),
    [
        # platform roles (SPEC §8.1)
        ("REGULAR_EMPLOYEE", Role.LEARNER),
        ("TRAINER", Role.TRAINER),
        ("DEPARTMENT_MANAGER", Role.MANAGER),
        ("TEAM_MANAGER", Role.MANAGER),
        ("HR", Role.ORG_ADMIN),
        ("DECISION_MAKER", Role.ORG_ADMIN),
        ("DIRECTORY_ADMIN", Role.ADMIN),
        # ours
        ("learner", Role.LEARNER),
        ("trainer", Role.TRAINER),
        ("manager", Role.MANAGER),
        ("org_admin", Role.ORG_ADMIN),
        ("admin", Role.ADMIN),
        # spelling is not significant
        ("team-manager", Role.MANAGER),
        (" Team Manager ", Role.MANAGER),
        ("Org-Admin", Role.ORG_ADMIN),
        ("regular_employee", Role.LEARNER),
        # aliases
        ("employee", Role.LEARNER),
        ("student", Role.LEARNER),
        ("instructor", Role.TRAINER),
        ("organization_admin", Role.ORG_ADMIN),
        ("system_admin", Role.ADMIN),
        # unknown
        ("SUPERUSER", None),
        ("", None),
        ("root", None),
        (None, None),
        (3, None),
    ],
)
def test_map_role(name: object, role: Role | None) -> None:
    assert map_role(name) == role


EXP = 1_766_220_900
EXPIRES = datetime.fromtimestamp(EXP, UTC)


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        pytest.param(
            {
                "sub": "u-1",
                "email": "ada@example.test",
                "roles": ["TRAINER", "TEAM_MANAGER"],
                "organizationId": "org-1",
                "departmentIds": ["d-1", "d-2"],
                "jti": "j-1",
                "exp": EXP,
                "iss": "learning-analytics",
            },
            Principal(
                id="u-1",
                roles=frozenset({Role.TRAINER, Role.MANAGER}),
                organization_id="org-1",
                email="ada@example.test",
                department_ids=("d-1", "d-2"),
                token_id="j-1",
                expires_at=EXPIRES,
                issuer="learning-analytics",
            ),
            id="ours",
        ),
        pytest.param(
            {
                "sub": "10000000-0000-0000-0000-000000000001",
                "email": "sarah.levy@techcorp.example",
                "organization_id": "550e8400-e29b-41d4-a716-446655440000",
                "roles": ["TEAM_MANAGER"],
                "exp": EXP,
                "iss": "auth-microservice",
                "aud": "educore-ai",
            },
            Principal(
                id="10000000-0000-0000-0000-000000000001",
                roles=frozenset({Role.MANAGER}),
                organization_id="550e8400-e29b-41d4-a716-446655440000",
                email="sarah.levy@techcorp.example",
                expires_at=EXPIRES,
                issuer="auth-microservice",
            ),
            id="legacy-ms12-sample",
        ),
        pytest.param(
            {"id": 42, "role": "hr", "organizationId": "org-2", "department_id": "d-9"},
            Principal(
                id="42",
                roles=frozenset({Role.ORG_ADMIN}),
                organization_id="org-2",
                department_ids=("d-9",),
            ),
            id="seed-id-role-single-department",
        ),
        pytest.param(
            {"sub": "u-3", "department_ids": ["d-1"], "departmentId": "d-1", "roles": "TRAINER"},
            Principal(
                id="u-3",
                roles=frozenset({Role.TRAINER}),
                organization_id=None,
                department_ids=("d-1",),
            ),
            id="snake-case-departments-deduplicated-roles-as-string",
        ),
        pytest.param(
            {
                "sub": "4b2f0c8e-91d3-4f6a-a0b7-3e5c2d1f9a88",
                "provider": "google",
                "directoryUserId": "10000000-0000-0000-0000-000000000001",
                "organizationId": "550e8400-e29b-41d4-a716-446655440000",
                "primaryRole": "TEAM_MANAGER",
                "isSystemAdmin": False,
                "iat": 1766220000,
                "exp": EXP,
                "aud": "educore-platform",
                "iss": "nauth-service",
            },
            Principal(
                id="10000000-0000-0000-0000-000000000001",
                roles=frozenset({Role.MANAGER}),
                organization_id="550e8400-e29b-41d4-a716-446655440000",
                expires_at=EXPIRES,
                issuer="nauth-service",
            ),
            id="nauth-sample",
        ),
        pytest.param(
            {
                "sub": "auth-user",
                "directoryUserId": "dir-1",
                "organizationId": "",
                "primaryRole": "DIRECTORY_ADMIN",
                "isSystemAdmin": True,
            },
            Principal(id="dir-1", roles=frozenset({Role.ADMIN}), organization_id=None),
            id="nauth-system-admin-without-organization",
        ),
        pytest.param(
            {"directoryUserId": "dir-2", "primaryRole": "REGULAR_EMPLOYEE", "isSystemAdmin": True},
            Principal(
                id="dir-2", roles=frozenset({Role.LEARNER, Role.ADMIN}), organization_id=None
            ),
            id="nauth-is-system-admin-adds-admin",
        ),
        pytest.param(
            {"directoryUserId": "dir-3", "primaryRole": "TRAINER", "roles": ["HR", "NOPE"]},
            Principal(
                id="dir-3", roles=frozenset({Role.TRAINER, Role.ORG_ADMIN}), organization_id=None
            ),
            id="nauth-primary-role-plus-roles",
        ),
        pytest.param(
            {"directoryUserId": "dir-4", "isSystemAdmin": "true"},
            Principal(id="dir-4", roles=frozenset({Role.LEARNER}), organization_id=None),
            id="is-system-admin-must-be-a-real-boolean",
        ),
        pytest.param(
            {"sub": "u-5", "roles": ["SUPERUSER", 7, None]},
            Principal(id="u-5", roles=frozenset({Role.LEARNER}), organization_id=None),
            id="no-recognised-role-means-learner",
        ),
        pytest.param(
            {"sub": "u-6"},
            Principal(id="u-6", roles=frozenset({Role.LEARNER}), organization_id=None),
            id="no-roles-at-all-means-learner",
        ),
        pytest.param(
            {"sub": "u-7", "is_system_admin": True, "roles": []},
            Principal(id="u-7", roles=frozenset({Role.ADMIN}), organization_id=None),
            id="snake-case-system-admin",
        ),
    ],
)
def test_principal_from_claims(claims: dict[str, object], expected: Principal) -> None:
    principal = principal_from_claims(claims)
    assert principal == expected


def test_nauth_extra_keeps_the_auth_user_id_provider_and_primary_role() -> None:
    principal = principal_from_claims(
        {
            "sub": "auth-1",
            "provider": "github",
            "directoryUserId": "dir-1",
            "primaryRole": "TRAINER",
        }
    )
    assert principal.extra == {
        "auth_user_id": "auth-1",
        "provider": "github",
        "primary_role": "TRAINER",
    }


def test_explicit_token_metadata_wins_over_claims() -> None:
    expires = datetime(2030, 1, 1, tzinfo=UTC)
    principal = principal_from_claims(
        {"sub": "u-1", "jti": "from-claims", "exp": EXP, "iss": "claims"},
        token_id="given",
        expires_at=expires,
        issuer="given-issuer",
    )
    assert (principal.token_id, principal.expires_at, principal.issuer) == (
        "given",
        expires,
        "given-issuer",
    )


@pytest.mark.parametrize(
    "claims",
    [
        {},
        {"email": "a@b.c", "roles": ["DIRECTORY_ADMIN"]},
        {"sub": ""},
        {"sub": "   "},
        {"sub": None, "id": None},
        {"sub": True},
        {"sub": ["u-1"]},
        {"directoryUserId": "", "isSystemAdmin": True},
        {"directoryUserId": None, "sub": "nauth-auth-user-id", "primaryRole": "HR"},
    ],
)
def test_claims_without_a_subject_are_refused(claims: dict[str, object]) -> None:
    with pytest.raises(AuthenticationError):
        principal_from_claims(claims)


def test_nauth_subject_is_the_directory_user_not_the_auth_user() -> None:
    principal = principal_from_claims({"sub": "auth-user", "directoryUserId": "dir-user"})
    assert principal.id == "dir-user"
