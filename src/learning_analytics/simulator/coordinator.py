"""The fake EDUCORE Coordinator (SPEC §5.3, §12): the simulated population served in the
siblings' own formats through one endpoint, `POST /coordinator/api/fill-content-metrics/`
(with or without the trailing slash), so the educore transport is tested end to end.

It routes each envelope on `payload.service_origin` (or the `ROUTE_TO_<Service>` of its
action) and answers as that sibling does (contracts/EDUCORE.md §3), quirks included:

- Directory: `type: batch` pages of companies ordered by id (`pagination.next_cursor`,
  `has_more`), or one company on demand; with a configured admin token, a request without it
  gets `response.error` (Directory's 401);
- Course Builder: the template's `courses`, paged like Directory, or one company's;
- Content Studio: only courses created or updated in the 24 hours before the population's
  anchor, and the payload's keys echoed inside `response`;
- Assessment: every attempt of the last 24 hours whatever was asked, integer ids (the numeric
  part of ours), and its extra envelope fields (`received_at`, `status`, `metrics`...);
- Skills Engine: cursor pages of `page_size` (`has_more` only when a page is full), or one
  user's competencies; each with its `target_competencies` (the batch guide's name);
- Learner AI: `payload.action` required; the rows as a JSON *string* in `response.answer`;
- DevLab: every competition, or one learner's.

Replies come back in the Coordinator's "new format" `{success, data: <envelope>, metadata}` for
Directory and Skills Engine, and as the bare envelope for the others (a client must read both).
Signatures (ECDSA P-256 over `"educoreai-" + name + "-" + sha256_hex(body)`, EDUCORE.md §2.3):
when caller keys are configured, a request must carry `X-Service-Name` of a known caller and an
`X-Signature` that verifies over the body, else 401; with a signing key, every reply carries
`X-Service-Name: coordinator` and `X-Service-Signature`. This is written independently of our
client's signing code on purpose: the Coordinator is another implementation.

Faults: the fault board's entry of the sibling an envelope is routed to applies (`faults.py`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import anyio.to_thread
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, Request
from fastapi.responses import Response

from learning_analytics.domain.records import User
from learning_analytics.simulator.envelope import JSON
from learning_analytics.simulator.faults import FaultBoard, fault_response
from learning_analytics.simulator.feeds import Feeds, iso, skill_name, structure_stamp
from learning_analytics.simulator.population import PASS_MARK, Population

PREFIX = "/coordinator"
MAX_BODY_BYTES = 1024 * 1024
WINDOW = timedelta(hours=24)
DEFAULT_PAGE_SIZE = 1000
ACCEPTED_REQUESTERS = frozenset({"LearningAnalytics", "learning-analytics"})
_ORIGINS = {
    "directory": "directory",
    "coursebuilder": "course-builder",
    "contentstudio": "content-studio",
    "assessment": "assessment",
    "skillsengine": "skills-engine",
    "learnerai": "learner-ai",
    "devlab": "devlab",
}
_LEVEL_NAMES = (None, "BEGINNER", "BEGINNER", "INTERMEDIATE", "ADVANCED", "EXPERT")

Envelope = dict[str, Any]


@dataclass(frozen=True, slots=True)
class CoordinatorConfig:
    """Keys and quirks of the fake Coordinator (all optional: by default nothing is checked)."""

    caller_keys: Mapping[str, str] = field(default_factory=dict)  # service name -> public PEM
    signing_key: str | None = None  # the Coordinator's private PEM: replies are signed
    directory_token: str | None = None  # Directory answers only requests carrying it
    page_size: int = DEFAULT_PAGE_SIZE  # Directory's and Course Builder's page size


def _message(service: str, body: bytes) -> bytes:
    return f"educoreai-{service}-{hashlib.sha256(body).hexdigest()}".encode()


def _pem(text: str) -> bytes:
    return text.replace("\\n", "\n").strip().encode()


class _Keys:
    def __init__(self, config: CoordinatorConfig) -> None:
        self.callers = {
            name: serialization.load_pem_public_key(_pem(pem))
            for name, pem in config.caller_keys.items()
        }
        self.signing = (
            serialization.load_pem_private_key(_pem(config.signing_key), password=None)
            if config.signing_key
            else None
        )

    def caller_verified(self, name: str | None, signature: str | None, body: bytes) -> bool:
        key = self.callers.get(name or "")
        if not isinstance(key, ec.EllipticCurvePublicKey) or not signature or name is None:
            return False
        try:
            key.verify(
                base64.b64decode(signature, validate=True),
                _message(name, body),
                ec.ECDSA(hashes.SHA256()),
            )
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True

    def reply(self, content: Any, status_code: int = 200) -> Response:
        body = json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode()
        headers: dict[str, str] = {}
        if isinstance(self.signing, ec.EllipticCurvePrivateKey):
            signature = self.signing.sign(_message("coordinator", body), ec.ECDSA(hashes.SHA256()))
            headers = {
                "X-Service-Name": "coordinator",
                "X-Service-Signature": base64.b64encode(signature).decode(),
            }
        return Response(body, status_code=status_code, media_type=JSON, headers=headers)


def _number(identifier: str | None) -> int | None:
    """Assessment's ids: the numeric part of the original id."""
    digits = "".join(ch for ch in identifier or "" if ch.isdigit())
    return int(digits) if digits else None


