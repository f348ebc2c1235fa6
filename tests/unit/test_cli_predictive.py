"""The `import` and `model` commands end to end on a SQLite store of the test's own: a CSV set
with a bad row exits 1 and reports the line; the example set imports, evaluates and trains; the
installed card prints."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from learning_analytics.cli import app
from learning_analytics.config import get_settings
from learning_analytics.infrastructure.predictive.model import (
    DEFAULT_MODEL_DIR,
    load_model,
    read_card,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "import"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    monkeypatch.delenv("DATABASE_SCHEMA", raising=False)
    monkeypatch.delenv("PREDICTIVE_MODEL_DIR", raising=False)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_import_reports_bad_rows_with_line_numbers_and_exits_1(store: Path) -> None:
    directory = store / "set"
    directory.mkdir()
    shutil.copy(EXAMPLE / "organizations.csv", directory)
    (directory / "learners.csv").write_text(
        "id,organization_id\nq-1,org-1\nq-2,org-404\n", encoding="utf-8"
    )
    report = store / "bad.csv"
    result = CliRunner().invoke(app, ["import", str(directory), "--report", str(report)])
    assert result.exit_code == 1, result.output
    assert "unknown organization 'org-404'" in result.output
    with report.open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows == [
        ["file", "line", "reason"],
        ["learners.csv", "3", "unknown organization 'org-404'"],
    ]


def test_example_set_imports_trains_and_evaluates(store: Path) -> None:
    runner = CliRunner()
    imported = runner.invoke(app, ["import", str(EXAMPLE)])
    assert imported.exit_code == 0, imported.output
    again = runner.invoke(app, ["import", str(EXAMPLE)])
    assert again.exit_code == 0, again.output

    evaluated = runner.invoke(app, ["model", "evaluate"])
    assert evaluated.exit_code == 0, evaluated.output
    assert "AUC (time-split test)" in evaluated.output
    assert "passed" in evaluated.output
    assert not (store / "model").exists()

    trained = runner.invoke(app, ["model", "train", "--output", str(store / "model")])
    assert trained.exit_code == 0, trained.output
    card = json.loads((store / "model" / "card.json").read_text(encoding="utf-8"))
    assert card["trainedOn"] == "store"
    assert card["evaluation"]["auc"] >= 0.75
    assert load_model(store / "model").card.version == card["version"]


def test_model_train_needs_a_destination(store: Path) -> None:
    result = CliRunner().invoke(app, ["model", "train"])
    assert result.exit_code == 2
    assert "PREDICTIVE_MODEL_DIR" in result.output


def test_evaluate_installed_prints_the_default_card(store: Path) -> None:
    result = CliRunner().invoke(app, ["model", "evaluate", "--installed"])
    assert result.exit_code == 0, result.output
    card = read_card(DEFAULT_MODEL_DIR)
    assert card.version in result.output
    assert "simulator" in result.output


def test_training_on_an_empty_store_fails_cleanly(store: Path) -> None:
    CliRunner().invoke(app, ["migrate"])
    result = CliRunner().invoke(app, ["model", "evaluate"])
    assert result.exit_code == 1
    assert "nothing to train on" in result.output
