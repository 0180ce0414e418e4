"""Metrics of a next-bar direction classifier: classification scores and the signal's return.

Labels and predictions are 0 (not up) / 1 (up), as made by
:func:`stagewise.features.labels.next_bar_direction`. The classification scores are those of
:mod:`sklearn.metrics` with ``zero_division=0`` (a model that never predicts "up" has precision
0, not an error). Accuracy carries a Wilson interval.

**Return of following the signal**: for each bar, hold a long position for the label horizon
when the model predicts up, a short one when it predicts down (``allow_short=False``: stay
flat), and earn the bar's forward return ``close[t+h] / close[t] - 1`` times the position; no
costs. ``total_return`` compounds them, as if the horizons did not overlap (true for h = 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef, precision_score, recall_score

from stagewise._exceptions import DataValidationError
from stagewise.metrics.intervals import wilson_interval

__all__ = ["direction_metrics", "signal_returns"]


def _binary(name: str, values: Sequence[Any] | np.ndarray) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise DataValidationError(f"{name} must be one-dimensional; got shape {arr.shape}.")
    bad = ~np.isin(arr, [0, 1])
    if bad.any():
        raise DataValidationError(
            f"{name} must hold only 0 or 1; got {arr[bad][0].item()!r} "
            f"at position {int(np.flatnonzero(bad)[0])}."
        )
    return arr.astype(np.int64)


def direction_metrics(
    y_true: Sequence[Any] | np.ndarray, y_pred: Sequence[Any] | np.ndarray
) -> dict[str, Any]:
    """Accuracy (with a Wilson interval), precision, recall, F1 and MCC of direction predictions.

    Examples
    --------
    >>> m = direction_metrics([1, 0, 1, 1], [1, 0, 0, 1])
    >>> m["accuracy"], m["precision"], m["recall"], m["n"]
    (0.75, 1.0, 0.6666666666666666, 4)
    """
    truth = _binary("y_true", y_true)
    pred = _binary("y_pred", y_pred)
    if len(truth) != len(pred):
        raise DataValidationError(f"y_true and y_pred differ in length: {len(truth)} != {len(pred)}.")
    n = len(truth)
    if n == 0:
        nan = float("nan")
        return {"n": 0, "accuracy": nan, "accuracy_ci": [nan, nan], "precision": nan, "recall": nan,
                "f1": nan, "mcc": nan, "share_up_true": nan, "share_up_pred": nan}  # fmt: skip
    correct = int((truth == pred).sum())
    return {
        "n": n,
        "accuracy": float(accuracy_score(truth, pred)),
        "accuracy_ci": list(wilson_interval(correct, n)),
        "precision": float(precision_score(truth, pred, zero_division=0)),
        "recall": float(recall_score(truth, pred, zero_division=0)),
        "f1": float(f1_score(truth, pred, zero_division=0)),
        "mcc": float(matthews_corrcoef(truth, pred)),
        "share_up_true": float(truth.mean()),
        "share_up_pred": float(pred.mean()),
    }


def signal_returns(
    forward_returns: Sequence[float] | np.ndarray,
    y_pred: Sequence[Any] | np.ndarray,
    allow_short: bool = True,
) -> dict[str, float]:
    """Return of following the predicted direction: per-bar mean and compounded total.

    Examples
    --------
    >>> r = signal_returns([0.01, -0.02, 0.005], [1, 0, 0])
    >>> round(r["total_return"], 6), round(r["mean_return"], 6)
    (0.025049, 0.008333)
    """
    returns = np.asarray(forward_returns, dtype=float)
    pred = _binary("y_pred", y_pred)
    if returns.shape != pred.shape:
        raise DataValidationError(
            f"forward_returns and y_pred differ in length: {len(returns)} != {len(pred)}."
        )
    if np.isnan(returns).any():
        raise DataValidationError(
            f"forward_returns has NaN at position {int(np.flatnonzero(np.isnan(returns))[0])}; "
            "bars without a known future close cannot be traded."
        )
    position = np.where(pred == 1, 1.0, -1.0 if allow_short else 0.0)
    earned = position * returns
    if len(earned) == 0:
        return {"n": 0.0, "mean_return": float("nan"), "total_return": 0.0}
    return {
        "n": float(len(earned)),
        "mean_return": float(earned.mean()),
        "total_return": float(np.prod(1.0 + earned) - 1.0),
    }
