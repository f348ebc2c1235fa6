"""Learner AI through the Coordinator (EDUCORE.md §3.6): learning paths, whose rows come in
`response.answer` as a JSON string."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from pydantic import Field

from learning_analytics.domain.records import (
    JsonValue,
    LearningPath,
)
from learning_analytics.infrastructure.educore.envelope import (
    JsonObject,
    on_demand_payload,
)
from learning_analytics.infrastructure.educore.ids import IdMap
from learning_analytics.infrastructure.educore.sources import (
    DIRECTORY,
    LEARNER_AI,
    Batch,
    EducoreSource,
    OptionalId,
    Pulled,
    Wire,
)


class PathStep(Wire):
    step: int | None = None
    title: str | None = None
    estimatedTime: float | None = None
    skills_covered: list[str] = Field(default_factory=list)


class PathModule(Wire):
    module_order: int | None = None
    module_title: str | None = None
    skills_in_module: list[str] = Field(default_factory=list)
    steps: list[PathStep] = Field(default_factory=list)


class PathDetail(Wire):
    path_title: str | None = None
    learner_id: OptionalId = None
    learning_modules: list[PathModule] = Field(default_factory=list)


class PathRow(Wire):
    competency_target_name: str = ""
    skills_raw_data: Any = None
    exam_status: str | None = None
    learning_path: PathDetail | None = None


class PathRows(Wire):
    data: list[PathRow] = Field(default_factory=list)


_SLUG = re.compile(r"[^a-z0-9]+")


def _slug(text: str) -> str:
    return _SLUG.sub("-", text.lower()).strip("-") or "path"


def map_paths(
    rows: Sequence[PathRow], ids: IdMap, *, fetched_at: datetime, learner: str | None
) -> Batch:
    """One learning path per (learner, competency target); its steps are the modules' steps
    in order, each `{module, step, title, skills, estimatedHours}`. Rows carry no timestamp:
    `updated_at` is when we fetched them. A row without a learner (and not asked for one
    learner) is skipped."""
    batch = Batch()
    for row in rows:
        detail = row.learning_path or PathDetail()
        user = ids.need("user", detail.learner_id or learner)
        if user is None:
            continue
        steps: list[Mapping[str, JsonValue]] = []
        for module in sorted(detail.learning_modules, key=lambda m: m.module_order or 0):
            for step in module.steps:
                steps.append(
                    {
                        "module": module.module_title,
                        "step": step.step,
                        "title": step.title,
                        "skills": list(step.skills_covered or module.skills_in_module),
                        "estimatedHours": step.estimatedTime,
                    }
                )
        target = row.competency_target_name or detail.path_title or ""
        batch.learning_paths.append(
            LearningPath(
                id=f"learner-ai:{user}:{_slug(target)}",
                user_id=user,
                updated_at=fetched_at,
                steps=tuple(steps),
            )
        )
    return batch


class LearnerAiSource(EducoreSource[PathRows]):
    sibling = LEARNER_AI
    route = "LearnerAI"
    what = "learning paths"
    reply_model = PathRows
    per_user = True

    def batch_payload(self, *, since: datetime | None, cursor: str | None) -> JsonObject:
        payload = super().batch_payload(since=since, cursor=cursor)
        if since is not None:  # after a first full pull: the paths created since then
            payload["date_range"] = {
                "start_date": since.date().isoformat(),
                "end_date": self._today().isoformat(),
            }
        return payload

    def _today(self) -> date:
        return self.clock.now().date()

    def template(self) -> JsonObject:
        return {"answer": ""}

    def user_payload(self, user_id: str) -> JsonObject:
        return on_demand_payload(route=self.route, origin=self.origin, user_id=user_id)

    async def resolve(self, ids: IdMap, pulled: Pulled[PathRows]) -> None:
        learners = [
            (row.learning_path.learner_id if row.learning_path else None) or pulled.user_id
            for row in pulled.reply.data
        ]
        await ids.resolve("user", learners, via=DIRECTORY)

    def map(self, pulled: Pulled[PathRows], ids: IdMap) -> Batch:
        return map_paths(
            pulled.reply.data, ids, fetched_at=pulled.fetched_at, learner=pulled.user_id
        )


# --------------------------------------------------------------------------------------------
# DevLab (EDUCORE.md §3.7)
