"""The per-learner, per-local-day activity rollups read by the organisation figures, filled from
the activity tables already stored (the record writer keeps it up to date from then on; see
`infrastructure/db/activity_days.py`).

The tables are written out, as in the earlier revisions; the backfill runs the writer's own
recomputation (`activity_days.recompute_users`), so that the migrated rows are exactly what the
writer would have kept. A later change to the rollups' columns must therefore move this backfill
into its own revision (or rebuild there), since this one creates only the columns above.

Revision ID: 0006
Revises: 0005
Create Date: 2025-01-06 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from learning_analytics.infrastructure.db import activity_days

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INCLUDED = (
    "events",
    "units",
    "seconds",
    "attempts",
    "score_sum",
    "practice",
    "questions",
    "feedback",
    "first_event_at",
    "last_event_at",
)


def upgrade() -> None:
    op.create_table(
        "activity_days",
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.String(), nullable=False),
        sa.Column("events", sa.Integer(), server_default="0", nullable=False),
        sa.Column("units", sa.Integer(), server_default="0", nullable=False),
        sa.Column("seconds", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("first_event_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("score_sum", sa.Float(), server_default="0", nullable=False),
        sa.Column("practice", sa.Integer(), server_default="0", nullable=False),
        sa.Column("questions", sa.Integer(), server_default="0", nullable=False),
        sa.Column("feedback", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("user_id", "day", name=op.f("pk_activity_days")),
    )
    op.create_index(
        op.f("ix_activity_days_organization_id_day_user_id"),
        "activity_days",
        ["organization_id", "day", "user_id"],
        postgresql_include=list(INCLUDED),
    )
    op.create_index(
        "ix_activity_days_learning",
        "activity_days",
        ["organization_id", "day", "user_id"],
        postgresql_include=["units", "seconds"],
        postgresql_where=sa.text("events > 0"),
        sqlite_where=sa.text("events > 0"),
    )
    op.create_table(
        "activity_unit_days",
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.String(), nullable=False),
        sa.Column("organization_id", sa.String(), nullable=False),
        sa.Column("seconds", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "day", "unit_id", name=op.f("pk_activity_unit_days")),
    )
    op.create_index(
        op.f("ix_activity_unit_days_organization_id_day_user_id_unit_id"),
        "activity_unit_days",
        ["organization_id", "day", "user_id", "unit_id"],
        postgresql_include=["seconds"],
    )
    # Learning growth orders a window's attempts by (instant, id): with the id in the index
    # that is an index-only scan.
    op.drop_index("ix_assessment_attempts_submitted_at", "assessment_attempts")
    op.create_index(
        "ix_assessment_attempts_submitted_at",
        "assessment_attempts",
        ["submitted_at"],
        postgresql_include=["user_id", "course_id", "score_pct", "passed", "id"],
    )
    connection = op.get_bind()
    activity_days.recompute_users(connection, activity_days.active_learners(connection))


def downgrade() -> None:
    op.drop_index("ix_assessment_attempts_submitted_at", "assessment_attempts")
    op.create_index(
        "ix_assessment_attempts_submitted_at",
        "assessment_attempts",
        ["submitted_at"],
        postgresql_include=["user_id", "course_id", "score_pct", "passed"],
    )
    op.drop_index(
        op.f("ix_activity_unit_days_organization_id_day_user_id_unit_id"),
        table_name="activity_unit_days",
    )
    op.drop_table("activity_unit_days")
    op.drop_index("ix_activity_days_learning", table_name="activity_days")
    op.drop_index(op.f("ix_activity_days_organization_id_day_user_id"), table_name="activity_days")
    op.drop_table("activity_days")
