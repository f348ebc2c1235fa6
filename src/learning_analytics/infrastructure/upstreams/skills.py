"""Skills Engine (skill profiles, strategic targets) and Learner AI (learning paths)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from learning_analytics.domain.records import LearningPath, SkillProfile, StrategicSkillTarget
from learning_analytics.infrastructure.upstreams.http import UpstreamClient
from learning_analytics.infrastructure.upstreams.rest import RestCollection, WireItem, collection


class SkillProfileItem(WireItem):
    user_id: str
    skill_id: str
    current_level: int
    target_level: int | None = None
    verified: bool = False


class StrategicTargetItem(WireItem):
    organization_id: str
    skill_id: str
    weight: float
    target_level: int


class LearningPathItem(WireItem):
    user_id: str
    course_id: str | None = None
    steps: list[dict[str, Any]] = Field(default_factory=list)


def _profile(item: SkillProfileItem) -> SkillProfile:
    if item.updated_at is None:
        raise ValueError("a skill profile needs updatedAt")
    return SkillProfile(
        user_id=item.user_id,
        skill_id=item.skill_id,
        current_level=item.current_level,
        updated_at=item.updated_at,
        target_level=item.target_level,
        verified=item.verified,
    )


def _path(item: LearningPathItem) -> LearningPath:
    if item.updated_at is None:
        raise ValueError("a learning path needs updatedAt")
    return LearningPath(
        id=item.id,
        user_id=item.user_id,
        updated_at=item.updated_at,
        course_id=item.course_id,
        steps=tuple(item.steps),
    )


def skills_engine(client: UpstreamClient) -> list[RestCollection[Any]]:
    return [
        collection(
            client,
            "skill-profiles",
            SkillProfileItem,
            _profile,
            lambda w: w.upsert_skill_profiles,
            per_user=True,
        ),
        collection(
            client,
            "strategic-targets",
            StrategicTargetItem,
            lambda i: StrategicSkillTarget(
                organization_id=i.organization_id,
                skill_id=i.skill_id,
                weight=i.weight,
                target_level=i.target_level,
            ),
            lambda w: w.upsert_strategic_skill_targets,
        ),
    ]


def learner_ai(client: UpstreamClient) -> list[RestCollection[Any]]:
    return [
        collection(
            client,
            "learning-paths",
            LearningPathItem,
            _path,
            lambda w: w.upsert_learning_paths,
            per_user=True,
        )
    ]
