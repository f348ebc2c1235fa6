"""Per-learner skill-gap summaries read by department analytics, filled from the stored skill
profiles (the record writer keeps them with every profile write; see
`infrastructure/db/activity_days.py`).

Revision ID: 0007
Revises: 0006
Create Date: 2025-01-07 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from learning_analytics.infrastructure.db import activity_days

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "skill_gap_summaries",
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("gap_sum", sa.Integer(), nullable=False),
        sa.Column("profiles", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_skill_gap_summaries")),
    )
    connection = op.get_bind()
    activity_days.refresh_skill_gaps(connection, activity_days.skill_profile_learners(connection))


def downgrade() -> None:
    op.drop_table("skill_gap_summaries")