def _page(ids: list[str], cursor: str | None, size: int) -> tuple[int, int]:
    start = 0
    if cursor:
        start = next((i + 1 for i, value in enumerate(ids) if value == cursor), len(ids))
    return start, min(len(ids), start + size)


class _Siblings:
    """The seven siblings' answers over one population (see the module doc)."""

    def __init__(self, feeds: Feeds, config: CoordinatorConfig) -> None:
        self.feeds = feeds
        self.population: Population = feeds.population
        self.config = config
        self.now = self.population.anchor

    # -- helpers -----------------------------------------------------------------------------

    def _items(self, collection: str) -> list[dict[str, Any]]:
        feed = self.feeds.feed(collection)
        return [
            json.loads(item) for item in feed.page(since=None, cursor=None, limit=len(feed)).items
        ]

    def _fetched(self) -> str:
        return iso(self.now)

    # -- Directory ---------------------------------------------------------------------------

    def directory(self, envelope: Envelope, headers: Mapping[str, str]) -> Envelope:
        payload = envelope["payload"]
        token = self.config.directory_token
        bearer = headers.get("authorization", "").removeprefix("Bearer ").strip()
        if token and token not in (payload.get("access_token"), bearer):
            return {
                "requester_service": "directory_service",
                "response": {"error": "Authentication required: a system admin token"},
            }
        orgs = sorted(self.population.organizations, key=lambda org: org.id)
        template = envelope.get("response") or {}
        if payload.get("type") == "on-demand" or "on-demand" in str(payload.get("action")):
            wanted = str(payload.get("company_id") or "")
            found = next((o for o in orgs if wanted in (o.id, o.name)), None)
            company = self._company(found.id) if found else {"error": "Company not found"}
            return {**envelope, "response": company}
        cursor = payload.get("cursor")
        start, end = _page([org.id for org in orgs], cursor, self.config.page_size)
        more = end < len(orgs)
        response = {
            "version": template.get("version") or "",
            "pagination": {
                "total_records": len(orgs),
                "returned_records": end - start,
                "next_cursor": orgs[end - 1].id if more and end > start else None,
                "has_more": more,
            },
            "companies": [self._company(org.id) for org in orgs[start:end]],
        }
        return {**envelope, "response": response}

    def _company(self, org_id: str) -> dict[str, Any]:
        population = self.population
        org = next(o for o in population.organizations if o.id == org_id)
        members = [u for u in population.users if u.organization_id == org_id]
        admin = next((u for u in members if u.role == "org_admin"), None)

        def employee(user: User) -> dict[str, Any]:
            return {
                "employee_id": user.id,
                "name": user.display_name,
                "email": user.email,
                "current_role_in_company": user.role,
                "target_role_in_company": "",
                "preferred_language": "en",
                "profile_status": "approved",
                "role_type": "trainer" if user.role == "trainer" else "regular",
            }

        hierarchy = []
        for department in (d for d in population.departments if d.organization_id == org_id):
            teams = [t for t in population.teams if t.department_id == department.id]
            hierarchy.append(
                {
                    "department_id": department.id,
                    "department_name": department.name,
                    "manager_id": department.manager_id,
                    "teams": [
                        {
                            "team_id": team.id,
                            "team_name": team.name,
                            "manager_id": team.manager_id,
                            "employees": [employee(u) for u in members if u.team_id == team.id],
                        }
                        for team in teams
                    ],
                    "employees": [
                        employee(u)
                        for u in members
                        if u.department_id == department.id and u.team_id is None
                    ],
                }
            )
        return {
            "company_id": org.id,
            "company_name": org.name,
            "industry": "Software",
            "company_size": len(members),
            "primary_hr_contact": {
                "name": admin.display_name if admin else "",
                "email": admin.email if admin else "",
                "phone": "",
                "hr_user_id": admin.id if admin else "",
            },
            "approver": {"role": "DECISION_MAKER", "email": "", "approver_id": ""},
            "KPIs": "",
            "kpis": sorted(
                {
                    t.skill_id
                    for t in population.strategic_skill_targets
                    if t.organization_id == org_id
                }
            ),
            "max_test_attempts": 3,
            "exercises_limit": 10,
            "hierarchy": hierarchy,
        }

    # -- Course Builder ----------------------------------------------------------------------

    def course_builder(self, envelope: Envelope, _headers: Mapping[str, str]) -> Envelope:
        payload = envelope["payload"]
        template = envelope.get("response") or {}
        if not template:
            return {
                **envelope,
                "response": {"error": "an empty template goes to the LearnerAI handler"},
            }
        courses = sorted(self.population.courses, key=lambda c: c.id)
        if payload.get("type") == "on-demand":
            company = payload.get("company_id")
            chosen = [c for c in courses if c.organization_id == company]
            head = {"version": iso(self.now)[:10], "fetched_at": self._fetched()}
            return {**envelope, "response": {**head, "courses": self._courses(chosen)}}
        start, end = _page([c.id for c in courses], payload.get("cursor"), self.config.page_size)
        more = end < len(courses)
        response: dict[str, Any] = {
            "version": iso(self.now)[:10],
            "fetched_at": self._fetched(),
            "pagination": {
                "total_records": len(courses),
                "returned_records": end - start,
                "next_cursor": courses[end - 1].id if more and end > start else None,
                "has_more": more,
            },
            "courses": self._courses(courses[start:end]),
        }
        return {**envelope, "response": response}

    def _courses(self, courses: list[Any]) -> list[dict[str, Any]]:
        wanted = {course.id for course in courses}
        students: dict[str, dict[str, Any]] = {course_id: {} for course_id in wanted}
        for enrollment in self.population.enrollments:
            if enrollment.course_id in wanted:
                status = (
                    "completed"
                    if enrollment.completed_at
                    else "withdrawn"
                    if enrollment.withdrawn_at
                    else "in_progress"
                )
                students[enrollment.course_id][enrollment.user_id] = {
                    "status": status,
                    "enrolled_at": iso(enrollment.enrolled_at),
                    "completed_at": iso(enrollment.completed_at)
                    if enrollment.completed_at
                    else None,
                    "withdrawn_at": iso(enrollment.withdrawn_at)
                    if enrollment.withdrawn_at
                    else None,
                    "due_at": iso(enrollment.due_at) if enrollment.due_at else None,
                    "progress_pct": enrollment.progress_pct,
                }
        feedback: dict[str, dict[str, Any]] = {course_id: {} for course_id in wanted}
        for item in self._items("feedback"):
            if item["courseId"] in wanted:
                feedback[item["courseId"]][item["userId"]] = {
                    "rating": item["rating"],
                    "comment": "",
                    "submitted_at": item["submittedAt"],
                }
        replies = []
        for course in courses:
            stamp = iso(structure_stamp(self.population, course.id))
            replies.append(
                {
                    "course_id": course.id,
                    "course_name": course.title,
                    "course_type": "trainer",
                    "status": "active",
                    "level": "beginner",
                    "duration_hours": 0,
                    "created_at": stamp,
                    "updated_at": stamp,
                    "organization_id": course.organization_id,
                    "trainer_id": course.trainer_id,
                    "studentsIDDictionary": students[course.id],
                    "feedbackDictionary": feedback[course.id],
                    "lesson_completion_dictionary": {},
                }
            )
        return replies

    # -- Content Studio ----------------------------------------------------------------------

    def content_studio(self, envelope: Envelope, _headers: Mapping[str, str]) -> Envelope:
        payload = envelope.get("payload") or {}
        since = self.now - WINDOW
        recent = [
            c
            for c in self.population.courses
            if since <= structure_stamp(self.population, c.id) <= self.now
        ]
        courses: list[dict[str, Any]] = []
        for course in recent:
            units = [u for u in self.population.course_units if u.course_id == course.id]
            lessons = [u for u in units if u.kind == "lesson"]
            courses.append(
                {
                    "course_id": _number(course.id),
                    "course_name": course.title,
                    "course_language": "en",
                    "trainer_id": course.trainer_id,
                    "trainer_name": course.trainer_id,
                    "permission": [course.organization_id],
                    "total_usage_count": 1,
                    "created_at": iso(structure_stamp(self.population, course.id)),
                    "status": "active",
                    "topics": [
                        {
                            "topic_id": _number(lesson.id),
                            "topic_name": lesson.title,
                            "topic_language": "en",
                            "skills": list(lesson.skills),
                            "contents": [
                                {
                                    "content_id": _number(unit.id),
                                    "content_type": unit.content_type,
                                    "content_data": {},
                                    "generation_methods": "manual",
                                    "generation_method_id": 1,
                                }
                                for unit in units
                                if unit.parent_id == lesson.id
                            ],
                        }
                        for lesson in lessons
                    ],
                }
            )
        response = {**payload, "courses": courses, "topics_stand_alone": []}
        return {**envelope, "response": response}

    # -- Assessment --------------------------------------------------------------------------

    def assessment(self, envelope: Envelope, _headers: Mapping[str, str]) -> Envelope:
        since = iso(self.now - WINDOW)
        attempts = [
            a for a in self._items("attempts") if since <= a["submittedAt"] <= iso(self.now)
        ]
        rows = [
            {
                "user_id": _number(a["userId"]),
                "exam_id": _number(a["assessmentId"]),
                "exam_type": a["examType"],
                "passing_grade": PASS_MARK,
                "final_grade": a["scorePct"],
                "passed": a["passed"],
                "skills": [
                    {
                        "skill_id": s["skillId"],
                        "skill_name": skill_name(s["skillId"]),
                        "score": s["scorePct"],
                        "status": s["status"],
                    }
                    for s in a["skillScores"]
                ],
                "submitted_at": a["submittedAt"],
                "course_id": _number(a["courseId"]),
                "course_name": "",
                "attempt_no": 1,
                "max_attempts": 3,
            }
            for a in attempts
        ]
        return {
            "requester_service": envelope.get("requester_service"),
            "received_at": self._fetched(),
            "responded_at": self._fetched(),
            "payload": envelope.get("payload"),
            "response": {"version": "v1", "fetched_at": self._fetched(), "attempts": rows},
            "status": "success",
            "error": None,
            "metrics": {"elapsed_ms": 1},
        }

    # -- Skills Engine -----------------------------------------------------------------------

    def skills_engine(self, envelope: Envelope, _headers: Mapping[str, str]) -> Envelope:
        payload = envelope["payload"]
        template = envelope.get("response") or {}
        by_user: dict[str, list[Any]] = {}
        for profile in self.population.skill_profiles:
            by_user.setdefault(profile.user_id, []).append(profile)
        if payload.get("type") != "batch" and payload.get("user_id"):
            user_id = str(payload["user_id"])
            user = self.population.user(user_id)
            if user is None:
                return {**envelope, "response": {**template, "message": "User not found"}}
            one = {"user_id": user_id, "user_name": user.display_name}
            mine = by_user.get(user_id, [])
            competencies = {
                "competencies": self._competencies(mine),
                "target_competencies": self._targets(mine),
            }
            return {**envelope, "response": {**template, **one, **competencies}}
        users = sorted(by_user)
        size = max(1, min(1000, int(payload.get("page_size") or 1000)))
        start, end = _page(users, payload.get("cursor"), size)
        returned = users[start:end]
        next_cursor = returned[-1] if returned else None
        response = {
            **template,
            "version": template.get("version") or iso(self.now)[:10],
            "fetched_at": self._fetched(),
            "pagination": {
                "total_records": len(users),
                "returned_records": len(returned),
                "next_cursor": next_cursor,
                "has_more": bool(next_cursor) and len(returned) == size,
            },
            "user_profiles": [
                {
                    "user_id": user_id,
                    "user_name": (self.population.user(user_id) or _Nobody).display_name,
                    "company_id": (self.population.user(user_id) or _Nobody).organization_id,
                    "competencies": self._competencies(by_user[user_id]),
                    "target_competencies": self._targets(by_user[user_id]),
                }
                for user_id in returned
            ],
        }
        return {**envelope, "response": response}

    @staticmethod
    def _targets(profiles: list[Any]) -> list[dict[str, Any]]:
        return [
            {
                "competency_id": p.skill_id,
                "competency_name": skill_name(p.skill_id),
                "target_level": p.target_level,
                "proficiency_level": _LEVEL_NAMES[p.target_level],
            }
            for p in profiles
            if p.target_level is not None
        ]

    @staticmethod
    def _competencies(profiles: list[Any]) -> list[dict[str, Any]]:
        return [
            {
                "user_id": p.user_id,
                "competency_id": p.skill_id,
                "competency_name": skill_name(p.skill_id),
                "coverage_percentage": p.current_level * 20.0,
                "proficiency_level": _LEVEL_NAMES[p.current_level],
                "verifiedSkills": [
                    {
                        "skill_id": p.skill_id,
                        "skill_name": skill_name(p.skill_id),
                        "verified": p.verified,
                    }
                ],
                "created_at": iso(p.updated_at),
                "updated_at": iso(p.updated_at),
            }
            for p in profiles
        ]

    # -- Learner AI --------------------------------------------------------------------------

    def learner_ai(self, envelope: Envelope, _headers: Mapping[str, str]) -> Envelope:
        payload = envelope["payload"]
        action = payload.get("action")
        if not action:
            return {**envelope, "response": {"error": "payload.action is required"}}
        paths = self.population.learning_paths
        if payload.get("user_id") and payload.get("type") != "batch":
            paths = [p for p in paths if p.user_id == payload["user_id"]]
        window = payload.get("date_range")
        if isinstance(window, Mapping):
            start, end = str(window.get("start_date", "")), str(window.get("end_date", "9999"))
            paths = [p for p in paths if start <= iso(p.updated_at)[:10] <= end]
        rows = [
            {
                "competency_target_name": f"Learning path {path.id}",
                "skills_raw_data": sorted(
                    {
                        str(s["skillId"])
                        for s in path.steps
                        if isinstance(s, Mapping) and s.get("skillId")
                    }
                ),
                "exam_status": "",
                "learning_path": {
                    "path_title": f"Learning path {path.id}",
                    "learner_id": path.user_id,
                    "total_estimated_duration_hours": len(path.steps),
                    "learning_modules": [
                        {
                            "module_order": 1,
                            "module_title": "Plan",
                            "estimated_duration_hours": len(path.steps),
                            "skills_in_module": [],
                            "steps": [
                                {
                                    "step": step.get("step"),
                                    "title": _step_title(step),
                                    "description": str(step.get("status") or ""),
                                    "estimatedTime": 1,
                                    "skills_covered": [step["skillId"]]
                                    if step.get("skillId")
                                    else [],
                                }
                                for step in path.steps
                            ],
                        }
                    ],
                },
            }
            for path in paths
        ]
        answer = json.dumps(
            {"success": True, "action": action, "data": rows}, separators=(",", ":")
        )
        return {**envelope, "response": {"answer": answer}}

    # -- DevLab ------------------------------------------------------------------------------

    def devlab(self, envelope: Envelope, _headers: Mapping[str, str]) -> Envelope:
        payload = envelope["payload"]
        template = envelope.get("response") or {}
        learner = payload.get("learner_id")
        rows = []
        for session in self._items("practice-sessions"):
            if learner and session["userId"] != learner:
                continue
            started = datetime.fromisoformat(session["startedAt"].replace("Z", "+00:00"))
            ended = (
                iso(started + timedelta(seconds=session["seconds"]))
                if session["completed"]
                else None
            )
            rows.append(
                {
                    "competition_id": session["id"],  # one row per learner vs the AI
                    "learner_id": session["userId"],
                    "course_id": None,
                    "amount": 5,
                    "winner": "learner" if session["won"] else "ai",
                    "score": 80 if session["won"] else 40,
                    "created_at": session["startedAt"],
                    "updated_at": ended or session["startedAt"],
                    "status": "completed" if session["completed"] else "pending",
                    "timer_seconds": 1800,
                    "started_at": session["startedAt"],
                    "completed_at": ended,
                }
            )
        response = {
            "version": template.get("version") or "",
            "fetched_at": self._fetched(),
            "competitions": rows,
        }
        return {**envelope, "response": response}


