"""GET /api/v1/analytics/{trainer,organization}/..., end to end over the small organisation of
tests/org_world.py (k = 5): scoping matrix, CSV, suppression, caching and bad input."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from learning_analytics.presentation.group_serving import CsvTable, render_csv
from tests.api.conftest import Api, make_settings, running_api
from tests.conftest import Database
from tests.fakes import FakeClock
from tests.org_world import NOW, ORG, seed_org_world

pytestmark = pytest.mark.anyio

TRAINER = "/api/v1/analytics/trainer"
ORGANIZATION = "/api/v1/analytics/organization"
TRAINER_METRICS = (
    "course-performance",
    "course-health",
    "student-distribution",
    "teaching-effectiveness",
)
ORG_METRICS = (
    "learning-velocity",
    "strategic-alignment",
    "department-analytics",
    "learning-culture",
)
JUNE = {"from": "2026-06-01", "to": "2026-06-28", "tz": "UTC"}


@pytest.fixture
async def api(database: Database) -> AsyncIterator[Api]:
    await seed_org_world(database.url, database.connect_args)
    async with running_api(make_settings(database), clock=FakeClock(NOW)) as running:
        yield running


def auth(api: Api, user_id: str, role: str, organization_id: str | None = ORG) -> dict[str, str]:
    token, _ = api.issuer.issue(
        subject=user_id,
        email=f"{user_id}@example.org",
        roles=[role],
        organization_id=organization_id,
        now=datetime.now(UTC),
    )
    return {"Authorization": f"Bearer {token}"}


# --------------------------------------------------------------------------------------------
# scoping


@pytest.mark.parametrize(
    ("caller", "role", "organization", "status"),
    [
        ("tr-s1", "trainer", ORG, 200),  # the trainer
        ("oa-s", "org_admin", ORG, 200),  # an org admin of the trainer's organisation
        ("ad-s", "admin", None, 200),  # a platform admin
        ("tr-s2", "trainer", ORG, 403),  # another trainer of the same organisation
        ("tr-x", "trainer", "org-x", 403),  # a trainer of another organisation
        ("oa-x", "org_admin", "org-x", 403),  # an org admin of another organisation
        ("mg-1", "manager", ORG, 403),  # a manager
        ("s-01", "learner", ORG, 403),  # a learner of the trainer's course
    ],
)
async def test_trainer_scoping(
    api: Api, caller: str, role: str, organization: str | None, status: int
) -> None:
    for metric in TRAINER_METRICS:
        response = await api.client.get(
            f"{TRAINER}/{metric}/tr-s1", params=JUNE, headers=auth(api, caller, role, organization)
        )
        assert response.status_code == status, (metric, response.text)
        if status == 403:
            assert response.json()["error"]["code"] == "FORBIDDEN"


async def test_unknown_trainer_is_404_for_an_admin_and_403_for_others(api: Api) -> None:
    url = f"{TRAINER}/course-performance/tr-nobody"
    admin = await api.client.get(url, headers=auth(api, "ad-s", "admin", None))
    assert admin.status_code == 404
    other = await api.client.get(url, headers=auth(api, "oa-s", "org_admin"))
    assert other.status_code == 403


@pytest.mark.parametrize(
    ("caller", "role", "organization", "status"),
    [
        ("oa-s", "org_admin", ORG, 200),
        ("ad-s", "admin", None, 200),
        ("oa-x", "org_admin", "org-x", 403),  # an org admin of another organisation
        ("tr-s1", "trainer", ORG, 403),
        ("mg-1", "manager", ORG, 403),  # managers: department-analytics only
        ("s-01", "learner", ORG, 403),
    ],
)
async def test_organization_scoping(
    api: Api, caller: str, role: str, organization: str | None, status: int
) -> None:
    for metric in ORG_METRICS:
        if metric == "department-analytics" and role == "manager":
            continue
        response = await api.client.get(
            f"{ORGANIZATION}/{metric}/{ORG}",
            params=JUNE,
            headers=auth(api, caller, role, organization),
        )
        assert response.status_code == status, (metric, response.text)


async def test_a_manager_sees_only_their_departments(api: Api) -> None:
    url = f"{ORGANIZATION}/department-analytics/{ORG}"
    mine = await api.client.get(url, params=JUNE, headers=auth(api, "mg-1", "manager"))
    assert mine.status_code == 200
    data = mine.json()["data"]
    assert [d["departmentId"] for d in data["departments"]] == ["dep-1"]
    assert data["departments"][0]["figures"]["headcount"] == 5
    own = await api.client.get(
        url, params={**JUNE, "departmentId": "dep-1"}, headers=auth(api, "mg-1", "manager")
    )
    assert own.status_code == 200
    other = await api.client.get(
        url, params={**JUNE, "departmentId": "dep-2"}, headers=auth(api, "mg-1", "manager")
    )
    assert other.status_code == 403
    # A manager of another organisation, and a manager who manages nothing.
    foreign = await api.client.get(url, headers=auth(api, "mg-1", "manager", "org-x"))
    assert foreign.status_code == 403
    nothing = await api.client.get(url, headers=auth(api, "mg-none", "manager"))
    assert nothing.status_code == 403


# --------------------------------------------------------------------------------------------
# answers, suppression, CSV


async def test_every_endpoint_answers_in_the_envelope(api: Api) -> None:
    admin = auth(api, "oa-s", "org_admin")
    for metric in TRAINER_METRICS:
        response = await api.client.get(f"{TRAINER}/{metric}/tr-s1", params=JUNE, headers=admin)
        body = response.json()
        assert body["data"]["trainerId"] == "tr-s1"
        assert body["meta"]["dataSource"] == "realtime"
        assert response.headers["cache-control"].startswith("private, max-age=7200")
    for metric in ORG_METRICS:
        response = await api.client.get(
            f"{ORGANIZATION}/{metric}/{ORG}", params=JUNE, headers=admin
        )
        body = response.json()
        assert (body["data"]["organizationId"], body["data"]["k"]) == (ORG, 5)
        assert response.headers["cache-control"].startswith("private, max-age=21600")


async def test_suppressed_department_in_the_api(api: Api) -> None:
    response = await api.client.get(
        f"{ORGANIZATION}/department-analytics/{ORG}",
        params=JUNE,
        headers=auth(api, "oa-s", "org_admin"),
    )
    data = response.json()["data"]
    rows = {row["departmentId"]: row for row in data["departments"]}
    assert rows["dep-3"] == {
        "departmentId": "dep-3",
        "name": "R&D",
        "suppressed": True,
        "figures": None,
        "vsOrganization": None,
    }
    # Organisation figures over the shown departments only (10 of the 12 learners).
    assert data["organization"]["headcount"] == 10
    only = await api.client.get(
        f"{ORGANIZATION}/learning-velocity/{ORG}",
        params={**JUNE, "departmentId": "dep-3"},
        headers=auth(api, "oa-s", "org_admin"),
    )
    assert only.status_code == 422
    assert only.json()["error"]["code"] == "INSUFFICIENT_DATA"


def _csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


async def test_csv_course_performance(api: Api) -> None:
    response = await api.client.get(
        f"{TRAINER}/course-performance/tr-s1",
        params=JUNE,
        headers={**auth(api, "tr-s1", "trainer"), "Accept": "text/csv"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["x-data-source"] == "realtime"
    # The comma and the quotes of the title are quoted and doubled (RFC 4180).
    assert '"Python, ""Basics"""' in response.text
    rows = _csv(response.text)
    assert rows[0] == [
        "courseId",
        "title",
        "suppressed",
        "enrolled",
        "active",
        "completionRate",
        "averageProgress",
        "averageScore",
        "passRate",
        "medianDaysToComplete",
    ]
    assert rows[1:] == [
        ["c-1", 'Python, "Basics"', "false", "6", "1", "50.0", "62.5", "62.5", "66.7", ""],
        ["c-2", "Tiny", "true", "", "", "", "", "", "", ""],
    ]


