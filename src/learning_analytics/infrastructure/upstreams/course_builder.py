"""Course Builder: courses, their units, enrolments and course feedback (docs/upstreams.md)."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, Field

from learning_analytics.domain.records import Course, CourseUnit, Enrollment, Feedback
from learning_analytics.infrastructure.upstreams.http import UpstreamClient
from learning_analytics.infrastructure.upstreams.rest import RestCollection, WireItem, collection


class CourseItem(WireItem):
    organization_id: str
    title: str
    trainer_id: str | None = None
    visibility: str = "organization"
    due_at: AwareDatetime | None = None
    default_due_days: int | None = None


class CourseUnitItem(WireItem):
    course_id: str
    position: int
    kind: str
    title: str
    content_type: str | None = None
    parent_id: str | None = None
    skills: list[str] = Field(default_factory=list)


class EnrollmentItem(WireItem):
    user_id: str
    course_id: str
    enrolled_at: AwareDatetime
    due_at: AwareDatetime | None = None
    completed_at: AwareDatetime | None = None
    withdrawn_at: AwareDatetime | None = None
    progress_pct: float = 0.0


class FeedbackItem(WireItem):
    user_id: str
    course_id: str | None = None
    rating: int
    submitted_at: AwareDatetime


def collections(client: UpstreamClient) -> list[RestCollection[Any]]:
    return [
        collection(
            client,
            "courses",
            CourseItem,
            lambda i: Course(
                id=i.id,
                organization_id=i.organization_id,
                title=i.title,
                trainer_id=i.trainer_id,
                visibility=i.visibility,
                due_at=i.due_at,
                default_due_days=i.default_due_days,
            ),
            lambda w: w.upsert_courses,
        ),
        collection(
            client,
            "course-units",
            CourseUnitItem,
            lambda i: CourseUnit(
                id=i.id,
                course_id=i.course_id,
                position=i.position,
                kind=i.kind,
                title=i.title,
                content_type=i.content_type,
                parent_id=i.parent_id,
                skills=tuple(i.skills),
            ),
            lambda w: w.upsert_course_units,
        ),
        collection(
            client,
            "enrollments",
            EnrollmentItem,
            lambda i: Enrollment(
                id=i.id,
                user_id=i.user_id,
                course_id=i.course_id,
                enrolled_at=i.enrolled_at,
                due_at=i.due_at,
                completed_at=i.completed_at,
                withdrawn_at=i.withdrawn_at,
                progress_pct=i.progress_pct,
            ),
            lambda w: w.upsert_enrollments,
            per_user=True,
        ),
        collection(
            client,
            "feedback",
            FeedbackItem,
            lambda i: Feedback(
                id=i.id,
                user_id=i.user_id,
                course_id=i.course_id,
                rating=i.rating,
                submitted_at=i.submitted_at,
            ),
            lambda w: w.upsert_feedback,
            per_user=True,
        ),
    ]