def _step_title(step: Mapping[str, Any]) -> str:
    subject = step.get("courseId") or step.get("skillId") or ""
    return f"{step.get('type')} {subject}".strip()


class _Nobody:
    display_name = None
    organization_id = None


WRAPPED = frozenset({"directory", "skills-engine"})  # answered in the Coordinator's new format


def _route(envelope: Envelope) -> str | None:
    payload = envelope.get("payload")
    if not isinstance(payload, Mapping):
        return None
    origin = str(payload.get("service_origin") or "").lower().replace("-", "").replace("_", "")
    if origin in _ORIGINS:
        return _ORIGINS[origin]
    action = str(payload.get("action") or "")
    if "ROUTE_TO_" in action:
        target = action.split("ROUTE_TO_", 1)[1].split(":", 1)[0].lower()
        return _ORIGINS.get(target)
    return None


def build_coordinator_router(
    feeds: Feeds, board: FaultBoard, config: CoordinatorConfig | None = None
) -> APIRouter:
    """The Coordinator's one endpoint (mounted at `/coordinator` by `app.create_simulator_app`)."""
    config = config or CoordinatorConfig()
    keys = _Keys(config)
    siblings = _Siblings(feeds, config)
    handlers: dict[str, Callable[[Envelope, Mapping[str, str]], Envelope]] = {
        "directory": siblings.directory,
        "course-builder": siblings.course_builder,
        "content-studio": siblings.content_studio,
        "assessment": siblings.assessment,
        "skills-engine": siblings.skills_engine,
        "learner-ai": siblings.learner_ai,
        "devlab": siblings.devlab,
    }
    router = APIRouter(tags=["coordinator"])

    def refuse(status: int, message: str) -> Response:
        return keys.reply({"success": False, "error": message}, status_code=status)

    async def fill_content_metrics(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return refuse(413, "envelope too large")
        caller = request.headers.get("x-service-name")
        if keys.callers and not keys.caller_verified(
            caller, request.headers.get("x-signature"), body
        ):
            return refuse(401, "missing or invalid signature")
        try:
            envelope = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return refuse(400, "the body is not JSON")
        if not isinstance(envelope, dict):
            return refuse(400, "the envelope is not an object")
        if envelope.get("requester_service") not in ACCEPTED_REQUESTERS:
            return refuse(400, "unknown requester_service")
        sibling = _route(envelope)
        if sibling is None:
            return refuse(400, "no route for this envelope")
        fault = board.take(sibling)
        failed = await fault_response(board, sibling, fault, request.receive)
        if failed is not None:
            return failed
        headers = {name.lower(): value for name, value in request.headers.items()}
        answer = await anyio.to_thread.run_sync(handlers[sibling], envelope, headers)
        if sibling in WRAPPED:
            return keys.reply(
                {
                    "success": True,
                    "data": answer,
                    "metadata": {"service": sibling, "routed_by": "coordinator"},
                }
            )
        return keys.reply(answer)

    for path in ("/api/fill-content-metrics/", "/api/fill-content-metrics"):
        router.add_api_route(
            path, fill_content_metrics, methods=["POST"], include_in_schema=path.endswith("/")
        )
    return router
