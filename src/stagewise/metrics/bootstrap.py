"""Day-block bootstrap intervals for averages and ratios.

Observations on one day are not independent (one venue's conditions, one market regime), so
the resampling unit is the day: each replicate draws whole days with replacement and
recomputes the statistic on every observation of the drawn days. The seed is fixed, so the
same inputs always give the same interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from stagewise._exceptions import ConfigError, DataValidationError

__all__ = ["DEFAULT_RESAMPLES", "day_block_bootstrap_mean", "day_block_bootstrap_ratio"]

DEFAULT_RESAMPLES = 2000


def day_block_bootstrap_ratio(
    numerator: Sequence[float] | np.ndarray,
    denominator: Sequence[float] | np.ndarray,
    days: Sequence[Any] | np.ndarray,
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of ``sum(numerator) / sum(denominator)`` resampling whole days.

    Rows where either value is NaN are left out. With fewer than two days, or a
    denominator that sums to zero in every replicate, the interval is ``(nan, nan)``.

    Examples
    --------
    >>> low, high = day_block_bootstrap_ratio([1, 0, 1, 1], [1, 1, 1, 1], ["a", "a", "b", "c"])
    >>> 0.0 <= low <= 0.75 <= high <= 1.0
    True
    """
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"The 'confidence' parameter must be in (0, 1). Got {confidence!r} instead.")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 1:
        raise ConfigError(f"The 'n_resamples' parameter must be an int >= 1. Got {n_resamples!r} instead.")
    num = np.asarray(numerator, dtype=float)
    den = np.asarray(denominator, dtype=float)
    day_values = np.asarray(days)
    if not num.shape == den.shape == day_values.shape or num.ndim != 1:
        raise DataValidationError(
            f"numerator, denominator and days must be 1-D and of one length; got shapes "
            f"{num.shape}, {den.shape}, {day_values.shape}."
        )
    ok = ~(np.isnan(num) | np.isnan(den))
    num, den, day_values = num[ok], den[ok], day_values[ok]
    _, day_index = np.unique(day_values, return_inverse=True)
    n_days = int(day_index.max()) + 1 if len(day_index) else 0
    if n_days < 2:
        return (math.nan, math.nan)
    day_num = np.bincount(day_index, weights=num, minlength=n_days)
    day_den = np.bincount(day_index, weights=den, minlength=n_days)
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(n_days, np.full(n_days, 1.0 / n_days), size=n_resamples).astype(float)
    tops = weights @ day_num
    bottoms = weights @ day_den
    valid = bottoms != 0
    if not valid.any():
        return (math.nan, math.nan)
    estimates = tops[valid] / bottoms[valid]
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(estimates, [alpha, 1.0 - alpha])
    return (float(low), float(high))


def day_block_bootstrap_mean(
    values: Sequence[float] | np.ndarray,
    days: Sequence[Any] | np.ndarray,
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of the mean of ``values`` resampling whole days (NaN values left out).

    Examples
    --------
    >>> low, high = day_block_bootstrap_mean([0.4, 0.6, 0.5, 0.7, 0.3, 0.5], [1, 1, 2, 2, 3, 3])
    >>> low <= 0.5 <= high
    True
    """
    vals = np.asarray(values, dtype=float)
    return day_block_bootstrap_ratio(vals, np.ones_like(vals), days, confidence, n_resamples, seed)
