"""Platform-wide figures for Management Reporting (EDUCORE.md §3.8) and RAG's activity items
(EDUCORE.md §3.9), read with aggregates in the store (SQLite and PostgreSQL alike)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Date, and_, cast, distinct, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from learning_analytics.application.ports import ActivityScope
from learning_analytics.domain.integration import PlatformStatistics, count_levels, iso_z
from learning_analytics.infrastructure.db.tables import (
    AssessmentAttemptRow,
    AssessmentSkillScoreRow,
    AssistantInteractionRow,
    CourseRow,
    CourseUnitRow,
    EnrollmentRow,
    FeedbackRow,
    LearningEventRow,
    LearningPathRow,
    OrganizationRow,
    PracticeSessionRow,
    SkillProfileRow,
    UserRow,
)

MOST_DEMANDED = 5


def _utc_day(session: AsyncSession, column: Any) -> Any:
    """The UTC calendar day of an instant column (SQLite keeps UTC ISO text; PostgreSQL a
    timestamptz, whose `::date` would follow the session's time zone)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


class SqlPlatformRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def statistics(self, *, since: datetime, until: datetime) -> PlatformStatistics:
        """Totals over the whole store; "active" figures over [since, until)."""
        async with self._sessions() as session:
            scalar = session.scalar
            days = union_all(
                *(
                    select(
                        table.user_id.label("user_id"),
                        _utc_day(session, moment).label("day"),
                    ).where(moment >= since, moment < until)
                    for table, moment in (
                        (LearningEventRow, LearningEventRow.occurred_at),
                        (AssessmentAttemptRow, AssessmentAttemptRow.submitted_at),
                        (PracticeSessionRow, PracticeSessionRow.started_at),
                        (AssistantInteractionRow, AssistantInteractionRow.asked_at),
                    )
                )
            ).subquery()
            active_days = (
                await session.execute(
                    select(days.c.user_id, func.count(distinct(days.c.day))).group_by(
                        days.c.user_id
                    )
                )
            ).all()
            enrollments = (
                await session.execute(
                    select(
                        func.count(),
                        func.count(EnrollmentRow.completed_at),
                        func.count(EnrollmentRow.withdrawn_at).filter(
                            EnrollmentRow.completed_at.is_(None)
                        ),
                    )
                )
            ).one()
            units = dict(
                (
                    await session.execute(
                        select(CourseUnitRow.kind, func.count()).group_by(CourseUnitRow.kind)
                    )
                ).all()
            )
            attempts = (
                await session.execute(
                    select(
                        func.count(),
                        func.count(distinct(AssessmentAttemptRow.assessment_id)),
                        func.count().filter(AssessmentAttemptRow.passed.is_(True)),
                        func.avg(AssessmentAttemptRow.score_pct),
                    )
                )
            ).one()
            pairs = select(AssessmentAttemptRow.user_id, AssessmentAttemptRow.assessment_id)
            attempt_pairs = await scalar(
                select(func.count()).select_from(pairs.distinct().subquery())
            )
            at_target = and_(
                SkillProfileRow.target_level.is_not(None),
                SkillProfileRow.current_level >= SkillProfileRow.target_level,
            )
            below_target = and_(
                SkillProfileRow.target_level.is_not(None),
                SkillProfileRow.current_level < SkillProfileRow.target_level,
            )
            demanded_count = func.count().label("demand")
            demanded = (
                await session.execute(
                    select(SkillProfileRow.skill_id, demanded_count)
                    .where(below_target)
                    .group_by(SkillProfileRow.skill_id)
                    .order_by(demanded_count.desc(), SkillProfileRow.skill_id)
                    .limit(MOST_DEMANDED)
                )
            ).all()
            levels = dict(
                (
                    await session.execute(
                        select(SkillProfileRow.current_level, func.count()).group_by(
                            SkillProfileRow.current_level
                        )
                    )
                ).all()
            )
            feedback = (
                await session.execute(select(func.count(), func.avg(FeedbackRow.rating)))
            ).one()
            ratings = dict(
                (
                    await session.execute(
                        select(FeedbackRow.rating, func.count()).group_by(FeedbackRow.rating)
                    )
                ).all()
            )
            content_usage = dict(
                (
                    await session.execute(
                        select(CourseUnitRow.content_type, func.count())
                        .select_from(LearningEventRow)
                        .join(CourseUnitRow, CourseUnitRow.id == LearningEventRow.unit_id)
                        .where(
                            LearningEventRow.verb == "completed",
                            LearningEventRow.occurred_at >= since,
                            LearningEventRow.occurred_at < until,
                            CourseUnitRow.content_type.is_not(None),
                        )
                        .group_by(CourseUnitRow.content_type)
                    )
                ).all()
            )
            total, completed, withdrawn = enrollments
            average_score = attempts[3]
            return PlatformStatistics(
                window_start=since,
                window_end=until,
                total_learners=await scalar(select(func.count()).where(UserRow.role == "learner"))
                or 0,
                active_learners=len(active_days),
                total_organizations=await scalar(select(func.count()).select_from(OrganizationRow))
                or 0,
                total_courses=await scalar(select(func.count()).select_from(CourseRow)) or 0,
                total_enrollments=total,
                active_enrollments=total - completed - withdrawn,
                completed_enrollments=completed,
                withdrawn_enrollments=withdrawn,
                total_lessons=units.get("lesson", 0),
                total_topics=units.get("topic", 0),
                total_attempts=attempts[0],
                distinct_assessments=attempts[1],
                attempt_pairs=attempt_pairs or 0,
                passed_attempts=attempts[2],
                average_score=None if average_score is None else round(float(average_score), 1),
                skills_at_target=await scalar(
                    select(func.count()).select_from(SkillProfileRow).where(at_target)
                )
                or 0,
                learning_paths=await scalar(select(func.count()).select_from(LearningPathRow)) or 0,
                feedback_count=feedback[0],
                average_rating=None if feedback[1] is None else round(float(feedback[1]), 2),
                ratings={int(rating): count for rating, count in ratings.items()},
                competitions=await scalar(
                    select(func.count(distinct(PracticeSessionRow.competition_id)))
                )
                or 0,
                most_demanded=[(skill, count) for skill, count in demanded],
                levels={int(level): count for level, count in levels.items()},
                content_usage={str(kind): count for kind, count in content_usage.items()},
                engagement_levels=count_levels(count for _, count in active_days),
            )


# --------------------------------------------------------------------------------------------
# RAG's batch sync and real-time questions (EDUCORE.md §2.5, §3.9): the store's activity as the
# "layer1b" items of the data-structure report RAG keeps for us, newest first.

LESSONS = "layer1b_lesson_attempts"
ASSESSMENTS = "layer1b_assessment_attempts"
ENROLLMENTS = "layer1b_enrollments"
SKILLS = "layer1b_user_acquired_skills"
FEEDBACK = "layer1b_course_feedback"


def _z(moment: datetime | None) -> str | None:
    return None if moment is None else iso_z(moment)


class SqlActivityItemsRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def items(
        self, scope: ActivityScope, *, offset: int, limit: int
    ) -> tuple[int, list[dict[str, Any]]]:
        """(how many items there are, the page [offset, offset + limit) newest first)."""
        wanted = offset + limit
        async with self._sessions() as session:
            people = select(UserRow.id).where(UserRow.organization_id == scope.organization_id)
            if scope.user_id is not None:
                people = people.where(UserRow.id == scope.user_id)
            members = people.scalar_subquery()
            total = 0
            found: list[tuple[datetime, str, dict[str, Any]]] = []
            for reader in (self._lessons, self._assessments, self._enrollments, self._skills,
                           self._feedback):  # fmt: skip
                count, rows = await reader(session, members, scope.since, wanted)
                total += count
                found.extend(rows)
            found.sort(key=lambda item: (item[0], item[1]), reverse=True)
            page = found[offset:wanted]
            await self._attach_skill_scores(session, [item for _, _, item in page])
        return total, [item for _, _, item in page]

    @staticmethod
    async def _count_and_rows(
        session: AsyncSession, query: Any, moment: Any, wanted: int
    ) -> tuple[int, list[Any]]:
        count = await session.scalar(select(func.count()).select_from(query.subquery()))
        rows = (await session.execute(query.order_by(moment.desc()).limit(wanted))).all()
        return count or 0, list(rows)

    async def _lessons(
        self, session: AsyncSession, members: Any, since: datetime | None, wanted: int
    ) -> tuple[int, list[tuple[datetime, str, dict[str, Any]]]]:
        event, unit = LearningEventRow, CourseUnitRow
        query = (
            select(
                event.id,
                event.user_id,
                event.course_id,
                event.unit_id,
                event.verb,
                event.occurred_at,
                event.ingested_at,
                unit.title,
                unit.parent_id,
            )
            .outerjoin(unit, unit.id == event.unit_id)
            .where(event.user_id.in_(members))
        )
        if since is not None:
            query = query.where(event.occurred_at >= since)
        count, rows = await self._count_and_rows(session, query, event.occurred_at, wanted)
        items = []
        for row in rows:
            at = _z(row.occurred_at)
            items.append((row.occurred_at, f"l:{row.id}", {
                "event_id": row.id, "user_id": row.user_id, "course_id": row.course_id,
                "lesson_id": row.unit_id, "topic_id": row.parent_id, "lesson_name": row.title,
                "started_at": at if row.verb == "started" else None,
                "completed_at": at if row.verb == "completed" else None,
                "event_timestamp": at, "fetched_at": _z(row.ingested_at),
                "_source_table": LESSONS,
            }))  # fmt: skip
        return count, items

    async def _assessments(
        self, session: AsyncSession, members: Any, since: datetime | None, wanted: int
    ) -> tuple[int, list[tuple[datetime, str, dict[str, Any]]]]:
        attempt = AssessmentAttemptRow
        query = select(
            attempt.id, attempt.user_id, attempt.course_id, attempt.assessment_id,
            attempt.exam_type, attempt.score_pct, attempt.passed, attempt.submitted_at,
            attempt.ingested_at,
        ).where(attempt.user_id.in_(members))  # fmt: skip
        if since is not None:
            query = query.where(attempt.submitted_at >= since)
        count, rows = await self._count_and_rows(session, query, attempt.submitted_at, wanted)
        items = []
        for row in rows:
            items.append((row.submitted_at, f"a:{row.id}", {
                "attempt_id": row.id, "user_id": row.user_id, "exam_id": row.assessment_id,
                "exam_type": row.exam_type, "course_id": row.course_id,
                "submitted_at": _z(row.submitted_at), "final_grade": row.score_pct,
                "passed": bool(row.passed),
                "failed_at": None if row.passed else _z(row.submitted_at),
                "skills": [], "event_timestamp": _z(row.submitted_at),
                "fetched_at": _z(row.ingested_at), "_source_table": ASSESSMENTS,
            }))  # fmt: skip
        return count, items

    async def _enrollments(
        self, session: AsyncSession, members: Any, since: datetime | None, wanted: int
    ) -> tuple[int, list[tuple[datetime, str, dict[str, Any]]]]:
        enrollment = EnrollmentRow
        moment = func.coalesce(enrollment.completed_at, enrollment.enrolled_at)
        query = select(
            enrollment.id, enrollment.user_id, enrollment.course_id, enrollment.enrolled_at,
            enrollment.completed_at, enrollment.withdrawn_at, enrollment.progress_pct,
            enrollment.ingested_at,
        ).where(enrollment.user_id.in_(members))  # fmt: skip
        if since is not None:
            query = query.where(moment >= since)
        count, rows = await self._count_and_rows(session, query, moment, wanted)
        items = []
        for row in rows:
            at = row.completed_at or row.enrolled_at
            items.append((at, f"e:{row.id}", {
                "enrollment_id": row.id, "user_id": row.user_id, "course_id": row.course_id,
                "enrolled_at": _z(row.enrolled_at), "completed_at": _z(row.completed_at),
                "withdrawn_at": _z(row.withdrawn_at), "progress_pct": row.progress_pct,
                "event_timestamp": _z(at), "fetched_at": _z(row.ingested_at),
                "_source_table": ENROLLMENTS,
            }))  # fmt: skip
        return count, items

    async def _skills(
        self, session: AsyncSession, members: Any, since: datetime | None, wanted: int
    ) -> tuple[int, list[tuple[datetime, str, dict[str, Any]]]]:
        profile = SkillProfileRow
        query = select(
            profile.user_id, profile.skill_id, profile.current_level, profile.target_level,
            profile.updated_at, profile.ingested_at,
        ).where(
            profile.user_id.in_(members),
            profile.target_level.is_not(None),
            profile.current_level >= profile.target_level,
        )  # fmt: skip
        if since is not None:
            query = query.where(profile.updated_at >= since)
        count, rows = await self._count_and_rows(session, query, profile.updated_at, wanted)
        items = []
        for row in rows:
            items.append((row.updated_at, f"s:{row.user_id}:{row.skill_id}", {
                "user_id": row.user_id, "skill_name": row.skill_id,
                "competency_name": row.skill_id, "level": row.current_level,
                "acquired_date": _z(row.updated_at), "event_timestamp": _z(row.updated_at),
                "fetched_at": _z(row.ingested_at), "_source_table": SKILLS,
            }))  # fmt: skip
        return count, items

    async def _feedback(
        self, session: AsyncSession, members: Any, since: datetime | None, wanted: int
    ) -> tuple[int, list[tuple[datetime, str, dict[str, Any]]]]:
        feedback = FeedbackRow
        query = select(
            feedback.id, feedback.user_id, feedback.course_id, feedback.rating,
            feedback.submitted_at, feedback.ingested_at,
        ).where(feedback.user_id.in_(members))  # fmt: skip
        if since is not None:
            query = query.where(feedback.submitted_at >= since)
        count, rows = await self._count_and_rows(session, query, feedback.submitted_at, wanted)
        items = []
        for row in rows:
            items.append((row.submitted_at, f"f:{row.id}", {
                "feedback_id": row.id, "user_id": row.user_id, "course_id": row.course_id,
                "rating": row.rating, "comment": None, "submitted_at": _z(row.submitted_at),
                "event_timestamp": _z(row.submitted_at), "fetched_at": _z(row.ingested_at),
                "_source_table": FEEDBACK,
            }))  # fmt: skip
        return count, items

    async def _attach_skill_scores(
        self, session: AsyncSession, items: list[dict[str, Any]]
    ) -> None:
        attempts = {i["attempt_id"]: i for i in items if i["_source_table"] == ASSESSMENTS}
        if not attempts:
            return
        score = AssessmentSkillScoreRow
        rows = await session.execute(
            select(score.attempt_id, score.skill_id, score.score_pct)
            .where(score.attempt_id.in_(list(attempts)))
            .order_by(score.attempt_id, score.skill_id)
        )
        for attempt_id, skill_id, pct in rows.all():
            attempts[attempt_id]["skills"].append(
                {"skill_id": skill_id, "skill_name": skill_id, "score": pct}
            )
