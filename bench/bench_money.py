"""Money: a million bets with intervals, and what calibration adds to a walk-forward.

Two measurements, written to the "money" section of BENCHMARKS.md:

1. ``summarize_bets`` on 1,000,000 bets over 365 days (ROI with its day-block bootstrap
   interval, the profit curve, the drawdown and its interval; 2,000 replicates), one core, best
   of 3; beside it the ROI interval alone (``day_block_bootstrap_ratio``) on the same bets.
2. One walk-forward on simulated races (3 venues, 60 days tested, 28/7/7, the ensemble with 50
   trees a family, one worker) without and with ``calibration="isotonic"``, in the same run:
   the ratio of wall times (the issue asks for at most 1.10).

Run: ``.venv/bin/python bench/run.py money``.
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np

from _report import write_section
from stagewise.backtest import WalkForwardBacktest
from stagewise.data import simulate_races
from stagewise.metrics.betting import summarize_bets
from stagewise.metrics.bootstrap import day_block_bootstrap_ratio


def _best(fn, repeats: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _bets() -> str:
    rng = np.random.default_rng(0)
    n = 1_000_000
    odds = rng.uniform(1.2, 30.0, n)
    won = rng.random(n) < 0.75 / odds
    stake = np.ones(n)
    profit = np.where(won, odds - 1.0, -1.0)
    day = np.sort(rng.integers(0, 365, n))
    ours = _best(lambda: summarize_bets(stake, profit, day))
    ratio_only = _best(lambda: day_block_bootstrap_ratio(profit, stake, day))
    return (
        f"| 1,000,000 bets, 365 days, 2,000 replicates | seconds (best of 3) |\n|---|---|\n"
        f"| `summarize_bets` (ROI + interval, profit curve, drawdown + interval) | **{ours:.2f}** |\n"
        f"| `day_block_bootstrap_ratio` (ROI interval only) | {ratio_only:.2f} |\n"
    )


def _calibration() -> str:
    races = simulate_races("2025-01-01", "2025-03-31", seed=0, venues=[1, 12, 24])
    params = {f: {"n_estimators": 50} for f in ("lgbm_params", "xgb_params", "rf_params")}
    walls = {}
    for name, calibration in (("raw", None), ("isotonic", "isotonic")):
        with tempfile.TemporaryDirectory() as out:
            bt = WalkForwardBacktest(
                data=races,
                n_workers=1,
                model_params=params,
                calibration=calibration,
                html=False,  # type: ignore[arg-type]
            )
            start = time.perf_counter()
            bt.run_walkforward("2025-01-30", "2025-03-31", 28, 7, 7, out)
            walls[name] = time.perf_counter() - start
    ratio = walls["isotonic"] / walls["raw"]
    return (
        "| walk-forward (9 steps) | wall seconds |\n|---|---|\n"
        f"| without calibration | {walls['raw']:.1f} |\n"
        f"| with isotonic calibration | {walls['isotonic']:.1f} |\n"
        f"| **ratio** | **{ratio:.3f}** |\n\n"
        "The calibrated run fits each model on 80 % of the training days (the last 20 % are the "
        "calibrator's), so its fits are shorter; the calibrator itself is one prediction on the holdout "
        "and an isotonic fit."
    )


def main() -> None:
    load = os.getloadavg()
    bets = _bets()
    calibration = _calibration()
    body = (
        f"Load average at the start: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
        "(a shared 2-core machine).\n\n"
        f"{bets}\n{calibration}\n"
    )
    print(body)
    write_section("money", ".venv/bin/python bench/run.py money", body)
