"""Directory: organisations, departments, teams and employees (docs/upstreams.md)."""

from __future__ import annotations

from typing import Any

from learning_analytics.domain.records import Department, Organization, Team, User
from learning_analytics.infrastructure.upstreams.http import UpstreamClient
from learning_analytics.infrastructure.upstreams.rest import RestCollection, WireItem, collection


class OrganizationItem(WireItem):
    name: str
    timezone: str | None = None


class DepartmentItem(WireItem):
    organization_id: str
    name: str
    manager_id: str | None = None


class TeamItem(WireItem):
    department_id: str
    name: str
    manager_id: str | None = None


class EmployeeItem(WireItem):
    organization_id: str
    email: str | None = None
    display_name: str | None = None
    role: str
    department_id: str | None = None
    team_id: str | None = None
    manager_id: str | None = None
    timezone: str | None = None
    leaderboard_visible: bool = True


def collections(client: UpstreamClient) -> list[RestCollection[Any]]:
    return [
        collection(
            client,
            "organizations",
            OrganizationItem,
            lambda i: Organization(id=i.id, name=i.name, timezone=i.timezone),
            lambda w: w.upsert_organizations,
        ),
        collection(
            client,
            "departments",
            DepartmentItem,
            lambda i: Department(
                id=i.id, organization_id=i.organization_id, name=i.name, manager_id=i.manager_id
            ),
            lambda w: w.upsert_departments,
        ),
        collection(
            client,
            "teams",
            TeamItem,
            lambda i: Team(
                id=i.id, department_id=i.department_id, name=i.name, manager_id=i.manager_id
            ),
            lambda w: w.upsert_teams,
        ),
        collection(
            client,
            "employees",
            EmployeeItem,
            lambda i: User(
                id=i.id,
                organization_id=i.organization_id,
                email=i.email,
                display_name=i.display_name,
                role=i.role,
                department_id=i.department_id,
                team_id=i.team_id,
                manager_id=i.manager_id,
                timezone=i.timezone,
                leaderboard_visible=i.leaderboard_visible,
            ),
            lambda w: w.upsert_users,
        ),
    ]
