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


def test_train_calibrated_race_model_is_registered_with_its_calibrator(tmp_path: Path) -> None:
    from stagewise.models import CalibratedFlavour, ModelRegistry

    root = tmp_path / "models"
    args = ["train", "--domain", "races", "--days", "14", "--calibration", "platt", "--root", str(root)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Calibration (platt) on the held-out period: ECE" in result.output
    registry = ModelRegistry(root)
    loaded = registry.load_flavour("latest")
    assert isinstance(loaded.win_, CalibratedFlavour)  # type: ignore[attr-defined]
    assert loaded.win_.calibrator_.method == "platt"  # type: ignore[attr-defined]
    info = registry.info("latest")
    assert info["calibration"] == "platt"
    meta = info["metadata"]
    assert meta["notes"].endswith("--calibration platt")
    assert {"calibration_ece", "calibration_ece_raw"} <= set(meta["performance_metrics"])
    shown = runner.invoke(app, ["models", "show", "latest", "--root", str(root)])
    assert shown.exit_code == 0, shown.output
    assert any("calibration" in line and "platt" in line for line in shown.output.splitlines())
    listed = runner.invoke(app, ["models", "list", "--root", str(root), "--json"])
    assert json.loads(listed.output)[0]["calibration"] == "platt"


@pytest.mark.parametrize("value", ["Isotonic", "sigmoid", ""], ids=["capitalised", "sigmoid", "blank"])
def test_train_bad_calibration_is_one_line_naming_the_flag(tmp_path: Path, value: str) -> None:
    result = runner.invoke(app, ["train", "--calibration", value, "--root", str(tmp_path / "models")])
    assert result.exit_code in (1, 2)
    assert "--calibration" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "models").exists()
