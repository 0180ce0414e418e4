"""The ``trading`` section of a market walk-forward: the signal's return after costs, with intervals.

The signal is long when the model predicts up and short otherwise, held for each test bar in
time order; :func:`stagewise.metrics.trading.trading_report` charges spread, commission and
slippage on every change of position. Sharpe and Sortino are annualised with 252 trading days of
the data's bars per day. An edge is claimed only when the net mean return's interval lies above
zero; the report says so in words either way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from stagewise.metrics.trading import TradingCosts, trading_report

__all__ = ["trading_section"]


def trading_section(
    predictions: pd.DataFrame, costs: TradingCosts, n_resamples: int, seed: int
) -> dict[str, Any]:
    rows = predictions.sort_values(["step", "timestamp"], kind="stable")
    position = np.where(rows["predicted"].to_numpy() == 1, 1.0, -1.0)
    day = pd.to_datetime(rows["timestamp"]).dt.normalize().to_numpy()
    bars_per_day = len(rows) / max(1, len(np.unique(day)))
    report = trading_report(
        position,
        rows["forward_return"].to_numpy(dtype=float),
        day,
        costs,
        periods_per_year=252 * bars_per_day,
        n_resamples=n_resamples,
        seed=seed,
    ).to_dict()
    report["costs"] = {
        "spread_bps": costs.spread_bps,
        "commission_bps": costs.commission_bps,
        "slippage_bps": costs.slippage_bps,
    }
    high = report["net_mean_return_ci"][1]
    if report["edge"]:
        verdict = "edge: the net mean return's 95% interval lies above zero after costs"
    elif high is not None and high < 0:
        verdict = "no edge is claimed: after costs the signal loses money (the interval lies below zero)"
    else:
        verdict = "no edge is claimed: after costs the net mean return's 95% interval includes zero"
    report["verdict"] = verdict
    return report
