"""``WalkForwardBacktest(bets=...)`` and ``stagewise backtest --bets``: ROI beside the baselines."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from backtest_setup import SEED_WINDOWS, SMALL_MODEL
from typer.testing import CliRunner

from stagewise._exceptions import ConfigError
from stagewise.backtest import WalkForwardBacktest
from stagewise.backtest.betting import evaluate_race_bets
from stagewise.cli.main import app


@pytest.fixture(scope="module")
def bet_run(small_races: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("bets")
    bt = WalkForwardBacktest(
        data=small_races, n_workers=1, model_params=SMALL_MODEL, bets="ev", n_resamples=200
    )
    return bt.run_walkforward(**SEED_WINDOWS, output_dir=out), out


def test_betting_section_has_the_model_and_every_baseline(bet_run: tuple[dict, Path]) -> None:
    _result, out = bet_run
    section = json.loads((out / "walkforward_results.json").read_text(encoding="utf-8"))["betting"]
    assert section["bet_type"] == "win"
    assert section["strategy"]["name"] == "ev"
    assert set(section["results"]) == {"model", "favourite", "lane_1", "oracle_ev"}
    fav = section["results"]["favourite"]
    assert fav["n_bets"] > 0
    assert fav["roi_ci"][0] <= fav["roi"] <= fav["roi_ci"][1]
    assert len(fav["profit_curve"]["days"]) == fav["n_days"]


def test_betting_is_recomputable_from_the_predictions_file(
    bet_run: tuple[dict, Path], small_races: pd.DataFrame
) -> None:
    result, out = bet_run
    predictions = pd.read_parquet(out / "walkforward_predictions.parquet")
    rows = predictions.merge(
        small_races[["race_id", "pit", "win_odds", "true_win_prob"]], on=["race_id", "pit"]
    )
    again = evaluate_race_bets(rows, "ev", n_resamples=200)
    assert again["model"].roi == pytest.approx(result["betting"]["results"]["model"]["roi"])
    assert again["model"].n_bets == result["betting"]["results"]["model"]["n_bets"]


def test_reports_show_roi_with_intervals(bet_run: tuple[dict, Path]) -> None:
    _, out = bet_run
    text = (out / "walkforward_report.txt").read_text(encoding="utf-8")
    assert "[Betting: win, strategy ev]" in text
    assert "favourite" in text
    assert "ROI" in text
    assert "95% CI" in text
    assert "Cumulative profit by day" in (out / "walkforward_report.html").read_text(encoding="utf-8")


def test_bets_need_odds_and_races(small_races: pd.DataFrame, tmp_path: Path) -> None:
    no_odds = small_races.drop(columns=["win_odds", "odds_snapshot_min"])
    with pytest.raises(ConfigError, match="needs odds: the race data has no 'win_odds'"):
        WalkForwardBacktest(data=no_odds, n_workers=1, bets="flat").run_walkforward(
            **SEED_WINDOWS, output_dir=tmp_path
        )
    with pytest.raises(ConfigError, match="'bets' parameter needs domain='races'"):
        WalkForwardBacktest("markets", n_workers=1, bets="flat").run_walkforward(
            "2017-10-02", "2017-10-09", 30, 7, 7, tmp_path
        )
    assert not any(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--bets", "martingale"],
            "ConfigError: The --bets option must be one of ['flat', 'ev', 'kelly']. Got 'martingale'",
        ),
        (
            ["--bets", "kelly", "--kelly-fraction", "1.5"],
            "ConfigError: The --kelly-fraction option must be a number in (0, 1]. Got 1.5",
        ),
        (
            ["--bets", "ev", "--bet-margin", "-1"],
            "ConfigError: The --bet-margin option must be a number in [0, inf). Got -1.0",
        ),
        (
            ["--bets", "ev", "--bet-type", "place"],
            "ConfigError: --bet-type must be one of ['win', 'trifecta']",
        ),
    ],
    ids=["unknown-strategy", "kelly-fraction", "negative-margin", "bet-type"],
)
def test_cli_bad_bets_are_one_line_errors(
    small_races: pd.DataFrame, tmp_path: Path, extra: list[str], message: str
) -> None:
    data = tmp_path / "races.parquet"
    small_races.to_parquet(data)
    out = tmp_path / "out"
    args = [
        "backtest",
        "--data",
        str(data),
        "--start",
        "2025-11-01",
        "--end",
        "2025-11-17",
        "--output-dir",
        str(out),
    ]
    result = CliRunner().invoke(app, [*args, *extra])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_cli_bets_print_the_betting_section(small_races: pd.DataFrame, tmp_path: Path) -> None:
    data = tmp_path / "races.parquet"
    small_races.to_parquet(data)
    args = [
        "backtest",
        "--data",
        str(data),
        "--start",
        "2025-11-10",
        "--end",
        "2025-11-17",
        "--train-days",
        "14",
    ]
    fast = ["--test-days", "4", "--step-days", "4", "--workers", "1", "--n-estimators", "10"]
    result = CliRunner().invoke(
        app, [*args, *fast, "--output-dir", str(tmp_path / "o"), "--bets", "kelly", "--bet-type", "trifecta"]
    )
    assert result.exit_code == 0, result.output
    assert "[Betting: trifecta, strategy kelly]" in result.output
    assert "oracle_ev" in result.output
