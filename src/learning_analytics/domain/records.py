"""Canonical learning records: what ingestion writes to the learning record store (SPEC §4).

Upstream adapters translate each sibling's reply into these; the store keeps them as they are,
plus `source` and `ingested_at`, which the writer sets. Ids are our ids (upstream ids mapped
through external ids). Every instant is a timezone-aware UTC datetime. Skills are plain string
ids. A record that breaks a rule stated below raises ValueError when built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

from learning_analytics.domain.models import Role

JsonValue: TypeAlias = str | int | float | bool | list["JsonValue"] | dict[str, "JsonValue"] | None

MIN_SKILL_LEVEL = 0
MAX_SKILL_LEVEL = 5
UNIT_KINDS = frozenset({"topic", "lesson", "content"})
EVENT_VERBS = frozenset({"started", "completed", "progress"})


def _check_level(name: str, level: int | None) -> None:
    if level is not None and not MIN_SKILL_LEVEL <= level <= MAX_SKILL_LEVEL:
        raise ValueError(f"{name} must be within {MIN_SKILL_LEVEL}-{MAX_SKILL_LEVEL}, not {level}")


def _check_percentage(name: str, value: float | None) -> None:
    if value is not None and not 0.0 <= value <= 100.0:
        raise ValueError(f"{name} must be within 0-100, not {value}")


# --------------------------------------------------------------------------------------------
# Organisation structure (Directory)


ROLE_NAMES = frozenset(role.value for role in Role)


@dataclass(frozen=True, slots=True)
class Organization:
    id: str
    name: str
    timezone: str | None = None  # IANA name, e.g. "Europe/Berlin"


@dataclass(frozen=True, slots=True)
class Department:
    id: str
    organization_id: str
    name: str
    manager_id: str | None = None


@dataclass(frozen=True, slots=True)
class Team:
    id: str
    department_id: str
    name: str
    manager_id: str | None = None


@dataclass(frozen=True, slots=True)
class User:
    id: str
    organization_id: str
    email: str | None
    display_name: str | None
    role: str  # a Role value: learner | trainer | manager | org_admin | admin
    department_id: str | None = None
    team_id: str | None = None
    manager_id: str | None = None  # direct manager
    timezone: str | None = None
    leaderboard_visible: bool = True

    def __post_init__(self) -> None:
        if self.role not in ROLE_NAMES:
            raise ValueError(f"unknown role {self.role!r}")


@dataclass(frozen=True, slots=True)
class ExternalId:
    """How one upstream names one of our entities (the siblings disagree on ids)."""

    source: str  # the upstream, e.g. "directory"
    kind: str  # the entity kind, e.g. "user", "course"
    external_id: str
    internal_id: str


# --------------------------------------------------------------------------------------------
# Courses (Course Builder, Content Studio)


@dataclass(frozen=True, slots=True)
class Course:
    id: str
    organization_id: str
    title: str
    trainer_id: str | None = None
    visibility: str = "organization"
    due_at: datetime | None = None  # a fixed due date for every enrollment
    default_due_days: int | None = None  # else due this many days after enrolling


@dataclass(frozen=True, slots=True)
class CourseUnit:
    """A topic, lesson or content item of a course, in course order (`position`)."""

    id: str
    course_id: str
    position: int
    kind: str  # topic | lesson | content
    title: str
    content_type: str | None = None  # video | text | quiz | exercise | ...
    parent_id: str | None = None  # the enclosing topic or lesson
    skills: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in UNIT_KINDS:
            raise ValueError(f"unknown unit kind {self.kind!r}")


@dataclass(frozen=True, slots=True)
class Enrollment:
    id: str
    user_id: str
    course_id: str
    enrolled_at: datetime
    due_at: datetime | None = None
    completed_at: datetime | None = None
    withdrawn_at: datetime | None = None
    progress_pct: float = 0.0

    def __post_init__(self) -> None:
        _check_percentage("progress_pct", self.progress_pct)


# --------------------------------------------------------------------------------------------
# Activity


@dataclass(frozen=True, slots=True)
class LearningEvent:
    """Progress on a lesson or content item; `id` is the upstream event id."""

    id: str
    user_id: str
    course_id: str
    unit_id: str | None
    verb: str  # started | completed | progress
    occurred_at: datetime
    seconds_spent: int = 0

    def __post_init__(self) -> None:
        if self.verb not in EVENT_VERBS:
            raise ValueError(f"unknown learning event verb {self.verb!r}")
        if self.seconds_spent < 0:
            raise ValueError("seconds_spent must not be negative")


@dataclass(frozen=True, slots=True)
class SkillScore:
    skill_id: str
    score_pct: float

    def __post_init__(self) -> None:
        _check_percentage("score_pct", self.score_pct)


@dataclass(frozen=True, slots=True)
class AssessmentAttempt:
    id: str
    user_id: str
    course_id: str | None
    assessment_id: str
    score_pct: float
    passed: bool
    submitted_at: datetime
    exam_type: str | None = None  # e.g. baseline | post_course | practice
    skill_scores: tuple[SkillScore, ...] = ()

    def __post_init__(self) -> None:
        _check_percentage("score_pct", self.score_pct)


@dataclass(frozen=True, slots=True)
class PracticeSession:
    """A DevLab practice session or competition."""

    id: str
    user_id: str
    started_at: datetime
    skill_id: str | None = None
    competition_id: str | None = None
    completed: bool = False
    won: bool = False
    seconds: int = 0


@dataclass(frozen=True, slots=True)
class AssistantInteraction:
    """A question to the RAG assistant (the question text is not kept)."""

    id: str
    user_id: str
    asked_at: datetime
    topic: str | None = None
    course_id: str | None = None


@dataclass(frozen=True, slots=True)
class Feedback:
    id: str
    user_id: str
    course_id: str | None
    rating: int
    submitted_at: datetime


# --------------------------------------------------------------------------------------------
# Skills and paths (Skills Engine, Learner AI)


@dataclass(frozen=True, slots=True)
class SkillProfile:
    user_id: str
    skill_id: str
    current_level: int  # 0-5
    updated_at: datetime
    target_level: int | None = None  # 0-5
    verified: bool = False

    def __post_init__(self) -> None:
        _check_level("current_level", self.current_level)
        _check_level("target_level", self.target_level)


@dataclass(frozen=True, slots=True)
class StrategicSkillTarget:
    organization_id: str
    skill_id: str
    weight: float
    target_level: int

    def __post_init__(self) -> None:
        _check_level("target_level", self.target_level)
        if self.weight < 0:
            raise ValueError("weight must not be negative")


@dataclass(frozen=True, slots=True)
class LearningPath:
    id: str
    user_id: str
    updated_at: datetime
    course_id: str | None = None
    steps: tuple[Mapping[str, JsonValue], ...] = ()


# --------------------------------------------------------------------------------------------
# Ingestion bookkeeping


@dataclass(frozen=True, slots=True)
class SyncState:
    """Where the incremental sync of one source stands."""

    source: str
    cursor: str | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
