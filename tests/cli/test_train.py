from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stagewise.cli.main import app

runner = CliRunner()


@pytest.mark.slow
def test_train_markets_prints_scores_and_saves_a_version(tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", "--domain", "markets", "--days", "360", "--root", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for name in ("LightGBM", "XGBoost", "RandomForest", "Ensemble", "always up"):
        assert name in result.output
    versions = [p for p in (tmp_path / "training").iterdir() if p.is_dir()]
    assert len(versions) == 1
    metadata = json.loads((tmp_path / "training" / "training_metadata.json").read_text())
    assert "lightgbm" in json.dumps(metadata)


def test_train_bad_days_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", "--days", "0", "--root", str(tmp_path)])
    assert result.exit_code == 1
    assert "ConfigError: --days must be an int >= 1. Got 0." in result.output
    assert "Traceback" not in result.output


def test_train_missing_data_file_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", "--data", str(tmp_path / "nope.csv"), "--root", str(tmp_path)])
    assert result.exit_code == 1
    assert "NotFoundError" in result.output
