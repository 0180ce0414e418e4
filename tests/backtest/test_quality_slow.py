"""Model quality against the best achievable, on one simulated year (slow: CI and `make test-all`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from backtest_setup import simulate

from stagewise.backtest import WalkForwardBacktest


@pytest.mark.slow
def test_default_ensemble_against_the_oracle_on_a_simulated_year(tmp_path: Path) -> None:
    races = simulate("2025-01-01", "2025-12-31", seed=0)
    # the default ensemble, refitted every other step to halve CI time (the bench refits every step)
    bt = WalkForwardBacktest("races", data=races, refit_every=2, n_resamples=500, html=False)
    result = bt.run_walkforward("2025-01-31", "2025-12-31", 30, 7, 7, tmp_path)
    share = result["oracle_share"]
    baselines = result["baselines"]
    overall = result["summary"]["overall"]
    assert result["guard"]["findings"] == []
    # goal met: >= 97 % of the oracle's win hit rate
    assert share["hit_rate_1st"]["share"] >= 0.97
    # goal met with the place model: >= 90 % of the oracle's trifecta hit rate (92.8 % in the bench, which
    # refits every step); the model also clearly beats always-1-2-3 and stays below the oracle
    assert share["hit_rate_top3"]["share"] >= 0.90
    assert overall["hit_rate_top3_ci"][0] > baselines["lane_order"]["hit_rate_top3"]
    assert share["hit_rate_top3"]["low"] < 1.0
