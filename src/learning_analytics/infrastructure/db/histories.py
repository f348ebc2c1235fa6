"""Reading learners' histories out of the store, for the learner analytics (SPEC §10).

One learner, or many at once (cohorts for peer comparison): every table is read with one
query per batch of users (`IN`), never one query per learner. The reads select exactly the
columns of the domain records (Core selects, no ORM identity map) and join what belongs
together (attempts with their per-skill scores, units with their skills, courses through the
enrolments, targets through the users' organisations): nine statements for one learner.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from learning_analytics.domain.metrics.learner import LearnerHistory
from learning_analytics.domain.records import (
    AssessmentAttempt,
    AssistantInteraction,
    Course,
    CourseUnit,
    Enrollment,
    LearningEvent,
    PracticeSession,
    SkillProfile,
    SkillScore,
    StrategicSkillTarget,
)
from learning_analytics.infrastructure.db.tables import (
    AssessmentAttemptRow,
    AssessmentSkillScoreRow,
    AssistantInteractionRow,
    Base,
    CourseRow,
    CourseUnitRow,
    CourseUnitSkillRow,
    EnrollmentRow,
    LearningEventRow,
    PracticeSessionRow,
    SkillProfileRow,
    StrategicSkillTargetRow,
    UserRow,
)

R = TypeVar("R")
BATCH = 500  # users per IN (...) list


def _columns(record: type[Any], row: type[Base], *, skip: tuple[str, ...] = ()) -> list[Any]:
    """The row's columns that fill `record`'s fields, in field order (so `record(*values)`)."""
    table = row.__table__
    return [table.c[f.name] for f in fields(record) if f.name not in skip]


def _make(record: type[R]) -> Any:
    """`record` as a constructor of positional column values (typed loosely on purpose: the
    values come in field order from `_columns`, which mypy cannot follow)."""
    return record


def _batches(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


def _window(
    query: Select[Any], moment: Any, since: datetime | None, until: datetime
) -> Select[Any]:
    query = query.where(moment < until)
    return query if since is None else query.where(moment >= since)


class SqlLearnerHistoryRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def history(
        self, user_id: str, *, since: datetime | None, until: datetime
    ) -> LearnerHistory:
        return (await self.histories([user_id], since=since, until=until))[user_id]

    async def histories(
        self, user_ids: Sequence[str], *, since: datetime | None, until: datetime
    ) -> dict[str, LearnerHistory]:
        """Each learner's records with activity in [since, until) (all of it when `since` is
        None), their enrolments, the courses and units of those, their skill profiles, and
        their organisation's strategic targets."""
        ids = sorted(set(user_ids))
        parts: dict[str, dict[str, list[Any]]] = {uid: defaultdict(list) for uid in ids}
        courses: dict[str, Course] = {}
        units: dict[str, list[CourseUnit]] = defaultdict(list)
        async with self._sessions() as session:
            for batch in _batches(ids):
                await self._read_batch(
                    session, batch, parts, courses, units, since=since, until=until
                )

        result: dict[str, LearnerHistory] = {}
        for uid in ids:
            part = parts[uid]
            mine = sorted({e.course_id for e in part["enrollments"]})
            result[uid] = LearnerHistory(
                user_id=uid,
                enrollments=tuple(part["enrollments"]),
                courses=tuple(courses[c] for c in mine if c in courses),
                course_units=tuple(
                    unit for c in mine for unit in sorted(units[c], key=lambda u: u.position)
                ),
                learning_events=tuple(part["learning_events"]),
                assessment_attempts=tuple(part["assessment_attempts"]),
                skill_profiles=tuple(part["skill_profiles"]),
                strategic_targets=tuple(part["strategic_targets"]),
                practice_sessions=tuple(part["practice_sessions"]),
                assistant_interactions=tuple(part["assistant_interactions"]),
            )
        return result

    async def _read_batch(
        self,
        session: AsyncSession,
        batch: Sequence[str],
        parts: dict[str, dict[str, list[Any]]],
        courses: dict[str, Course],
        units: dict[str, list[CourseUnit]],
        *,
        since: datetime | None,
        until: datetime,
    ) -> None:
        # Records owned by one user: the user id is one of the record's own fields.
        owned: list[tuple[str, type[Any], type[Base], Any, Any]] = [
            ("learning_events", LearningEvent, LearningEventRow, LearningEventRow.occurred_at,
             LearningEventRow.occurred_at),
            ("practice_sessions", PracticeSession, PracticeSessionRow,
             PracticeSessionRow.started_at, PracticeSessionRow.started_at),
            ("assistant_interactions", AssistantInteraction, AssistantInteractionRow,
             AssistantInteractionRow.asked_at, AssistantInteractionRow.asked_at),
            ("enrollments", Enrollment, EnrollmentRow, None, EnrollmentRow.enrolled_at),
            ("skill_profiles", SkillProfile, SkillProfileRow, None, SkillProfileRow.skill_id),
        ]  # fmt: skip
        for name, record, row, moment, order in owned:
            query = select(*_columns(record, row)).where(row.user_id.in_(batch))  # type: ignore[attr-defined]
            if moment is not None:
                query = _window(query, moment, since, until)
            query = query.order_by(order, row.__table__.c[fields(record)[0].name])
            for values in (await session.execute(query)).all():
                item = record(*values)
                parts[item.user_id][name].append(item)

        # Attempts with their per-skill scores: one row per (attempt, skill), or one row with
        # no skill for an attempt without per-skill scores.
        attempt_columns = _columns(AssessmentAttempt, AssessmentAttemptRow, skip=("skill_scores",))
        scores = AssessmentSkillScoreRow
        attempts_query = _window(
            select(*attempt_columns, scores.skill_id, scores.score_pct)
            .outerjoin(scores, scores.attempt_id == AssessmentAttemptRow.id)
            .where(AssessmentAttemptRow.user_id.in_(batch)),
            AssessmentAttemptRow.submitted_at,
            since,
            until,
        ).order_by(AssessmentAttemptRow.submitted_at, AssessmentAttemptRow.id, scores.skill_id)
        width = len(attempt_columns)
        attempts: dict[str, tuple[tuple[Any, ...], list[SkillScore]]] = {}
        for values in (await session.execute(attempts_query)).all():
            head, (skill_id, score_pct) = values[:width], values[width:]
            entry = attempts.setdefault(head[0], (head, []))
            if skill_id is not None:
                entry[1].append(SkillScore(skill_id, score_pct))
        for head, skill_scores in attempts.values():
            # `head` holds every field before `skill_scores`, in order (see `_columns`).
            attempt: AssessmentAttempt = _make(AssessmentAttempt)(*head, tuple(skill_scores))
            parts[attempt.user_id]["assessment_attempts"].append(attempt)

        # The organisation's strategic targets, through the users.
        targets = (
            select(UserRow.id, *_columns(StrategicSkillTarget, StrategicSkillTargetRow))
            .join(
                StrategicSkillTargetRow,
                StrategicSkillTargetRow.organization_id == UserRow.organization_id,
            )
            .where(UserRow.id.in_(batch))
            .order_by(UserRow.id, StrategicSkillTargetRow.skill_id)
        )
        for user_id, *target in (await session.execute(targets)).all():
            parts[user_id]["strategic_targets"].append(StrategicSkillTarget(*target))

        # The courses these users are enrolled in, and their units with the units' skills.
        enrolled = (
            select(EnrollmentRow.course_id)
            .where(EnrollmentRow.user_id.in_(batch))
            .scalar_subquery()
        )
        course_query = select(*_columns(Course, CourseRow)).where(CourseRow.id.in_(enrolled))
        for values in (await session.execute(course_query)).all():
            courses[values[0]] = Course(*values)
        unit_columns = _columns(CourseUnit, CourseUnitRow, skip=("skills",))
        unit_skills = CourseUnitSkillRow
        unit_query = (
            select(*unit_columns, unit_skills.skill_id)
            .outerjoin(unit_skills, unit_skills.unit_id == CourseUnitRow.id)
            .where(CourseUnitRow.course_id.in_(enrolled))
            .order_by(CourseUnitRow.course_id, CourseUnitRow.id, unit_skills.skill_id)
        )
        read: dict[str, tuple[tuple[Any, ...], list[str]]] = {}
        for values in (await session.execute(unit_query)).all():
            unit_head, unit_skill = values[: len(unit_columns)], values[len(unit_columns)]
            unit_entry = read.setdefault(unit_head[0], (unit_head, []))
            if unit_skill is not None:
                unit_entry[1].append(unit_skill)
        known = {unit.id for course_units in units.values() for unit in course_units}
        for unit_head, skills in read.values():
            if unit_head[0] not in known:
                unit: CourseUnit = _make(CourseUnit)(*unit_head, tuple(skills))
                units[unit.course_id].append(unit)
