"""Messages the platform's services send us through `POST /api/fill-content-metrics`
(SPEC §12, contracts/EDUCORE.md §2.2, §3.1, §3.3, §3.8): reading the three wire forms into one
message, deciding what is asked, and filling the answers in the shapes the senders' code reads.

Pure: bytes and records in, dictionaries out. The store reads and the signature check live in
the application and infrastructure layers.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs

from learning_analytics.domain.records import Enrollment, Feedback

MAX_REQUESTER_LENGTH = 100
MAX_LIST_ITEMS = 10
MAX_FEEDBACK_ITEMS = 1000
EMPLOYEE_DASHBOARD_ACTION = "fetch_learning_progress_for_employee_dashboard"
COURSE_ANALYTICS_ACTIONS = frozenset({"send_course_analytics", "send_analytics"})


class MalformedMessageError(ValueError):
    """The body is not one of the accepted wire forms; the reason is safe to send back."""


class WireForm(StrEnum):
    ENVELOPE = "envelope"  # a JSON object {requester_service, payload, response}
    STRING_BODY = "string-body"  # the envelope JSON sent as a JSON string
    FORM = "form"  # form-urlencoded serviceName + payload (a JSON string)
    LEGACY_JSON = "legacy-json"  # a JSON object {serviceName, payload: "<JSON string>"}
    PROCESS = "process"  # the platform's gRPC Process envelope (RAG), relayed as JSON


class Request(StrEnum):
    COURSE_ANALYTICS = "course-analytics"  # Course Builder's push: ingest, ack
    EMPLOYEE_DASHBOARD = "employee-dashboard"  # Directory asks for an employee's progress
    PLATFORM_STATISTICS = "platform-statistics"  # Management Reporting's daily statistics
    RAG_BATCH = "rag-batch"  # RAG's batch sync: a page of the organisation's activity items
    RAG_QUERY = "rag-query"  # RAG's real-time question: one learner's recent items
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class InboundMessage:
    requester: str
    payload: dict[str, Any]
    response: dict[str, Any]
    form: WireForm
    envelope: Mapping[str, Any] | None = None  # the JSON object as sent (keys in their order)

    def answer(self, response: Mapping[str, Any]) -> dict[str, Any]:
        """The envelope sent back: the request's, with `response` filled."""
        return {"requester_service": self.requester, "payload": self.payload, "response": response}


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:
        raise MalformedMessageError(f"{what} is not valid JSON") from error


def _object(value: Any, what: str, *, default: dict[str, Any] | None = None) -> dict[str, Any]:
    """`value` as a JSON object: given as one, or as a JSON string holding one."""
    if value is None and default is not None:
        return default
    if isinstance(value, str):
        if not value.strip() and default is not None:
            return default
        value = _json(value, what)
    if not isinstance(value, dict):
        raise MalformedMessageError(f"{what} must be a JSON object")
    return value


