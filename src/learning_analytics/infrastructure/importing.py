"""Import of historical activity from canonical CSV files (docs/import.md).

A directory holds any of these files (UTF-8, comma-separated, a header row; columns in any
order; extra columns are ignored), imported in this order so references can be checked:
organizations.csv, learners.csv, courses.csv, course_units.csv, enrollments.csv,
learning_events.csv, assessment_attempts.csv.

Every row is validated on its own: required values, dates (ISO 8601 date or date-time; a date
is midnight UTC, a date-time without offset is UTC), numbers and their ranges (what the
canonical records in `domain/records.py` accept), references (the organisation, learner,
course or unit must be in the store already or in a good row of this import), and duplicate
ids within a file. A bad row is reported with its file, line number (the header is line 1) and
reason, and skipped; good rows are written with the store's idempotent upserts (source
"import"), so importing the same files again changes no record (only the ingestion instant).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from learning_analytics.application.serving import GLOBAL_SCOPE
from learning_analytics.domain.models import Role
from learning_analytics.domain.records import (
    AssessmentAttempt,
    Course,
    CourseUnit,
    Enrollment,
    LearningEvent,
    Organization,
    SkillScore,
    User,
)
from learning_analytics.infrastructure.db.repositories import SqlRecordWriter
from learning_analytics.infrastructure.db.tables import (
    CourseRow,
    CourseUnitRow,
    OrganizationRow,
    UserRow,
)

SOURCE = "import"
BATCH = 2000
MAX_FIELD = 1000
TRUE = frozenset({"true", "1", "yes", "y"})
FALSE = frozenset({"false", "0", "no", "n"})
Progress = Callable[[str, int, int], None]  # (file name, rows done, rows in the file)


class RowError(ValueError):
    """Why one row was refused."""


@dataclass(frozen=True, slots=True)
class BadRow:
    file: str
    line: int
    reason: str


@dataclass(slots=True)
class FileReport:
    file: str
    rows: int = 0
    imported: int = 0
    bad: list[BadRow] = field(default_factory=list)


@dataclass(slots=True)
class ImportReport:
    files: list[FileReport] = field(default_factory=list)

    @property
    def bad_rows(self) -> list[BadRow]:
        return [bad for report in self.files for bad in report.bad]

    @property
    def imported(self) -> int:
        return sum(report.imported for report in self.files)


# --------------------------------------------------------------------------------------------
# Values


def _text(row: Mapping[str, str], name: str) -> str | None:
    value = (row.get(name) or "").strip()
    if len(value) > MAX_FIELD:
        raise RowError(f"{name} is longer than {MAX_FIELD} characters")
    return value or None


def _required(row: Mapping[str, str], name: str) -> str:
    value = _text(row, name)
    if value is None:
        raise RowError(f"{name} is required")
    return value


def _instant(row: Mapping[str, str], name: str, *, required: bool = False) -> datetime | None:
    value = _required(row, name) if required else _text(row, name)
    if value is None:
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RowError(f"{name} is not an ISO 8601 date or date-time: {value!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _when(row: Mapping[str, str], name: str) -> datetime:
    moment = _instant(row, name, required=True)
    if moment is None:
        raise RowError(f"{name} is required")
    return moment


def _number(
    row: Mapping[str, str],
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    default: float | None = None,
) -> float | None:
    value = _text(row, name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise RowError(f"{name} is not a number: {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise RowError(f"{name} is not a finite number: {value!r}")
    if low is not None and high is not None and not low <= number <= high:
        raise RowError(f"{name} must be within {low:g}-{high:g}, not {value}")
    if low is not None and number < low:
        raise RowError(f"{name} must be at least {low:g}, not {value}")
    return number


def _whole(
    row: Mapping[str, str], name: str, *, low: int = 0, default: int | None = None
) -> int | None:
    number = _number(row, name, low=low, default=None)
    if number is None:
        return default
    if not number.is_integer():
        raise RowError(f"{name} must be a whole number, not {number}")
    return int(number)


def _flag(row: Mapping[str, str], name: str) -> bool | None:
    value = _text(row, name)
    if value is None:
        return None
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    raise RowError(f"{name} must be true or false, not {value!r}")


def _skill_scores(value: str | None) -> tuple[SkillScore, ...]:
    """'python:80;sql:65' -> per-skill scores."""
    if not value:
        return ()
    scores = []
    for part in value.split(";"):
        skill, sep, score = part.partition(":")
        if not sep or not skill.strip():
            raise RowError(f"skill_scores must look like 'skill:score;skill:score', not {value!r}")
        try:
            number = float(score)
        except ValueError:
            raise RowError(f"skill score of {skill.strip()} is not a number: {score!r}") from None
        if not 0 <= number <= 100:
            raise RowError(f"skill score of {skill.strip()} must be within 0-100, not {score}")
        scores.append(SkillScore(skill.strip(), number))
    return tuple(scores)


# --------------------------------------------------------------------------------------------
# Rows -> records


@dataclass(slots=True)
class Known:
    """Ids in the store or in good rows of this import, for reference checks."""

    organizations: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)
    courses: set[str] = field(default_factory=set)
    units: set[str] = field(default_factory=set)


def _must_know(kind: str, value: str | None, known: set[str]) -> None:
    if value is not None and value not in known:
        raise RowError(f"unknown {kind} {value!r}")


def _organization(row: Mapping[str, str], known: Known) -> Organization:
    del known  # organisations reference nothing
    return Organization(_required(row, "id"), _required(row, "name"), _text(row, "timezone"))


def _learner(row: Mapping[str, str], known: Known) -> User:
    organization = _required(row, "organization_id")
    _must_know("organization", organization, known.organizations)
    return User(
        id=_required(row, "id"),
        organization_id=organization,
        email=_text(row, "email"),
        display_name=_text(row, "display_name"),
        role=Role.LEARNER.value,
        department_id=_text(row, "department_id"),
        team_id=_text(row, "team_id"),
        manager_id=_text(row, "manager_id"),
        timezone=_text(row, "timezone"),
    )


def _course(row: Mapping[str, str], known: Known) -> Course:
    organization = _required(row, "organization_id")
    _must_know("organization", organization, known.organizations)
    return Course(
        id=_required(row, "id"),
        organization_id=organization,
        title=_required(row, "title"),
        trainer_id=_text(row, "trainer_id"),
        due_at=_instant(row, "due_at"),
        default_due_days=_whole(row, "default_due_days", low=1),
    )


def _unit(row: Mapping[str, str], known: Known) -> CourseUnit:
    course = _required(row, "course_id")
    _must_know("course", course, known.courses)
    skills = tuple(s.strip() for s in (_text(row, "skills") or "").split(";") if s.strip())
    return CourseUnit(
        id=_required(row, "id"),
        course_id=course,
        position=_whole(row, "position", default=0) or 0,
        kind=_text(row, "kind") or "content",
        title=_required(row, "title"),
        content_type=_text(row, "content_type"),
        parent_id=_text(row, "parent_id"),
        skills=skills,
    )


def _enrollment(row: Mapping[str, str], known: Known) -> Enrollment:
    user, course = _required(row, "user_id"), _required(row, "course_id")
    _must_know("learner", user, known.users)
    _must_know("course", course, known.courses)
    enrolled = _when(row, "enrolled_at")
    for name in ("due_at", "completed_at", "withdrawn_at"):
        moment = _instant(row, name)
        if moment is not None and moment < enrolled and name != "due_at":
            raise RowError(f"{name} is before enrolled_at")
    return Enrollment(
        id=_required(row, "id"),
        user_id=user,
        course_id=course,
        enrolled_at=enrolled,
        due_at=_instant(row, "due_at"),
        completed_at=_instant(row, "completed_at"),
        withdrawn_at=_instant(row, "withdrawn_at"),
        progress_pct=_number(row, "progress_pct", low=0, high=100, default=0.0) or 0.0,
    )


def _event(row: Mapping[str, str], known: Known) -> LearningEvent:
    user, course, unit = (
        _required(row, "user_id"),
        _required(row, "course_id"),
        _text(row, "unit_id"),
    )
    _must_know("learner", user, known.users)
    _must_know("course", course, known.courses)
    _must_know("unit", unit, known.units)
    occurred = _when(row, "occurred_at")
    return LearningEvent(
        id=_required(row, "id"),
        user_id=user,
        course_id=course,
        unit_id=unit,
        verb=_text(row, "verb") or "completed",
        occurred_at=occurred,
        seconds_spent=_whole(row, "seconds_spent", default=0) or 0,
    )


def _attempt(row: Mapping[str, str], known: Known) -> AssessmentAttempt:
    user, course = _required(row, "user_id"), _text(row, "course_id")
    _must_know("learner", user, known.users)
    _must_know("course", course, known.courses)
    score = _number(row, "score_pct", low=0, high=100)
    if score is None:
        raise RowError("score_pct is required")
    submitted = _when(row, "submitted_at")
    passed = _flag(row, "passed")
    return AssessmentAttempt(
        id=_required(row, "id"),
        user_id=user,
        course_id=course,
        assessment_id=_required(row, "assessment_id"),
        score_pct=score,
        passed=score >= 70 if passed is None else passed,
        submitted_at=submitted,
        exam_type=_text(row, "exam_type"),
        skill_scores=_skill_scores(_text(row, "skill_scores")),
    )


@dataclass(frozen=True, slots=True)
class FileKind:
    name: str
    parse: Callable[[Mapping[str, str], Known], Any]
    known: Callable[[Known], set[str]] | None  # where a good row's id becomes known
    write: str  # SqlRecordWriter method


FILES: tuple[FileKind, ...] = (
    FileKind("organizations.csv", _organization, lambda k: k.organizations, "upsert_organizations"),
    FileKind("learners.csv", _learner, lambda k: k.users, "upsert_users"),
    FileKind("courses.csv", _course, lambda k: k.courses, "upsert_courses"),
    FileKind("course_units.csv", _unit, lambda k: k.units, "upsert_course_units"),
    FileKind("enrollments.csv", _enrollment, None, "upsert_enrollments"),
    FileKind("learning_events.csv", _event, None, "upsert_learning_events"),
    FileKind("assessment_attempts.csv", _attempt, None, "upsert_assessment_attempts"),
)


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or "id" not in {f.strip() for f in reader.fieldnames}:
            raise RowError("the header row must name the columns, including id")
        for row in reader:
            clean = {(k or "").strip(): (v if isinstance(v, str) else "") for k, v in row.items()}
            yield reader.line_num, clean


def count_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return max(0, sum(1 for _ in csv.reader(handle)) - 1)


async def _known_ids(sessions: async_sessionmaker[AsyncSession]) -> Known:
    async with sessions() as session:

        async def ids(column: Any) -> set[str]:
            return set((await session.scalars(select(column))).all())

        return Known(
            organizations=await ids(OrganizationRow.id),
            users=await ids(UserRow.id),
            courses=await ids(CourseRow.id),
            units=await ids(CourseUnitRow.id),
        )


async def _flush(
    write: Callable[..., Any], batch: Sequence[Any], report: FileReport, ingested_at: datetime
) -> None:
    if batch:
        await write(list(batch), source=SOURCE, ingested_at=ingested_at)
        report.imported += len(batch)


async def import_directory(
    directory: Path,
    sessions: async_sessionmaker[AsyncSession],
    *,
    ingested_at: datetime,
    progress: Progress | None = None,
) -> ImportReport:
    """Import every canonical file found in `directory` (see the module docstring)."""
    writer = SqlRecordWriter(sessions)
    known = await _known_ids(sessions)
    report = ImportReport()
    for kind in FILES:
        path = directory / kind.name
        if not path.is_file():
            continue
        file_report = FileReport(kind.name)
        report.files.append(file_report)
        try:
            total = count_rows(path)
        except (csv.Error, UnicodeDecodeError) as exc:
            file_report.bad.append(BadRow(kind.name, 1, f"unreadable file: {exc}"))
            continue
        first_line: dict[str, int] = {}
        batch: list[Any] = []
        write = getattr(writer, kind.write)

        try:
            for line, row in _rows(path):
                file_report.rows += 1
                try:
                    record = kind.parse(row, known)
                    if record.id in first_line:
                        raise RowError(
                            f"duplicate id {record.id!r} (first on line {first_line[record.id]})"
                        )
                except (RowError, ValueError) as exc:
                    file_report.bad.append(BadRow(kind.name, line, str(exc)))
                    continue
                first_line[record.id] = line
                if kind.known is not None:
                    kind.known(known).add(record.id)
                batch.append(record)
                if len(batch) >= BATCH:
                    await _flush(write, batch, file_report, ingested_at)
                    batch = []
                if progress is not None:
                    progress(kind.name, file_report.rows, total)
        except (RowError, csv.Error, UnicodeDecodeError) as exc:
            file_report.bad.append(BadRow(kind.name, 1, f"unreadable file: {exc}"))
        await _flush(write, batch, file_report, ingested_at)
        if progress is not None:
            progress(kind.name, total, total)
    if report.imported:
        await writer.bump_data_version(GLOBAL_SCOPE)
    return report
