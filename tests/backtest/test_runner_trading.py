"""Markets: the walk-forward's ``trading`` section, net of costs, on the bundled EURUSD bars."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from backtest_setup import SMALL_MODEL
from typer.testing import CliRunner

from stagewise.backtest import WalkForwardBacktest
from stagewise.cli.main import app
from stagewise.metrics.trading import TradingCosts


@pytest.fixture(scope="module")
def eurusd(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("eurusd")
    bt = WalkForwardBacktest(
        "markets", n_workers=1, model_params=SMALL_MODEL, costs=TradingCosts(1.0, 0.5, 0.5), n_resamples=500
    )
    return bt.run_walkforward("2017-10-02", "2017-12-24", 60, 7, 7, out), out


def test_net_is_gross_minus_costs_and_the_verdict_follows_the_interval(eurusd: tuple[dict, Path]) -> None:
    _result, out = eurusd
    trading = json.loads((out / "walkforward_results.json").read_text(encoding="utf-8"))["trading"]
    assert trading["net_mean_return"] == pytest.approx(trading["gross_mean_return"] - trading["cost_mean"])
    assert trading["cost_mean"] == pytest.approx(
        trading["turnover_per_bar"] * 1.5e-4
    )  # spread/2 + commission + slippage = 1.5 bp
    low, _high = trading["net_mean_return_ci"]
    text = (out / "walkforward_report.txt").read_text(encoding="utf-8")
    if low > 0:
        assert trading["edge"]
        assert "edge: the net mean return's 95% interval lies above zero" in text
    else:
        assert not trading["edge"]
        assert "no edge is claimed" in text
    assert "Equity curve after costs" in (out / "walkforward_report.html").read_text(encoding="utf-8")


def test_negative_costs_are_refused_by_flag(tmp_path: Path) -> None:
    args = ["backtest", "--domain", "markets", "--start", "2017-10-02", "--end", "2017-10-15"]
    result = CliRunner().invoke(app, [*args, "--output-dir", str(tmp_path / "o"), "--commission-bps", "-1"])
    assert result.exit_code == 1
    assert (
        "ConfigError: The --commission-bps option must be a number >= 0 (basis points). Got -1.0"
        in result.output
    )
    assert not (tmp_path / "o").exists()
