"""The drop-off model as the application sees it: its card and the port a trained model implements.

The quality gate (SPEC §10): a trained model is used only when its time-split test AUC reaches
`min_auc` (PREDICTIVE_MIN_AUC, 0.75 by default); otherwise, or with no model at all, the
transparent rule-based score of `domain/predictive/risk.py` answers and says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class ModelCard:
    version: str
    kind: str
    trained_on: str  # "simulator" (the shipped default) | "store"
    description: str
    created_at: datetime
    inactivity_days: int
    features: tuple[str, ...]
    feature_medians: Mapping[str, float]
    data_from: datetime
    data_to: datetime
    split_cutoff: datetime
    training_size: int  # snapshots the served model was fitted on
    train_size: int  # snapshots of the evaluation's training part
    test_size: int
    test_drop_off_rate: float
    auc: float
    pr_auc: float
    brier: float
    baseline_auc: float | None
    calibration: tuple[Mapping[str, Any], ...]
    per_week_auc: tuple[Mapping[str, Any], ...]
    per_archetype_auc: Mapping[str, float | None]
    sklearn_version: str
    artifact_sha256: str | None

    def passes(self, min_auc: float) -> bool:
        return not math.isnan(self.auc) and self.auc >= min_auc

    def with_artifact(self, digest: str) -> ModelCard:
        return replace(self, artifact_sha256=digest)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "kind": self.kind,
            "trainedOn": self.trained_on,
            "description": self.description,
            "createdAt": self.created_at.isoformat(),
            "label": f"no activity on the enrollment for {self.inactivity_days} days without "
            "completing it",
            "inactivityDays": self.inactivity_days,
            "features": list(self.features),
            "featureMedians": dict(self.feature_medians),
            "dataWindow": {"from": self.data_from.isoformat(), "to": self.data_to.isoformat()},
            "splitCutoff": self.split_cutoff.isoformat(),
            "trainingSize": self.training_size,
            "evaluation": {
                "trainSize": self.train_size,
                "testSize": self.test_size,
                "testDropOffRate": self.test_drop_off_rate,
                "auc": None if math.isnan(self.auc) else self.auc,
                "prAuc": self.pr_auc,
                "brier": self.brier,
                "baselineAuc": self.baseline_auc,
                "calibration": [dict(row) for row in self.calibration],
                "perWeekAuc": [dict(row) for row in self.per_week_auc],
                "perArchetypeAuc": dict(self.per_archetype_auc),
            },
            "sklearnVersion": self.sklearn_version,
            "artifactSha256": self.artifact_sha256,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ModelCard:
        evaluation = raw["evaluation"]
        auc = evaluation["auc"]
        return cls(
            version=raw["version"],
            kind=raw["kind"],
            trained_on=raw["trainedOn"],
            description=raw["description"],
            created_at=datetime.fromisoformat(raw["createdAt"]),
            inactivity_days=int(raw["inactivityDays"]),
            features=tuple(raw["features"]),
            feature_medians={k: float(v) for k, v in raw["featureMedians"].items()},
            data_from=datetime.fromisoformat(raw["dataWindow"]["from"]),
            data_to=datetime.fromisoformat(raw["dataWindow"]["to"]),
            split_cutoff=datetime.fromisoformat(raw["splitCutoff"]),
            training_size=int(raw["trainingSize"]),
            train_size=int(evaluation["trainSize"]),
            test_size=int(evaluation["testSize"]),
            test_drop_off_rate=float(evaluation["testDropOffRate"]),
            auc=math.nan if auc is None else float(auc),
            pr_auc=float(evaluation["prAuc"]),
            brier=float(evaluation["brier"]),
            baseline_auc=evaluation["baselineAuc"],
            calibration=tuple(evaluation["calibration"]),
            per_week_auc=tuple(evaluation["perWeekAuc"]),
            per_archetype_auc=dict(evaluation["perArchetypeAuc"]),
            sklearn_version=raw["sklearnVersion"],
            artifact_sha256=raw["artifactSha256"],
        )


class DropOffModel(Protocol):
    """A trained, calibrated drop-off model: probabilities for rows in FEATURE_NAMES order."""

    @property
    def card(self) -> ModelCard: ...

    def predict(self, rows: Sequence[Sequence[float]]) -> list[float]: ...
