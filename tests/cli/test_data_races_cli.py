"""``stagewise data simulate`` and ``stagewise data check`` as a user runs them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from stagewise.cli.main import app
from stagewise.data import load_races

runner = CliRunner()


def test_simulate_writes_the_file_and_prints_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "new" / "dir" / "races.parquet"
    result = runner.invoke(
        app,
        [
            "data",
            "simulate",
            "--start",
            "2025-01-01",
            "--end",
            "2025-01-07",
            "--output",
            str(out),
            "--seed",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    races = load_races(out)
    assert races["race_date"].min() == pd.Timestamp("2025-01-01")
    assert races["race_date"].max() == pd.Timestamp("2025-01-07")
    assert f"{races['race_id'].nunique():,}" in result.output
    assert "win rate by lane" in result.output
    assert "pit 6" in result.output


def test_check_summarises_a_valid_file_and_lists_problems_of_a_bad_one(tmp_path: Path) -> None:
    out = tmp_path / "races.csv"
    assert (
        runner.invoke(
            app,
            [
                "data",
                "simulate",
                "--start",
                "2025-01-01",
                "--end",
                "2025-01-01",
                "--venue",
                "24",
                "--output",
                str(out),
            ],
        ).exit_code
        == 0
    )
    ok = runner.invoke(app, ["data", "check", str(out)])
    assert ok.exit_code == 0, ok.output
    assert "valid race data" in ok.output
    out.write_text(out.read_text(encoding="utf-8").replace(",A1,", ",Z9,"), encoding="utf-8")
    bad = runner.invoke(app, ["data", "check", str(out)])
    assert bad.exit_code == 1
    assert "DataValidationError" in bad.output
    assert "field 'racer_class' value 'Z9'" in bad.output
    assert "Traceback" not in bad.output


def test_bad_dates_are_config_errors_with_the_value(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "data",
            "simulate",
            "--start",
            "2025-02-30",
            "--end",
            "2025-03-01",
            "--output",
            str(tmp_path / "r.parquet"),
        ],
    )
    assert result.exit_code == 1
    assert "ConfigError" in result.output
    assert "'2025-02-30'" in result.output
    backwards = runner.invoke(
        app,
        [
            "data",
            "simulate",
            "--start",
            "2025-03-01",
            "--end",
            "2025-01-01",
            "--output",
            str(tmp_path / "r.parquet"),
        ],
    )
    assert backwards.exit_code == 1
    assert "start=2025-03-01, end=2025-01-01" in backwards.output
    assert not (tmp_path / "r.parquet").exists()
