"""The learning record store's tables (SPEC §4), for SQLite and PostgreSQL alike.

Entities keep their upstream string ids ("u-1"). References between entities fed by different
upstreams, or by one upstream in no fixed order, are plain columns, not foreign keys: ingestion
accepts rows in whatever order the sources deliver them (a failed source does not stop the
others, SPEC §5.4), and analytics tolerate a dangling id. Only rows owned by one parent row and
written with it (per-skill scores, unit skills) have foreign keys, deleted with their parent.

Instants are stored in UTC and read back as aware UTC datetimes on both databases (`UtcDateTime`).
The migrations in `migrations/versions` create exactly these tables; a test compares them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# An auto-incrementing 64-bit key; SQLite only auto-increments an INTEGER PRIMARY KEY.
BigIntegerKey = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """An instant: refuses naive datetimes, stores UTC, returns aware UTC datetimes.

    PostgreSQL keeps it in `timestamptz`; SQLite, which has no time zones, in its fixed-width
    ISO text form without offset, so text order is time order.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the store keeps only aware instants")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002 — fixed signature
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        str: String(),
        float: Float(),
    }


class Ingested:
    """Columns every ingested row carries: which upstream it came from and when it arrived."""

    source: Mapped[str]
    ingested_at: Mapped[datetime]


# --------------------------------------------------------------------------------------------
# Organisation structure


class OrganizationRow(Ingested, Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str]
    timezone: Mapped[str | None]


class DepartmentRow(Ingested, Base):
    __tablename__ = "departments"

    id: Mapped[str] = mapped_column(primary_key=True)
    organization_id: Mapped[str] = mapped_column(index=True)
    name: Mapped[str]
    manager_id: Mapped[str | None]


class TeamRow(Ingested, Base):
    __tablename__ = "teams"

    id: Mapped[str] = mapped_column(primary_key=True)
    department_id: Mapped[str] = mapped_column(index=True)
    name: Mapped[str]
    manager_id: Mapped[str | None]


class UserRow(Ingested, Base):
    __tablename__ = "users"
    __table_args__ = (
        Index(None, "organization_id", "department_id"),
        Index(None, "team_id"),
        Index(None, "manager_id"),
        Index(None, "email"),
    )

    id: Mapped[str] = mapped_column(primary_key=True)
    organization_id: Mapped[str]
    email: Mapped[str | None]
    display_name: Mapped[str | None]
    role: Mapped[str]
    department_id: Mapped[str | None]
    team_id: Mapped[str | None]
    manager_id: Mapped[str | None]
    timezone: Mapped[str | None]
    leaderboard_visible: Mapped[bool] = mapped_column(server_default=true())


class ExternalIdRow(Ingested, Base):
    __tablename__ = "external_ids"
    __table_args__ = (Index(None, "kind", "internal_id"),)

    # `source` (from Ingested) is part of the key: each upstream names things its own way.
    source: Mapped[str] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(primary_key=True)
    internal_id: Mapped[str]


# --------------------------------------------------------------------------------------------
# Courses


class CourseRow(Ingested, Base):
    __tablename__ = "courses"

    id: Mapped[str] = mapped_column(primary_key=True)
    organization_id: Mapped[str] = mapped_column(index=True)
    trainer_id: Mapped[str | None] = mapped_column(index=True)
    title: Mapped[str]
    visibility: Mapped[str]
    due_at: Mapped[datetime | None]
    default_due_days: Mapped[int | None]


class CourseUnitRow(Ingested, Base):
    __tablename__ = "course_units"
    __table_args__ = (Index(None, "course_id", "position"),)

    id: Mapped[str] = mapped_column(primary_key=True)
    course_id: Mapped[str]
    parent_id: Mapped[str | None]
    position: Mapped[int]
    kind: Mapped[str]
    content_type: Mapped[str | None]
    title: Mapped[str]


