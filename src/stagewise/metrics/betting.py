"""Betting evaluation: stakes from a strategy, settled at pre-race odds, ROI and risk with intervals.

Pure numpy. A *book* is a matrix of outcomes per race (six boats for the win pool, 120 ordered
trifectas for the trifecta pool): the model's probabilities, the snapshot odds, which outcome won
and which tickets are refunded (a bet on a boat that did not start gets its stake back). A
strategy turns probabilities and odds into stakes; :func:`summarize_bets` turns stakes and
profits into ROI, a profit curve and the maximum drawdown, with day-block bootstrap intervals
(days resampled whole, like every other interval in stagewise).

Strategies (``StakeStrategy.name``):

* ``flat``: ``stake`` on the most probable outcome of every race;
* ``ev``: ``stake`` on every outcome with ``p · odds > 1 + margin`` (positive expected value);
* ``kelly``: on the same outcomes, ``bankroll · min(cap, fraction · f*)`` with the Kelly share
  ``f* = (p · odds − 1) / (odds − 1)`` of a single bet. The bankroll is fixed (stakes do not
  compound), so ROI stays a ratio of sums and its bootstrap is valid.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from stagewise._exceptions import ConfigError, DataValidationError

__all__ = [
    "BET_TYPES",
    "STRATEGIES",
    "TRIFECTAS",
    "TRIFECTA_INDEX",
    "BettingResult",
    "StakeStrategy",
    "settle",
    "summarize_bets",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

BET_TYPES: tuple[str, ...] = ("win", "trifecta")
STRATEGIES: tuple[str, ...] = ("flat", "ev", "kelly")
#: The 120 ordered trifectas (pits, 1-based) in the column order of every trifecta matrix.
TRIFECTAS: tuple[tuple[int, int, int], ...] = tuple(itertools.permutations(range(1, 7), 3))
#: Position of each trifecta in a flattened ``(6, 6, 6)`` grid of lane indices.
TRIFECTA_INDEX: IntArray = np.array([(a - 1) * 36 + (b - 1) * 6 + (c - 1) for a, b, c in TRIFECTAS])


def _number(name: str, value: object, low: float, high: float, shown: str, low_open: bool = True) -> float:
    ok = isinstance(value, int | float | np.floating) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        v = float(value)  # type: ignore[arg-type]
        ok = (v > low if low_open else v >= low) and v <= high
    if not ok:
        raise ConfigError(f"The '{name}' parameter must be a number in {shown}. Got {value!r} instead.")
    return float(value)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class StakeStrategy:
    """How much to stake on each outcome of a race.

    Parameters
    ----------
    name : {"flat", "ev", "kelly"}
        Flat stake on the top pick, expected-value threshold, or fractional Kelly with a cap.
    stake : float, default 1.0
        Stake per bet for ``flat`` and ``ev`` (> 0).
    margin : float, default 0.0
        ``ev`` and ``kelly`` bet only when ``p · odds > 1 + margin`` (>= 0).
    kelly_fraction : float, default 0.25
        Share of the full Kelly stake, in (0, 1].
    kelly_cap : float, default 0.05
        Largest stake as a share of the bankroll, in (0, 1].
    bankroll : float, default 100.0
        Fixed bankroll the Kelly stakes are shares of (> 0).

    Examples
    --------
    >>> import numpy as np
    >>> probs = np.array([[0.5, 0.3, 0.2]])
    >>> odds = np.array([[1.5, 4.0, 4.0]])
    >>> StakeStrategy("flat").stakes(probs, odds).tolist()
    [[1.0, 0.0, 0.0]]
    >>> StakeStrategy("ev", margin=0.1).stakes(probs, odds).tolist()
    [[0.0, 1.0, 0.0]]
    >>> StakeStrategy("kelly", kelly_fraction=0.5, kelly_cap=0.05).stakes(probs, odds).round(2).tolist()
    [[0.0, 3.33, 0.0]]
    >>> StakeStrategy("martingale")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    stagewise._exceptions.ConfigError: The 'strategy' parameter must be one of [...]. Got 'martingale'...
    """

    name: str = "flat"
    stake: float = 1.0
    margin: float = 0.0
    kelly_fraction: float = 0.25
    kelly_cap: float = 0.05
    bankroll: float = 100.0

    def __post_init__(self) -> None:
        if self.name not in STRATEGIES:
            raise ConfigError(
                f"The 'strategy' parameter must be one of {list(STRATEGIES)!r}. Got {self.name!r} instead."
            )
        _number("stake", self.stake, 0.0, math.inf, "(0, inf)")
        _number("margin", self.margin, 0.0, math.inf, "[0, inf)", low_open=False)
        _number("kelly_fraction", self.kelly_fraction, 0.0, 1.0, "(0, 1]")
        _number("kelly_cap", self.kelly_cap, 0.0, 1.0, "(0, 1]")
        _number("bankroll", self.bankroll, 0.0, math.inf, "(0, inf)")

    def stakes(self, probs: FloatArray, odds: FloatArray) -> FloatArray:
        """Stakes ``(n, k)`` for probabilities and odds ``(n, k)``; no bet where the odds are missing."""
        p = np.asarray(probs, dtype=np.float64)
        o = np.asarray(odds, dtype=np.float64)
        if p.shape != o.shape or p.ndim != 2:
            raise DataValidationError(
                f"probs and odds must be 2-D arrays of one shape; got {p.shape} and {o.shape}."
            )
        sold = np.isfinite(o) & np.isfinite(p)
        out = np.zeros(p.shape, dtype=np.float64)
        if self.name == "flat":
            masked = np.where(sold, p, -np.inf)
            rows = np.flatnonzero(np.isfinite(masked.max(axis=1))) if p.shape[1] else np.empty(0, int)
            out[rows, masked[rows].argmax(axis=1)] = self.stake
            return out
        edge = np.where(sold, p * o, 0.0)
        value = edge > 1.0 + self.margin
        if self.name == "ev":
            out[value] = self.stake
            return out
        with np.errstate(divide="ignore", invalid="ignore"):
            kelly = (edge - 1.0) / (o - 1.0)
        share = np.minimum(self.kelly_cap, self.kelly_fraction * kelly)
        out[value & (o > 1.0)] = (self.bankroll * share)[value & (o > 1.0)]
        return out


def settle(
    stakes: FloatArray, odds: FloatArray, won: BoolArray, refunded: BoolArray
) -> tuple[FloatArray, FloatArray]:
    """Effective stakes and profits of every bet: a winner returns ``stake · odds``, a refund its stake.

    A refunded ticket is taken out of the turnover (stake and profit 0), as the pool does.
    """
    s = np.asarray(stakes, dtype=np.float64)
    live = ~np.asarray(refunded, dtype=bool)
    stake = np.where(live, s, 0.0)
    payout = np.where(np.asarray(won, dtype=bool) & live, s * np.nan_to_num(np.asarray(odds, float)), 0.0)
    return stake, payout - stake


@dataclass(frozen=True)
class BettingResult:
    """ROI, profit and drawdown of a set of bets, with day-block bootstrap intervals."""

    strategy: str
    n_bets: int
    n_days: int
    total_stake: float
    total_profit: float
    roi: float
    roi_interval: tuple[float, float]
    hit_rate: float
    max_drawdown: float
    max_drawdown_interval: tuple[float, float]
    days: tuple[str, ...]
    cumulative_profit: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (NaN stays NaN; the report writer turns it into null)."""
        return {
            "strategy": self.strategy,
            "n_bets": self.n_bets,
            "n_days": self.n_days,
            "total_stake": self.total_stake,
            "total_profit": self.total_profit,
            "roi": self.roi,
            "roi_ci": list(self.roi_interval),
            "hit_rate": self.hit_rate,
            "max_drawdown": self.max_drawdown,
            "max_drawdown_ci": list(self.max_drawdown_interval),
            "profit_curve": {"days": list(self.days), "cumulative_profit": list(self.cumulative_profit)},
        }


