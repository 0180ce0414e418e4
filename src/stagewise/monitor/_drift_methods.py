"""The drift methods of one feature: statistics, p-values and their null calibration."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from stagewise.monitor import psi as _psi
from stagewise.monitor._drift_result import MethodResult

if TYPE_CHECKING:
    from stagewise.monitor.drift import DriftConfig

__all__ = ["Measured", "SampleColumn", "categorical_methods", "numeric_methods", "plan_draws"]

MAX_DRAWS = 200_000
NullCache = dict[tuple[int, int, int, int], npt.NDArray[np.float64]]


@dataclass(frozen=True)
class SampleColumn:
    """One feature's non-missing values in both samples."""

    name: str
    kind: str
    reference: npt.NDArray[Any]
    current: npt.NDArray[Any]
    missing_reference: float
    missing_current: float


@dataclass(frozen=True)
class Measured:
    """A method's statistic and p-value, before the level is known."""

    method: str
    statistic: float
    effect: float
    p_value: float
    calibration: str
    min_effect_name: str
    threshold_at: Callable[[float], float]
    own_test: bool = True
    details: dict[str, float] = field(default_factory=dict)

    def decide(self, level: float, config: DriftConfig) -> MethodResult:
        """Apply the level and the effect floor."""
        min_effect = float(getattr(config, self.min_effect_name))
        threshold = max(min_effect, self.threshold_at(level))
        return MethodResult(
            method=self.method,
            statistic=self.statistic,
            effect=self.effect,
            p_value=self.p_value,
            level=level,
            min_effect=min_effect,
            threshold=threshold,
            drifted=bool(self.p_value <= level and self.effect >= min_effect),
            calibration=self.calibration,
            details=dict(self.details),
        )


def plan_draws(minimum: int, smallest_level: float) -> int:
    """Monte Carlo draws: enough that the smallest level is resolved twenty times over."""
    return int(min(MAX_DRAWS, max(minimum, math.ceil(20.0 / smallest_level))))


def robust_scale(values: npt.NDArray[np.float64]) -> float:
    """IQR / 1.349 (the standard deviation for normal data); the std when the IQR is 0; else 0."""
    q1, q3 = np.quantile(values, [0.25, 0.75])
    iqr = float(q3 - q1) / 1.349
    if iqr > 0:
        return iqr
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _mc_threshold(null: npt.NDArray[np.float64]) -> Callable[[float], float]:
    return lambda level: _psi.monte_carlo_threshold(level, null)


def _ks_critical(level: float, n_reference: int, n_current: int) -> float:
    n_eff = max(1, round(n_reference * n_current / (n_reference + n_current)))
    return float(stats.kstwo.isf(level, n_eff))


def numeric_methods(
    column: SampleColumn,
    config: DriftConfig,
    draws: int,
    rng: np.random.Generator,
    cache: NullCache | None = None,
) -> list[Measured]:
    """PSI, KS and Wasserstein of a numeric feature."""
    ref = column.reference.astype(np.float64)
    cur = column.current.astype(np.float64)
    n_r, n_c = len(ref), len(cur)

    edges = _psi.quantile_edges(ref, config.bins)
    ref_counts = _psi.bin_counts(ref, edges)
    cur_counts = _psi.bin_counts(cur, edges)
    psi_value = float(_psi.psi_from_counts(ref_counts, cur_counts))
    dof = int(np.count_nonzero(ref_counts + cur_counts)) - 1
    details = {"bins": float(config.bins), "dof": float(dof)}
    if min(n_r, n_c) >= _psi.MIN_EXPECTED_PER_BIN * config.bins:
        psi_p = _psi.chi_square_p_value(psi_value, n_r, n_c, dof)
        psi_threshold: Callable[[float], float] = lambda lv: _psi.chi_square_threshold(lv, n_r, n_c, dof)  # noqa: E731
        calibration = "chi_square"
    else:
        pooled = np.concatenate([ref, cur])
        if len(np.unique(pooled)) == len(pooled):
            key = (n_r, n_c, config.bins, draws)
            null = cache.get(key) if cache is not None else None
            if null is None:
                null = _psi.null_continuous(n_r, n_c, config.bins, draws, rng)
                if cache is not None:
                    cache[key] = null
            calibration = "monte_carlo"
        else:
            r, c = _psi.null_permutation(ref_counts + cur_counts, n_c, draws, rng)
            null = _psi.psi_from_counts(r, c)
            calibration = "permutation"
        psi_p = _psi.monte_carlo_p_value(psi_value, null)
        psi_threshold = _mc_threshold(null)
        details["draws"] = float(draws)
    psi = Measured("psi", psi_value, psi_value, psi_p, calibration, "psi_min", psi_threshold, details=details)

    with warnings.catch_warnings(record=True) as caught:
        # scipy warns when its exact p-value does not converge and uses the asymptotic one instead.
        warnings.simplefilter("always", RuntimeWarning)
        ks_result = stats.ks_2samp(ref, cur)
    ks_stat, ks_p = float(ks_result.statistic), float(ks_result.pvalue)
    ks_calibration = "ks_2samp (asymptotic fallback)" if caught else "ks_2samp"
    ks = Measured(
        "ks",
        ks_stat,
        ks_stat,
        ks_p,
        ks_calibration,
        "distance_min",
        lambda lv: _ks_critical(lv, n_r, n_c),
    )

    distance = float(stats.wasserstein_distance(ref, cur))
    scale = robust_scale(ref)
    normalised = distance / scale if scale > 0 else (0.0 if distance == 0 else math.inf)
    wasserstein = Measured(
        "wasserstein",
        distance,
        normalised,
        ks_p,
        "significance from ks_2samp",
        "wasserstein_min",
        lambda lv: 0.0,
        own_test=False,
        details={"scale": scale},
    )
    return [psi, ks, wasserstein]