async def test_csv_department_analytics_and_etag(api: Api) -> None:
    headers = {**auth(api, "oa-s", "org_admin"), "Accept": "text/csv"}
    url = f"{ORGANIZATION}/department-analytics/{ORG}"
    response = await api.client.get(url, params=JUNE, headers=headers)
    rows = _csv(response.text)
    assert rows[0][:4] == ["departmentId", "name", "suppressed", "figures.headcount"]
    assert [row[:3] for row in rows[1:]] == [
        ["dep-1", 'Sales, "East"', "false"],
        ["dep-2", "Ops", "false"],
        ["dep-3", "R&D", "true"],
    ]
    assert all(cell == "" for cell in rows[3][3:])
    assert response.headers["vary"] == "Authorization, Accept"
    again = await api.client.get(
        url, params=JUNE, headers={**headers, "If-None-Match": response.headers["etag"]}
    )
    assert again.status_code == 304
    as_json = await api.client.get(url, params=JUNE, headers=auth(api, "oa-s", "org_admin"))
    assert as_json.headers["etag"] != response.headers["etag"]


@pytest.mark.parametrize(
    ("path", "table", "rows"),
    [
        (f"{ORGANIZATION}/learning-velocity/{ORG}", "weekStart", 4),
        (f"{ORGANIZATION}/strategic-alignment/{ORG}", "skillId", 2),
        (f"{ORGANIZATION}/learning-culture/{ORG}", "departmentId", 3),
        (f"{TRAINER}/course-health/tr-s1", "courseId", 2),
        (f"{TRAINER}/student-distribution/tr-s1", "userId", 5),
        (f"{TRAINER}/teaching-effectiveness/tr-s1", "courseId", 2),
    ],
)
async def test_csv_main_tables(api: Api, path: str, table: str, rows: int) -> None:
    response = await api.client.get(
        path, params=JUNE, headers={**auth(api, "ad-s", "admin", None), "Accept": "text/csv"}
    )
    parsed = _csv(response.text)
    assert parsed[0][0] == table
    assert len(parsed) == rows + 1


