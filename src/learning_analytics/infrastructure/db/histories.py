"""Reading learners' histories out of the store, for the learner analytics (SPEC §10).

One learner, or many at once (cohorts for peer comparison): every table is read with one
query per batch of users (`IN`), never one query per learner.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
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


def _record(cls: type[R], row: Any, **extra: Any) -> R:
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    values = {name: getattr(row, name) for name in names if name not in extra}
    return cls(**values, **extra)


def _batches(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


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
        targets: dict[str, list[StrategicSkillTarget]] = defaultdict(list)
        organization_of: dict[str, str] = {}
        async with self._sessions() as session:
            for batch in _batches(ids):
                await self._read_batch(session, batch, parts, since=since, until=until)
                for uid, org in (
                    await session.execute(
                        select(UserRow.id, UserRow.organization_id).where(UserRow.id.in_(batch))
                    )
                ).all():
                    organization_of[uid] = org
            course_ids = sorted({e.course_id for p in parts.values() for e in p["enrollments"]})
            for batch in _batches(course_ids):
                for row in (
                    await session.scalars(select(CourseRow).where(CourseRow.id.in_(batch)))
                ).all():
                    courses[row.id] = _record(Course, row)
                unit_rows = (
                    await session.scalars(
                        select(CourseUnitRow).where(CourseUnitRow.course_id.in_(batch))
                    )
                ).all()
                skills: dict[str, list[str]] = defaultdict(list)
                unit_ids = [row.id for row in unit_rows]
                for unit_batch in _batches(unit_ids):
                    for unit_id, skill_id in (
                        await session.execute(
                            select(CourseUnitSkillRow.unit_id, CourseUnitSkillRow.skill_id)
                            .where(CourseUnitSkillRow.unit_id.in_(unit_batch))
                            .order_by(CourseUnitSkillRow.unit_id, CourseUnitSkillRow.skill_id)
                        )
                    ).all():
                        skills[unit_id].append(skill_id)
                for unit_row in unit_rows:
                    units[unit_row.course_id].append(
                        _record(CourseUnit, unit_row, skills=tuple(skills.get(unit_row.id, ())))
                    )
            organizations = sorted(set(organization_of.values()))
            if organizations:
                for target in (
                    await session.scalars(
                        select(StrategicSkillTargetRow).where(
                            StrategicSkillTargetRow.organization_id.in_(organizations)
                        )
                    )
                ).all():
                    targets[target.organization_id].append(_record(StrategicSkillTarget, target))

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
                strategic_targets=tuple(targets.get(organization_of.get(uid, ""), ())),
                practice_sessions=tuple(part["practice_sessions"]),
                assistant_interactions=tuple(part["assistant_interactions"]),
            )
        return result

    async def _read_batch(
        self,
        session: AsyncSession,
        batch: Sequence[str],
        parts: dict[str, dict[str, list[Any]]],
        *,
        since: datetime | None,
        until: datetime,
    ) -> None:
        timed: list[tuple[str, type[Any], type[Any], Any]] = [
            ("learning_events", LearningEventRow, LearningEvent, LearningEventRow.occurred_at),
            (
                "practice_sessions",
                PracticeSessionRow,
                PracticeSession,
                PracticeSessionRow.started_at,
            ),
            (
                "assistant_interactions",
                AssistantInteractionRow,
                AssistantInteraction,
                AssistantInteractionRow.asked_at,
            ),
        ]
        for name, row_type, record_type, moment in timed:
            query = select(row_type).where(row_type.user_id.in_(batch), moment < until)
            if since is not None:
                query = query.where(moment >= since)
            for row in (await session.scalars(query.order_by(moment, row_type.id))).all():
                parts[row.user_id][name].append(_record(record_type, row))

        attempts_query = select(AssessmentAttemptRow).where(
            AssessmentAttemptRow.user_id.in_(batch), AssessmentAttemptRow.submitted_at < until
        )
        if since is not None:
            attempts_query = attempts_query.where(AssessmentAttemptRow.submitted_at >= since)
        attempt_rows = (
            await session.scalars(
                attempts_query.order_by(AssessmentAttemptRow.submitted_at, AssessmentAttemptRow.id)
            )
        ).all()
        scores: dict[str, list[SkillScore]] = defaultdict(list)
        for attempt_batch in _batches([row.id for row in attempt_rows]):
            for score in (
                await session.scalars(
                    select(AssessmentSkillScoreRow)
                    .where(AssessmentSkillScoreRow.attempt_id.in_(attempt_batch))
                    .order_by(AssessmentSkillScoreRow.attempt_id, AssessmentSkillScoreRow.skill_id)
                )
            ).all():
                scores[score.attempt_id].append(SkillScore(score.skill_id, score.score_pct))
        for row in attempt_rows:
            parts[row.user_id]["assessment_attempts"].append(
                _record(AssessmentAttempt, row, skill_scores=tuple(scores.get(row.id, ())))
            )

        for row in (
            await session.scalars(
                select(EnrollmentRow)
                .where(EnrollmentRow.user_id.in_(batch))
                .order_by(EnrollmentRow.enrolled_at, EnrollmentRow.id)
            )
        ).all():
            parts[row.user_id]["enrollments"].append(_record(Enrollment, row))
        for row in (
            await session.scalars(
                select(SkillProfileRow)
                .where(SkillProfileRow.user_id.in_(batch))
                .order_by(SkillProfileRow.skill_id)
            )
        ).all():
            parts[row.user_id]["skill_profiles"].append(_record(SkillProfile, row))
