"""DevLab through the Coordinator (EDUCORE.md §3.7): competitions against the AI."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import Field

from learning_analytics.domain.records import (
    PracticeSession,
)
from learning_analytics.infrastructure.educore.envelope import (
    JsonObject,
    on_demand_payload,
)
from learning_analytics.infrastructure.educore.ids import IdMap
from learning_analytics.infrastructure.educore.sources import (
    DEVLAB,
    DIRECTORY,
    Batch,
    EducoreSource,
    Id,
    Instant,
    OptionalId,
    Pulled,
    Wire,
    newest_of,
)


class Competition(Wire):
    competition_id: Id
    learner_id: OptionalId = None
    winner: str | None = None
    status: str | None = None
    created_at: Instant = None
    updated_at: Instant = None
    started_at: Instant = None
    completed_at: Instant = None


class Competitions(Wire):
    competitions: list[Competition] = Field(default_factory=list)


def map_competitions(competitions: Sequence[Competition], ids: IdMap) -> Batch:
    """Competitions against the AI → practice sessions: completed when `status` says so or
    `completed_at` is set, won when the learner is the winner, seconds from start to end."""
    batch = Batch()
    for competition in competitions:
        user = ids.need("user", competition.learner_id)
        started = competition.started_at or competition.created_at
        if user is None or started is None:
            continue
        ended = competition.completed_at
        completed = ended is not None or (competition.status or "").lower() == "completed"
        seconds = max(0, int((ended - started).total_seconds())) if ended else 0
        batch.practice_sessions.append(
            PracticeSession(
                id=f"devlab:{competition.competition_id}",
                user_id=user,
                started_at=started,
                competition_id=competition.competition_id,
                completed=completed,
                won=(competition.winner or "").lower() == "learner",
                seconds=seconds,
            )
        )
    return batch


class DevLabSource(EducoreSource[Competitions]):
    sibling = DEVLAB
    route = "DevLab"
    what = "competition data"
    reply_model = Competitions
    per_user = True

    def template(self) -> JsonObject:
        return {"version": "", "fetched_at": "", "competitions": []}

    def user_payload(self, user_id: str) -> JsonObject:
        payload = on_demand_payload(route=self.route, origin=self.origin, user_id=user_id)
        return {
            "type": "on-demand",
            "action": payload["action"],
            "service_origin": self.origin,
            "learner_id": user_id,
        }

    def newest(self, reply: Competitions) -> datetime | None:
        return newest_of(
            [c.updated_at or c.completed_at or c.created_at for c in reply.competitions]
        )

    async def resolve(self, ids: IdMap, pulled: Pulled[Competitions]) -> None:
        await ids.resolve("user", (c.learner_id for c in pulled.reply.competitions), via=DIRECTORY)

    def map(self, pulled: Pulled[Competitions], ids: IdMap) -> Batch:
        return map_competitions(pulled.reply.competitions, ids)
