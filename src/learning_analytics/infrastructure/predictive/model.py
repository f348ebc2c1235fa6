"""The drop-off model on scikit-learn: training, time-split evaluation, the model card, and the
artifact (a joblib file next to its JSON card) — the adapter behind `DropOffModel`.

Evaluation (SPEC §10): enrollments are split by their enrollment date. The earlier
`TRAIN_SHARE` of enrollment dates train; snapshots of the later ones test. Training snapshots
whose label window reaches past the first test enrollment date are dropped, so no training
label looks into the test period. Two models are fitted on the training part:
- baseline: standardised logistic regression;
- served: gradient-boosted trees (HistGradientBoostingClassifier), calibrated with isotonic
  regression by cross-validation (CalibratedClassifierCV).
The card reports for the served model on the test part: ROC AUC, PR-AUC (average precision),
Brier score, a 10-bin calibration table, AUC per week since enrolling, and AUC per archetype
when archetypes are known (simulated data); and the baseline's AUC for comparison. The
artifact is then refitted on every snapshot (train + test) with the same settings.

Loading: the artifact is trusted local code (joblib unpickles); `load_model` checks its SHA-256
against the card before unpickling, so a swapped or truncated file is refused, and refuses an
artifact of another scikit-learn version (pickles do not carry across versions).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import logging
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import ThreadpoolController, threadpool_limits

from learning_analytics.application.predictive_model import ModelCard
from learning_analytics.domain.predictive.features import FEATURE_NAMES, Example

ARTIFACT = "model.joblib"
CARD = "card.json"
TRAIN_SHARE = 0.7
CALIBRATION_BINS = 10
MIN_CLASS_EXAMPLES = 5
RANDOM_STATE = 0
# Isotonic calibration answers exactly 0 (or 1) where no training snapshot of that score dropped
# off (or stayed): served probabilities are kept within [0.01, 0.99].
MIN_PROBABILITY = 0.01
# One OpenMP thread for fitting and predicting: the models are small, and OpenMP's worker
# threads spinning against the event loop and other processes on a busy host cost up to 10x.
OPENMP_THREADS = 1
logger = logging.getLogger(__name__)
DEFAULT_MODEL_DIR = Path(__file__).parent / "default_model"


class TrainingError(ValueError):
    """Too little or one-sided data to train or evaluate a model."""


def _gradient_boosting() -> CalibratedClassifierCV:
    trees = HistGradientBoostingClassifier(
        max_iter=80, max_leaf_nodes=15, learning_rate=0.08, random_state=RANDOM_STATE
    )
    return CalibratedClassifierCV(trees, method="isotonic", cv=3)


def _logistic() -> Any:
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def _arrays(examples: Sequence[Example]) -> tuple[np.ndarray, np.ndarray]:
    x = np.array([e.features.values for e in examples], dtype=float)
    y = np.array([1 if e.label else 0 for e in examples], dtype=int)
    return x, y


def _check(y: np.ndarray, what: str) -> None:
    positives = int(y.sum())
    if positives < MIN_CLASS_EXAMPLES or len(y) - positives < MIN_CLASS_EXAMPLES:
        raise TrainingError(
            f"{what}: need at least {MIN_CLASS_EXAMPLES} drop-offs and {MIN_CLASS_EXAMPLES} "
            f"non-drop-offs, got {positives} and {len(y) - positives}"
        )


def _auc(y: np.ndarray, p: np.ndarray) -> float | None:
    if len(set(y.tolist())) < 2:
        return None
    return round(float(roc_auc_score(y, p)), 4)


def calibration_table(
    y: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS
) -> list[dict[str, Any]]:
    """Equal-width probability bins: mean predicted probability against observed drop-off rate."""
    table = []
    edges = np.linspace(0.0, 1.0, bins + 1)
    for low, high in itertools.pairwise(edges):
        inside = (p >= low) & ((p < high) if high < 1.0 else (p <= high))
        count = int(inside.sum())
        if count == 0:
            continue
        table.append(
            {
                "from": round(float(low), 2),
                "to": round(float(high), 2),
                "count": count,
                "meanPredicted": round(float(p[inside].mean()), 4),
                "observedRate": round(float(y[inside].mean()), 4),
            }
        )
    return table


@dataclass(frozen=True, slots=True)
class Evaluation:
    card: ModelCard
    model: CalibratedClassifierCV


def time_split(
    examples: Sequence[Example], *, inactivity_days: int, train_share: float = TRAIN_SHARE
) -> tuple[list[Example], list[Example], datetime]:
    """(train, test, cutoff): test = enrollments on or after the cutoff enrollment date."""
    if not examples:
        raise TrainingError("no training snapshots: the data has no enrollment with an outcome")
    starts = sorted({e.enrolled_at for e in examples})
    cutoff = starts[min(len(starts) - 1, int(len(starts) * train_share))]
    horizon = timedelta(days=inactivity_days)
    train = [e for e in examples if e.enrolled_at < cutoff and e.features.as_of + horizon <= cutoff]
    test = [e for e in examples if e.enrolled_at >= cutoff]
    return train, test, cutoff


def train_and_evaluate(
    examples: Sequence[Example],
    *,
    inactivity_days: int,
    trained_on: str,
    description: str,
    created_at: datetime,
    archetypes: Mapping[str, str] | None = None,
    train_share: float = TRAIN_SHARE,
) -> Evaluation:
    """Time-split evaluation, then the served model refitted on every snapshot, with its card."""
    train, test, cutoff = time_split(
        examples, inactivity_days=inactivity_days, train_share=train_share
    )
    x_train, y_train = _arrays(train)
    x_test, y_test = _arrays(test)
    _check(y_train, "training part")
    _check(y_test, "test part")

    with threadpool_limits(limits=OPENMP_THREADS, user_api="openmp"):
        served = _gradient_boosting().fit(x_train, y_train)
        p_test = served.predict_proba(x_test)[:, 1]
        baseline = _logistic().fit(x_train, y_train)
        p_base = baseline.predict_proba(x_test)[:, 1]

    by_week: defaultdict[int, list[int]] = defaultdict(list)
    for index, example in enumerate(test):
        by_week[min(example.week, 8)].append(index)
    per_week = []
    for week in sorted(by_week):
        rows = np.array(by_week[week])
        per_week.append(
            {
                "week": week,
                "count": len(rows),
                "dropOffRate": round(float(y_test[rows].mean()), 4),
                "auc": _auc(y_test[rows], p_test[rows]),
            }
        )
    per_archetype: dict[str, float | None] = {}
    if archetypes:
        groups: defaultdict[str, list[int]] = defaultdict(list)
        for index, example in enumerate(test):
            groups[archetypes.get(example.features.user_id, "unknown")].append(index)
        for name in sorted(groups):
            rows = np.array(groups[name])
            per_archetype[name] = _auc(y_test[rows], p_test[rows])

    x_all, y_all = _arrays(examples)
    with threadpool_limits(limits=OPENMP_THREADS, user_api="openmp"):
        final = _gradient_boosting().fit(x_all, y_all)
    medians = {
        name: round(float(value), 4)
        for name, value in zip(FEATURE_NAMES, np.median(x_all, axis=0), strict=True)
    }
    as_of = [e.features.as_of for e in examples]
    auc = _auc(y_test, p_test)
    card = ModelCard(
        version=f"gbm-{created_at:%Y%m%d%H%M%S}",
        kind="HistGradientBoostingClassifier, isotonic calibration (CalibratedClassifierCV, cv=3)",
        trained_on=trained_on,
        description=description,
        created_at=created_at,
        inactivity_days=inactivity_days,
        features=FEATURE_NAMES,
        feature_medians=medians,
        data_from=min(as_of),
        data_to=max(as_of) + timedelta(days=inactivity_days),
        split_cutoff=cutoff,
        training_size=len(examples),
        train_size=len(train),
        test_size=len(test),
        test_drop_off_rate=round(float(y_test.mean()), 4),
        auc=auc if auc is not None else math.nan,
        pr_auc=round(float(average_precision_score(y_test, p_test)), 4),
        brier=round(float(brier_score_loss(y_test, p_test)), 4),
        baseline_auc=_auc(y_test, p_base),
        calibration=tuple(calibration_table(y_test, p_test)),
        per_week_auc=tuple(per_week),
        per_archetype_auc=per_archetype,
        sklearn_version=_sklearn_version(),
        artifact_sha256=None,
    )
    return Evaluation(card=card, model=final)


def _sklearn_version() -> str:
    import sklearn

    return str(sklearn.__version__)


def save_model(evaluation: Evaluation, directory: Path) -> ModelCard:
    """Write the artifact and its card (with the artifact's SHA-256) into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    artifact = directory / ARTIFACT
    joblib.dump(evaluation.model, artifact, compress=3)
    digest = hashlib.sha256(artifact.read_bytes()).hexdigest()
    card = evaluation.card.with_artifact(digest)
    (directory / CARD).write_text(json.dumps(card.to_json(), indent=2) + "\n", encoding="utf-8")
    return card


class SklearnDropOffModel:
    """A trained, calibrated model with its card (the DropOffModel port)."""

    def __init__(self, model: Any, card: ModelCard) -> None:
        self._model = model
        self.card = card
        self._threads = ThreadpoolController()

    def predict(self, rows: Sequence[Sequence[float]]) -> list[float]:
        if not rows:
            return []
        x = np.array(rows, dtype=float)
        with self._threads.limit(limits=OPENMP_THREADS, user_api="openmp"):
            raw = self._model.predict_proba(x)[:, 1]
        probabilities = np.clip(raw, MIN_PROBABILITY, 1 - MIN_PROBABILITY)
        return [float(p) for p in probabilities]


def read_card(directory: Path) -> ModelCard:
    return ModelCard.from_json(json.loads((directory / CARD).read_text(encoding="utf-8")))


def load_model(directory: Path) -> SklearnDropOffModel:
    """The model in `directory`; ValueError when the artifact does not match its card."""
    card = read_card(directory)
    artifact = (directory / ARTIFACT).read_bytes()
    if card.artifact_sha256 != hashlib.sha256(artifact).hexdigest():
        raise ValueError(f"model artifact in {directory.name} does not match its card")
    if tuple(card.features) != FEATURE_NAMES:
        raise ValueError("model card lists other features than this version computes")
    if card.sklearn_version != _sklearn_version():
        raise ValueError(
            f"model was trained with scikit-learn {card.sklearn_version}, this is "
            f"{_sklearn_version()}: retrain it (learning-analytics model train)"
        )
    return SklearnDropOffModel(joblib.load(directory / ARTIFACT), card)


def load_configured_model(directory: str | None) -> SklearnDropOffModel | None:
    """The model in `directory` (PREDICTIVE_MODEL_DIR), else the shipped default; None (and a
    logged error) when it cannot be loaded — the rules then answer."""
    path = Path(directory) if directory else DEFAULT_MODEL_DIR
    try:
        stat = (path / ARTIFACT).stat()
        return _load_cached(str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError) as exc:
        logger.error("predictive model not loaded from %s: %s", path.name, exc)
        return None


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, size: int, mtime_ns: int) -> SklearnDropOffModel:
    """One load per artifact version and process (app instances in one process share it; the
    model is only read after loading)."""
    del size, mtime_ns  # part of the cache key only
    return load_model(Path(path))
