"""Feedback on predictive answers (SPEC §7, §10 Predictive).

Revision ID: 0004
Revises: 0003
Create Date: 2025-01-04 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "prediction_feedback",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("prediction", sa.String(), nullable=False),
        sa.Column("verdict", sa.String(), nullable=False),
        sa.Column("enrollment_id", sa.String(), nullable=True),
        sa.Column("model_version", sa.String(), nullable=True),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("submitted_by", sa.String(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prediction_feedback")),
    )
    op.create_index(op.f("ix_prediction_feedback_user_id"), "prediction_feedback", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_prediction_feedback_user_id"), table_name="prediction_feedback")
    op.drop_table("prediction_feedback")
