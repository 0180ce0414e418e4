from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from stagewise.cli.main import app

runner = CliRunner()
SEED_ARGS = [
    "--start",
    "2025-11-01",
    "--end",
    "2025-11-17",
    "--train-days",
    "14",
    "--test-days",
    "3",
    "--step-days",
    "3",
]


@pytest.fixture(scope="module")
def races_file(small_races: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "races.parquet"
    small_races.to_parquet(path)
    return path


def test_seed_command_writes_every_output_in_japanese(races_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "walkforward" / "test"
    args = ["backtest", "--domain", "races", "--data", str(races_file), *SEED_ARGS, "--output-dir", str(out)]
    result = runner.invoke(app, [*args, "--workers", "1", "--n-estimators", "10", "--lang", "ja"])
    assert result.exit_code == 0, result.output
    assert "総ステップ数: 6" in result.output
    for name in ("walkforward_results.json", "walkforward_report.txt", "walkforward_report.html",
                 "walkforward_predictions.parquet"):  # fmt: skip
        assert (out / name).is_file(), name
    assert (
        json.loads((out / "walkforward_results.json").read_text(encoding="utf-8"))["summary"]["total_steps"]
        == 6
    )


def test_market_command_runs_on_the_bundled_eurusd_bars(tmp_path: Path) -> None:
    window = ["--start", "2017-10-02", "--end", "2017-10-15", "--train-days", "30", "--test-days", "7"]
    fast = ["--step-days", "7", "--workers", "1", "--n-estimators", "10"]
    args = ["backtest", "--domain", "markets", *window, *fast, "--output-dir", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Bars evaluated:" in result.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--start", "2025-11-20", "--end", "2025-11-17"],
            "ConfigError: The 'end_date' parameter must not be before",
        ),
        (
            ["--train-days", "0"],
            "ConfigError: --train-days must be an int >= 1. Got 0 instead.",
        ),
        (["--train-days", "40"], "before the data"),
        (["--domain", "horses"], "ConfigError: --domain must be one of ['races', 'markets']"),
        (["--window", "sliding"], "ConfigError: --window must be one of"),
        (["--places", "lanes"], "ConfigError: --places must be one of ['model', 'win_order']"),
    ],
    ids=[
        "end-before-start",
        "train-days-0",
        "window-larger-than-data",
        "unknown-domain",
        "unknown-window",
        "unknown-places",
    ],
)
def test_bad_input_is_one_clear_line_and_no_output(
    races_file: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    out = tmp_path / "out"
    args = [
        "backtest",
        "--data",
        str(races_file),
        *SEED_ARGS,
        "--output-dir",
        str(out),
        "--workers",
        "1",
        *extra,
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.output.replace("\n", " ")
    assert "Traceback" not in result.output
    assert not out.exists()