def _requester(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MalformedMessageError(f"{what} must be a non-empty string")
    if len(value) > MAX_REQUESTER_LENGTH:
        raise MalformedMessageError(f"{what} is longer than {MAX_REQUESTER_LENGTH} characters")
    return value.strip()


def parse_message(content_type: str | None, body: bytes) -> InboundMessage:
    """One message from any of the wire forms the siblings send (EDUCORE.md §2.2)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedMessageError("the body is not UTF-8") from error
    if media == "application/x-www-form-urlencoded":
        try:
            fields = parse_qs(text, keep_blank_values=True, max_num_fields=20)
        except ValueError as error:
            raise MalformedMessageError("the form has too many fields") from error

        def first(*names: str) -> str | None:
            for name in names:
                if fields.get(name):
                    return fields[name][0]
            return None

        payload = first("payload")
        if payload is None:
            raise MalformedMessageError("the form has no payload field")
        return InboundMessage(
            requester=_requester(first("serviceName", "requester_service"), "serviceName"),
            payload=_object(payload, "payload"),
            response=_object(first("response"), "response", default={}),
            form=WireForm.FORM,
        )
    if not text.strip():
        raise MalformedMessageError("the body is empty")
    document = _json(text, "the body")
    form = WireForm.ENVELOPE
    if isinstance(document, str):
        document = _json(document, "the body's string")
        form = WireForm.STRING_BODY
    if not isinstance(document, dict):
        raise MalformedMessageError("the body must be a JSON object (an envelope)")
    if "requester_service" in document:
        return InboundMessage(
            requester=_requester(document["requester_service"], "requester_service"),
            payload=_object(document.get("payload"), "payload", default={}),
            response=_object(document.get("response"), "response", default={}),
            form=form,
            envelope=document,
        )
    if "target_service" in document and "payload" in document:
        metadata = document.get("metadata")
        source = metadata.get("source") if isinstance(metadata, dict) else None
        return InboundMessage(
            requester=_requester(source, "metadata.source") if source else "rag-service",
            payload=_object(document.get("payload"), "payload", default={}),
            response={},
            form=WireForm.PROCESS,
            envelope=document,
        )
    if "serviceName" in document:
        return InboundMessage(
            requester=_requester(document["serviceName"], "serviceName"),
            payload=_object(document.get("payload"), "payload"),
            response=_object(document.get("response"), "response", default={}),
            form=WireForm.LEGACY_JSON,
        )
    raise MalformedMessageError("the envelope has no requester_service")


def service_key(name: str) -> str:
    """A requester name without case, separators or a trailing "service": "directory-service",
    "Directory_Service" and "directory" are one sender."""
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    return key.removesuffix("service") or key


def classify(message: InboundMessage) -> Request:
    if message.form is WireForm.PROCESS:
        if message.payload.get("sync_type") == "batch":
            return Request.RAG_BATCH
        return Request.RAG_QUERY if "query" in message.payload else Request.UNKNOWN
    sender = service_key(message.requester)
    action = message.payload.get("action")
    action_key = action.strip().lower() if isinstance(action, str) else ""
    if (
        sender in {"coursebuilder", "learninganalytics"}
        and "course_id" in message.payload
        and (not action_key or action_key in COURSE_ANALYTICS_ACTIONS)
    ):
        return Request.COURSE_ANALYTICS
    if sender == "directory" and action_key == EMPLOYEE_DASHBOARD_ACTION:
        return Request.EMPLOYEE_DASHBOARD
    if sender == "managementreporting":
        return Request.PLATFORM_STATISTICS
    return Request.UNKNOWN


# --------------------------------------------------------------------------------------------
# Course Builder's course analytics push


def parse_instant(value: Any) -> datetime | None:
    """An ISO 8601 instant as the siblings write it ("2025-12-07T14:12:30.512Z"); naive means
    UTC. None when absent or unreadable."""
    if not isinstance(value, str) or not value or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class CourseFeedback:
    """The feedback rows of a push, before the learner and course ids are mapped into ours."""

    course_id: str
    entries: tuple[tuple[str, int, datetime], ...]  # (learner id, rating 1-5, submitted at)
    rejected: int  # entries that could not be read (no learner, rating outside 1-5, bad date)


def identifier(value: Any) -> str | None:
    """An id as the siblings send them: a non-empty string or an integer."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text if text and len(text) <= MAX_REQUESTER_LENGTH else None


def _rating(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value != int(value) or not 1 <= value <= 5:
        return None
    return int(value)


def course_feedback(payload: Mapping[str, Any]) -> CourseFeedback:
    course_id = identifier(payload.get("course_id"))
    if course_id is None:
        raise MalformedMessageError("payload.course_id must be a string")
    block = payload.get("feedback", {})
    feedbacks = block.get("feedbacks", []) if isinstance(block, dict) else None
    if not isinstance(feedbacks, list):
        raise MalformedMessageError("payload.feedback.feedbacks must be a list")
    if len(feedbacks) > MAX_FEEDBACK_ITEMS:
        raise MalformedMessageError(f"more than {MAX_FEEDBACK_ITEMS} feedback entries")
    entries: dict[str, tuple[str, int, datetime]] = {}
    rejected = 0
    for item in feedbacks:
        if not isinstance(item, dict):
            rejected += 1
            continue
        learner = identifier(item.get("learner_id"))
        rating = _rating(item.get("rating"))
        submitted = parse_instant(item.get("submitted_at"))
        if learner is None or rating is None or submitted is None:
            rejected += 1
        else:
            current = entries.get(learner)
            if current is None or submitted >= current[2]:  # a learner's latest feedback wins
                entries[learner] = (learner, rating, submitted)
    return CourseFeedback(course_id, tuple(entries.values()), rejected)


def feedback_records(
    feedback: CourseFeedback, *, course_id: str, user_ids: Mapping[str, str]
) -> list[Feedback]:
    """One feedback row per learner and course (Course Builder pushes on create and on update,
    so the id is the pair and an update replaces the earlier rating)."""
    return [
        Feedback(
            id=f"course-builder:{course_id}:{user_ids.get(learner, learner)}",
            user_id=user_ids.get(learner, learner),
            course_id=course_id,
            rating=rating,
            submitted_at=submitted,
        )
        for learner, rating, submitted in feedback.entries
    ]


# --------------------------------------------------------------------------------------------
# Directory's employee dashboard


@dataclass(frozen=True, slots=True)
class Activity:
    at: datetime
    description: str
    kind: str  # lesson | assessment | practice


@dataclass(frozen=True, slots=True)
class EmployeeProgress:
    """What the dashboard is filled from (read by the application layer)."""

    enrollments: Sequence[Enrollment]
    course_titles: Mapping[str, str]
    course_due: Mapping[str, datetime | None]  # the due instant of each enrollment, by id
    skills_at_target: Sequence[str]
    exam_scores: Sequence[float]
    seconds_spent: int
    active_days_30: int
    recent: Sequence[Activity]
    achievements: Sequence[tuple[str, datetime]] = field(default=())  # (name, earned at)


def iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def employee_dashboard(progress: EmployeeProgress, *, today: date) -> dict[str, Any]:
    """Directory reads `progress_summary` as a flat map of scalars, `recent_activity[]
    .description`, `upcoming_deadlines[].title|course_name` + `.due_date`, `achievements[]
    .name|title` (EDUCORE.md §3.3)."""
    live = [e for e in progress.enrollments if e.withdrawn_at is None]
    done = [e for e in live if e.completed_at is not None]
    open_ = [e for e in live if e.completed_at is None]
    scores = list(progress.exam_scores)
    summary = {
        "courses_enrolled": len(live),
        "courses_in_progress": len(open_),
        "courses_completed": len(done),
        "completion_rate": round(100 * len(done) / len(live), 1) if live else None,
        "skills_acquired": len(progress.skills_at_target),
        "average_exam_grade": round(sum(scores) / len(scores), 1) if scores else None,
        "exams_taken": len(scores),
        "learning_hours": round(progress.seconds_spent / 3600, 1),
        "active_days_last_30": progress.active_days_30,
    }
    recent = sorted(progress.recent, key=lambda a: a.at, reverse=True)[:MAX_LIST_ITEMS]
    deadlines = []
    for enrollment in open_:
        due = progress.course_due.get(enrollment.id)
        if due is None or due.date() < today:
            continue
        title = progress.course_titles.get(enrollment.course_id, enrollment.course_id)
        deadlines.append(
            {
                "title": title,
                "course_name": title,
                "course_id": enrollment.course_id,
                "due_date": due.date().isoformat(),
                "progress_pct": round(enrollment.progress_pct, 1),
            }
        )
    deadlines.sort(key=lambda d: (d["due_date"], d["course_id"]))
    achievements = [
        {"name": name, "title": "Achievement earned", "earned_at": iso_z(at)}
        for name, at in sorted(progress.achievements, key=lambda a: a[1], reverse=True)
    ]
    achievements += [
        {"name": f"{skill} - acquired", "title": "Skill acquired"}
        for skill in progress.skills_at_target
    ]
    return {
        "progress_summary": summary,
        "recent_activity": [
            {"description": a.description, "type": a.kind, "timestamp": iso_z(a.at)} for a in recent
        ],
        "upcoming_deadlines": deadlines[:MAX_LIST_ITEMS],
        "achievements": achievements[:MAX_LIST_ITEMS],
    }


def due_instant(
    enrollment: Enrollment, course_due: datetime | None, default_days: int | None
) -> datetime | None:
    """When an enrollment is due: its own date, else the course's, else the course's default
    number of days after enrolling; None when nothing says."""
    if enrollment.due_at is not None:
        return enrollment.due_at
    if course_due is not None:
        return course_due
    if default_days is not None:
        return enrollment.enrolled_at + timedelta(days=default_days)
    return None


# --------------------------------------------------------------------------------------------
# Management Reporting's platform statistics


@dataclass(frozen=True, slots=True)
class PlatformStatistics:
    """Platform-wide figures from the store (EDUCORE.md §3.8); None = the store cannot say."""

    window_start: datetime
    window_end: datetime
    total_learners: int
    active_learners: int
    total_organizations: int
    total_courses: int
    total_enrollments: int
    active_enrollments: int
    completed_enrollments: int
    withdrawn_enrollments: int
    total_lessons: int
    total_topics: int
    total_attempts: int
    distinct_assessments: int
    attempt_pairs: int  # distinct (learner, assessment) pairs
    passed_attempts: int
    average_score: float | None
    skills_at_target: int
    learning_paths: int
    feedback_count: int
    average_rating: float | None
    ratings: Mapping[int, int]
    competitions: int
    most_demanded: Sequence[tuple[str, int]]  # (skill id, learners below target)
    levels: Mapping[int, int]  # skill profiles by current level 0-5
    content_usage: Mapping[str, int]  # completed learning events by our content type
    engagement_levels: Mapping[str, int]  # active learners by high | medium | low


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _ratio(part: float, whole: int) -> float | None:
    return round(part / whole, 2) if whole else None


COMPETENCY_BANDS = {
    "beginner": (0, 1),
    "intermediate": (2, 2),
    "advanced": (3, 4),
    "expert": (5, 5),
}
CONTENT_FORMATS = ("video", "text", "code", "presentation", "mindmap")
# Our content types (Course Builder's) under Management Reporting's format names.
CONTENT_FORMAT_OF = {
    "video": "video",
    "text": "text",
    "article": "text",
    "exercise": "code",
    "code": "code",
    "presentation": "presentation",
    "slides": "presentation",
    "mindmap": "mindmap",
}


def content_formats(usage: Mapping[str, int]) -> dict[str, int]:
    """Completed-content counts by Management Reporting's format names; types it has no name
    for (quizzes, ...) are not counted there."""
    formats = dict.fromkeys(CONTENT_FORMATS, 0)
    for content_type, count in usage.items():
        name = CONTENT_FORMAT_OF.get(content_type.lower())
        if name is not None:
            formats[name] += count
    return formats


def platform_statistics(stats: PlatformStatistics, *, now: datetime) -> dict[str, Any]:
    """The nested shape Management Reporting's persister reads (`aggregated_statistics`)."""
    ended = stats.completed_enrollments + stats.withdrawn_enrollments
    demanded = [
        {"skill_id": skill, "skill_name": skill, "demand_count": count}
        for skill, count in stats.most_demanded
    ]
    by_level = {
        band: sum(stats.levels.get(level, 0) for level in range(low, high + 1))
        for band, (low, high) in COMPETENCY_BANDS.items()
    }
    return {
        "period": "daily",
        "date_range": {
            "start_date": iso_z(stats.window_start),
            "end_date": iso_z(stats.window_end),
        },
        "calculated_at": iso_z(now),
        "metrics": {
            "learners": {
                "total_learners": stats.total_learners,
                "active_learners": stats.active_learners,
                "total_organizations": stats.total_organizations,
            },
            "courses": {
                "total_courses": stats.total_courses,
                "courses_completed": stats.completed_enrollments,
                "average_completion_rate": _pct(
                    stats.completed_enrollments,
                    stats.total_enrollments - stats.withdrawn_enrollments,
                ),
                "total_enrollments": stats.total_enrollments,
                "active_enrollments": stats.active_enrollments,
                "average_course_duration_hours": None,
                "average_lessons_per_course": _ratio(stats.total_lessons, stats.total_courses),
            },
            "content": {
                "total_topics": stats.total_topics,
                "average_topics_per_content": _ratio(stats.total_topics, stats.total_courses),
            },
            "skills_competencies": {
                "total_skills_acquired": stats.skills_at_target,
                "average_skills_per_competency": None,
                "total_unique_learning_paths": stats.learning_paths,
                "average_skills_per_learning_path": None,
                "platform_skill_demand": {"most_demanded_skills": demanded},
            },
            "assessments": {
                "total_assessments": stats.total_attempts,
                "total_distinct_assessments": stats.distinct_assessments,
                "average_attempts_per_assessment": _ratio(
                    stats.total_attempts, stats.attempt_pairs
                ),
                "pass_rate": _pct(stats.passed_attempts, stats.total_attempts),
                "average_final_grade": stats.average_score,
                "average_passing_grade": None,
            },
            "engagement": {
                "average_feedback_rating": stats.average_rating,
                "total_feedback_submissions": stats.feedback_count,
                "total_competitions": stats.competitions,
                "average_competition_score": None,
            },
        },
        "category_breakdowns": {
            "by_competency_level": by_level,
            "by_feedback_rating": {str(r): stats.ratings.get(r, 0) for r in range(1, 6)},
            "by_course_status": {},
            "by_content_format_usage": content_formats(stats.content_usage),
            "by_engagement_level": {
                level: stats.engagement_levels.get(level, 0) for level in ("high", "medium", "low")
            },
        },
        "drop_off_rate": _pct(stats.withdrawn_enrollments, ended),
        "engagement_score_average": None,
    }


def _flat_metrics(nested: Mapping[str, Any], stats: PlatformStatistics) -> dict[str, Any]:
    metrics = nested["metrics"]
    demanded = metrics["skills_competencies"]["platform_skill_demand"]["most_demanded_skills"]
    top = demanded[0] if demanded else {"skill_id": None, "skill_name": "", "demand_count": None}
    return {
        "total_learners": stats.total_learners,
        "active_learners": stats.active_learners,
        "total_courses": stats.total_courses,
        "courses_completed": stats.completed_enrollments,
        "average_completion_rate": metrics["courses"]["average_completion_rate"],
        "total_skills_acquired": stats.skills_at_target,
        "average_competency_level_progression": None,
        "engagement_score_average": nested["engagement_score_average"],
        "drop_off_rate": nested["drop_off_rate"],
        "total_topics": stats.total_topics,
        "average_topics_per_content": metrics["content"]["average_topics_per_content"],
        "average_lessons_per_course": metrics["courses"]["average_lessons_per_course"],
        "average_attempts_per_assessment": metrics["assessments"][
            "average_attempts_per_assessment"
        ],
        "total_assessments": stats.total_attempts,
        "pass_rate": metrics["assessments"]["pass_rate"],
        "total_unique_learning_paths": stats.learning_paths,
        "average_skills_per_learning_path": None,
        "average_skills_per_competency": None,
        "platform_skill_demand": {"most_demanded_skills": demanded},
        "most_demanded_skills": demanded,
        "skill_id": top["skill_id"],
        "skill_name": top["skill_name"],
        "demand_count": top["demand_count"],
        "trend": "",
    }


def fill_statistics_template(
    template: Mapping[str, Any], stats: PlatformStatistics, *, now: datetime, version: str
) -> dict[str, Any]:
    """Management Reporting's template filled in both shapes: its flat keys (as sent) and
    `aggregated_statistics` with the nested metrics its persister reads (EDUCORE.md §3.8)."""
    nested = platform_statistics(stats, now=now)
    flat = _flat_metrics(nested, stats)
    breakdowns = nested["category_breakdowns"]
    answer: dict[str, Any] = dict(template)
    answer.update(
        {
            "version": version,
            "aggregated_statistics": {
                key: value
                for key, value in nested.items()
                if key not in {"drop_off_rate", "engagement_score_average"}
            },
            "period": nested["period"],
            "date_range": nested["date_range"],
            "start_date": nested["date_range"]["start_date"],
            "end_date": nested["date_range"]["end_date"],
            "calculated_at": nested["calculated_at"],
        }
    )
    sent_metrics = template.get("metrics")
    answer["metrics"] = (
        {key: flat.get(key, value) for key, value in sent_metrics.items()}
        | {key: value for key, value in flat.items() if key not in sent_metrics}
        if isinstance(sent_metrics, dict)
        else flat
    )
    sent_breakdowns = template.get("category_breakdowns")
    answer["category_breakdowns"] = _merge(
        sent_breakdowns if isinstance(sent_breakdowns, dict) else {}, breakdowns
    )
    return answer


def _merge(template: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(template)
    for key, value in values.items():
        sent = merged.get(key)
        merged[key] = (
            _merge(sent, value) if isinstance(sent, dict) and isinstance(value, dict) else value
        )
    return merged


def engagement_level(active_days: int) -> str:
    """high: ≥ 12 active days in the 30-day window; medium: 4-11; low: 1-3."""
    if active_days >= 12:
        return "high"
    if active_days >= 4:
        return "medium"
    return "low"


def count_levels(days: Iterable[int]) -> dict[str, int]:
    counts = {"high": 0, "medium": 0, "low": 0}
    for active in days:
        if active > 0:
            counts[engagement_level(active)] += 1
    return counts


# --------------------------------------------------------------------------------------------
# RAG's batch sync and real-time questions (EDUCORE.md §2.5, §3.9)

MAX_RAG_PAGE_SIZE = 1000
RAG_QUERY_ITEMS = 20


@dataclass(frozen=True, slots=True)
class RagRequest:
    request_id: str
    tenant_id: str  # the organisation (a Directory company id)
    user_id: str | None  # the learner a real-time question is about
    page: int
    limit: int
    since: datetime | None


def _bounded_int(value: Any, name: str, default: int, high: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise MalformedMessageError(f"payload.{name} must be an integer from 1 to {high}")
    return value


def rag_request(message: InboundMessage) -> RagRequest:
    envelope = message.envelope or {}
    request_id = identifier(envelope.get("request_id")) or ""
    tenant = identifier(envelope.get("tenant_id"))
    if tenant is None:
        raise MalformedMessageError("tenant_id must be the organisation's id")
    since_text = message.payload.get("since")
    since = parse_instant(since_text)
    if since_text not in (None, "") and since is None:
        raise MalformedMessageError("payload.since must be an ISO 8601 instant")
    return RagRequest(
        request_id=request_id,
        tenant_id=tenant,
        user_id=identifier(envelope.get("user_id")),
        page=_bounded_int(message.payload.get("page"), "page", 1, 1_000_000),
        limit=_bounded_int(message.payload.get("limit"), "limit", 1000, MAX_RAG_PAGE_SIZE),
        since=since,
    )


def rag_batch_reply(
    request: RagRequest,
    items: Sequence[Mapping[str, Any]],
    *,
    total: int,
    now: datetime,
    duration_ms: int,
    service: str,
) -> dict[str, Any]:
    """`{request_id, success, data: {items, page, limit, total}, metadata: {has_more, ...}}`;
    RAG reads `data.items` first."""
    pages = max(1, -(-total // request.limit))
    return {
        "request_id": request.request_id,
        "success": True,
        "data": {
            "items": list(items),
            "page": request.page,
            "limit": request.limit,
            "total": total,
        },
        "metadata": {
            "has_more": request.page * request.limit < total,
            "page": request.page,
            "total_pages": pages,
            "processed_at": iso_z(now),
            "service": service,
            "duration_ms": duration_ms,
            "mode": "batch",
        },
    }


def rag_query_reply(
    request: RagRequest,
    items: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
    duration_ms: int,
    service: str,
) -> dict[str, Any]:
    """A real-time answer: `data` is the learner's recent items as a direct array."""
    return {
        "request_id": request.request_id,
        "success": True,
        "data": list(items),
        "metadata": {
            "query_type": "recent",
            "processed_at": iso_z(now),
            "service": service,
            "duration_ms": duration_ms,
            "mode": "realtime",
        },
    }


def rag_error(request_id: str, error: str) -> dict[str, Any]:
    return {"request_id": request_id, "success": False, "error": error}
