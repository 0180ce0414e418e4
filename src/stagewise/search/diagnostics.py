"""Overfitting diagnostics on data: CPCV paths and PBO for the final candidates, the deflated Sharpe.

The candidates (the configurations the outer steps chose, then the naive search's best) are
each fitted on every Combinatorially Purged CV split of the search period: the period's days
are cut into ``n_groups`` contiguous groups, each split tests ``k`` of them and trains on the
rest minus the purged rows (a label period reaching a test group) and an embargo of
``gap_days`` after each test group. The split scores recombine into paths
(:func:`~stagewise.search.overfitting.cpcv_paths`) and, per group, into the matrix that PBO
reads (:func:`~stagewise.search.overfitting.probability_of_backtest_overfitting`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from stagewise.search.overfitting import (
    cpcv_paths,
    cpcv_splits,
    deflated_sharpe_ratio,
    probability_of_backtest_overfitting,
)
from stagewise.search.procedure import procedure
from stagewise.search.scoring import score
from stagewise.search.space import SearchSpace
from stagewise.search.study import OuterTask, fit_predict, per_bar_sharpe
from stagewise.search.targets import ModelTarget, split_config

__all__ = ["CPCVTask", "cpcv_groups", "cpcv_summary", "deflated_sharpe", "run_cpcv_candidate"]

_DAY = 86_400 * 10**9


def cpcv_groups(timestamps: np.ndarray, n_groups: int) -> np.ndarray:
    """The CPCV group of each row: its day's position among ``n_groups`` contiguous day blocks."""
    days = pd.DatetimeIndex(timestamps).normalize().to_numpy().astype(np.int64)
    unique = np.unique(days)
    if len(unique) < n_groups:
        from stagewise._exceptions import ConfigError

        raise ConfigError(
            f"The 'cpcv_groups' parameter ({n_groups}) must be at most the {len(unique)} days of the "
            "search period."
        )
    block_of_day = np.zeros(len(unique), dtype=np.int64)
    for g, block in enumerate(np.array_split(np.arange(len(unique)), n_groups)):
        block_of_day[block] = g
    return block_of_day[np.searchsorted(unique, days)]


def purged_split(
    timestamps: np.ndarray,
    label_end: np.ndarray,
    groups: np.ndarray,
    test_groups: tuple[int, ...],
    embargo_days: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Training and test positions of one CPCV split (purged and embargoed around each test group)."""
    stamps = timestamps.astype("datetime64[ns]").astype(np.int64)
    test_mask = np.isin(groups, test_groups)
    keep = ~test_mask
    for g in test_groups:
        in_group = stamps[groups == g]
        lo, hi = int(in_group.min()), int(in_group.max())
        # a training label period (t, end] reaching the group, or a row in the embargo after it
        keep &= ~((stamps < lo) & (label_end >= lo))
        keep &= ~((stamps > hi) & (stamps < hi - hi % _DAY + (1 + embargo_days) * _DAY))
    return np.flatnonzero(keep), np.flatnonzero(test_mask)


@dataclass(frozen=True)
class CPCVTask:
    """One candidate configuration, fitted on every CPCV split."""

    candidate: int
    config: Mapping[str, Any]
    base: OuterTask  # features, rows, target, space and settings; its windows are unused
    splits: tuple[tuple[np.ndarray, np.ndarray], ...]
    groups: np.ndarray
    n_groups: int


def run_cpcv_candidate(task: CPCVTask) -> np.ndarray:
    """``(splits, groups, 2)`` hits and units (or profit and staked) of the candidate on each split's test
    groups (0 elsewhere)."""
    params, feature_set = split_config(task.config)
    settings = procedure(task.config)
    space: SearchSpace = task.base.space
    target: ModelTarget = task.base.target
    columns = space.columns(feature_set, task.base.feature_names)
    out = np.zeros((len(task.splits), task.n_groups, 2), dtype=np.float64)
    for s, (train, test) in enumerate(task.splits):
        permute = (task.base.seed, -1 - s) if task.base.permute_labels else None
        factory = target.factory(params)
        proba = fit_predict(factory, task.base, train, test, columns, permute, settings.calibration)
        for g in np.unique(task.groups[test]):
            mine = task.groups[test] == g
            out[s, g] = score(proba[mine], task.base.rows.take(test[mine]), settings.margin)
    return out


def cpcv_summary(results: list[np.ndarray], n_groups: int, n_test_groups: int) -> dict[str, Any]:
    """Path scores of every candidate and the PBO of the candidates (needs >= 2 candidates)."""
    paths = cpcv_paths(n_groups, n_test_groups)
    per_candidate = []
    block_scores = np.zeros((n_groups, len(results)))
    for c, counts in enumerate(results):
        path_scores = []
        for p in range(paths.shape[0]):
            picked = counts[paths[p], np.arange(n_groups)]
            path_scores.append(float(picked[:, 0].sum() / max(picked[:, 1].sum(), 1)))
        per_candidate.append(
            {
                "path_scores": path_scores,
                "mean": float(np.mean(path_scores)),
                "min": float(np.min(path_scores)),
                "max": float(np.max(path_scores)),
                "std": float(np.std(path_scores, ddof=1)) if len(path_scores) > 1 else 0.0,
            }
        )
        totals = counts.sum(axis=0)
        block_scores[:, c] = totals[:, 0] / np.maximum(totals[:, 1], 1)
    pbo = None
    if len(results) >= 2:
        partitions = n_groups if n_groups % 2 == 0 else n_groups - 1
        result = probability_of_backtest_overfitting(block_scores[:partitions], partitions)
        pbo = {"pbo": result.pbo, "n_combinations": result.n_combinations, "logits": list(result.logits)}
    return {
        "n_groups": n_groups,
        "n_test_groups": n_test_groups,
        "n_splits": len(cpcv_splits(n_groups, n_test_groups)),
        "n_paths": int(paths.shape[0]),
        "candidates": per_candidate,
        "pbo": pbo,
    }


def deflated_sharpe(returns: np.ndarray, trial_sharpes: list[float], n_trials: int) -> dict[str, Any] | None:
    """DSR of the chosen configurations' outer returns against the trials' Sharpe ratios (markets)."""
    sharpe = per_bar_sharpe(returns)
    if sharpe is None:
        return None
    finite = [s for s in trial_sharpes if s is not None and np.isfinite(s)]
    variance = float(np.var(finite, ddof=1)) if len(finite) > 1 else 0.0
    skewness = float(stats.skew(returns))
    kurtosis = float(stats.kurtosis(returns, fisher=False))
    return {
        "sharpe_per_bar": sharpe,
        "n_returns": len(returns),
        "skewness": skewness,
        "kurtosis": kurtosis,
        "n_trials": n_trials,
        "trial_sharpe_variance": variance,
        "deflated_sharpe_ratio": deflated_sharpe_ratio(
            sharpe, len(returns), skewness, kurtosis, n_trials, variance
        ),
    }
