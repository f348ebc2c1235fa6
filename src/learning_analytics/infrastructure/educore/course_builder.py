"""Course Builder through the Coordinator (EDUCORE.md §3.1): a generic template pull whose template
is ours: courses with their learners' status and feedback dictionaries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import Field

from learning_analytics.application.ports import SourcePage
from learning_analytics.domain.records import (
    Course,
    Enrollment,
    Feedback,
)
from learning_analytics.infrastructure.educore.envelope import (
    JsonObject,
    on_demand_payload,
    request_envelope,
)
from learning_analytics.infrastructure.educore.ids import IdMap, numeric_part
from learning_analytics.infrastructure.educore.sources import (
    ASSESSMENT,
    COURSE_BUILDER,
    DIRECTORY,
    PAGINATION_TEMPLATE,
    Batch,
    EducoreSource,
    Id,
    Instant,
    OptionalId,
    Pulled,
    Wire,
    newest_of,
)


class BuilderCourse(Wire):
    course_id: Id
    course_name: str = ""
    status: str | None = None
    organization_id: OptionalId = None
    company_id: OptionalId = None
    trainer_id: OptionalId = None
    created_at: Instant = None
    updated_at: Instant = None
    studentsIDDictionary: dict[str, Any] = Field(default_factory=dict)
    feedbackDictionary: dict[str, Any] = Field(default_factory=dict)


class BuilderCourses(Wire):
    courses: list[BuilderCourse] = Field(default_factory=list)


_DONE = frozenset({"completed", "complete", "finished", "passed", "done"})
_GONE = frozenset({"withdrawn", "dropped", "cancelled", "canceled", "unenrolled"})


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def map_builder_courses(
    courses: Sequence[BuilderCourse], ids: IdMap, *, fetched_at: datetime, company: str | None
) -> Batch:
    """Courses, and from their dictionaries enrolments (`studentsIDDictionary`: learner →
    status, or an object with `status`, `enrolled_at`, `completed_at`, `progress_pct`) and
    feedback (`feedbackDictionary`: learner → `{rating, comment, submitted_at?}`). Missing
    instants fall back to the course's `updated_at`, then `created_at`, then the fetch time."""
    batch = Batch()
    for course in courses:
        course_id = ids.get("course", course.course_id)
        org = ids.get("organization", course.organization_id or course.company_id or company)
        if course_id is None or org is None:
            ids.skipped += 1
            continue
        batch.courses.append(
            Course(
                id=course_id,
                organization_id=org,
                title=course.course_name,
                trainer_id=ids.get("user", course.trainer_id),
            )
        )
        changed = course.updated_at or course.created_at or fetched_at
        for learner, value in course.studentsIDDictionary.items():
            user = ids.need("user", learner)
            if user is None:
                continue
            detail: Mapping[str, Any] = value if isinstance(value, Mapping) else {"status": value}
            status = str(detail.get("status") or "").lower()
            completed = _instant(detail.get("completed_at")) or (
                changed if status in _DONE else None
            )
            withdrawn = _instant(detail.get("withdrawn_at")) or (
                changed if status in _GONE else None
            )
            progress = _number(detail.get("progress_pct"))
            batch.enrollments.append(
                Enrollment(
                    id=f"{course_id}:{user}",
                    user_id=user,
                    course_id=course_id,
                    enrolled_at=_instant(detail.get("enrolled_at")) or course.created_at or changed,
                    due_at=_instant(detail.get("due_at")),
                    completed_at=completed,
                    withdrawn_at=withdrawn,
                    progress_pct=(
                        100.0
                        if completed and progress is None
                        else min(100.0, max(0.0, progress or 0.0))
                    ),
                )
            )
        for learner, value in course.feedbackDictionary.items():
            user = ids.need("user", learner)
            rating = _number(value.get("rating")) if isinstance(value, Mapping) else _number(value)
            if user is None or rating is None:
                continue
            submitted = _instant(value.get("submitted_at")) if isinstance(value, Mapping) else None
            batch.feedback.append(
                Feedback(
                    id=f"{course_id}:{user}",
                    user_id=user,
                    course_id=course_id,
                    rating=round(rating),
                    submitted_at=submitted or changed,
                )
            )
    return batch


class CourseBuilderSource(EducoreSource[BuilderCourses]):
    sibling = COURSE_BUILDER
    route = "CourseBuilder"
    what = "courses with enrollments, feedback and lesson completion"
    reply_model = BuilderCourses
    paged = True
    description = (
        "Fetch courses with enrollments, feedback and lesson completion for learning analytics"
    )

    def batch_payload(self, *, since: datetime | None, cursor: str | None) -> JsonObject:
        # Course Builder's migration declares `description` required next to `action`.
        payload = super().batch_payload(since=since, cursor=cursor)
        return {**payload, "description": self.description}

    def course_template(self) -> JsonObject:
        return {
            "course_id": "",
            "course_name": "",
            "course_type": "",
            "status": "",
            "level": "",
            "duration_hours": 0,
            "created_at": "",
            "updated_at": "",
            "studentsIDDictionary": {},
            "feedbackDictionary": {},
            "lesson_completion_dictionary": {},
        }

    def template(self) -> JsonObject:
        # Never an empty template: Course Builder would route it to its LearnerAI handler.
        course = {**self.course_template(), "organization_id": "", "trainer_id": ""}
        return {
            "version": "",
            "fetched_at": "",
            "pagination": dict(PAGINATION_TEMPLATE),
            "courses": [course],
        }

    async def fetch_company(self, company_id: str, *, request_id: str | None = None) -> SourcePage:
        """The on-demand pull of one company's courses."""
        payload = on_demand_payload(
            route=self.route, origin=self.origin, user_id=None, company_id=company_id,
            reason="dashboard_refresh",
        )  # fmt: skip
        payload = {
            "type": payload["type"],
            "action": payload["action"],
            "description": self.description,
            **{k: v for k, v in payload.items() if k not in {"type", "action"}},
        }
        template = {"version": "", "fetched_at": "", "courses": [self.course_template()]}
        reply = await self.coordinator.call(
            request_envelope(payload, template), request_id=request_id
        )
        return self._page(reply, self.read(reply.response), next_cursor=None, company_id=company_id)

    def newest(self, reply: BuilderCourses) -> datetime | None:
        return newest_of([c.updated_at or c.created_at for c in reply.courses])

    async def resolve(self, ids: IdMap, pulled: Pulled[BuilderCourses]) -> None:
        courses = pulled.reply.courses
        await ids.resolve("course", (c.course_id for c in courses), mint=True)
        for course in courses:
            number = numeric_part(course.course_id)
            internal = ids.get("course", course.course_id)
            if number is not None and internal is not None:
                ids.learn("course", number, internal, source=ASSESSMENT)
        await ids.resolve(
            "organization",
            [c.organization_id or c.company_id or pulled.company_id for c in courses],
            via=DIRECTORY,
        )
        people = [
            person
            for course in courses
            for person in (
                course.trainer_id,
                *course.studentsIDDictionary,
                *course.feedbackDictionary,
            )
        ]
        await ids.resolve("user", people, via=DIRECTORY)

    def map(self, pulled: Pulled[BuilderCourses], ids: IdMap) -> Batch:
        return map_builder_courses(
            pulled.reply.courses, ids, fetched_at=pulled.fetched_at, company=pulled.company_id
        )


# --------------------------------------------------------------------------------------------
