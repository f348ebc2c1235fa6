"""Indexes for the trainer and organisation aggregates (SPEC §9 layer 4).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 00:00:00

Chosen from EXPLAIN (ANALYZE, BUFFERS) on 50 000 learners / 9.1 M learning events
(bench/load_scale.py, numbers in bench/README.md):
- every organisation figure reads the learning events of a time window for all the
  organisation's learners: without an index on `occurred_at` PostgreSQL scans the whole table
  (the existing indexes lead with user_id / course_id). On PostgreSQL the index also carries the
  columns the aggregates read (INCLUDE), so the window is read by an index-only scan;
- the same for assessment attempts by `submitted_at` (average score, pass rates, growth);
- learning culture reads every kind of activity of the window: practice sessions by
  `started_at` (2.6 M rows at that scale: a sequential scan before), assistant questions by
  `asked_at`, feedback by `submitted_at` (collaboration 2.5 s -> 0.95 s, participation and
  consistency 3.6 s -> 2.6 s on the loaded store).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVENT_COLUMNS = ["user_id", "course_id", "unit_id", "verb", "seconds_spent"]


def upgrade() -> None:
    op.create_index(
        "ix_learning_events_occurred_at",
        "learning_events",
        ["occurred_at"],
        postgresql_include=EVENT_COLUMNS,
    )
    op.create_index(
        "ix_assessment_attempts_submitted_at",
        "assessment_attempts",
        ["submitted_at"],
        postgresql_include=["user_id", "course_id", "score_pct", "passed"],
    )

    op.create_index(
        "ix_practice_sessions_started_at",
        "practice_sessions",
        ["started_at"],
        postgresql_include=["user_id"],
    )
    op.create_index(
        "ix_assistant_interactions_asked_at",
        "assistant_interactions",
        ["asked_at"],
        postgresql_include=["user_id", "course_id"],
    )
    op.create_index(
        "ix_feedback_submitted_at",
        "feedback",
        ["submitted_at"],
        postgresql_include=["user_id", "course_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_feedback_submitted_at", "feedback")
    op.drop_index("ix_assistant_interactions_asked_at", "assistant_interactions")
    op.drop_index("ix_practice_sessions_started_at", "practice_sessions")
    op.drop_index("ix_assessment_attempts_submitted_at", "assessment_attempts")
    op.drop_index("ix_learning_events_occurred_at", "learning_events")
