"""Hyperparameter and feature search nested inside a purged walk-forward, with overfitting diagnostics.

See ``docs/search.md``.
"""

from __future__ import annotations

from stagewise.search.execution import SearchProgress
from stagewise.search.overfitting import (
    cpcv_paths,
    cpcv_splits,
    deflated_sharpe_ratio,
    probability_of_backtest_overfitting,
)
from stagewise.search.report import FORMAT_VERSION, read_results
from stagewise.search.runner import NestedSearch
from stagewise.search.space import Choice, FloatRange, IntRange, SearchSpace, load_space
from stagewise.search.splits import NestedStep, nested_splits
from stagewise.search.targets import EnsembleTarget, ModelTarget, SklearnTarget

__all__ = [
    "FORMAT_VERSION",
    "Choice",
    "EnsembleTarget",
    "FloatRange",
    "IntRange",
    "ModelTarget",
    "NestedSearch",
    "NestedStep",
    "SearchProgress",
    "SearchSpace",
    "SklearnTarget",
    "cpcv_paths",
    "cpcv_splits",
    "deflated_sharpe_ratio",
    "load_space",
    "nested_splits",
    "probability_of_backtest_overfitting",
    "read_results",
]
