"""BKT parameters fitted per skill from the store's evidence (SPEC §10 Mastery).

`MasteryParameters.for_organization` answers the fitted parameters of an organisation's skills:
every skill on which at least `min_sequences` learners of the organisation have skill scores is
fitted by `bkt.fit_skills` (maximum likelihood over those learners' sequences, a score counting as
correct at `bkt.CORRECT_THRESHOLD` %); the other skills are absent from the answer, so
`compute_mastery` uses the documented defaults for them and says so (`fitted_params`).

The fit is kept in process per organisation for `ttl_seconds` (6 h by default). Fitting is CPU
work, so it runs in a worker thread, off the event loop; concurrent requests of one organisation
whose fit is missing or expired share one load-and-fit (single-flight). A failure is not cached:
the next request tries again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

from learning_analytics.application.ports import Clock, SkillEvidenceRepository
from learning_analytics.application.singleflight import SingleFlight
from learning_analytics.domain.metrics import bkt

DEFAULT_TTL_SECONDS = 6 * 3600.0


def fit_from_scores(
    scores_by_skill: Mapping[str, Sequence[Sequence[float]]],
    *,
    min_sequences: int = bkt.MIN_FIT_SEQUENCES,
    threshold: float = bkt.CORRECT_THRESHOLD,
) -> dict[str, bkt.BktParams]:
    """Score sequences (%) per skill -> correct/wrong observations -> fitted parameters."""
    observations = {
        skill: [[bkt.is_correct(score, threshold) for score in scores] for scores in sequences]
        for skill, sequences in scores_by_skill.items()
    }
    return bkt.fit_skills(observations, min_sequences=min_sequences)


@dataclass(frozen=True, slots=True)
class _Fitted:
    params: Mapping[str, bkt.BktParams]
    expires_at: datetime


class MasteryParameters:
    """Fitted BKT parameters per organisation, cached in process (see the module doc)."""

    def __init__(
        self,
        *,
        evidence: SkillEvidenceRepository,
        clock: Clock,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        min_sequences: int = bkt.MIN_FIT_SEQUENCES,
    ) -> None:
        self._evidence = evidence
        self._clock = clock
        self._ttl = timedelta(seconds=ttl_seconds)
        self._min_sequences = min_sequences
        self._fitted: dict[str, _Fitted] = {}
        self._flight = SingleFlight()

    async def for_organization(self, organization_id: str) -> Mapping[str, bkt.BktParams]:
        """The fitted parameters of the organisation's skills with enough evidence."""
        cached = self._fitted.get(organization_id)
        if cached is not None and self._clock.now() < cached.expires_at:
            return cached.params
        return await self._flight.run(organization_id, lambda: self._fit(organization_id))

    async def _fit(self, organization_id: str) -> Mapping[str, bkt.BktParams]:
        scores = await self._evidence.skill_score_sequences(organization_id)
        fitted = await asyncio.to_thread(fit_from_scores, scores, min_sequences=self._min_sequences)
        params = MappingProxyType(fitted)
        self._fitted[organization_id] = _Fitted(params, self._clock.now() + self._ttl)
        return params