def test_csv_neutralises_formulas() -> None:
    table = CsvTable("t", "rows", ("name", "value"))
    out = render_csv(b'{"rows":[{"name":"=HYPERLINK(1)","value":-2.5}]}', table)
    assert _csv(out.decode()) == [["name", "value"], ["'=HYPERLINK(1)", "-2.5"]]


# --------------------------------------------------------------------------------------------
# caching and input


async def test_cached_then_forced_recomputation(api: Api) -> None:
    url = f"{ORGANIZATION}/learning-culture/{ORG}"
    admin = auth(api, "oa-s", "org_admin")
    first = await api.client.get(url, params=JUNE, headers=admin)
    second = await api.client.get(url, params=JUNE, headers=admin)
    assert first.json()["meta"]["dataSource"] == "realtime"
    assert second.json()["meta"]["dataSource"] == "cached"
    assert first.json()["data"] == second.json()["data"]
    platform = auth(api, "ad-s", "admin", None)
    forced = await api.client.get(
        url, params=JUNE, headers={**platform, "Cache-Control": "no-cache"}
    )
    assert forced.json()["meta"]["dataSource"] == "realtime"
    # An org admin's no-cache does not force recomputation (admins and the subject only).
    not_forced = await api.client.get(
        url, params=JUNE, headers={**admin, "Cache-Control": "no-cache"}
    )
    assert not_forced.json()["meta"]["dataSource"] == "cached"


@pytest.mark.parametrize(
    "params",
    [
        {"tz": "Mars/Olympus"},
        {"from": "2026-06-30", "to": "2026-06-01"},
        {"from": "2025-01-01", "to": "2026-06-01"},
        {"from": "June"},
        {"courseId": "bad id!"},
    ],
)
async def test_bad_input_is_422(api: Api, params: dict[str, str]) -> None:
    for path in (f"{TRAINER}/course-health/tr-s1", f"{ORGANIZATION}/learning-velocity/{ORG}"):
        response = await api.client.get(
            path, params=params, headers=auth(api, "ad-s", "admin", None)
        )
        assert response.status_code == 422, (path, params, response.text)
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_unknown_organization_and_department(api: Api) -> None:
    admin = auth(api, "ad-s", "admin", None)
    missing = await api.client.get(f"{ORGANIZATION}/learning-velocity/org-none", headers=admin)
    assert missing.status_code == 404
    department = await api.client.get(
        f"{ORGANIZATION}/learning-velocity/{ORG}", params={"departmentId": "dep-9"}, headers=admin
    )
    assert department.status_code == 404


async def test_trainer_department_filter_is_its_own_cached_answer(api: Api) -> None:
    url = f"{TRAINER}/course-performance/tr-s1"
    headers = auth(api, "tr-s1", "trainer")
    everyone = await api.client.get(url, params=JUNE, headers=headers)
    dep1 = await api.client.get(url, params={**JUNE, "departmentId": "dep-1"}, headers=headers)
    assert everyone.status_code == dep1.status_code == 200
    assert everyone.json()["data"]["courses"][0]["enrolled"] == 6
    assert dep1.json()["data"]["courses"][0]["enrolled"] == 5
    unknown = await api.client.get(url, params={**JUNE, "departmentId": "dep-9"}, headers=headers)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "NOT_FOUND"
