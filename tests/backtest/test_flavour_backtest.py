"""Backtests with any model: a flavour spec or factory, for both domains; steps record the flavour."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from stagewise import ConfigError
from stagewise.backtest import WalkForwardBacktest
from stagewise.cli.main import app
from stagewise.features.races import RACE_FEATURE_NAMES
from stagewise.models.flavours.spec import model_factory

WINDOWS = {
    "start_date": "2025-11-01",
    "end_date": "2025-11-10",
    "train_days": 14,
    "test_days": 3,
    "step_days": 3,
}


def small_pipeline() -> Any:
    """A user's Pipeline, imported by the spec 'sklearn:test_flavour_backtest:small_pipeline'."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=200))


def test_a_sklearn_pipeline_backtests_races_and_every_step_records_flavour_and_signature(
    small_races: pd.DataFrame, tmp_path: Path
) -> None:
    runner = WalkForwardBacktest(
        "races",
        data=small_races,
        model_factory=model_factory("sklearn:test_flavour_backtest:small_pipeline"),
        n_workers=1,
    )
    result = runner.run_walkforward(**WINDOWS, output_dir=str(tmp_path))
    steps = result["steps"]
    assert len(steps) == 4
    for step in steps:
        assert step["model"]["flavour"] == "sklearn"
        assert [f["name"] for f in step["model"]["signature"]] == RACE_FEATURE_NAMES
    stored = json.loads((tmp_path / "walkforward_results.json").read_text(encoding="utf-8"))
    assert stored["steps"][0]["model"]["flavour"] == "sklearn"
    assert 0.0 <= result["summary"]["overall_hit_rate_1st"] <= 1.0


def test_the_cli_backtests_markets_with_a_single_lightgbm_model(tmp_path: Path) -> None:
    window = ["--start", "2017-10-02", "--end", "2017-10-15", "--train-days", "30", "--test-days", "7"]
    args = ["backtest", "--domain", "markets", *window, "--step-days", "7", "--workers", "1"]
    result = CliRunner().invoke(
        app, [*args, "--model", "lightgbm", "--n-estimators", "10", "--output-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    steps = json.loads((tmp_path / "walkforward_results.json").read_text(encoding="utf-8"))["steps"]
    assert {s["model"]["flavour"] for s in steps} == {"lightgbm"}
    assert len(steps[0]["model"]["signature"]) == 12


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("catboost", "--model must be one of"),
        ("sklearn:no_such_module:make", "cannot be imported"),
        ("test_flavour_backtest:WINDOWS", "is a dict, not a callable"),
    ],
)
def test_a_bad_model_spec_is_refused_naming_the_option(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        model_factory(spec)