def _max_drawdown(paths: FloatArray) -> FloatArray:
    """Largest fall from a running peak (starting at 0) along the last axis."""
    peak = np.maximum.accumulate(np.maximum(paths, 0.0), axis=-1)
    drawdown: FloatArray = (peak - paths).max(axis=-1, initial=0.0)
    return drawdown


def summarize_bets(
    stake: Sequence[float] | FloatArray,
    profit: Sequence[float] | FloatArray,
    day: Sequence[Any] | npt.NDArray[Any],
    strategy: str = "",
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> BettingResult:
    """ROI (profit / stake), hit rate, end-of-day profit curve and maximum drawdown of bets.

    Rows with a zero stake are not bets. Intervals resample whole days with replacement: the ROI
    interval from the days' sums, the drawdown interval from the days' profits in drawn order.
    Fewer than two days give ``(nan, nan)`` intervals.

    Examples
    --------
    >>> r = summarize_bets([1, 1, 1, 1], [1.5, -1, -1, 0.8], ["d1", "d1", "d2", "d3"])
    >>> r.n_bets, round(r.roi, 3), r.max_drawdown
    (4, 0.075, 1.0)
    """
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"The 'confidence' parameter must be in (0, 1). Got {confidence!r} instead.")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 1:
        raise ConfigError(f"The 'n_resamples' parameter must be an int >= 1. Got {n_resamples!r} instead.")
    s = np.asarray(stake, dtype=np.float64)
    p = np.asarray(profit, dtype=np.float64)
    d = np.asarray(day)
    if not s.shape == p.shape == d.shape or s.ndim != 1:
        raise DataValidationError(
            f"stake, profit and day must be 1-D and of one length; got {s.shape}, {p.shape}, {d.shape}."
        )
    if np.any(s < 0) or not np.all(np.isfinite(s)) or not np.all(np.isfinite(p)):
        raise DataValidationError("stakes must be finite numbers >= 0 and profits finite.")
    bet = s > 0
    s, p, d = s[bet], p[bet], d[bet]
    labels, index = np.unique(d, return_inverse=True)
    n_days = len(labels)
    day_stake = np.bincount(index, weights=s, minlength=n_days)
    day_profit = np.bincount(index, weights=p, minlength=n_days)
    total_stake, total_profit = float(day_stake.sum()), float(day_profit.sum())
    curve: FloatArray = np.cumsum(day_profit).astype(np.float64)
    roi = total_profit / total_stake if total_stake > 0 else math.nan
    roi_ci: tuple[float, float] = (math.nan, math.nan)
    dd_ci: tuple[float, float] = (math.nan, math.nan)
    if n_days >= 2:
        rng = np.random.default_rng(seed)
        alpha = (1.0 - confidence) / 2.0
        weights = rng.multinomial(n_days, np.full(n_days, 1.0 / n_days), size=n_resamples).astype(float)
        ratios = (weights @ day_profit) / (weights @ day_stake)
        low, high = np.quantile(ratios, [alpha, 1 - alpha])
        roi_ci = (float(low), float(high))
        drawn = rng.integers(0, n_days, size=(n_resamples, n_days))
        paths: FloatArray = np.cumsum(day_profit[drawn], axis=1).astype(np.float64)
        low, high = np.quantile(_max_drawdown(paths), [alpha, 1 - alpha])
        dd_ci = (float(low), float(high))
    return BettingResult(
        strategy=strategy,
        n_bets=int(bet.sum()),
        n_days=n_days,
        total_stake=total_stake,
        total_profit=total_profit,
        roi=roi,
        roi_interval=roi_ci,
        hit_rate=float(np.mean(p > -s)) if len(p) else math.nan,
        max_drawdown=float(_max_drawdown(curve)) if n_days else 0.0,
        max_drawdown_interval=dd_ci,
        days=tuple(str(x)[:10] for x in labels),
        cumulative_profit=tuple(float(x) for x in curve),
    )
