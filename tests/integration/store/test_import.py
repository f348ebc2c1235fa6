"""CSV import of history (infrastructure/importing.py, docs/import.md) on SQLite and PostgreSQL:
good rows kept, bad rows reported with line numbers and skipped, re-import changes nothing; and
the shipped example set imports and trains a model end to end.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from learning_analytics.domain.predictive.features import training_examples
from learning_analytics.infrastructure.db.tables import (
    AssessmentAttemptRow,
    AssessmentSkillScoreRow,
    CourseRow,
    DataVersionRow,
    EnrollmentRow,
    LearningEventRow,
    OrganizationRow,
    UserRow,
)
from learning_analytics.infrastructure.importing import BadRow, import_directory
from learning_analytics.infrastructure.predictive.model import train_and_evaluate
from learning_analytics.infrastructure.predictive.training import store_histories

pytestmark = pytest.mark.anyio

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "import"
AT = datetime(2026, 3, 1, 12, tzinfo=UTC)

FILES = {
    "organizations.csv": "id,name,timezone\norg-x,Org X,Europe/Berlin\n",
    "learners.csv": (
        "id,organization_id,department_id,timezone\n"
        "x-1,org-x,dep-1,UTC\n"
        "x-2,org-x,,\n"
        "x-3,org-nope,,\n"  # line 4: unknown organisation
    ),
    "courses.csv": "id,organization_id,title,default_due_days\nxc-1,org-x,Course,30\n",
    "enrollments.csv": (
        "id,user_id,course_id,enrolled_at,due_at,completed_at,withdrawn_at\n"
        "xe-1,x-1,xc-1,2026-01-05,2026-02-04,,\n"
        "xe-2,x-2,xc-1,2026-01-05T09:30:00+01:00,,,\n"
        "xe-3,x-1,xc-404,2026-01-06,,,\n"  # line 4: unknown course
        "xe-4,x-2,xc-1,2026-13-45,,,\n"  # line 5: bad date
        "xe-1,x-2,xc-1,2026-01-07,,,\n"  # line 6: duplicate id
        "xe-5,x-3,xc-1,2026-01-07,,,\n"  # line 7: learner refused above
    ),
    "learning_events.csv": (
        "id,user_id,course_id,unit_id,verb,occurred_at,seconds_spent\n"
        "xv-1,x-1,xc-1,,completed,2026-01-06T10:00:00Z,600\n"
        "xv-2,x-1,xc-1,,completed,2026-01-07T10:00:00Z,-5\n"  # line 3: negative seconds
        "xv-3,x-1,xc-1,,jumped,2026-01-07T10:00:00Z,5\n"  # line 4: unknown verb
    ),
    "assessment_attempts.csv": (
        "id,user_id,course_id,assessment_id,score_pct,passed,submitted_at,exam_type,skill_scores\n"
        "xa-1,x-1,xc-1,as-1,82.5,true,2026-01-10T10:00:00Z,practice,python:80;sql:85\n"
        "xa-2,x-1,xc-1,as-1,-3,false,2026-01-11T10:00:00Z,practice,\n"  # line 3: negative score
        "xa-3,x-2,xc-1,as-1,60,,2026-01-11T10:00:00Z,,python:130\n"  # line 4: bad skill score
        "xa-4,x-2,xc-1,as-1,60,,2026-01-12,,\n"
    ),
}
EXPECTED_BAD = [
    ("learners.csv", 4, "unknown organization 'org-nope'"),
    ("enrollments.csv", 4, "unknown course 'xc-404'"),
    ("enrollments.csv", 5, "enrolled_at is not an ISO 8601 date or date-time: '2026-13-45'"),
    ("enrollments.csv", 6, "duplicate id 'xe-1' (first on line 2)"),
    ("enrollments.csv", 7, "unknown learner 'x-3'"),
    ("learning_events.csv", 3, "seconds_spent must be at least 0, not -5"),
    ("learning_events.csv", 4, "unknown learning event verb 'jumped'"),
    ("assessment_attempts.csv", 3, "score_pct must be within 0-100, not -3"),
    ("assessment_attempts.csv", 4, "skill score of python must be within 0-100, not 130"),
]


def write_files(directory: Path) -> Path:
    directory.mkdir()
    for name, text in FILES.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


async def snapshot(sessions: async_sessionmaker[AsyncSession]) -> dict[str, list[tuple[Any, ...]]]:
    """Every imported record, without the ingestion instant."""
    tables = {
        "organizations": (OrganizationRow, ("id", "name", "timezone")),
        "users": (UserRow, ("id", "organization_id", "role", "department_id", "timezone")),
        "courses": (CourseRow, ("id", "title", "default_due_days")),
        "enrollments": (EnrollmentRow, ("id", "user_id", "enrolled_at", "due_at")),
        "events": (LearningEventRow, ("id", "user_id", "occurred_at", "seconds_spent")),
        "attempts": (AssessmentAttemptRow, ("id", "score_pct", "passed", "submitted_at")),
        "skill_scores": (AssessmentSkillScoreRow, ("attempt_id", "skill_id", "score_pct")),
    }
    result = {}
    async with sessions() as session:
        for name, (row, columns) in tables.items():
            rows = (await session.scalars(select(row))).all()
            result[name] = sorted(tuple(getattr(r, c) for c in columns) for r in rows)
    return result


async def test_good_rows_kept_bad_rows_reported_reimport_changes_nothing(
    session_factory: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    directory = write_files(tmp_path / "set")
    report = await import_directory(directory, session_factory, ingested_at=AT)
    assert [(b.file, b.line, b.reason) for b in report.bad_rows] == EXPECTED_BAD
    assert {f.file: (f.rows, f.imported) for f in report.files} == {
        "organizations.csv": (1, 1),
        "learners.csv": (3, 2),
        "courses.csv": (1, 1),
        "enrollments.csv": (6, 2),
        "learning_events.csv": (3, 1),
        "assessment_attempts.csv": (4, 2),
    }
    stored = await snapshot(session_factory)
    assert stored["users"] == [
        ("x-1", "org-x", "learner", "dep-1", "UTC"),
        ("x-2", "org-x", "learner", None, None),
    ]
    assert stored["enrollments"] == [
        ("xe-1", "x-1", datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 2, 4, tzinfo=UTC)),
        ("xe-2", "x-2", datetime(2026, 1, 5, 8, 30, tzinfo=UTC), None),
    ]
    assert stored["events"] == [("xv-1", "x-1", datetime(2026, 1, 6, 10, tzinfo=UTC), 600)]
    assert stored["attempts"] == [
        ("xa-1", 82.5, True, datetime(2026, 1, 10, 10, tzinfo=UTC)),
        ("xa-4", 60.0, False, datetime(2026, 1, 12, tzinfo=UTC)),  # passed from the 70 % mark
    ]
    assert stored["skill_scores"] == [("xa-1", "python", 80.0), ("xa-1", "sql", 85.0)]

    again = await import_directory(directory, session_factory, ingested_at=AT + timedelta(days=1))
    assert again.bad_rows == report.bad_rows
    assert await snapshot(session_factory) == stored
    # References to rows already in the store are known on a later import.
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "enrollments.csv").write_text(
        "id,user_id,course_id,enrolled_at\nxe-9,x-2,xc-1,2026-02-01\n", encoding="utf-8"
    )
    later = await import_directory(tmp_path / "more", session_factory, ingested_at=AT)
    assert (later.bad_rows, later.imported) == ([], 1)


async def test_an_unreadable_file_is_reported_not_raised(
    session_factory: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    (tmp_path / "organizations.csv").write_text("name\nno id column\n", encoding="utf-8")
    (tmp_path / "learners.csv").write_bytes(b"id,organization_id\n\xff\xfe,x\n")
    report = await import_directory(tmp_path, session_factory, ingested_at=AT)
    assert [(b.file, b.line) for b in report.bad_rows] == [
        ("organizations.csv", 1),
        ("learners.csv", 1),
    ]
    assert isinstance(report.bad_rows[0], BadRow)
    assert report.imported == 0


async def test_example_set_imports_and_trains_end_to_end(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    report = await import_directory(EXAMPLE, session_factory, ingested_at=AT)
    assert report.bad_rows == []
    assert report.imported > 2000
    async with session_factory() as session:
        versions = (await session.scalars(select(DataVersionRow.version))).all()
    assert versions  # the import bumped the data version: cached answers are recomputed

    histories, data_end = await store_histories(session_factory)
    assert len(histories) == 100
    assert data_end is not None
    examples = training_examples(histories, data_end=data_end, inactivity_days=21)
    evaluation = train_and_evaluate(
        examples, inactivity_days=21, trained_on="store", description="example set", created_at=AT
    )
    card = evaluation.card
    print(f"example set: AUC {card.auc}, PR-AUC {card.pr_auc}, Brier {card.brier}")
    assert card.test_size > 50
    assert card.auc >= 0.75
