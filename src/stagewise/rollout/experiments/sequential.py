"""A sequential test that stays valid when it is looked at every day: the mSPRT.

A fixed-horizon test (a z-test at 5 %) checked every day for 30 days rejects a
true null far more often than 5 % of the time, because each look is another
chance for noise to cross the line. The **mixture sequential probability ratio
test** (mSPRT) of Johari, Koomen, Pekelis & Walsh, "Always Valid Inference:
Continuous Monitoring of A/B Tests", *Operations Research* 70(3):1806–1821 (2022)
(arXiv:1512.04922), gives an *always-valid p-value*: the probability that it
ever drops below α, at any of arbitrarily many looks, is at most α under the null.

The formula
-----------
Let ``Δ̂_n`` be the estimated effect after ``n`` observations (challenger minus
control) and ``v_n`` its variance (``σ²/n`` for a mean; ``p̄(1−p̄)(1/n_A + 1/n_B)``
for two proportions, pooled under the null; ``(b + c)/n²`` for paired 0/1 hits).
Mixing the likelihood ratio of ``θ`` against ``θ₀`` over a normal prior
``θ ~ N(θ₀, τ²)`` gives, in closed form (Johari et al. 2022, eq. (11) and §4 for
two streams, written with the variance of the estimate)::

    Λ_n = sqrt(v_n / (v_n + τ²)) · exp( τ² (Δ̂_n − θ₀)² / (2 v_n (v_n + τ²)) )

    p_n = min(1, p_{n−1}, 1 / Λ_n),   p_0 = 1

Under ``H₀: θ = θ₀``, ``Λ_n`` is a non-negative martingale with mean 1, so by
Ville's inequality ``P(sup_n Λ_n ≥ 1/α) ≤ α``; the p-value is therefore valid
under continuous monitoring, here the daily controller tick. For proportions the
normal likelihood is the large-sample approximation Johari et al. use; the A/A
harness (:mod:`stagewise.rollout.experiments.aa`) measures the actual error rate.

**One-sided (harm).** Mixing only over ``θ < θ₀`` with a half-normal prior gives
``Λ⁻_n = 2 Λ_n Φ(−m_n / s_n)`` with the posterior mean ``m_n = τ²(Δ̂_n − θ₀)/(v_n + τ²)``
and ``s_n² = v_n τ² / (v_n + τ²)``. For every ``θ ≥ θ₀`` it is a non-negative
supermartingale, so ``alternative="less"`` ("the challenger is worse") is
valid for the composite null "not worse", with up to twice the evidence of the
two-sided statistic when the effect really is negative.

**The mixing variance τ²** is the one tuning knob: the test has most power for
effects of about ``τ`` in size. The default ``τ = 0.05`` suits win hit rates
(25 % → 20 % is an effect of −0.05); for score accuracy, whose per-race
differences are smaller, ``τ ≈ 0.02`` is a better choice. τ never affects
validity, only which effects are found fastest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.special import log_ndtr

from stagewise._exceptions import ConfigError

__all__ = [
    "DEFAULT_TAU",
    "SequentialResult",
    "always_valid_p_values",
    "msprt_log_lr",
    "sequential_from_estimates",
    "sequential_paired_hits",
    "sequential_two_means",
    "sequential_two_proportions",
    "two_proportion_estimates",
]

DEFAULT_TAU = 0.05
"""Default mixing standard deviation τ (the mixing variance is τ²), in units of the effect."""

Alternative = Literal["two-sided", "less", "greater"]
_ALTERNATIVES = ("two-sided", "less", "greater")
Float = npt.NDArray[np.float64]


def _check(tau: float, alternative: str) -> None:
    if not (isinstance(tau, (int, float)) and math.isfinite(tau) and tau > 0):
        raise ConfigError(f"The mixing standard deviation 'tau' must be a number > 0. Got {tau!r}.")
    if alternative not in _ALTERNATIVES:
        raise ConfigError(f"'alternative' must be one of {_ALTERNATIVES}. Got {alternative!r}.")


def msprt_log_lr(
    estimate: npt.ArrayLike,
    variance: npt.ArrayLike,
    tau: float = DEFAULT_TAU,
    theta0: float = 0.0,
    alternative: Alternative = "two-sided",
) -> Float:
    """Log of the mixture likelihood ratio ``Λ`` (vectorised over any shape).

    Where the variance is 0 or undefined (no data, or no hits at all) there is
    no evidence and ``log Λ = 0``.

    Examples
    --------
    >>> round(float(msprt_log_lr(0.0, 0.01, tau=0.05)), 6)  # no effect: Λ = sqrt(v / (v + τ²)) < 1
    -0.111572
    >>> bool(msprt_log_lr(-0.05, 1e-4, alternative="less") > msprt_log_lr(-0.05, 1e-4))
    True
    """
    _check(tau, alternative)
    est = np.asarray(estimate, dtype=np.float64)
    var = np.asarray(variance, dtype=np.float64)
    tau2 = float(tau) ** 2
    ok = np.isfinite(var) & (var > 0) & np.isfinite(est)
    v = np.where(ok, var, 1.0)
    delta = np.where(ok, est - theta0, 0.0)
    log_lr = 0.5 * np.log(v / (v + tau2)) + tau2 * delta**2 / (2.0 * v * (v + tau2))
    if alternative != "two-sided":
        mean = tau2 * delta / (v + tau2)
        sd = np.sqrt(v * tau2 / (v + tau2))
        side = -mean / sd if alternative == "less" else mean / sd
        log_lr = math.log(2.0) + log_lr + log_ndtr(side)
    return np.where(ok, log_lr, 0.0)


def always_valid_p_values(log_lr: npt.ArrayLike) -> Float:
    """Always-valid p-values ``p_n = min(1, min_{k<=n} 1/Λ_k)`` along the last axis (the looks)."""
    arr = np.asarray(log_lr, dtype=np.float64)
    p = np.exp(-np.clip(arr, 0.0, None))
    return np.minimum.accumulate(p, axis=-1)


@dataclass(frozen=True)
class SequentialResult:
    """The always-valid p-value path of a sequential comparison, one entry per look.

    ``estimates`` are challenger − control. ``rejected`` is True once the p-value
    has dropped below ``alpha`` (with ``alternative="less"``: significant harm);
    ``first_rejection`` is the index of that look, or None.

    Examples
    --------
    >>> r = sequential_two_proportions([250, 500], [1000, 2000], [20, 38], [100, 200], alternative="less")
    >>> r.rejected, round(r.estimates[-1], 3)
    (False, -0.06)
    """

    estimates: tuple[float, ...]
    variances: tuple[float, ...]
    p_values: tuple[float, ...]
    alpha: float
    tau: float
    alternative: Alternative

    @property
    def p_value(self) -> float:
        """Always-valid p-value at the last look (1.0 with no looks)."""
        return self.p_values[-1] if self.p_values else 1.0

    @property
    def rejected(self) -> bool:
        """Whether the null has been rejected at level ``alpha`` at any look so far."""
        return self.p_value < self.alpha

    @property
    def first_rejection(self) -> int | None:
        """Index of the first look whose p-value is below ``alpha``, or None."""
        for i, p in enumerate(self.p_values):
            if p < self.alpha:
                return i
        return None

    def as_dict(self) -> dict[str, object]:
        """Plain-JSON view of the last look, e.g. for the audit log."""
        last = self.estimates[-1] if self.estimates else math.nan
        return {
            "test": "mSPRT (Johari et al. 2022)",
            "alternative": self.alternative,
            "tau": self.tau,
            "alpha": self.alpha,
            "looks": len(self.p_values),
            "estimate": last if math.isfinite(last) else None,
            "p_value": self.p_value,
            "rejected": self.rejected,
        }


def _cumulative_counts(values: npt.ArrayLike, name: str) -> Float:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or not np.isfinite(arr).all() or (arr < 0).any():
        raise ConfigError(f"'{name}' must be a 1-D sequence of finite counts >= 0 per look. Got {values!r}.")
    if (np.diff(arr) < 0).any():
        raise ConfigError(f"'{name}' must be cumulative (non-decreasing) over the looks. Got {values!r}.")
    return arr


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"'alpha' must be in (0, 1). Got {alpha!r}.")


def two_proportion_estimates(
    control_hits: npt.ArrayLike,
    control_n: npt.ArrayLike,
    treatment_hits: npt.ArrayLike,
    treatment_n: npt.ArrayLike,
) -> tuple[Float, Float]:
    """Difference of rates (treatment − control) and its variance pooled under the null; vectorised.

    Looks where either group is empty get a NaN variance (no evidence).
    """
    ch, cn = np.asarray(control_hits, np.float64), np.asarray(control_n, np.float64)
    th, tn = np.asarray(treatment_hits, np.float64), np.asarray(treatment_n, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        estimate = th / tn - ch / cn
        pooled = (ch + th) / (cn + tn)
        variance = pooled * (1.0 - pooled) * (1.0 / cn + 1.0 / tn)
    return estimate, variance


def sequential_two_proportions(
    control_hits: npt.ArrayLike,
    control_n: npt.ArrayLike,
    treatment_hits: npt.ArrayLike,
    treatment_n: npt.ArrayLike,
    alpha: float = 0.05,
    tau: float = DEFAULT_TAU,
    alternative: Alternative = "two-sided",
) -> SequentialResult:
    """mSPRT for two independent hit rates (control group vs challenger cohort).

    Each argument is a **cumulative** count per look (e.g. per day since the
    stage started), so ``control_n[k]`` is the number of control races up to and
    including look ``k``.
    """
    _check(tau, alternative)
    _check_alpha(alpha)
    arrays = [
        _cumulative_counts(v, n)
        for v, n in (
            (control_hits, "control_hits"),
            (control_n, "control_n"),
            (treatment_hits, "treatment_hits"),
            (treatment_n, "treatment_n"),
        )
    ]
    if len({a.size for a in arrays}) != 1:
        raise ConfigError(
            f"All four count sequences need one entry per look; got lengths {[a.size for a in arrays]}."
        )
    if (arrays[0] > arrays[1]).any() or (arrays[2] > arrays[3]).any():
        raise ConfigError(
            "Hits cannot exceed races at any look (control_hits <= control_n, treatment_hits <= treatment_n)."
        )
    estimate, variance = two_proportion_estimates(*arrays)
    p_values = always_valid_p_values(msprt_log_lr(estimate, variance, tau, 0.0, alternative))
    return SequentialResult(
        tuple(float(x) for x in estimate),
        tuple(float(x) for x in variance),
        tuple(float(x) for x in p_values),
        alpha,
        float(tau),
        alternative,
    )


def sequential_paired_hits(
    champion_only: npt.ArrayLike,
    challenger_only: npt.ArrayLike,
    n_races: npt.ArrayLike,
    alpha: float = 0.05,
    tau: float = DEFAULT_TAU,
    alternative: Alternative = "two-sided",
) -> SequentialResult:
    """mSPRT for paired hit rates (shadow mode), the sequential version of McNemar's test.

    Per race the difference ``d = challenger_hit − champion_hit`` is −1, 0 or 1.
    With ``b`` champion-only and ``c`` challenger-only races among ``n`` (all
    cumulative per look) the estimate is ``(c − b)/n`` and its variance under the
    null ``E[d] = 0`` is ``(b + c)/n²``.
    """
    _check(tau, alternative)
    _check_alpha(alpha)
    b = _cumulative_counts(champion_only, "champion_only")
    c = _cumulative_counts(challenger_only, "challenger_only")
    n = _cumulative_counts(n_races, "n_races")
    if not b.size == c.size == n.size:
        raise ConfigError(
            f"All three count sequences need one entry per look; got lengths {[b.size, c.size, n.size]}."
        )
    if (b + c > n).any():
        raise ConfigError(
            "Discordant races (champion_only + challenger_only) cannot exceed n_races at any look."
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        estimate = (c - b) / n
        variance = (b + c) / n**2
    p_values = always_valid_p_values(msprt_log_lr(estimate, variance, tau, 0.0, alternative))
    return SequentialResult(
        tuple(float(x) for x in estimate),
        tuple(float(x) for x in variance),
        tuple(float(x) for x in p_values),
        alpha,
        float(tau),
        alternative,
    )


def sequential_from_estimates(
    estimates: npt.ArrayLike,
    variances: npt.ArrayLike,
    alpha: float = 0.05,
    tau: float = DEFAULT_TAU,
    alternative: Alternative = "two-sided",
) -> SequentialResult:
    """mSPRT from any effect estimate per look and the variance of that estimate."""
    _check(tau, alternative)
    _check_alpha(alpha)
    est = np.asarray(estimates, dtype=np.float64).ravel()
    var = np.asarray(variances, dtype=np.float64).ravel()
    if est.size != var.size:
        raise ConfigError(
            f"'estimates' and 'variances' need one entry per look; got {est.size} and {var.size}."
        )
    if (np.isfinite(var) & (var < 0)).any():
        raise ConfigError(f"'variances' must be >= 0. Got {variances!r}.")
    p_values = always_valid_p_values(msprt_log_lr(est, var, tau, 0.0, alternative))
    return SequentialResult(
        tuple(float(x) for x in est),
        tuple(float(x) for x in var),
        tuple(float(x) for x in p_values),
        alpha,
        float(tau),
        alternative,
    )


def sequential_two_means(
    control_sum: npt.ArrayLike,
    control_sum_sq: npt.ArrayLike,
    control_n: npt.ArrayLike,
    treatment_sum: npt.ArrayLike,
    treatment_sum_sq: npt.ArrayLike,
    treatment_n: npt.ArrayLike,
    alpha: float = 0.05,
    tau: float = 0.02,
    alternative: Alternative = "two-sided",
) -> SequentialResult:
    """mSPRT for two independent means (e.g. score accuracy of control vs challenger cohort).

    Arguments are cumulative per look: sums, sums of squares and counts. The
    variance of the difference is ``s_A²/n_A + s_B²/n_B`` with each group's sample
    variance; a look where a group has fewer than 2 races carries no evidence.
    """
    arrays = [
        np.asarray(v, dtype=np.float64).ravel()
        for v in (control_sum, control_sum_sq, control_n, treatment_sum, treatment_sum_sq, treatment_n)
    ]
    if len({a.size for a in arrays}) != 1:
        raise ConfigError(
            f"All six sequences need one entry per look; got lengths {[a.size for a in arrays]}."
        )
    cs, cq, cn, ts, tq, tn = arrays
    _cumulative_counts(cn, "control_n")
    _cumulative_counts(tn, "treatment_n")
    with np.errstate(divide="ignore", invalid="ignore"):
        c_mean, t_mean = cs / cn, ts / tn
        c_var = np.clip((cq - cn * c_mean**2) / (cn - 1.0), 0.0, None)
        t_var = np.clip((tq - tn * t_mean**2) / (tn - 1.0), 0.0, None)
        variance = np.where((cn >= 2) & (tn >= 2), c_var / cn + t_var / tn, np.nan)
    return sequential_from_estimates(t_mean - c_mean, variance, alpha, tau, alternative)
