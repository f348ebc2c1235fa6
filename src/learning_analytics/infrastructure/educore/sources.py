"""What every outbound EDUCORE adapter shares (SPEC §5.1, contracts/EDUCORE.md §2, §4).

An adapter is a `CollectionSource` (batch pulls, with cursor pages where the sibling pages) and,
where the sibling serves one person, a `UserSource` (the on-demand refresh of one learner).
`fetch` returns the validated reply as the page's one record (a `Pulled`); `write` resolves the
ids it needs through `external_ids` (`ids.py`), maps the reply into canonical records (a
`Batch`) and upserts them. The sync archives every reply as received in `raw_payloads`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Annotated, Any, ClassVar, Generic, TypeVar

import structlog
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, ValidationError

from learning_analytics.application.ports import Clock, RecordWriter, SourcePage
from learning_analytics.domain.errors import UpstreamContractError
from learning_analytics.domain.records import (
    AssessmentAttempt,
    Course,
    CourseUnit,
    Department,
    Enrollment,
    Feedback,
    LearningPath,
    Organization,
    PracticeSession,
    SkillProfile,
    Team,
    User,
)
from learning_analytics.infrastructure.educore.coordinator import CoordinatorClient, Reply
from learning_analytics.infrastructure.educore.envelope import (
    JsonObject,
    Pagination,
    batch_payload,
    on_demand_payload,
    request_envelope,
)
from learning_analytics.infrastructure.educore.ids import IdMap

log = structlog.get_logger("learning_analytics.educore")

DIRECTORY = "directory"
COURSE_BUILDER = "course-builder"
CONTENT_STUDIO = "content-studio"
ASSESSMENT = "assessment"
SKILLS_ENGINE = "skills-engine"
LEARNER_AI = "learner-ai"
DEVLAB = "devlab"
# In sync order: Directory first (everyone else's people are its people), then courses.
SIBLINGS: tuple[str, ...] = (
    DIRECTORY,
    COURSE_BUILDER,
    CONTENT_STUDIO,
    ASSESSMENT,
    SKILLS_ENGINE,
    LEARNER_AI,
    DEVLAB,
)


# --------------------------------------------------------------------------------------------
# Wire values: ids come as strings or integers, instants as ISO strings (or "" when unfilled)


def _text(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    return value


def _text_or_none(value: Any) -> Any:
    return None if value in ("", None) else _text(value)


def _blank_none(value: Any) -> Any:
    return None if value == "" else value


Id = Annotated[str, BeforeValidator(_text)]
OptionalId = Annotated[str | None, BeforeValidator(_text_or_none)]
Instant = Annotated[AwareDatetime | None, BeforeValidator(_blank_none)]


class Wire(BaseModel):
    # Unknown fields are kept (they are archived with the reply too) and never fail validation.
    model_config = ConfigDict(extra="allow")


W = TypeVar("W", bound=Wire)


def parse_wire(model: type[W], value: Any, *, service: str) -> W:
    try:
        return model.model_validate(value)
    except ValidationError as error:
        problems = [
            f"{'.'.join(map(str, item['loc'])) or '<root>'}: {item['type']}"
            for item in error.errors(include_url=False, include_input=False)
        ]
        raise UpstreamContractError(
            f"{service} sent a reply that does not match its contract",
            service=service,
            details="; ".join(problems[:5]),
        ) from error


# --------------------------------------------------------------------------------------------
# What one reply maps to


@dataclass(slots=True)
class Batch:
    """Canonical records of one reply, written in this order (parents before children)."""

    organizations: list[Organization] = field(default_factory=list)
    departments: list[Department] = field(default_factory=list)
    teams: list[Team] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    courses: list[Course] = field(default_factory=list)
    course_units: list[CourseUnit] = field(default_factory=list)
    enrollments: list[Enrollment] = field(default_factory=list)
    feedback: list[Feedback] = field(default_factory=list)
    assessment_attempts: list[AssessmentAttempt] = field(default_factory=list)
    skill_profiles: list[SkillProfile] = field(default_factory=list)
    learning_paths: list[LearningPath] = field(default_factory=list)
    practice_sessions: list[PracticeSession] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {f.name: len(getattr(self, f.name)) for f in fields(self) if getattr(self, f.name)}

    async def write(self, writer: RecordWriter, *, source: str, ingested_at: datetime) -> int:
        written = 0
        for item in fields(self):
            records = getattr(self, item.name)
            if records:
                upsert = getattr(writer, f"upsert_{item.name}")
                written += await upsert(records, source=source, ingested_at=ingested_at)
        return written


@dataclass(frozen=True, slots=True)
class Pulled(Generic[W]):
    """One validated reply and what was asked (the page's record, mapped in `write`)."""

    reply: W
    fetched_at: datetime
    user_id: str | None = None  # the learner of an on-demand pull
    company_id: str | None = None  # the company of an on-demand pull


class EducoreSource(ABC, Generic[W]):
    """One sibling through the Coordinator (see the module doc). Subclasses say what to ask
    (`payload`, `template`), how to read the reply (`reply_model`, `rows`) and how to map it."""

    sibling: ClassVar[str]
    route: ClassVar[str]  # the `ROUTE_TO_<route>` of the action text
    what: ClassVar[str]  # what the batch fetches, in the action text
    reply_model: ClassVar[type[Wire]]
    paged: ClassVar[bool] = False
    per_user: ClassVar[bool] = False

    def __init__(self, coordinator: CoordinatorClient, *, clock: Clock) -> None:
        self.coordinator = coordinator
        self.clock = clock

    @property
    def name(self) -> str:
        return f"educore.{self.sibling}"

    @property
    def origin(self) -> str:
        return self.route.lower()

    # -- what to ask -----------------------------------------------------------------------

    def batch_payload(self, *, since: datetime | None, cursor: str | None) -> JsonObject:
        """The batch request; `since` (the newest instant of the last complete run) is used by
        the siblings that can filter on it."""
        del since
        return batch_payload(route=self.route, origin=self.origin, what=self.what, cursor=cursor)

    @abstractmethod
    def template(self) -> JsonObject:
        """The `response` template this sibling fills (EDUCORE.md §3)."""

    def user_payload(self, user_id: str) -> JsonObject:
        return on_demand_payload(route=self.route, origin=self.origin, user_id=user_id)

    def user_template(self) -> JsonObject:
        return self.template()

    # -- reading ---------------------------------------------------------------------------

    def read(self, response: JsonObject) -> W:
        return parse_wire(self.reply_model, response, service=self.sibling)  # type: ignore[return-value]

    def newest(self, reply: W) -> datetime | None:
        """The newest instant of the reply's records (the next run's `since`), if they have one."""
        del reply
        return None

    async def resolve(self, ids: IdMap, pulled: Pulled[W]) -> None:
        """Bulk id lookups the mapping needs."""

    @abstractmethod
    def map(self, pulled: Pulled[W], ids: IdMap) -> Batch:
        """The canonical records of a pulled reply, in our ids."""

    # -- the ports -------------------------------------------------------------------------

    async def fetch(
        self, *, since: datetime | None, cursor: str | None, request_id: str | None = None
    ) -> SourcePage:
        envelope = request_envelope(self.batch_payload(since=since, cursor=cursor), self.template())
        reply = await self.coordinator.call(envelope, request_id=request_id)
        parsed = self.read(reply.response)
        next_cursor = (
            Pagination.of(reply.response, sent_cursor=cursor, service=self.sibling).next_cursor
            if self.paged
            else None
        )
        return self._page(reply, parsed, next_cursor=next_cursor)

    async def fetch_user(self, user_id: str, *, request_id: str | None = None) -> SourcePage:
        """One learner's records (our user ids are Directory's, which these siblings use)."""
        envelope = request_envelope(self.user_payload(user_id), self.user_template())
        reply = await self.coordinator.call(envelope, request_id=request_id)
        return self._page(reply, self.read(reply.response), next_cursor=None, user_id=user_id)

    async def write(self, writer: RecordWriter, page: SourcePage, *, ingested_at: datetime) -> int:
        written = 0
        for pulled in page.records:
            if not isinstance(pulled, Pulled):
                raise TypeError(f"{self.name} cannot write {type(pulled).__name__}")
            ids = IdMap(writer, source=self.sibling)
            await self.resolve(ids, pulled)
            try:
                batch = self.map(pulled, ids)
            except ValueError as error:  # a record that cannot exist (a rule of records.py)
                raise UpstreamContractError(
                    f"{self.sibling} sent a record that cannot exist",
                    service=self.sibling,
                    details=str(error)[:200],
                ) from error
            await ids.save(ingested_at=ingested_at)
            written += await batch.write(writer, source=self.sibling, ingested_at=ingested_at)
            if ids.skipped:
                log.info("educore_records_skipped", source=self.name, unmapped_ids=ids.skipped)
        return written

    def _page(
        self,
        reply: Reply,
        parsed: W,
        *,
        next_cursor: str | None,
        user_id: str | None = None,
        company_id: str | None = None,
    ) -> SourcePage:
        pulled = Pulled(parsed, self.clock.now(), user_id=user_id, company_id=company_id)
        return SourcePage(
            records=[pulled], next_cursor=next_cursor, newest=self.newest(parsed), raw=reply.raw
        )


def newest_of(instants: Sequence[datetime | None]) -> datetime | None:
    return max((at for at in instants if at is not None), default=None)


PAGINATION_TEMPLATE: JsonObject = {
    "total_records": 0,
    "returned_records": 0,
    "next_cursor": "",
    "has_more": False,
}
