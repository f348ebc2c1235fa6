"""Content Studio through the Coordinator (EDUCORE.md §3.2): courses, topics and contents created or
updated in the last 24 hours, under its own integer ids."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from learning_analytics.domain.records import (
    Course,
    CourseUnit,
)
from learning_analytics.infrastructure.educore.envelope import (
    JsonObject,
)
from learning_analytics.infrastructure.educore.ids import IdMap
from learning_analytics.infrastructure.educore.sources import (
    CONTENT_STUDIO,
    DIRECTORY,
    Batch,
    EducoreSource,
    Id,
    Instant,
    OptionalId,
    Pulled,
    Wire,
    newest_of,
)


class StudioContent(Wire):
    content_id: Id
    content_type: str | None = None


class StudioTopic(Wire):
    topic_id: Id
    topic_name: str = ""
    skills: list[str] = Field(default_factory=list)
    contents: list[StudioContent] = Field(default_factory=list)
    created_at: Instant = None


class StudioCourse(Wire):
    course_id: Id
    course_name: str = ""
    trainer_id: OptionalId = None
    permission: Any = None
    created_at: Instant = None
    topics: list[StudioTopic] = Field(default_factory=list)

    @property
    def organizations(self) -> list[str]:
        granted = self.permission
        if isinstance(granted, list):
            return [str(org) for org in granted if org]
        return []


class StudioCatalogue(Wire):
    courses: list[StudioCourse] = Field(default_factory=list)
    topics_stand_alone: list[StudioTopic] = Field(default_factory=list)


def _studio_id(kind: str, external: str) -> str:
    return f"content-studio:{kind}:{external}"


def map_studio(catalogue: StudioCatalogue, ids: IdMap) -> Batch:
    """Courses and their topics and contents, as course units in the order sent.

    A course already mapped keeps its id; a new one becomes `content-studio:course:<id>` and
    needs an organisation: the first one of its `permission` list that we know (a course
    open to `all` organisations cannot be placed in one, so it is skipped until it is mapped).
    Standalone topics belong to no course and are only archived.
    """
    batch = Batch()
    for course in catalogue.courses:
        known = ids.get("course", course.course_id)
        course_id = known or _studio_id("course", course.course_id)
        org = next(
            (o for o in (ids.get("organization", x) for x in course.organizations) if o), None
        )
        if known is None and org is None:
            ids.skipped += 1
            continue
        trainer = ids.get("user", course.trainer_id)
        if org is not None:
            ids.learn("course", course.course_id, course_id)
            batch.courses.append(
                Course(
                    id=course_id, organization_id=org, title=course.course_name, trainer_id=trainer
                )
            )
        position = 0
        for topic in course.topics:
            position += 1
            topic_id = _studio_id("topic", topic.topic_id)
            batch.course_units.append(
                CourseUnit(
                    id=topic_id, course_id=course_id, position=position, kind="topic",
                    title=topic.topic_name, skills=tuple(topic.skills),
                )
            )  # fmt: skip
            for content in topic.contents:
                position += 1
                batch.course_units.append(
                    CourseUnit(
                        id=_studio_id("content", content.content_id),
                        course_id=course_id,
                        position=position,
                        kind="content",
                        title=f"{topic.topic_name} ({content.content_type or 'content'})",
                        content_type=content.content_type,
                        parent_id=topic_id,
                        skills=tuple(topic.skills),
                    )
                )
    return batch


class ContentStudioSource(EducoreSource[StudioCatalogue]):
    sibling = CONTENT_STUDIO
    route = "ContentStudio"
    what = "course, topic and content data"
    reply_model = StudioCatalogue

    def template(self) -> JsonObject:
        return {"courses": [], "topics_stand_alone": []}

    def newest(self, reply: StudioCatalogue) -> datetime | None:
        return newest_of([c.created_at for c in reply.courses])

    async def resolve(self, ids: IdMap, pulled: Pulled[StudioCatalogue]) -> None:
        courses = pulled.reply.courses
        await ids.resolve("course", (c.course_id for c in courses))
        await ids.resolve(
            "organization", (o for c in courses for o in c.organizations), via=DIRECTORY
        )
        await ids.resolve("user", (c.trainer_id for c in courses), via=DIRECTORY)

    def map(self, pulled: Pulled[StudioCatalogue], ids: IdMap) -> Batch:
        return map_studio(pulled.reply, ids)


# --------------------------------------------------------------------------------------------
