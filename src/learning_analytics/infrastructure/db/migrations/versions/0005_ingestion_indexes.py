"""Indexes on (ingested_at, user_id) of the activity tables: after every sync round the points
ledger asks which learners have rows ingested since the round began (SPEC §11); without them
that question scans every activity table.

Revision ID: 0005
Revises: 0004
Create Date: 2025-01-05 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "learning_events",
    "assessment_attempts",
    "practice_sessions",
    "assistant_interactions",
    "feedback",
    "enrollments",
    "skill_profiles",
)


def upgrade() -> None:
    for table in TABLES:
        op.create_index(op.f(f"ix_{table}_ingested_at_user_id"), table, ["ingested_at", "user_id"])


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_index(op.f(f"ix_{table}_ingested_at_user_id"), table_name=table)
