"""Calibration of probabilities: reliability curve, ECE with a noise interval, Brier decomposition.

Pure numpy. Predictions are cut into ``n_bins`` equal-width bins on [0, 1]. In bin ``b`` with
``n_b`` predictions, ``S_b`` observed positives and ``μ_b`` = the sum of the predicted
probabilities, the **expected calibration error** is

    ECE = Σ_b |S_b − μ_b| / N          (= Σ_b (n_b / N) · |observed rate − mean prediction|)

ECE is never negative, so even a perfectly calibrated model shows some: its bins fall a little
off the diagonal by chance. The interval says how much of the observed ECE is more than that
noise (*consistency resampling*, Bröcker & Smith 2007, "Increasing the reliability of
reliability diagrams", Weather and Forecasting 22(3)): under perfect calibration the bin counts
``S`` are a sum of independent trials with the predicted probabilities, so ``S`` is close to
normal with mean ``μ`` and covariance ``Σ_g [diag(P_g) − P_g P_gᵀ]``, where ``P_g`` holds the
predicted probability mass of trial ``g`` in each bin (a binary prediction is one trial; a race,
whose boats' win probabilities sum to 1 and which has exactly one winner, is one trial over its
boats). Drawing ECE under that null gives quantiles ``q_2.5``, ``q_97.5``, and the interval for
the ECE in excess of chance is ``[ECE − q_97.5, ECE − q_2.5]``; it covers 0 exactly when a
5 % two-sided test does not reject calibration.

The **Brier score** ``mean (p − y)²`` splits (Murphy 1973) into reliability (the squared gap of
each bin, lower is better), resolution (how far the bins' observed rates are from the base
rate, higher is better) and uncertainty (the base rate's variance): ``Brier ≈ reliability −
resolution + uncertainty``, exact up to the spread of predictions within a bin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from stagewise._exceptions import ConfigError, DataValidationError

__all__ = ["CalibrationReport", "calibration_report"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class CalibrationReport:
    """Reliability curve, ECE with its noise interval, and the Brier decomposition."""

    n: int
    n_bins: int
    bin_mean_prediction: tuple[float, ...]
    bin_observed_rate: tuple[float, ...]
    bin_count: tuple[int, ...]
    ece: float
    ece_noise: tuple[float, float]
    ece_excess_interval: tuple[float, float]
    brier: float
    reliability: float
    resolution: float
    uncertainty: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values; empty bins have ``null`` mean prediction and rate."""
        return {
            "n": self.n,
            "n_bins": self.n_bins,
            "reliability_curve": {
                "mean_prediction": list(self.bin_mean_prediction),
                "observed_rate": list(self.bin_observed_rate),
                "count": list(self.bin_count),
            },
            "ece": self.ece,
            "ece_noise_95": list(self.ece_noise),
            "ece_excess_ci": list(self.ece_excess_interval),
            "brier": self.brier,
            "brier_reliability": self.reliability,
            "brier_resolution": self.resolution,
            "brier_uncertainty": self.uncertainty,
        }


def _bins(p: FloatArray, n_bins: int) -> npt.NDArray[np.int64]:
    out: npt.NDArray[np.int64] = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    return out


def calibration_report(
    probabilities: Sequence[float] | FloatArray,
    outcomes: Sequence[float] | FloatArray,
    groups: Sequence[Any] | npt.NDArray[Any] | None = None,
    n_bins: int = 10,
    n_draws: int = 2000,
    seed: int = 0,
) -> CalibrationReport:
    """Reliability curve, ECE (with the interval of its excess over chance) and Brier parts.

    Parameters
    ----------
    probabilities, outcomes : arrays of one length
        Predicted probabilities in [0, 1] and 0/1 outcomes.
    groups : array, optional
        Trial of each prediction: rows of one group share one outcome among them (a race's
        boats: exactly one wins). Without it every prediction is its own trial.
    n_bins : int
        Equal-width bins on [0, 1].
    n_draws, seed : int
        Draws of the null distribution of ECE (fixed seed: the same inputs give the same interval).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> p = rng.random(20_000)
    >>> report = calibration_report(p, rng.random(20_000) < p)
    >>> report.ece_excess_interval[0] <= 0.0 <= report.ece_excess_interval[1]
    True
    >>> sharp = calibration_report(np.clip(1.5 * p - 0.25, 0, 1), rng.random(20_000) < p)
    >>> sharp.ece_excess_interval[0] > 0.05
    True
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ConfigError(f"The 'n_bins' parameter must be an int >= 1. Got {n_bins!r} instead.")
    if isinstance(n_draws, bool) or not isinstance(n_draws, int) or n_draws < 1:
        raise ConfigError(f"The 'n_draws' parameter must be an int >= 1. Got {n_draws!r} instead.")
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(outcomes, dtype=np.float64)
    if p.shape != y.shape or p.ndim != 1:
        raise DataValidationError(
            f"probabilities and outcomes must be 1-D of one length; got {p.shape}, {y.shape}."
        )
    keep = np.isfinite(p) & np.isfinite(y)
    p, y = p[keep], y[keep]
    if np.any((p < 0) | (p > 1)):
        raise DataValidationError("probabilities must be in [0, 1].")
    n = len(p)
    nan2 = (math.nan, math.nan)
    if n == 0:
        return CalibrationReport(
            0, n_bins, (), (), (), math.nan, nan2, nan2, math.nan, math.nan, math.nan, math.nan
        )
    b = _bins(p, n_bins)
    count = np.bincount(b, minlength=n_bins)
    mu = np.bincount(b, weights=p, minlength=n_bins)
    hits = np.bincount(b, weights=y, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = mu / count
        rate = hits / count
    ece = float(np.abs(hits - mu).sum() / n)
    # The null: bin counts of a calibrated model, normal with the covariance of independent trials.
    if groups is None:
        cov: FloatArray = np.diag(np.bincount(b, weights=p * (1 - p), minlength=n_bins)).astype(np.float64)
    else:
        _, g = np.unique(np.asarray(groups)[keep], return_inverse=True)
        mass = np.zeros((int(g.max()) + 1, n_bins))
        np.add.at(mass, (g, b), p)
        cov = np.diag(mass.sum(axis=0)) - mass.T @ mass
    rng = np.random.default_rng(seed)
    draws = rng.multivariate_normal(np.zeros(n_bins), cov, size=n_draws, method="eigh", check_valid="ignore")
    null = np.abs(draws).sum(axis=1) / n
    q_low, q_high = (float(x) for x in np.quantile(null, [0.025, 0.975]))
    base = float(y.mean())
    filled = count > 0
    weight = count[filled] / n
    return CalibrationReport(
        n=n,
        n_bins=n_bins,
        bin_mean_prediction=tuple(float(x) for x in mean_p),
        bin_observed_rate=tuple(float(x) for x in rate),
        bin_count=tuple(int(x) for x in count),
        ece=ece,
        ece_noise=(q_low, q_high),
        ece_excess_interval=(ece - q_high, ece - q_low),
        brier=float(np.mean((p - y) ** 2)),
        reliability=float((weight * (mean_p[filled] - rate[filled]) ** 2).sum()),
        resolution=float((weight * (rate[filled] - base) ** 2).sum()),
        uncertainty=base * (1 - base),
    )
