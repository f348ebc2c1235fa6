"""Skills Engine through the Coordinator (EDUCORE.md §3.5): competency profiles, in cursor pages or
for one learner.

Targets: the batch guide lists `target_competencies` next to a user's competencies (EDUCORE.md
§4.1) without pinning their shape; when a profile carries them (`competency_id` with
`target_level` 0-5, a target `coverage_percentage`, or a `proficiency_level` name), they become
the skill profiles' target levels (a target competency the user has no coverage of yet is a
profile at level 0). Without them, profiles have no personal target.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from pydantic import Field

from learning_analytics.application.ports import Clock
from learning_analytics.domain.records import (
    SkillProfile,
)
from learning_analytics.infrastructure.educore.coordinator import CoordinatorClient
from learning_analytics.infrastructure.educore.envelope import (
    MAX_PAGE_SIZE,
    JsonObject,
)
from learning_analytics.infrastructure.educore.ids import IdMap
from learning_analytics.infrastructure.educore.sources import (
    DIRECTORY,
    PAGINATION_TEMPLATE,
    SKILLS_ENGINE,
    Batch,
    EducoreSource,
    Id,
    Instant,
    OptionalId,
    Pulled,
    Wire,
    newest_of,
    parse_wire,
)


class VerifiedSkill(Wire):
    skill_id: OptionalId = None
    verified: bool = False


class Competency(Wire):
    competency_id: Id
    competency_name: str | None = None
    coverage_percentage: float | None = None
    proficiency_level: str | None = None
    verifiedSkills: list[VerifiedSkill] = Field(default_factory=list)
    created_at: Instant = None
    updated_at: Instant = None


class TargetCompetency(Wire):
    competency_id: Id
    target_level: int | None = None
    coverage_percentage: float | None = None
    proficiency_level: str | None = None


class UserCompetencies(Wire):
    user_id: OptionalId = None
    user_name: str | None = None
    competencies: list[Competency] = Field(default_factory=list)
    target_competencies: list[TargetCompetency] = Field(default_factory=list)


class UserProfiles(Wire):
    user_profiles: list[UserCompetencies] = Field(default_factory=list)


PROFICIENCY_LEVELS: Mapping[str, int] = {
    "BEGINNER": 1,
    "INTERMEDIATE": 3,
    "ADVANCED": 4,
    "EXPERT": 5,
}
COVERAGE_PER_LEVEL = 20.0  # 0-100 % coverage onto levels 0-5


def competency_level(competency: Competency | TargetCompetency) -> int:
    """Level 0-5: the coverage (% / 20, rounded half up), else the named proficiency."""
    if competency.coverage_percentage is not None:
        coverage = min(100.0, max(0.0, competency.coverage_percentage))
        return int(coverage / COVERAGE_PER_LEVEL + 0.5)
    return PROFICIENCY_LEVELS.get((competency.proficiency_level or "").upper(), 0)


def target_level(target: TargetCompetency) -> int:
    if target.target_level is not None:
        return min(5, max(0, target.target_level))
    return competency_level(target)


def map_profiles(
    profiles: Sequence[UserCompetencies],
    ids: IdMap,
    *,
    fetched_at: datetime,
    learner: str | None = None,
) -> Batch:
    """One skill profile per competency: its level from the coverage (`competency_level`),
    verified when one of its skills is, its target from `target_competencies` (see the module
    doc). A profile without `user_id` is the asked learner's."""
    batch = Batch()
    for profile in profiles:
        user = ids.need("user", profile.user_id or learner)
        if user is None:
            continue
        targets = {t.competency_id: target_level(t) for t in profile.target_competencies}
        for competency in profile.competencies:
            batch.skill_profiles.append(
                SkillProfile(
                    user_id=user,
                    skill_id=competency.competency_id,
                    current_level=competency_level(competency),
                    updated_at=competency.updated_at or competency.created_at or fetched_at,
                    target_level=targets.pop(competency.competency_id, None),
                    verified=any(skill.verified for skill in competency.verifiedSkills),
                )
            )
        for skill, level in targets.items():  # targets not started yet
            batch.skill_profiles.append(
                SkillProfile(
                    user_id=user,
                    skill_id=skill,
                    current_level=0,
                    updated_at=fetched_at,
                    target_level=level,
                )
            )
    return batch


class SkillsEngineSource(EducoreSource[UserProfiles]):
    sibling = SKILLS_ENGINE
    route = "SkillsEngine"
    what = "user competency profiles"
    reply_model = UserProfiles
    paged = True
    per_user = True

    def __init__(
        self, coordinator: CoordinatorClient, *, clock: Clock, page_size: int = MAX_PAGE_SIZE
    ) -> None:
        super().__init__(coordinator, clock=clock)
        self.page_size = page_size

    def batch_payload(self, *, since: datetime | None, cursor: str | None) -> JsonObject:
        payload = super().batch_payload(since=since, cursor=cursor)
        return {**payload, "page_size": self.page_size}

    def template(self) -> JsonObject:
        return {
            "version": "",
            "fetched_at": "",
            "pagination": dict(PAGINATION_TEMPLATE),
            "user_profiles": [],
        }

    def user_template(self) -> JsonObject:
        return {"user_id": "", "user_name": "", "competencies": []}

    def read(self, response: JsonObject) -> UserProfiles:
        if "user_profiles" not in response and "competencies" in response:
            single = parse_wire(UserCompetencies, response, service=self.sibling)
            return UserProfiles(user_profiles=[single])
        return parse_wire(UserProfiles, response, service=self.sibling)

    def newest(self, reply: UserProfiles) -> datetime | None:
        return newest_of([c.updated_at for p in reply.user_profiles for c in p.competencies])

    async def resolve(self, ids: IdMap, pulled: Pulled[UserProfiles]) -> None:
        profiles = pulled.reply.user_profiles
        await ids.resolve("user", (p.user_id or pulled.user_id for p in profiles), via=DIRECTORY)

    def map(self, pulled: Pulled[UserProfiles], ids: IdMap) -> Batch:
        return map_profiles(
            pulled.reply.user_profiles, ids, fetched_at=pulled.fetched_at, learner=pulled.user_id
        )


# --------------------------------------------------------------------------------------------
# Learner AI (EDUCORE.md §3.6: rows in `response.answer`, a JSON string)
