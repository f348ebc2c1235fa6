"""The learning record store (SPEC §4) and the gamification tables (SPEC §11).

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00

Types are written out rather than imported from `tables.py`, so this revision stays as it was
when later revisions change the models. Instants are `DateTime(timezone=True)`, the storage type
of `tables.UtcDateTime`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite auto-increments only an INTEGER PRIMARY KEY.
BIG_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id() -> sa.Column[str]:
    return sa.Column("id", sa.String(), nullable=False)


def _text(name: str, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(), nullable=nullable)


def _instant(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _ingested() -> tuple[sa.Column[str], sa.Column[datetime]]:
    return _text("source"), _instant("ingested_at")


def _pk(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*columns, name=op.f(f"pk_{table}"))


def _index(table: str, *columns: str) -> None:
    op.create_index(op.f(f"ix_{table}_{'_'.join(columns)}"), table, list(columns))


def upgrade() -> None:
    # Organisation structure
    op.create_table(
        "organizations",
        _id(),
        _text("name"),
        _text("timezone", nullable=True),
        *_ingested(),
        _pk("organizations", "id"),
    )
    op.create_table(
        "departments",
        _id(),
        _text("organization_id"),
        _text("name"),
        _text("manager_id", nullable=True),
        *_ingested(),
        _pk("departments", "id"),
    )
    _index("departments", "organization_id")
    op.create_table(
        "teams",
        _id(),
        _text("department_id"),
        _text("name"),
        _text("manager_id", nullable=True),
        *_ingested(),
        _pk("teams", "id"),
    )
    _index("teams", "department_id")
    op.create_table(
        "users",
        _id(),
        _text("organization_id"),
        _text("email", nullable=True),
        _text("display_name", nullable=True),
        _text("role"),
        _text("department_id", nullable=True),
        _text("team_id", nullable=True),
        _text("manager_id", nullable=True),
        _text("timezone", nullable=True),
        sa.Column("leaderboard_visible", sa.Boolean(), server_default=sa.true(), nullable=False),
        *_ingested(),
        _pk("users", "id"),
    )
    _index("users", "organization_id", "department_id")
    _index("users", "team_id")
    _index("users", "manager_id")
    _index("users", "email")
    op.create_table(
        "external_ids",
        _text("source"),
        _text("kind"),
        _text("external_id"),
        _text("internal_id"),
        _instant("ingested_at"),
        _pk("external_ids", "source", "kind", "external_id"),
    )
    _index("external_ids", "kind", "internal_id")

    # Courses
    op.create_table(
        "courses",
        _id(),
        _text("organization_id"),
        _text("trainer_id", nullable=True),
        _text("title"),
        _text("visibility"),
        _instant("due_at", nullable=True),
        sa.Column("default_due_days", sa.Integer(), nullable=True),
        *_ingested(),
        _pk("courses", "id"),
    )
    _index("courses", "organization_id")
    _index("courses", "trainer_id")
    op.create_table(
        "course_units",
        _id(),
        _text("course_id"),
        _text("parent_id", nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        _text("kind"),
        _text("content_type", nullable=True),
        _text("title"),
        *_ingested(),
        _pk("course_units", "id"),
    )
    _index("course_units", "course_id", "position")
    op.create_table(
        "course_unit_skills",
        _text("unit_id"),
        _text("skill_id"),
        *_ingested(),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["course_units.id"],
            name=op.f("fk_course_unit_skills_unit_id_course_units"),
            ondelete="CASCADE",
        ),
        _pk("course_unit_skills", "unit_id", "skill_id"),
    )
    _index("course_unit_skills", "skill_id")
    op.create_table(
        "enrollments",
        _id(),
        _text("user_id"),
        _text("course_id"),
        _instant("enrolled_at"),
        _instant("due_at", nullable=True),
        _instant("completed_at", nullable=True),
        _instant("withdrawn_at", nullable=True),
        sa.Column("progress_pct", sa.Float(), server_default="0", nullable=False),
        *_ingested(),
        _pk("enrollments", "id"),
    )
    _index("enrollments", "user_id")
    _index("enrollments", "course_id")

    # Activity
    op.create_table(
        "learning_events",
        _id(),
        _text("user_id"),
        _text("course_id"),
        _text("unit_id", nullable=True),
        _text("verb"),
        sa.Column("seconds_spent", sa.Integer(), server_default="0", nullable=False),
        _instant("occurred_at"),
        *_ingested(),
        _pk("learning_events", "id"),
    )
    _index("learning_events", "user_id", "occurred_at")
    _index("learning_events", "course_id", "occurred_at")
    op.create_table(
        "assessment_attempts",
        _id(),
        _text("user_id"),
        _text("course_id", nullable=True),
        _text("assessment_id"),
        _text("exam_type", nullable=True),
        sa.Column("score_pct", sa.Float(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        _instant("submitted_at"),
        *_ingested(),
        _pk("assessment_attempts", "id"),
    )
    _index("assessment_attempts", "user_id", "submitted_at")
    _index("assessment_attempts", "course_id")
    op.create_table(
        "assessment_skill_scores",
        _text("attempt_id"),
        _text("skill_id"),
        sa.Column("score_pct", sa.Float(), nullable=False),
        *_ingested(),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["assessment_attempts.id"],
            name=op.f("fk_assessment_skill_scores_attempt_id_assessment_attempts"),
            ondelete="CASCADE",
        ),
        _pk("assessment_skill_scores", "attempt_id", "skill_id"),
    )
    _index("assessment_skill_scores", "skill_id")
    op.create_table(
        "practice_sessions",
        _id(),
        _text("user_id"),
        _text("skill_id", nullable=True),
        _text("competition_id", nullable=True),
        _instant("started_at"),
        sa.Column("completed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("won", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("seconds", sa.Integer(), server_default="0", nullable=False),
        *_ingested(),
        _pk("practice_sessions", "id"),
    )
    _index("practice_sessions", "user_id", "started_at")
    op.create_table(
        "assistant_interactions",
        _id(),
        _text("user_id"),
        _text("course_id", nullable=True),
        _text("topic", nullable=True),
        _instant("asked_at"),
        *_ingested(),
        _pk("assistant_interactions", "id"),
    )
    _index("assistant_interactions", "user_id", "asked_at")
    op.create_table(
        "feedback",
        _id(),
        _text("user_id"),
        _text("course_id", nullable=True),
        sa.Column("rating", sa.Integer(), nullable=False),
        _instant("submitted_at"),
        *_ingested(),
        _pk("feedback", "id"),
    )
    _index("feedback", "user_id")
    _index("feedback", "course_id")

    # Skills and paths
    op.create_table(
        "skill_profiles",
        _text("user_id"),
        _text("skill_id"),
        sa.Column("current_level", sa.Integer(), nullable=False),
        sa.Column("target_level", sa.Integer(), nullable=True),
        sa.Column("verified", sa.Boolean(), server_default=sa.false(), nullable=False),
        _instant("updated_at"),
        *_ingested(),
        sa.CheckConstraint(
            "current_level BETWEEN 0 AND 5", name=op.f("ck_skill_profiles_current_level_range")
        ),
        sa.CheckConstraint(
            "target_level BETWEEN 0 AND 5", name=op.f("ck_skill_profiles_target_level_range")
        ),
        _pk("skill_profiles", "user_id", "skill_id"),
    )
    _index("skill_profiles", "skill_id")
    op.create_table(
        "strategic_skill_targets",
        _text("organization_id"),
        _text("skill_id"),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("target_level", sa.Integer(), nullable=False),
        *_ingested(),
        _pk("strategic_skill_targets", "organization_id", "skill_id"),
    )
    op.create_table(
        "learning_paths",
        _id(),
        _text("user_id"),
        _text("course_id", nullable=True),
        sa.Column("steps", sa.JSON(), nullable=False),
        _instant("updated_at"),
        *_ingested(),
        _pk("learning_paths", "id"),
    )
    _index("learning_paths", "user_id")

    # Gamification
    op.create_table(
        "points_ledger",
        sa.Column("id", BIG_KEY, autoincrement=True, nullable=False),
        _text("user_id"),
        _text("rule"),
        _text("source_event"),
        sa.Column("points", sa.Integer(), nullable=False),
        _instant("awarded_at"),
        _pk("points_ledger", "id"),
        sa.UniqueConstraint(
            "user_id",
            "rule",
            "source_event",
            name=op.f("uq_points_ledger_user_id_rule_source_event"),
        ),
    )
    _index("points_ledger", "user_id", "awarded_at")
    op.create_table(
        "user_achievements",
        _text("user_id"),
        _text("achievement_code"),
        _instant("earned_at"),
        _pk("user_achievements", "user_id", "achievement_code"),
    )

    # Ingestion bookkeeping
    op.create_table(
        "sync_state",
        _text("source"),
        sa.Column("cursor", sa.Text(), nullable=True),
        _instant("last_success_at", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _instant("last_error_at", nullable=True),
        _pk("sync_state", "source"),
    )
    op.create_table(
        "raw_payloads",
        sa.Column("id", BIG_KEY, autoincrement=True, nullable=False),
        _text("source"),
        _instant("fetched_at"),
        sa.Column("payload", sa.Text(), nullable=False),
        _pk("raw_payloads", "id"),
    )
    _index("raw_payloads", "source", "fetched_at")
    op.create_table(
        "data_versions",
        _text("scope"),
        sa.Column("version", sa.Integer(), server_default="0", nullable=False),
        _pk("data_versions", "scope"),
    )


def downgrade() -> None:
    # Children before their parents.
    for table in (
        "data_versions",
        "raw_payloads",
        "sync_state",
        "user_achievements",
        "points_ledger",
        "learning_paths",
        "strategic_skill_targets",
        "skill_profiles",
        "feedback",
        "assistant_interactions",
        "practice_sessions",
        "assessment_skill_scores",
        "assessment_attempts",
        "learning_events",
        "enrollments",
        "course_unit_skills",
        "course_units",
        "courses",
        "external_ids",
        "users",
        "teams",
        "departments",
        "organizations",
    ):
        op.drop_table(table)