def _pearson(ref_counts: npt.NDArray[np.int64], cur_counts: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """Pearson chi-square of 2 x K tables along the last axis."""
    ref = ref_counts.astype(np.float64)
    cur = cur_counts.astype(np.float64)
    n_r = ref.sum(axis=-1, keepdims=True)
    n_c = cur.sum(axis=-1, keepdims=True)
    col = ref + cur
    total = n_r + n_c
    with np.errstate(divide="ignore", invalid="ignore"):
        e_r = n_r * col / total
        e_c = n_c * col / total
        terms = np.where(col > 0, (ref - e_r) ** 2 / e_r + (cur - e_c) ** 2 / e_c, 0.0)
    return np.asarray(terms.sum(axis=-1), dtype=np.float64)


def categorical_methods(column: SampleColumn, draws: int, rng: np.random.Generator) -> list[Measured]:
    """PSI on categories and the chi-square test of homogeneity of a categorical feature."""
    categories, inverse = np.unique(np.concatenate([column.reference, column.current]), return_inverse=True)
    n_r, n_c = len(column.reference), len(column.current)
    k = len(categories)
    ref_counts = np.bincount(inverse[:n_r], minlength=k).astype(np.int64)
    cur_counts = np.bincount(inverse[n_r:], minlength=k).astype(np.int64)
    psi_value = float(_psi.psi_from_counts(ref_counts, cur_counts))
    pearson = float(_pearson(ref_counts, cur_counts))
    tvd = 0.5 * float(np.abs(ref_counts / n_r - cur_counts / n_c).sum())
    dof = k - 1
    details = {"categories": float(k), "dof": float(dof)}
    pooled = ref_counts + cur_counts
    min_expected = min(n_r, n_c) * pooled.min() / (n_r + n_c)
    if dof == 0:
        psi_p = chi_p = 1.0
        psi_threshold: Callable[[float], float] = lambda lv: 0.0  # noqa: E731
        calibration = "one category"
    elif min_expected >= _psi.MIN_EXPECTED_PER_BIN:
        psi_p = _psi.chi_square_p_value(psi_value, n_r, n_c, dof)
        chi_p = float(stats.chi2.sf(pearson, dof))
        psi_threshold = lambda lv: _psi.chi_square_threshold(lv, n_r, n_c, dof)  # noqa: E731
        calibration = "chi_square"
    else:
        r, c = _psi.null_permutation(pooled, n_c, draws, rng)
        psi_null = _psi.psi_from_counts(r, c)
        psi_p = _psi.monte_carlo_p_value(psi_value, psi_null)
        chi_p = _psi.monte_carlo_p_value(pearson, _pearson(r, c))
        psi_threshold = _mc_threshold(psi_null)
        calibration = "permutation"
        details["draws"] = float(draws)
    psi = Measured("psi", psi_value, psi_value, psi_p, calibration, "psi_min", psi_threshold, details=details)
    chi = Measured(
        "chi_square",
        pearson,
        tvd,
        chi_p,
        calibration,
        "distance_min",
        lambda lv: 0.0,
        details=dict(details),
    )
    return [psi, chi]
