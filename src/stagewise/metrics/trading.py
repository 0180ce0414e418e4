"""Trading evaluation of a signal: costs, gross vs net return, turnover, Sharpe, Sortino, drawdown.

Pure numpy. A signal holds a position in {-1, 0, +1} (short, flat, long) for each bar and earns
``position · forward_return``. Every change of position trades ``|position_t − position_{t−1}|``
units (a flip from long to short is 2) and each traded unit pays

    cost per unit = spread / 2 + commission + slippage        (all in basis points of the price)

(crossing the spread once costs half of it; commission and slippage are charged per trade), so
``net_t = position_t · r_t − turnover_t · cost``. Intervals resample whole days (the day-block
bootstrap used everywhere in stagewise): the mean net return, Sharpe and Sortino ratios are
recomputed from each replicate's per-day sums.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from stagewise._exceptions import ConfigError, DataValidationError

__all__ = ["TradingCosts", "TradingResult", "trading_report"]

FloatArray = npt.NDArray[np.float64]
_BP = 1e-4


@dataclass(frozen=True, slots=True)
class TradingCosts:
    """Costs in basis points (1 bp = 0.01 %) of the traded value.

    Examples
    --------
    >>> round(TradingCosts(spread_bps=1.0, commission_bps=0.5, slippage_bps=0.5).per_unit, 8)
    0.00015
    >>> TradingCosts(spread_bps=-1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    stagewise._exceptions.ConfigError: The 'spread_bps' parameter must be a number >= 0 ...
    """

    spread_bps: float = 1.0
    commission_bps: float = 0.5
    slippage_bps: float = 0.5

    def __post_init__(self) -> None:
        for name in ("spread_bps", "commission_bps", "slippage_bps"):
            value = getattr(self, name)
            ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            if not ok or value < 0:
                raise ConfigError(
                    f"The '{name}' parameter must be a number >= 0 (basis points). Got {value!r} instead."
                )

    @property
    def per_unit(self) -> float:
        """Cost of trading one unit of position, as a fraction of the price."""
        return (self.spread_bps / 2 + self.commission_bps + self.slippage_bps) * _BP


@dataclass(frozen=True)
class TradingResult:
    """Gross and net return of a signal after costs, with day-block bootstrap intervals."""

    n_bars: int
    n_days: int
    cost_per_unit: float
    turnover: float
    gross_mean: float
    net_mean: float
    net_mean_interval: tuple[float, float]
    cost_mean: float
    net_total: float
    sharpe: float
    sharpe_interval: tuple[float, float]
    sortino: float
    sortino_interval: tuple[float, float]
    max_drawdown: float
    days: tuple[str, ...]
    equity: tuple[float, ...]

    @property
    def edge(self) -> bool:
        """True only when the net mean return's interval lies above zero."""
        return bool(self.net_mean_interval[0] > 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_bars": self.n_bars,
            "n_days": self.n_days,
            "cost_per_unit": self.cost_per_unit,
            "turnover_per_bar": self.turnover,
            "gross_mean_return": self.gross_mean,
            "net_mean_return": self.net_mean,
            "net_mean_return_ci": list(self.net_mean_interval),
            "cost_mean": self.cost_mean,
            "net_total_return": self.net_total,
            "sharpe": self.sharpe,
            "sharpe_ci": list(self.sharpe_interval),
            "sortino": self.sortino,
            "sortino_ci": list(self.sortino_interval),
            "max_drawdown": self.max_drawdown,
            "edge": self.edge,
            "equity_curve": {"days": list(self.days), "equity": list(self.equity)},
        }


def _ratios(
    s1: FloatArray, s2: FloatArray, d2: FloatArray, n: FloatArray, scale: float
) -> tuple[Any, Any, Any]:
    """Mean, Sharpe and Sortino from sums of r, r², min(r, 0)² and counts (any leading shape)."""
    mean = s1 / n
    var = np.maximum(s2 / n - mean**2, 0.0) * n / np.maximum(n - 1, 1)
    down = np.sqrt(d2 / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = np.where(var > 0, mean / np.sqrt(var) * scale, np.nan)
        sortino = np.where(down > 0, mean / down * scale, np.nan)
    return mean, sharpe, sortino


def _interval(replicates: np.ndarray, alpha: float) -> tuple[float, float]:
    """The percentile interval of the defined replicates; NaN when none is (e.g. a Sharpe ratio of
    returns that never vary), instead of numpy's all-NaN warning."""
    defined = replicates[~np.isnan(replicates)]
    if not len(defined):
        return (math.nan, math.nan)
    low, high = np.quantile(defined, [alpha, 1 - alpha])
    return (float(low), float(high))


def trading_report(
    position: Sequence[float] | FloatArray,
    forward_return: Sequence[float] | FloatArray,
    day: Sequence[Any] | npt.NDArray[Any],
    costs: TradingCosts | None = None,
    periods_per_year: float = 252 * 24,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> TradingResult:
    """Evaluate positions held over bars in time order (``forward_return``: the bar's return).

    ``periods_per_year`` annualises Sharpe and Sortino (hourly FX: 252 × 24).

    Examples
    --------
    >>> r = trading_report([1, 1, -1, -1], [0.01, -0.005, -0.01, 0.002], ["d1", "d1", "d2", "d2"],
    ...                    TradingCosts(0, 0, 0))
    >>> round(r.gross_mean, 5), r.turnover
    (0.00325, 0.75)
    """
    rule = costs if costs is not None else TradingCosts()
    pos = np.asarray(position, dtype=np.float64)
    ret = np.asarray(forward_return, dtype=np.float64)
    days = np.asarray(day)
    if not pos.shape == ret.shape == days.shape or pos.ndim != 1:
        raise DataValidationError(
            f"position, forward_return and day must be 1-D of one length; got {pos.shape}."
        )
    keep = np.isfinite(pos) & np.isfinite(ret)
    pos, ret, days = pos[keep], ret[keep], days[keep]
    turnover = np.abs(np.diff(pos, prepend=0.0))
    gross = pos * ret
    cost = turnover * rule.per_unit
    net = gross - cost
    labels, index = np.unique(days, return_inverse=True)
    n_days = len(labels)
    sums = [np.bincount(index, weights=w, minlength=n_days) for w in (net, net**2, np.minimum(net, 0.0) ** 2)]
    counts = np.bincount(index, minlength=n_days).astype(float)
    scale = math.sqrt(periods_per_year)
    mean, sharpe, sortino = _ratios(sums[0].sum(), sums[1].sum(), sums[2].sum(), counts.sum(), scale)
    nan2 = (math.nan, math.nan)
    mean_ci, sharpe_ci, sortino_ci = nan2, nan2, nan2
    if n_days >= 2:
        rng = np.random.default_rng(seed)
        w = rng.multinomial(n_days, np.full(n_days, 1.0 / n_days), size=n_resamples).astype(float)
        reps = _ratios(w @ sums[0], w @ sums[1], w @ sums[2], w @ counts, scale)
        alpha = (1 - confidence) / 2
        mean_ci, sharpe_ci, sortino_ci = (_interval(x, alpha) for x in reps)
    equity = np.cumprod(1.0 + net)
    peak = np.maximum.accumulate(np.maximum(equity, 1.0))
    last = np.zeros(n_days, dtype=np.int64)  # the last bar of each day: end-of-day equity
    np.maximum.at(last, index, np.arange(len(net)))
    return TradingResult(
        n_bars=len(net),
        n_days=n_days,
        cost_per_unit=rule.per_unit,
        turnover=float(turnover.mean()) if len(net) else math.nan,
        gross_mean=float(gross.mean()) if len(net) else math.nan,
        net_mean=float(mean) if len(net) else math.nan,
        net_mean_interval=mean_ci,
        cost_mean=float(cost.mean()) if len(net) else math.nan,
        net_total=float(equity[-1] - 1.0) if len(net) else 0.0,
        sharpe=float(sharpe),
        sharpe_interval=sharpe_ci,
        sortino=float(sortino),
        sortino_interval=sortino_ci,
        max_drawdown=float(((peak - equity) / peak).max()) if len(net) else 0.0,
        days=tuple(str(x)[:10] for x in labels),
        equity=tuple(float(x) for x in equity[last]) if len(net) else (),
    )