class CourseUnitSkillRow(Ingested, Base):
    __tablename__ = "course_unit_skills"

    unit_id: Mapped[str] = mapped_column(
        ForeignKey("course_units.id", ondelete="CASCADE"), primary_key=True
    )
    skill_id: Mapped[str] = mapped_column(primary_key=True, index=True)


class EnrollmentRow(Ingested, Base):
    __tablename__ = "enrollments"

    id: Mapped[str] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(index=True)
    course_id: Mapped[str] = mapped_column(index=True)
    enrolled_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    progress_pct: Mapped[float] = mapped_column(server_default="0")


# --------------------------------------------------------------------------------------------
# Activity


class LearningEventRow(Ingested, Base):
    __tablename__ = "learning_events"
    __table_args__ = (
        Index(None, "user_id", "occurred_at"),
        Index(None, "course_id", "occurred_at"),
        # Trainer and organisation aggregates read a time window (migration 0003).
        Index(
            None,
            "occurred_at",
            postgresql_include=["user_id", "course_id", "unit_id", "verb", "seconds_spent"],
        ),
    )

    id: Mapped[str] = mapped_column(primary_key=True)
    user_id: Mapped[str]
    course_id: Mapped[str]
    unit_id: Mapped[str | None]
    verb: Mapped[str]
    seconds_spent: Mapped[int] = mapped_column(server_default="0")
    occurred_at: Mapped[datetime]


class AssessmentAttemptRow(Ingested, Base):
    __tablename__ = "assessment_attempts"
    __table_args__ = (
        Index(None, "user_id", "submitted_at"),
        Index(None, "course_id"),
        Index(
            None,
            "submitted_at",
            postgresql_include=["user_id", "course_id", "score_pct", "passed", "id"],
        ),
    )

    id: Mapped[str] = mapped_column(primary_key=True)
    user_id: Mapped[str]
    course_id: Mapped[str | None]
    assessment_id: Mapped[str]
    exam_type: Mapped[str | None]
    score_pct: Mapped[float]
    passed: Mapped[bool]
    submitted_at: Mapped[datetime]


class AssessmentSkillScoreRow(Ingested, Base):
    __tablename__ = "assessment_skill_scores"

    attempt_id: Mapped[str] = mapped_column(
        ForeignKey("assessment_attempts.id", ondelete="CASCADE"), primary_key=True
    )
    skill_id: Mapped[str] = mapped_column(primary_key=True, index=True)
    score_pct: Mapped[float]


class PracticeSessionRow(Ingested, Base):
    __tablename__ = "practice_sessions"
    __table_args__ = (
        Index(None, "user_id", "started_at"),
        Index(None, "started_at", postgresql_include=["user_id"]),
    )

    id: Mapped[str] = mapped_column(primary_key=True)
    user_id: Mapped[str]
    skill_id: Mapped[str | None]
    competition_id: Mapped[str | None]
    started_at: Mapped[datetime]
    completed: Mapped[bool] = mapped_column(server_default=false())
    won: Mapped[bool] = mapped_column(server_default=false())
    seconds: Mapped[int] = mapped_column(server_default="0")


class AssistantInteractionRow(Ingested, Base):
    __tablename__ = "assistant_interactions"
    __table_args__ = (
        Index(None, "user_id", "asked_at"),
        Index(None, "asked_at", postgresql_include=["user_id", "course_id"]),
    )

    id: Mapped[str] = mapped_column(primary_key=True)
    user_id: Mapped[str]
    course_id: Mapped[str | None]
    topic: Mapped[str | None]
    asked_at: Mapped[datetime]


class FeedbackRow(Ingested, Base):
    __tablename__ = "feedback"
    __table_args__ = (Index(None, "submitted_at", postgresql_include=["user_id", "course_id"]),)

    id: Mapped[str] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(index=True)
    course_id: Mapped[str | None] = mapped_column(index=True)
    rating: Mapped[int]
    submitted_at: Mapped[datetime]


