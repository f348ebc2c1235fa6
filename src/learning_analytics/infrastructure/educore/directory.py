"""Directory through the Coordinator (contracts/EDUCORE.md §3.3): companies with their hierarchy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import Field

from learning_analytics.application.ports import Clock, SourcePage
from learning_analytics.domain.records import (
    Department,
    Organization,
    Team,
    User,
)
from learning_analytics.infrastructure.educore.coordinator import CoordinatorClient, DirectoryToken
from learning_analytics.infrastructure.educore.envelope import (
    JsonObject,
    on_demand_payload,
    request_envelope,
)
from learning_analytics.infrastructure.educore.ids import IdMap, numeric_part
from learning_analytics.infrastructure.educore.sources import (
    ASSESSMENT,
    DIRECTORY,
    PAGINATION_TEMPLATE,
    Batch,
    EducoreSource,
    Id,
    OptionalId,
    Pulled,
    Wire,
    parse_wire,
)


class Employee(Wire):
    employee_id: Id
    name: str | None = None
    email: str | None = None
    role_type: str | None = None
    timezone: str | None = None


class DirectoryTeam(Wire):
    team_id: Id
    team_name: str = ""
    manager_id: OptionalId = None
    employees: list[Employee] = Field(default_factory=list)


class DirectoryDepartment(Wire):
    department_id: Id
    department_name: str = ""
    manager_id: OptionalId = None
    teams: list[DirectoryTeam] = Field(default_factory=list)
    # People of the department outside its teams, when sent (department heads, trainers).
    employees: list[Employee] = Field(default_factory=list)


class Company(Wire):
    company_id: Id
    company_name: str = ""
    timezone: str | None = None
    primary_hr_contact: Any = None
    hierarchy: list[DirectoryDepartment] = Field(default_factory=list)

    @property
    def hr_contact(self) -> Mapping[str, Any]:
        contact = self.primary_hr_contact
        return contact if isinstance(contact, Mapping) else {}


class Companies(Wire):
    companies: list[Company] = Field(default_factory=list)


def _company_people(company: Company) -> list[str]:
    people = [str(company.hr_contact.get("hr_user_id") or "")]
    for department in company.hierarchy:
        people.append(department.manager_id or "")
        people.extend(e.employee_id for e in department.employees)
        for team in department.teams:
            people.append(team.manager_id or "")
            people.extend(e.employee_id for e in team.employees)
    return [person for person in people if person]


def map_companies(companies: Sequence[Company], ids: IdMap) -> Batch:
    """Companies with their hierarchy → organisations, departments, teams and people.

    Roles: the primary HR contact is the organisation's admin, department and team managers
    are managers, `role_type: trainer` is a trainer, everyone else a learner. A person's
    manager is their team's manager (the department's for the team manager), or their
    department's (the HR contact's for the department manager).
    """
    batch = Batch()
    for company in companies:
        org = ids.get("organization", company.company_id)
        if org is not None:
            _CompanyMapper(company, org, ids, batch).run()
    return batch


class _CompanyMapper:
    def __init__(self, company: Company, org: str, ids: IdMap, batch: Batch) -> None:
        self.company = company
        self.org = org
        self.ids = ids
        self.batch = batch
        self.contact = company.hr_contact
        self.hr_id = ids.get("user", str(self.contact.get("hr_user_id") or ""))
        self.managers = {
            person
            for department in company.hierarchy
            for person in (department.manager_id, *(t.manager_id for t in department.teams))
            if person
        }
        self.seen: set[str] = set()

    def run(self) -> None:
        ids, company = self.ids, self.company
        self.batch.organizations.append(
            Organization(self.org, company.company_name, company.timezone)
        )
        for department in company.hierarchy:
            department_id = ids.get("department", department.department_id)
            if department_id is None:
                continue
            head = ids.get("user", department.manager_id)
            self.batch.departments.append(
                Department(department_id, self.org, department.department_name, head)
            )
            for team in department.teams:
                team_id = ids.get("team", team.team_id)
                if team_id is None:
                    continue
                lead = ids.get("user", team.manager_id)
                self.batch.teams.append(Team(team_id, department_id, team.team_name, lead))
                for employee in team.employees:
                    own = ids.get("user", employee.employee_id)
                    self.person(
                        employee,
                        department_id=department_id,
                        team_id=team_id,
                        manager=head if own == lead else lead,
                    )
            for employee in department.employees:
                own = ids.get("user", employee.employee_id)
                self.person(
                    employee,
                    department_id=department_id,
                    team_id=None,
                    manager=self.hr_id if own == head else head,
                )
        if self.hr_id is not None and self.hr_id not in self.seen:
            contact = self.contact
            hr = Employee(
                employee_id=str(contact.get("hr_user_id")),
                name=contact.get("name"),
                email=contact.get("email"),
            )
            self.person(hr, department_id=None, team_id=None, manager=None)

    def person(
        self,
        employee: Employee,
        *,
        department_id: str | None,
        team_id: str | None,
        manager: str | None,
    ) -> None:
        user = self.ids.get("user", employee.employee_id)
        if user is None or user in self.seen:
            return
        self.seen.add(user)
        if user == self.hr_id:
            role = "org_admin"
        elif employee.employee_id in self.managers:
            role = "manager"
        elif (employee.role_type or "").lower() == "trainer":
            role = "trainer"
        else:
            role = "learner"
        self.batch.users.append(
            User(
                id=user,
                organization_id=self.org,
                email=employee.email,
                display_name=employee.name,
                role=role,
                department_id=department_id,
                team_id=team_id,
                manager_id=manager if manager != user else None,
                timezone=employee.timezone,
            )
        )


class DirectorySource(EducoreSource[Companies]):
    sibling = DIRECTORY
    route = "Directory"
    what = "organizational hierarchy data"
    reply_model = Companies
    paged = True

    def __init__(
        self, coordinator: CoordinatorClient, *, clock: Clock, token: DirectoryToken
    ) -> None:
        super().__init__(coordinator, clock=clock)
        self._token = token

    def _with_token(self, payload: JsonObject) -> JsonObject:
        token = self._token()
        return {**payload, "access_token": token} if token else payload

    def batch_payload(self, *, since: datetime | None, cursor: str | None) -> JsonObject:
        return self._with_token(super().batch_payload(since=since, cursor=cursor))

    def template(self) -> JsonObject:
        return {
            "version": "",
            "fetched_at": "",
            "pagination": dict(PAGINATION_TEMPLATE),
            "companies": [
                {
                    "company_id": "",
                    "company_name": "",
                    "industry": "",
                    "company_size": 0,
                    "primary_hr_contact": "",
                    "approver": "",
                    "KPIs": "",
                    "max_test_attempts": 0,
                    "exercises_limit": False,
                }
            ],
        }

    def company_template(self) -> JsonObject:
        company: JsonObject = dict(self.template()["companies"][0])
        return {**company, "hierarchy": []}

    def read(self, response: JsonObject) -> Companies:
        if "companies" not in response and response.get("company_id"):
            return Companies(companies=[parse_wire(Company, response, service=self.sibling)])
        return parse_wire(Companies, response, service=self.sibling)

    async def fetch_company(self, company_id: str, *, request_id: str | None = None) -> SourcePage:
        """Directory's on-demand pull of one company (id or name)."""
        payload = on_demand_payload(
            route=self.route, origin=self.origin, user_id=None, company_id=company_id,
            reason="dashboard_refresh",
        )  # fmt: skip
        envelope = request_envelope(self._with_token(payload), self.company_template())
        reply = await self.coordinator.call(envelope, request_id=request_id)
        return self._page(reply, self.read(reply.response), next_cursor=None, company_id=company_id)

    async def resolve(self, ids: IdMap, pulled: Pulled[Companies]) -> None:
        companies = pulled.reply.companies
        await ids.resolve("organization", (c.company_id for c in companies), mint=True)
        await ids.resolve(
            "department",
            (d.department_id for c in companies for d in c.hierarchy),
            mint=True,
        )
        await ids.resolve(
            "team",
            (t.team_id for c in companies for d in c.hierarchy for t in d.teams),
            mint=True,
        )
        people = [person for company in companies for person in _company_people(company)]
        await ids.resolve("user", people, mint=True)
        for person in people:
            internal = ids.get("user", person)
            number = numeric_part(person)
            if internal is not None and number is not None:
                ids.learn("user", number, internal, source=ASSESSMENT)

    def map(self, pulled: Pulled[Companies], ids: IdMap) -> Batch:
        return map_companies(pulled.reply.companies, ids)


# --------------------------------------------------------------------------------------------
