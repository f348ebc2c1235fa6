"""Every pull sample of contracts/samples replayed against the outbound adapters: the envelope
we send is the sample's request (signed, to the Coordinator's path), and the sample's reply maps
to the canonical records asserted here, written to the real store (SQLite and PostgreSQL).

The replies come from an `httpx2.MockTransport` standing in for the Coordinator (no network).
`directory-redirect` is a browser hand-off to our frontend, not a pull: nothing to replay here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from learning_analytics.domain.records import ExternalId
from learning_analytics.infrastructure.db import tables
from learning_analytics.infrastructure.db.repositories import SqlRecordWriter
from learning_analytics.infrastructure.educore.catalog import coordinator_registry, educore_sources
from learning_analytics.infrastructure.educore.coordinator import DirectoryToken
from learning_analytics.infrastructure.educore.signing import (
    EnvelopeSigner,
    SignatureVerifier,
    generate_key_pair,
)
from learning_analytics.infrastructure.upstreams.http import UpstreamPolicy
from tests.fakes import FakeClock

pytestmark = pytest.mark.anyio

SAMPLES = Path(__file__).resolve().parents[2] / "contracts" / "samples"  # the contract samples
SERVICE = "learning-analytics-service"
PRIVATE, PUBLIC = generate_key_pair()
SARAH = "10000000-0000-0000-0000-000000000001"
NOW = datetime(2025, 12, 20, 2, 0, tzinfo=UTC)


def sample(name: str) -> dict[str, Any]:
    path = SAMPLES / f"{name}.json"
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


class Coordinator:
    """Answers every envelope with one reply; keeps what was sent, checking the signature."""

    def __init__(self, reply: Any) -> None:
        self.reply = reply
        self.sent: list[Any] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        assert request.method == "POST"
        assert request.url.path == "/api/fill-content-metrics/"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["x-service-name"] == SERVICE
        assert SignatureVerifier(PUBLIC).verify(
            SERVICE, request.headers["x-signature"], body=request.content
        )
        self.sent.append(json.loads(request.content))
        return httpx2.Response(200, json=self.reply)


@pytest.fixture
def writer(session_factory: async_sessionmaker[AsyncSession]) -> SqlRecordWriter:
    return SqlRecordWriter(session_factory)


async def adapters(
    reply: Any, *, now: datetime = NOW, token: str | None = None
) -> tuple[Coordinator, dict[str, Any], Any]:
    coordinator = Coordinator(reply)
    registry = coordinator_registry(
        "http://127.0.0.1:9",
        policy=UpstreamPolicy(total_timeout=5.0),
        transport=httpx2.MockTransport(coordinator),
    )
    sources = educore_sources(
        registry,
        signer=EnvelopeSigner(PRIVATE, SERVICE),
        clock=FakeClock(now),
        directory_token=DirectoryToken(value=token),
    )
    return coordinator, {source.sibling: source for source in sources}, registry


async def mapped(writer: SqlRecordWriter, *pairs: tuple[str, str, str, str]) -> None:
    await writer.upsert_external_ids([ExternalId(*pair) for pair in pairs], ingested_at=NOW)


async def rows(sessions: async_sessionmaker[AsyncSession], model: Any) -> list[Any]:
    async with sessions() as session:
        return list((await session.scalars(select(model))).all())


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_assessment_pull(writer: SqlRecordWriter, session_factory: Any) -> None:
    data = sample("assessment-pull")
    coordinator, sources, registry = await adapters(data["response_body"])
    async with registry:
        page = await sources["assessment"].fetch(since=None, cursor=None)
    assert coordinator.sent == [data["request_body"]]
    assert page.next_cursor is None
    assert page.newest == at("2025-12-19T16:48:22.000Z")
    # Integer user 123 is nobody we know yet: nothing is guessed.
    assert await sources["assessment"].write(writer, page, ingested_at=NOW) == 0
    await mapped(writer, ("assessment", "user", "123", "u-000123"))
    assert await sources["assessment"].write(writer, page, ingested_at=NOW) == 1
    (attempt,) = await rows(session_factory, tables.AssessmentAttemptRow)
    assert (attempt.user_id, attempt.course_id, attempt.assessment_id) == ("u-000123", None, "789")
    assert (attempt.score_pct, attempt.passed, attempt.exam_type) == (82.0, True, "postcourse")
    assert attempt.submitted_at.replace(tzinfo=UTC) == at("2025-12-19T16:48:22.000Z")
    assert attempt.source == "assessment"
    scores = await rows(session_factory, tables.AssessmentSkillScoreRow)
    assert {(s.skill_id, s.score_pct) for s in scores} == {("s_html", 85.0), ("s_js_async", 78.0)}


async def test_contentstudio_pull(writer: SqlRecordWriter, session_factory: Any) -> None:
    data = sample("contentstudio-pull")
    coordinator, sources, registry = await adapters(data["response_body"])
    async with registry:
        page = await sources["content-studio"].fetch(since=None, cursor=None)
    assert coordinator.sent == [data["request_body"]]
    # Course 57 is open to `all` organisations: it cannot be placed until it is mapped.
    assert await sources["content-studio"].write(writer, page, ingested_at=NOW) == 0
    await mapped(writer, ("content-studio", "course", "57", "c-js"))
    assert await sources["content-studio"].write(writer, page, ingested_at=NOW) == 3
    units = sorted(await rows(session_factory, tables.CourseUnitRow), key=lambda u: u.position)
    assert [(u.id, u.kind, u.content_type, u.parent_id, u.course_id) for u in units] == [
        ("content-studio:topic:311", "topic", None, None, "c-js"),
        ("content-studio:content:4412", "content", "text", "content-studio:topic:311", "c-js"),
        ("content-studio:content:4413", "content", "code", "content-studio:topic:311", "c-js"),
    ]
    skills = await rows(session_factory, tables.CourseUnitSkillRow)
    assert {s.skill_id for s in skills if s.unit_id == "content-studio:topic:311"} == {
        "MGS_Promise_Handling", "MGS_Async_Await_Handling",
    }  # fmt: skip
    assert await rows(session_factory, tables.CourseRow) == []  # no organisation to put it in


async def test_contentstudio_course_with_a_known_organisation(
    writer: SqlRecordWriter, session_factory: Any
) -> None:
    data = sample("contentstudio-pull")
    reply = json.loads(json.dumps(data["response_body"]))
    reply["response"]["courses"][0]["permission"] = ["550e8400-e29b-41d4-a716-446655440000"]
    _, sources, registry = await adapters(reply)
    await mapped(
        writer,
        ("directory", "organization", "550e8400-e29b-41d4-a716-446655440000", "org-1"),
        ("directory", "user", "50a630f4-826e-45aa-8f70-653e5e592fc3", "u-trainer"),
    )
    async with registry:
        page = await sources["content-studio"].fetch(since=None, cursor=None)
    assert await sources["content-studio"].write(writer, page, ingested_at=NOW) == 4
    (course,) = await rows(session_factory, tables.CourseRow)
    assert (course.id, course.organization_id, course.title, course.trainer_id) == (
        "content-studio:course:57", "org-1", "JavaScript Async Patterns", "u-trainer",
    )  # fmt: skip


async def test_coursebuilder_pull(writer: SqlRecordWriter, session_factory: Any) -> None:
    data = sample("coursebuilder-pull")
    company = data["request_body"]["payload"]["company_id"]
    coordinator, sources, registry = await adapters(data["response_body"])
    await mapped(
        writer,
        ("directory", "organization", company, "org-1"),
        ("directory", "user", SARAH, SARAH),
    )
    async with registry:
        page = await sources["course-builder"].fetch_company(company)
    assert coordinator.sent == [data["request_body"]]
    assert await sources["course-builder"].write(writer, page, ingested_at=NOW) == 3
    course_id = "d0e1f2a3-b4c5-6789-ef01-890123456789"
    (course,) = await rows(session_factory, tables.CourseRow)
    assert (course.id, course.organization_id, course.title) == (
        course_id, "org-1", "Advanced React Development",
    )  # fmt: skip
    (enrollment,) = await rows(session_factory, tables.EnrollmentRow)
    assert (enrollment.user_id, enrollment.course_id, enrollment.completed_at) == (
        SARAH, course_id, None,
    )  # fmt: skip
    assert enrollment.enrolled_at.replace(tzinfo=UTC) == at("2025-11-01T09:00:00.000Z")
    (feedback,) = await rows(session_factory, tables.FeedbackRow)
    assert (feedback.user_id, feedback.course_id, feedback.rating) == (SARAH, course_id, 5)
    assert feedback.submitted_at.replace(tzinfo=UTC) == at("2025-12-07T14:12:31.000Z")
    # Course Builder is the authority on courses: its id is ours, and recorded as such.
    ids = await writer.internal_ids(
        source="course-builder", kind="course", external_ids=[course_id]
    )
    assert ids == {course_id: course_id}


async def test_devlab_pull(writer: SqlRecordWriter, session_factory: Any) -> None:
    data = sample("devlab-pull")
    coordinator, sources, registry = await adapters(data["response_body"])
    await mapped(writer, ("directory", "user", SARAH, SARAH))
    async with registry:
        page = await sources["devlab"].fetch_user(SARAH)
    expected = json.loads(json.dumps(data["request_body"]))
    del expected["payload"]["course_id"]  # a learner's refresh does not filter on a course
    assert coordinator.sent == [expected]
    assert await sources["devlab"].write(writer, page, ingested_at=NOW) == 1
    (session,) = await rows(session_factory, tables.PracticeSessionRow)
    assert session.id == "devlab:5b7c9d1e-2f3a-4b5c-8d6e-7f8091a2b3c4"
    assert (session.user_id, session.completed, session.won, session.seconds) == (
        SARAH, True, True, 9 * 60 + 41,
    )  # fmt: skip
    assert session.started_at.replace(tzinfo=UTC) == at("2025-12-18T12:00:00.000Z")
    # DevLab names people by Directory's ids: the mapping is now recorded under its name too.
    assert await writer.internal_ids(source="devlab", kind="user", external_ids=[SARAH]) == {
        SARAH: SARAH
    }


def directory_expectations(users: list[Any]) -> None:
    by_id = {user.id: user for user in users}
    sarah = by_id[SARAH]
    assert (sarah.role, sarah.email, sarah.display_name) == (
        "learner", "sarah.levy@techcorp.example", "Sarah Levy",
    )  # fmt: skip
    assert (sarah.organization_id, sarah.department_id, sarah.team_id, sarah.manager_id) == (
        "550e8400-e29b-41d4-a716-446655440000",
        "d1111111-1111-4111-8111-111111111111",
        "c3333333-3333-4333-8333-333333333333",
        "e4444444-4444-4444-8444-444444444444",  # the team's manager
    )
    hr = by_id["7c1f5e2a-0b3d-4c6e-8f9a-1b2c3d4e5f60"]  # the primary HR contact
    assert (hr.role, hr.email, hr.department_id) == (
        "org_admin",
        "dana.cohen@techcorp.example",
        None,
    )


async def test_directory_pull_batch(writer: SqlRecordWriter, session_factory: Any) -> None:
    data = sample("directory-pull-batch")
    token = data["request_body"]["payload"]["access_token"]
    coordinator, sources, registry = await adapters(data["response_body"], token=token)
    async with registry:
        page = await sources["directory"].fetch(since=None, cursor=None)
    assert coordinator.sent == [data["request_body"]]
    assert page.next_cursor is None  # next_cursor null, has_more false: the last page
    assert await sources["directory"].write(writer, page, ingested_at=NOW) == 5
    (org,) = await rows(session_factory, tables.OrganizationRow)
    assert (org.id, org.name) == ("550e8400-e29b-41d4-a716-446655440000", "TechCorp Global")
    (department,) = await rows(session_factory, tables.DepartmentRow)
    assert (department.name, department.manager_id) == (
        "Engineering", "e2222222-2222-4222-8222-222222222222",
    )  # fmt: skip
    (team,) = await rows(session_factory, tables.TeamRow)
    assert (team.name, team.department_id) == ("Frontend", department.id)
    directory_expectations(await rows(session_factory, tables.UserRow))


async def test_directory_pull_ondemand(writer: SqlRecordWriter, session_factory: Any) -> None:
    data = sample("directory-pull-ondemand")
    token = data["request_body"]["payload"]["access_token"]
    coordinator, sources, registry = await adapters(data["response_body"], token=token)
    async with registry:
        page = await sources["directory"].fetch_company("550e8400-e29b-41d4-a716-446655440000")
    assert coordinator.sent == [data["request_body"]]
    assert await sources["directory"].write(writer, page, ingested_at=NOW) == 5
    directory_expectations(await rows(session_factory, tables.UserRow))


async def test_learnerai_pull(writer: SqlRecordWriter, session_factory: Any) -> None:
    data = sample("learnerai-pull")
    # The paths created since the last run (on 19 December), up to today (the 19th, late).
    today = datetime(2025, 12, 19, 23, 0, tzinfo=UTC)
    coordinator, sources, registry = await adapters(data["response_body"], now=today)
    await mapped(writer, ("directory", "user", SARAH, SARAH))
    async with registry:
        page = await sources["learner-ai"].fetch(
            since=datetime(2025, 12, 19, 1, 0, tzinfo=UTC), cursor=None
        )
    assert coordinator.sent == [data["request_body"]]
    assert await sources["learner-ai"].write(writer, page, ingested_at=NOW) == 1
    (path,) = await rows(session_factory, tables.LearningPathRow)
    assert (path.id, path.user_id) == (f"learner-ai:{SARAH}:react-frontend-development", SARAH)
    assert path.steps == [
        {
            "module": "Hooks in depth",
            "step": 1,
            "title": "useEffect and dependencies",
            "skills": ["MGS_React_Hooks_Advanced"],
            "estimatedHours": 2,
        }
    ]


async def test_learnerai_first_pull_asks_for_everything() -> None:
    data = sample("learnerai-pull")
    coordinator, sources, registry = await adapters(data["response_body"])
    async with registry:
        await sources["learner-ai"].fetch(since=None, cursor=None)
    assert "date_range" not in coordinator.sent[0]["payload"]


def skills_expectations(profiles: list[Any]) -> None:
    (profile,) = profiles
    assert (profile.user_id, profile.skill_id) == (SARAH, "comp-frontend-engineering")
    # 82.5 % coverage: 82.5 / 20 = 4.125 -> level 4 (ADVANCED, as Skills Engine names it).
    assert (profile.current_level, profile.verified, profile.target_level) == (4, True, None)
    assert profile.updated_at.replace(tzinfo=UTC) == at("2025-12-18T14:40:00.000Z")


async def test_skillsengine_pull_batch(writer: SqlRecordWriter, session_factory: Any) -> None:
    data = sample("skillsengine-pull-batch")
    coordinator, sources, registry = await adapters(data["response_body"])
    await mapped(writer, ("directory", "user", SARAH, SARAH))
    async with registry:
        page = await sources["skills-engine"].fetch(since=None, cursor=None)
    assert coordinator.sent == [data["request_body"]]
    assert page.next_cursor is None
    assert page.newest == at("2025-12-18T14:40:00.000Z")
    assert await sources["skills-engine"].write(writer, page, ingested_at=NOW) == 1
    skills_expectations(await rows(session_factory, tables.SkillProfileRow))


async def test_skillsengine_pull_ondemand(writer: SqlRecordWriter, session_factory: Any) -> None:
    data = sample("skillsengine-pull-ondemand")
    coordinator, sources, registry = await adapters(data["response_body"])
    await mapped(writer, ("directory", "user", SARAH, SARAH))
    async with registry:
        page = await sources["skills-engine"].fetch_user(SARAH)
    assert coordinator.sent == [data["request_body"]]
    assert await sources["skills-engine"].write(writer, page, ingested_at=NOW) == 1
    skills_expectations(await rows(session_factory, tables.SkillProfileRow))


@pytest.mark.parametrize("framing", ["envelope", "new-format", "string-body"])
async def test_every_reply_framing_gives_the_same_records(
    writer: SqlRecordWriter, session_factory: Any, framing: str
) -> None:
    body = sample("skillsengine-pull-batch")["response_body"]
    reply: Any = {
        "envelope": body,
        "new-format": {"success": True, "data": body, "metadata": {"service": "skills-engine"}},
        "string-body": json.dumps(body),
    }[framing]
    _, sources, registry = await adapters(reply)
    await mapped(writer, ("directory", "user", SARAH, SARAH))
    async with registry:
        page = await sources["skills-engine"].fetch(since=None, cursor=None)
    assert await sources["skills-engine"].write(writer, page, ingested_at=NOW) == 1
    skills_expectations(await rows(session_factory, tables.SkillProfileRow))


async def test_skillsengine_target_competencies_become_target_levels(
    writer: SqlRecordWriter, session_factory: Any
) -> None:
    reply = json.loads(json.dumps(sample("skillsengine-pull-ondemand")["response_body"]))
    reply["response"]["target_competencies"] = [
        {"competency_id": "comp-frontend-engineering", "target_level": 5},
        {"competency_id": "comp-testing", "proficiency_level": "INTERMEDIATE"},
    ]
    _, sources, registry = await adapters(reply)
    await mapped(writer, ("directory", "user", SARAH, SARAH))
    async with registry:
        page = await sources["skills-engine"].fetch_user(SARAH)
    assert await sources["skills-engine"].write(writer, page, ingested_at=NOW) == 2
    profiles = await rows(session_factory, tables.SkillProfileRow)
    assert {(p.skill_id, p.current_level, p.target_level) for p in profiles} == {
        ("comp-frontend-engineering", 4, 5),
        ("comp-testing", 0, 3),  # a target not started yet
    }


async def test_coursebuilder_status_objects_and_out_of_range_progress(
    writer: SqlRecordWriter, session_factory: Any
) -> None:
    data = sample("coursebuilder-pull")
    reply = json.loads(json.dumps(data["response_body"]))
    course = reply["response"]["courses"][0]
    other = "10000000-0000-0000-0000-000000000002"
    course["studentsIDDictionary"] = {
        SARAH: {
            "status": "in_progress",
            "progress_pct": 140,
            "enrolled_at": "2025-11-03T08:00:00Z",
        },
        other: "completed",
    }
    company = data["request_body"]["payload"]["company_id"]
    _, sources, registry = await adapters(reply)
    await mapped(
        writer,
        ("directory", "organization", company, "org-1"),
        ("directory", "user", SARAH, SARAH),
        ("directory", "user", other, other),
    )
    async with registry:
        page = await sources["course-builder"].fetch_company(company)
    await sources["course-builder"].write(writer, page, ingested_at=NOW)
    enrollments = {e.user_id: e for e in await rows(session_factory, tables.EnrollmentRow)}
    assert enrollments[SARAH].progress_pct == 100.0  # clamped
    assert enrollments[SARAH].completed_at is None
    assert enrollments[SARAH].enrolled_at.replace(tzinfo=UTC) == at("2025-11-03T08:00:00Z")
    done = enrollments[other]
    assert done.progress_pct == 100.0
    assert done.completed_at.replace(tzinfo=UTC) == at("2025-12-07T14:12:31.000Z")  # updated_at