ROLLUP_SUMS = (
    "events",
    "units",
    "seconds",
    "attempts",
    "score_sum",
    "practice",
    "questions",
    "feedback",
)
ROLLUP_COUNTS = (*ROLLUP_SUMS, "first_event_at", "last_event_at")


class ActivityDayRow(Base):
    """Per learner and local day: how much of each activity they had (a rollup of the five
    activity tables above, kept by the record writer; see `db/activity_days.py`).

    `day` numbers the local date in the timezone of the learner's organisation (UTC without
    one) as `domain.timezones.day_number` does; `organization_id` is that organisation.
    Learning events give `events`, `units` (completed units), `seconds` and the day's first and
    last event instants; attempts give `attempts` and `score_sum`; practice sessions, assistant
    questions and feedback their counts.
    """

    __tablename__ = "activity_days"
    # Organisation figures read one organisation's range of days: index-only scans on
    # PostgreSQL, the learning-event figures through the smaller partial index.
    __table_args__ = (
        Index(None, "organization_id", "day", "user_id", postgresql_include=list(ROLLUP_COUNTS)),
        Index(
            "ix_activity_days_learning",
            "organization_id",
            "day",
            "user_id",
            postgresql_include=["units", "seconds"],
            postgresql_where=text("events > 0"),
            sqlite_where=text("events > 0"),
        ),
    )

    user_id: Mapped[str] = mapped_column(primary_key=True)
    day: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[str]  # "" while the learner is not stored
    events: Mapped[int] = mapped_column(server_default="0")
    units: Mapped[int] = mapped_column(server_default="0")
    seconds: Mapped[int] = mapped_column(BigInteger, server_default="0")
    first_event_at: Mapped[datetime | None]
    last_event_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(server_default="0")
    score_sum: Mapped[float] = mapped_column(server_default="0")
    practice: Mapped[int] = mapped_column(server_default="0")
    questions: Mapped[int] = mapped_column(server_default="0")
    feedback: Mapped[int] = mapped_column(server_default="0")


class ActivityUnitDayRow(Base):
    """Per learner, local day and unit: learning seconds (the learning events with time spent;
    `unit_id` "" for events on no unit). Kept with `activity_days`, in the same days; read by
    strategic alignment (effort per skill and weighted by the organisation's targets)."""

    __tablename__ = "activity_unit_days"
    __table_args__ = (
        Index(None, "organization_id", "day", "user_id", "unit_id", postgresql_include=["seconds"]),
    )

    user_id: Mapped[str] = mapped_column(primary_key=True)
    day: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[str] = mapped_column(primary_key=True)
    organization_id: Mapped[str]
    seconds: Mapped[int] = mapped_column(BigInteger)


# --------------------------------------------------------------------------------------------
# Skills and paths


class SkillProfileRow(Ingested, Base):
    __tablename__ = "skill_profiles"
    __table_args__ = (
        CheckConstraint("current_level BETWEEN 0 AND 5", name="current_level_range"),
        CheckConstraint("target_level BETWEEN 0 AND 5", name="target_level_range"),
    )

    user_id: Mapped[str] = mapped_column(primary_key=True)
    skill_id: Mapped[str] = mapped_column(primary_key=True, index=True)
    current_level: Mapped[int]
    target_level: Mapped[int | None]
    verified: Mapped[bool] = mapped_column(server_default=false())
    updated_at: Mapped[datetime]


class SkillGapSummaryRow(Base):
    """Per learner: the sum over their skill profiles with a target of max(target - current, 0)
    and how many such profiles (kept by the record writer with the profiles; read by department
    analytics instead of every profile row)."""

    __tablename__ = "skill_gap_summaries"

    user_id: Mapped[str] = mapped_column(primary_key=True)
    gap_sum: Mapped[int]
    profiles: Mapped[int]


