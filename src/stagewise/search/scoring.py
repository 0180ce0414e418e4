"""The score a search optimises: a proportion of hits, per domain (pure).

* races: ``hit_rate_1st``, the share of races (with a winner) whose highest-probability boat won;
* markets: ``accuracy``, the share of bars whose direction (``proba >= 0.5`` means up) was right;
* races, when the space tunes ``bet_margin``: ``roi_ev_win``, the return on the stakes of EV bets on
  the win odds (stake 1 on every boat with ``p x odds > 1 + margin``, ``p`` the model's probability
  normalised within the race; a boat that did not start is refunded), as ``--bets ev`` settles them.
  A margin changes which boats are bet, never which boat is ranked first, so a hit rate could not
  choose it.

The hit rates are counts (hits, units) and the ROI a ratio of sums (profit, staked): either way
outer steps pool exactly. Hit rates carry a Wilson interval, the ROI a day-block bootstrap one.
Markets also give the per-bar return of following the signal, for the Sharpe ratio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from stagewise._domain import Domain

__all__ = ["METRICS", "ROI_METRIC", "EvalRows", "daily_bets", "favourite_daily", "score", "signal_returns"]

#: The metric each domain's search maximises.
METRICS = {Domain.RACES.value: "hit_rate_1st", Domain.MARKETS.value: "accuracy"}
#: The metric of a races search whose space tunes the bet margin.
ROI_METRIC = "roi_ev_win"


@dataclass(frozen=True)
class EvalRows:
    """What scoring needs about a set of rows: labels, race groups (races) or forward returns (markets)."""

    labels: np.ndarray
    groups: np.ndarray | None = None
    forward_return: np.ndarray | None = None
    #: races with bets: each boat's win odds, whether it started, and its race day
    odds: np.ndarray | None = None
    started: np.ndarray | None = None
    days: np.ndarray | None = None

    def take(self, positions: np.ndarray) -> EvalRows:
        def part(values: np.ndarray | None) -> np.ndarray | None:
            return None if values is None else values[positions]

        return EvalRows(
            self.labels[positions],
            part(self.groups),
            part(self.forward_return),
            part(self.odds),
            part(self.started),
            part(self.days),
        )


def _bets(proba: np.ndarray, rows: EvalRows, margin: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Each row's effective stake and profit under EV bets with ``margin`` (None: ``proba`` are stakes)."""
    from stagewise.metrics.betting import StakeStrategy, settle

    if rows.groups is None or rows.odds is None or rows.started is None:
        raise ValueError("EV bets need the rows' race groups, win odds and starts.")
    if margin is None:
        stakes = np.asarray(proba, dtype=np.float64).reshape(-1, 1)
    else:
        _, race = np.unique(rows.groups, return_inverse=True)
        totals = np.bincount(race, weights=proba)
        p = np.divide(proba, totals[race], out=np.zeros(len(proba)), where=totals[race] > 0)
        stakes = StakeStrategy("ev", margin=margin).stakes(p.reshape(-1, 1), rows.odds.reshape(-1, 1))
    column = (-1, 1)  # settle works on (races, outcomes) books; here one outcome per row
    won, refunded = (rows.labels == 1.0).reshape(column), ~rows.started.reshape(column)
    staked, profit = settle(stakes, rows.odds.reshape(column), won, refunded)
    return staked.ravel(), profit.ravel()


def daily_bets(proba: np.ndarray, rows: EvalRows, margin: float | None) -> list[list[Any]]:
    """``[[day, profit, staked], ...]`` of EV bets with ``margin``: what a day-block bootstrap resamples.

    ``margin=None``: ``proba`` are the stakes themselves (a baseline's bets).
    """
    staked, profit = _bets(proba, rows, margin)
    if rows.days is None or len(staked) == 0:
        return []
    days, inverse = np.unique(rows.days.astype("datetime64[D]"), return_inverse=True)
    profits = np.bincount(inverse, weights=profit, minlength=len(days))
    stakes = np.bincount(inverse, weights=staked, minlength=len(days))
    return [[str(d), float(p), float(s)] for d, p, s in zip(days, profits, stakes, strict=True)]


def favourite_daily(rows: EvalRows) -> list[list[Any]]:
    """``[[day, profit, staked], ...]`` of a flat stake 1 on each race's favourite (lowest win odds)."""
    if rows.odds is None or rows.groups is None or len(rows.odds) == 0:
        return []
    _, race = np.unique(rows.groups, return_inverse=True)
    # order by race, then by odds ascending (missing odds last): the first row of each race is its favourite
    order = np.lexsort((np.nan_to_num(rows.odds, nan=np.inf), race))
    first = order[np.flatnonzero(np.r_[True, race[order][1:] != race[order][:-1]])]
    pick = np.zeros(len(race), dtype=bool)
    pick[first] = np.isfinite(rows.odds[first])
    return daily_bets(pick.astype(np.float64), rows, margin=None)


def score(proba: np.ndarray, rows: EvalRows, margin: float | None = None) -> tuple[float, float]:
    """``(hits, units)``: races with a winner and their hits, or bars and correct directions.

    With a ``margin`` (races): ``(profit, staked)`` of EV bets on the win odds; their ratio is the ROI.

    Examples
    --------
    >>> import numpy as np
    >>> score(np.array([0.7, 0.2, 0.9]), EvalRows(np.array([1.0, 0.0, 0.0])))
    (2, 3)
    >>> rows = EvalRows(np.array([1.0, 0.0, 0.0, 1.0]), groups=np.array([0, 0, 1, 1]))
    >>> score(np.array([0.6, 0.4, 0.8, 0.2]), rows)
    (1, 2)
    >>> rows = EvalRows(np.array([1.0, 0.0, 0.0, 1.0]), groups=np.array([0, 0, 1, 1]),
    ...                 odds=np.array([3.0, 1.5, 1.2, 2.5]), started=np.ones(4, dtype=bool))
    >>> score(np.array([0.6, 0.4, 0.5, 0.5]), rows, margin=0.1)  # bets on rows 0 and 3, both win
    (3.5, 2.0)
    """
    if margin is not None:
        staked, profit = _bets(proba, rows, margin)
        return float(profit.sum()), float(staked.sum())
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
