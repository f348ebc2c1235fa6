"""Platform-wide figures for Management Reporting (EDUCORE.md §3.8) and the achievements a
user earned, read with aggregates in the store (SQLite and PostgreSQL alike)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Date, and_, cast, distinct, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from learning_analytics.domain.integration import PlatformStatistics, count_levels
from learning_analytics.infrastructure.db.tables import (
    AssessmentAttemptRow,
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
    UserAchievementRow,
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

    async def earned_achievements(self, user_id: str) -> list[tuple[str, datetime]]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(UserAchievementRow.achievement_code, UserAchievementRow.earned_at)
                .where(UserAchievementRow.user_id == user_id)
                .order_by(UserAchievementRow.earned_at.desc())
            )
            return [(code, earned) for code, earned in rows.all()]

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