class StrategicSkillTargetRow(Ingested, Base):
    __tablename__ = "strategic_skill_targets"

    organization_id: Mapped[str] = mapped_column(primary_key=True)
    skill_id: Mapped[str] = mapped_column(primary_key=True)
    weight: Mapped[float]
    target_level: Mapped[int]


class LearningPathRow(Ingested, Base):
    __tablename__ = "learning_paths"

    id: Mapped[str] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(index=True)
    course_id: Mapped[str | None]
    steps: Mapped[list[Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime]


# --------------------------------------------------------------------------------------------
# Gamification (derived from the rows above, SPEC §11)


class PointsLedgerRow(Base):
    """Append-only: one award per (user, rule, source event), so awarding is idempotent."""

    __tablename__ = "points_ledger"
    __table_args__ = (
        UniqueConstraint("user_id", "rule", "source_event"),
        Index(None, "user_id", "awarded_at"),
    )

    id: Mapped[int] = mapped_column(BigIntegerKey, primary_key=True, autoincrement=True)
    user_id: Mapped[str]
    rule: Mapped[str]
    source_event: Mapped[str]
    points: Mapped[int]
    awarded_at: Mapped[datetime]


class PointsPeriodRow(Base):
    """Points per (organisation, period, period start, user), kept with the ledger: every
    ledger row added adds its points to its week, month and all-time totals in the same
    transaction. Periods start at local midnight in the organisation's timezone (week: Monday;
    all time: 1970-01-01). Leaderboards rank these totals."""

    __tablename__ = "points_periods"
    # Covering, in rank order: a board is one index-only range scan.
    __table_args__ = (
        Index(None, "organization_id", "period", "period_start", "points", "user_id"),
    )

    organization_id: Mapped[str] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(primary_key=True)  # week | month | all
    period_start: Mapped[date] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(primary_key=True)
    points: Mapped[int]


class UserAchievementRow(Base):
    __tablename__ = "user_achievements"

    user_id: Mapped[str] = mapped_column(primary_key=True)
    achievement_code: Mapped[str] = mapped_column(primary_key=True)
    earned_at: Mapped[datetime]


# --------------------------------------------------------------------------------------------
# Ingestion bookkeeping


class SyncStateRow(Base):
    __tablename__ = "sync_state"

    source: Mapped[str] = mapped_column(primary_key=True)
    cursor: Mapped[str | None] = mapped_column(Text)
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]


class RawPayloadRow(Base):
    """An upstream reply as received, kept for replay."""

    __tablename__ = "raw_payloads"
    __table_args__ = (Index(None, "source", "fetched_at"),)

    id: Mapped[int] = mapped_column(BigIntegerKey, primary_key=True, autoincrement=True)
    source: Mapped[str]
    fetched_at: Mapped[datetime]
    payload: Mapped[str] = mapped_column(Text)


class DataVersionRow(Base):
    """A counter per scope, bumped whenever ingestion changes that scope's data."""

    __tablename__ = "data_versions"

    scope: Mapped[str] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(server_default="0")


class PredictionFeedbackRow(Base):
    """What a viewer said about a predictive answer (SPEC §7), for the next training run."""

    __tablename__ = "prediction_feedback"

    id: Mapped[str] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(index=True)  # the learner the prediction was about
    prediction: Mapped[str]  # drop-off-risk | forecast | recommendations
    verdict: Mapped[str]  # useful | not_useful | wrongly_flagged
    enrollment_id: Mapped[str | None]
    model_version: Mapped[str | None]
    probability: Mapped[float | None]
    submitted_by: Mapped[str]
    submitted_at: Mapped[datetime]


metadata = Base.metadata


# Which learners have rows ingested since a moment (the points ledger after a sync round).
for _row in (
    LearningEventRow,
    AssessmentAttemptRow,
    PracticeSessionRow,
    AssistantInteractionRow,
    FeedbackRow,
    EnrollmentRow,
    SkillProfileRow,
):
    Index(None, _row.ingested_at, _row.user_id)
