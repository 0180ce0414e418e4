"""The score a search optimises: a proportion of hits, per domain (pure).

* races: ``hit_rate_1st``, the share of races (with a winner) whose highest-probability boat won;
* markets: ``accuracy``, the share of bars whose direction (``proba >= 0.5`` means up) was right.

Both are counts (hits, units), so outer steps pool exactly and carry a Wilson interval.
Markets also give the per-bar return of following the signal, for the Sharpe ratio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["METRICS", "EvalRows", "score", "signal_returns"]

#: The metric each domain's search maximises.
METRICS = {"races": "hit_rate_1st", "markets": "accuracy"}


@dataclass(frozen=True)
class EvalRows:
    """What scoring needs about a set of rows: labels, race groups (races) or forward returns (markets)."""

    labels: np.ndarray
    groups: np.ndarray | None = None
    forward_return: np.ndarray | None = None

    def take(self, positions: np.ndarray) -> EvalRows:
        return EvalRows(
            self.labels[positions],
            None if self.groups is None else self.groups[positions],
            None if self.forward_return is None else self.forward_return[positions],
        )


def score(proba: np.ndarray, rows: EvalRows) -> tuple[int, int]:
    """``(hits, units)``: races with a winner and their hits, or bars and correct directions.

    Examples
    --------
    >>> import numpy as np
    >>> score(np.array([0.7, 0.2, 0.9]), EvalRows(np.array([1.0, 0.0, 0.0])))
    (2, 3)
    >>> rows = EvalRows(np.array([1.0, 0.0, 0.0, 1.0]), groups=np.array([0, 0, 1, 1]))
    >>> score(np.array([0.6, 0.4, 0.8, 0.2]), rows)
    (1, 2)
    """
    labels = np.asarray(rows.labels, dtype=np.float64)
    if rows.groups is None:
        return int(np.sum((proba >= 0.5) == (labels == 1.0))), len(labels)
    if len(labels) == 0:
        return 0, 0
    groups = np.asarray(rows.groups)
    # order by group, then by probability descending: the first row of each group is its pick
    order = np.lexsort((-proba, groups))
    sorted_groups = groups[order]
    first = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    has_winner = np.maximum.reduceat(labels[order], first) == 1.0
    picked_won = labels[order][first] == 1.0
    return int(np.sum(picked_won & has_winner)), int(np.sum(has_winner))


def signal_returns(proba: np.ndarray, rows: EvalRows) -> np.ndarray:
    """Per-bar return of being long when ``proba >= 0.5`` and short otherwise (markets only)."""
    if rows.forward_return is None:
        return np.empty(0)
    position = np.where(proba >= 0.5, 1.0, -1.0)
    return np.asarray(position * rows.forward_return, dtype=np.float64)
