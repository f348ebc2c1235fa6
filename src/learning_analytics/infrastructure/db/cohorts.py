"""Cohorts and organisation skills out of the store, for comparisons (SPEC §10 Comparison).

A cohort is learners only (users whose role is `learner`): a department's (their own department,
or their team's when they have none — as for authorization), an organisation's, or a course's
enrolled learners who have not withdrawn. One query per question.

Skill profiles: the store keeps the current profile per (user, skill) with its `updated_at`, not
its past versions. The snapshot at an earlier instant is therefore the profiles whose latest
update is at or before it; a profile updated since is missing from the snapshot (its earlier
level is not on record), which the trend's documentation in docs/metrics.md spells out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from learning_analytics.application.ports import OrganizationSkills
from learning_analytics.domain.models import Role
from learning_analytics.domain.records import SkillProfile, StrategicSkillTarget
from learning_analytics.infrastructure.db.tables import (
    EnrollmentRow,
    OrganizationRow,
    SkillProfileRow,
    StrategicSkillTargetRow,
    TeamRow,
    UserRow,
)

LEARNER = Role.LEARNER.value


class SqlCohortRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def _ids(self, query: Select[str]) -> list[str]:
        async with self._sessions() as session:
            return sorted(set((await session.scalars(query)).all()))

    async def department_learners(self, department_id: str) -> list[str]:
        department = func.coalesce(UserRow.department_id, TeamRow.department_id)
        return await self._ids(
            select(UserRow.id)
            .outerjoin(TeamRow, TeamRow.id == UserRow.team_id)
            .where(UserRow.role == LEARNER, department == department_id)
        )

    async def organization_learners(self, organization_id: str) -> list[str]:
        return await self._ids(
            select(UserRow.id).where(
                UserRow.role == LEARNER, UserRow.organization_id == organization_id
            )
        )

    async def course_learners(self, course_id: str) -> list[str]:
        return await self._ids(
            select(UserRow.id)
            .join(EnrollmentRow, EnrollmentRow.user_id == UserRow.id)
            .where(
                UserRow.role == LEARNER,
                EnrollmentRow.course_id == course_id,
                EnrollmentRow.withdrawn_at.is_(None),
            )
        )

    async def organization_skills(
        self, organization_id: str, *, previous_at: datetime
    ) -> OrganizationSkills | None:
        learners = select(UserRow.id).where(
            UserRow.role == LEARNER, UserRow.organization_id == organization_id
        )
        known = or_(
            select(OrganizationRow.id).where(OrganizationRow.id == organization_id).exists(),
            learners.exists(),
        )
        async with self._sessions() as session:
            if not await session.scalar(select(known)):
                return None
            profile_rows = (
                await session.scalars(
                    select(SkillProfileRow)
                    .where(SkillProfileRow.user_id.in_(learners.scalar_subquery()))
                    .order_by(SkillProfileRow.user_id, SkillProfileRow.skill_id)
                )
            ).all()
            target_rows = (
                await session.scalars(
                    select(StrategicSkillTargetRow)
                    .where(StrategicSkillTargetRow.organization_id == organization_id)
                    .order_by(StrategicSkillTargetRow.skill_id)
                )
            ).all()
        profiles = tuple(
            SkillProfile(
                user_id=row.user_id,
                skill_id=row.skill_id,
                current_level=row.current_level,
                updated_at=row.updated_at,
                target_level=row.target_level,
                verified=row.verified,
            )
            for row in profile_rows
        )
        targets = tuple(
            StrategicSkillTarget(
                organization_id=row.organization_id,
                skill_id=row.skill_id,
                weight=row.weight,
                target_level=row.target_level,
            )
            for row in target_rows
        )
        return OrganizationSkills(
            organization_id=organization_id,
            profiles=profiles,
            previous_profiles=tuple(p for p in profiles if p.updated_at <= previous_at),
            previous_at=previous_at,
            strategic_targets=targets,
            data_as_of=_newest(
                [row.ingested_at for row in profile_rows] + [row.ingested_at for row in target_rows]
            ),
        )


def _newest(instants: Sequence[datetime]) -> datetime | None:
    return max(instants, default=None)
