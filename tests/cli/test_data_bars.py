"""`stagewise data bars` and `stagewise data check-bars`, run through the real CLI."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from stagewise.cli.main import app
from stagewise.data import bundled_bars, load_bars, synthetic_bars

runner = CliRunner(env={"COLUMNS": "160"})  # wide enough that no summary cell wraps


def test_synthetic_bars_are_written_validated_and_summarised(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "bars.parquet"
    result = runner.invoke(
        app,
        [
            "data",
            "bars",
            "--source",
            "synthetic",
            "--n",
            "5000",
            "--freq",
            "5min",
            "--seed",
            "3",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "5000" in result.output
    assert "continuous" in result.output
    pd.testing.assert_frame_equal(load_bars(out), synthetic_bars(5000, freq="5min", seed=3), check_freq=False)
    assert [p.name for p in out.parent.iterdir()] == ["bars.parquet"]  # no temporary file left behind


def test_bundled_bars_to_csv_then_check(tmp_path: Path) -> None:
    out = tmp_path / "eurusd.csv"
    assert runner.invoke(app, ["data", "bars", "--source", "EURUSD", "--output", str(out)]).exit_code == 0
    result = runner.invoke(app, ["data", "check-bars", str(out)])
    assert result.exit_code == 0, result.output
    assert "valid (gaps=error)" in result.output
    assert "weekend closures" in result.output
    assert "42" in result.output


def test_check_bars_lists_the_mapped_columns(tmp_path: Path) -> None:
    path = tmp_path / "caps.csv"
    bundled_bars("BTCUSD").rename(columns=str.capitalize).to_csv(path, index_label="Date")
    result = runner.invoke(app, ["data", "check-bars", str(path)])
    assert result.exit_code == 0, result.output
    assert "Date -> timestamp" in result.output
    assert "Close -> close" in result.output


def test_check_bars_gap_policies(tmp_path: Path) -> None:
    path = tmp_path / "goog.parquet"
    bundled_bars("GOOG").to_parquet(path)
    strict = runner.invoke(app, ["data", "check-bars", str(path)])
    assert strict.exit_code == 1
    assert (
        "DataValidationError: bars: first gap between 2004-11-24 00:00:00 and 2004-11-26 00:00:00"
        in strict.output
    )
    assert "Traceback" not in strict.output
    filled = runner.invoke(app, ["data", "check-bars", str(path), "--gaps", "ffill"])
    assert filled.exit_code == 0, filled.output
    assert "bars added by ffill" in filled.output
    assert "22" in filled.output
    bad = runner.invoke(app, ["data", "check-bars", str(path), "--gaps", "skip"])
    assert bad.exit_code == 1
    assert "ConfigError: --gaps must be one of error, allow, ffill. Got 'skip'." in bad.output


def test_user_mistakes_are_one_line_errors(tmp_path: Path) -> None:
    unknown = runner.invoke(app, ["data", "bars", "--source", "SPY", "-o", str(tmp_path / "x.parquet")])
    assert unknown.exit_code == 1
    assert (
        "NotFoundError: Unknown bar source 'SPY'; accepted: BTCUSD, EURUSD, GOOG, synthetic."
        in unknown.output
    )
    suffix = runner.invoke(app, ["data", "bars", "-o", str(tmp_path / "x.json")])
    assert suffix.exit_code == 1
    assert "must end in .parquet or .csv" in suffix.output
    missing = runner.invoke(app, ["data", "check-bars", str(tmp_path / "none.csv")])
    assert missing.exit_code == 1
    assert "NotFoundError: Bars file not found" in missing.output
