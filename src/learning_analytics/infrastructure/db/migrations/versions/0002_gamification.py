"""Gamification: the leaderboard's covering index on the points ledger (SPEC §11).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 00:00:00

A period leaderboard sums `points` per `user_id` over an `awarded_at` range; with these three
columns in one index the database reads only the period's slice of the index.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_points_ledger_awarded_at_user_id_points"


def upgrade() -> None:
    op.create_index(op.f(INDEX), "points_ledger", ["awarded_at", "user_id", "points"])


def downgrade() -> None:
    op.drop_index(op.f(INDEX), table_name="points_ledger")
