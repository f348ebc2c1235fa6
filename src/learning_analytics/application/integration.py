"""Answering the platform's services on `POST /api/fill-content-metrics` (SPEC §12): Course
Builder's course analytics push is stored, Directory's employee dashboard and Management
Reporting's statistics are filled from the store, anything else is refused with a reason.

Who may ask what is decided before any store access (`admission`): with a Coordinator key
configured, only a valid Coordinator signature opens the data-serving requests; unsigned pushes
are taken only from the allow-list, only as pushes, and their rows are marked unverified.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from learning_analytics.application.ports import (
    ActivityItemsRepository,
    ActivityScope,
    Clock,
    GamificationRepository,
    LearnerHistoryRepository,
    PlatformRepository,
    RecordWriter,
    ResponseCache,
    UserRepository,
)
from learning_analytics.application.serving import GLOBAL_SCOPE
from learning_analytics.domain.gamification.achievements import CATALOGUE
from learning_analytics.domain.integration import (
    RAG_QUERY_ITEMS,
    Activity,
    EmployeeProgress,
    InboundMessage,
    MalformedMessageError,
    Request,
    WireForm,
    course_feedback,
    due_instant,
    employee_dashboard,
    feedback_records,
    fill_statistics_template,
    identifier,
    rag_batch_reply,
    rag_error,
    rag_query_reply,
    rag_request,
    service_key,
)
from learning_analytics.domain.metrics.learner import LearnerHistory

STATISTICS_WINDOW = timedelta(days=30)
COURSE_BUILDER = "course_builder"
DIRECTORY = "directory"


class Signature(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    ABSENT = "absent"
    UNCHECKED = "unchecked"  # signed, but no Coordinator key is configured to check it


@dataclass(frozen=True, slots=True)
class Admission:
    verified: bool
    refusal: str | None = None  # why the request is refused (401), None when admitted


def admission(
    kind: Request,
    requester: str,
    *,
    signature: Signature,
    key_configured: bool,
    production: bool,
    unsigned_allowlist: frozenset[str],
) -> Admission:
    """Whether a message may be handled, and whether it counts as verified.

    - A valid Coordinator signature: admitted, verified.
    - A signature that does not verify (or names another signer): refused.
    - No signature, or no key to check one: a Course Builder push from an allow-listed sender
      is admitted unverified. Requests that read data out of the store are refused when a key is
      configured or in production; in the demo (no key) they are admitted unverified.
    """
    if signature is Signature.VALID:
        return Admission(verified=True)
    if signature is Signature.INVALID:
        return Admission(verified=False, refusal="the signature does not verify")
    if kind is Request.COURSE_ANALYTICS:
        if service_key(requester) in unsigned_allowlist or not key_configured:
            return Admission(verified=False)
        return Admission(verified=False, refusal=f"unsigned pushes from {requester} are refused")
    if key_configured or production:
        return Admission(verified=False, refusal="a valid Coordinator signature is required")
    return Admission(verified=False)


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int
    envelope: dict[str, Any]
    error: str = ""  # why a request was refused (for channels that carry it apart)


def refused(message: InboundMessage | None, status: int, reason: str) -> Outcome:
    if message is None:
        envelope = {"requester_service": "", "payload": {}, "response": {"error": reason}}
    elif message.form is WireForm.PROCESS:  # answered in the Process reply's own shape
        envelope = rag_error(str((message.envelope or {}).get("request_id") or ""), reason)
    else:
        envelope = message.answer({**message.response, "error": reason})
    return Outcome(status, envelope, error=reason)


ACHIEVEMENT_NAMES = {achievement.code: achievement.name for achievement in CATALOGUE}


def achievement_name(code: str) -> str:
    """The catalogue's name of an achievement ("streak_7" → "Week streak"); a code the
    catalogue no longer has reads as words ("old_badge" → "Old badge")."""
    if code in ACHIEVEMENT_NAMES:
        return ACHIEVEMENT_NAMES[code]
    words = code.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:]


def employee_progress(
    history: LearnerHistory,
    *,
    now: datetime,
    achievements: list[tuple[str, datetime]],
) -> EmployeeProgress:
    courses = {course.id: course for course in history.courses}
    units = {unit.id: unit for unit in history.course_units}
    titles = {course_id: course.title for course_id, course in courses.items()}
    due = {
        e.id: due_instant(
            e,
            courses[e.course_id].due_at if e.course_id in courses else None,
            courses[e.course_id].default_due_days if e.course_id in courses else None,
        )
        for e in history.enrollments
    }
    recent: list[Activity] = []
    for event in history.learning_events:
        if event.verb != "completed":
            continue
        unit = units.get(event.unit_id or "")
        what = f"{unit.kind} '{unit.title}'" if unit else "a learning unit"
        course = titles.get(event.course_id, event.course_id)
        recent.append(Activity(event.occurred_at, f"Completed {what} in {course}", "lesson"))
    for attempt in history.assessment_attempts:
        course = titles.get(attempt.course_id or "", "")
        where = f" in {course}" if course else ""
        outcome = "Passed" if attempt.passed else "Attempted"
        recent.append(
            Activity(
                attempt.submitted_at,
                f"{outcome} assessment {attempt.assessment_id}{where} ({attempt.score_pct:.0f}%)",
                "assessment",
            )
        )
    for practice in history.practice_sessions:
        result = "won" if practice.won else ("completed" if practice.completed else "started")
        recent.append(
            Activity(practice.started_at, f"Practice session {result} in DevLab", "practice")
        )
    recent.sort(key=lambda activity: activity.at, reverse=True)
    since = now - timedelta(days=30)
    return EmployeeProgress(
        enrollments=history.enrollments,
        course_titles=titles,
        course_due=due,
        skills_at_target=sorted(
            p.skill_id
            for p in history.skill_profiles
            if p.target_level is not None and p.current_level >= p.target_level
        ),
        exam_scores=[a.score_pct for a in history.assessment_attempts],
        seconds_spent=sum(e.seconds_spent for e in history.learning_events)
        + sum(p.seconds for p in history.practice_sessions),
        active_days_30=len({m.date() for m in history.activity_instants() if since <= m <= now}),
        recent=recent[:20],
        achievements=[(achievement_name(code), at) for code, at in achievements],
    )


class HandleInbound:
    def __init__(
        self,
        *,
        writer: RecordWriter,
        users: UserRepository,
        histories: LearnerHistoryRepository,
        platform: PlatformRepository,
        achievements: GamificationRepository,
        cache: ResponseCache | None,
        clock: Clock,
        after_write: Callable[[Sequence[str]], Awaitable[object]] | None = None,
        activity_items: ActivityItemsRepository | None = None,
        service_name: str = "learning-analytics-service",
    ) -> None:
        self._items = activity_items
        self._service_name = service_name
        self._writer = writer
        self._users = users
        self._histories = histories
        self._platform = platform
        self._achievements = achievements
        self._cache = cache
        self._clock = clock
        self._after_write = after_write  # gamification awards the learners' points

    async def execute(self, message: InboundMessage, *, kind: Request, verified: bool) -> Outcome:
        try:
            if kind is Request.COURSE_ANALYTICS:
                return await self._course_analytics(message, verified=verified)
            if kind is Request.EMPLOYEE_DASHBOARD:
                return await self._employee_dashboard(message)
            if kind is Request.PLATFORM_STATISTICS:
                return await self._platform_statistics(message)
            if kind in {Request.RAG_BATCH, Request.RAG_QUERY} and self._items is not None:
                return await self._rag(message, kind, self._items)
        except MalformedMessageError as error:
            return refused(message, 400, str(error))
        action = message.payload.get("action")
        asked = f", action {action!r}" if isinstance(action, str) else ""
        return refused(message, 400, f"unsupported request from {message.requester!r}{asked}"[:300])

    async def _course_analytics(self, message: InboundMessage, *, verified: bool) -> Outcome:
        feedback = course_feedback(message.payload)
        now = self._clock.now()
        courses = await self._writer.internal_ids(
            source=COURSE_BUILDER, kind="course", external_ids=[feedback.course_id]
        )
        course_id = courses.get(feedback.course_id, feedback.course_id)
        learners = await self._writer.internal_ids(
            source=COURSE_BUILDER, kind="user", external_ids=[e[0] for e in feedback.entries]
        )
        records = feedback_records(feedback, course_id=course_id, user_ids=learners)
        source = f"{COURSE_BUILDER}:push" if verified else f"{COURSE_BUILDER}:push-unverified"
        await self._writer.archive_raw_payload(
            source=source, fetched_at=now, payload=json.dumps(message.payload)[:1_000_000]
        )
        written = await self._writer.upsert_feedback(records, source=source, ingested_at=now)
        if written:
            await self._writer.bump_data_version(GLOBAL_SCOPE)
            if self._cache is not None:
                await self._cache.bump_data_version(GLOBAL_SCOPE)
            if self._after_write is not None:
                await self._after_write(sorted({record.user_id for record in records}))
        # Course Builder reads nothing back: the envelope with an empty response.
        return Outcome(200, message.answer({}))

    async def _resolve_employee(self, payload: dict[str, Any]) -> str | None:
        """Our user id for Directory's `employee_id` ("EMP001") within `company_id`."""
        employee = identifier(payload.get("employee_id"))
        if employee is None:
            raise MalformedMessageError("payload.employee_id must be a non-empty string")
        user_id = employee
        for kind in ("employee", "user"):
            found = await self._writer.internal_ids(
                source=DIRECTORY, kind=kind, external_ids=[employee]
            )
            if employee in found:
                user_id = found[employee]
                break
        profile = await self._users.get_profile(user_id)
        if profile is None:
            return None
        company = identifier(payload.get("company_id"))
        if company is not None:
            mapped = await self._writer.internal_ids(
                source=DIRECTORY, kind="organization", external_ids=[company]
            )
            if mapped.get(company, company) != profile.organization_id:
                return None
        return user_id

    async def _employee_dashboard(self, message: InboundMessage) -> Outcome:
        user_id = await self._resolve_employee(message.payload)
        if user_id is None:
            return refused(message, 404, "no such employee in this company")
        now = self._clock.now()
        # Everything recorded up to and including now (`until` is exclusive).
        history = await self._histories.history(
            user_id, since=None, until=now + timedelta(seconds=1)
        )
        achievements = list((await self._achievements.earned_achievements(user_id)).items())
        progress = employee_progress(history, now=now, achievements=achievements)
        filled = employee_dashboard(progress, today=now.date())
        return Outcome(200, message.answer({**message.response, **filled}))

    async def _rag(
        self, message: InboundMessage, kind: Request, items: ActivityItemsRepository
    ) -> Outcome:
        """RAG's batch page of the organisation's activity, or one learner's recent items."""
        started = time.perf_counter()
        request = rag_request(message)
        mapped = await self._writer.internal_ids(
            source=DIRECTORY, kind="organization", external_ids=[request.tenant_id]
        )
        organization = mapped.get(request.tenant_id, request.tenant_id)
        now = self._clock.now()
        if kind is Request.RAG_QUERY:
            if request.user_id is None:
                return refused(message, 400, "user_id is required")
            scope = ActivityScope(organization, user_id=request.user_id)
            _, found = await items.items(scope, offset=0, limit=RAG_QUERY_ITEMS)
            elapsed = round(1000 * (time.perf_counter() - started))
            reply = rag_query_reply(
                request, found, now=now, duration_ms=elapsed, service=self._service_name
            )
            return Outcome(200, reply)
        scope = ActivityScope(organization, since=request.since)
        offset = (request.page - 1) * request.limit
        total, found = await items.items(scope, offset=offset, limit=request.limit)
        elapsed = round(1000 * (time.perf_counter() - started))
        reply = rag_batch_reply(
            request, found, total=total, now=now, duration_ms=elapsed, service=self._service_name
        )
        return Outcome(200, reply)

    async def _platform_statistics(self, message: InboundMessage) -> Outcome:
        now = self._clock.now()
        stats = await self._platform.statistics(since=now - STATISTICS_WINDOW, until=now)
        version = message.response.get("version")
        filled = fill_statistics_template(
            message.response,
            stats,
            now=now,
            version=version if isinstance(version, str) and version else "1.0",
        )
        return Outcome(200, message.answer(filled))
