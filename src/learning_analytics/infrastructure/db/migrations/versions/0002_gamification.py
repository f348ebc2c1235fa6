"""Gamification: per-period point totals for leaderboards (SPEC §11).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 00:00:00

`points_periods` keeps, next to the append-only ledger, each user's points per week, month and
all time of their organisation (written in the ledger's transaction). A leaderboard reads one
row per member from the covering (organisation, period, period start, points, user) index
instead of summing the period's ledger rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_points_periods_organization_id_period_period_start_points_user_id"


def upgrade() -> None:
    op.create_table(
        "points_periods",
        sa.Column("organization_id", sa.String(), nullable=False),
        sa.Column("period", sa.String(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "organization_id", "period", "period_start", "user_id", name=op.f("pk_points_periods")
        ),
    )
    op.create_index(
        op.f(INDEX),
        "points_periods",
        ["organization_id", "period", "period_start", "points", "user_id"],
    )


def downgrade() -> None:
    op.drop_index(op.f(INDEX), table_name="points_periods")
    op.drop_table("points_periods")
