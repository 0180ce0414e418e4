"""Leakage-safe walk-forward backtests: pure windows, a parallel resumable runner, reports.

See ``docs/backtest.md``.
"""

from __future__ import annotations

from stagewise.backtest.report import read_results, render_text
from stagewise.backtest.runner import DOMAINS, WalkForwardBacktest, default_model_factory
from stagewise.backtest.summary import FORMAT_VERSION
from stagewise.backtest.windows import WalkForwardSplit, plan_windows, walk_forward_windows

__all__ = [
    "DOMAINS",
    "FORMAT_VERSION",
    "WalkForwardBacktest",
    "WalkForwardSplit",
    "default_model_factory",
    "plan_windows",
    "read_results",
    "render_text",
    "walk_forward_windows",
]
