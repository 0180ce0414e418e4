"""Regression-adjusted (CUPED) effect estimates per look, for the always-valid harm test (pure).

CUPED (Deng, Xu, Kohavi & Walker, WSDM 2013) subtracts from each unit's outcome ``y`` the part a
covariate ``x`` logged *before* the outcome predicts: ``y − θ (x − x̄)``. The covariate is
independent of the arm (the bucketing is random), so the adjusted difference of means still
estimates the effect, with the variance multiplied by about ``1 − ρ²`` (``ρ`` the within-arm
correlation of ``x`` and ``y``). This is the two-arm ANCOVA (Lin 2013): the coefficient of the arm
in the least-squares fit ``y ~ 1 + arm + x``, with

* ``θ = S_xy / S_xx`` from the *within-arm* (pooled) sums of squares, so a real effect does not
  leak into ``θ``;
* ``Δ̂ = (ȳ_B − ȳ_A) − θ (x̄_B − x̄_A)``;
* ``v = s² (1/n_A + 1/n_B + (x̄_B − x̄_A)² / S_xx)`` with the residual variance
  ``s² = (S_yy − θ S_xy) / (n_A + n_B − 3)``: the exact least-squares variance of ``Δ̂``.

Without a covariate it is the pooled two-sample comparison, ``s² = S_yy / (n − 2)``. The per-look
``(Δ̂, v)`` go into the mSPRT (:func:`~stagewise.rollout.experiments.sequential.msprt_log_lr`)
with ``v`` as a plug-in, the large-sample approach of Johari et al. and of the regression-adjusted
always-valid tests of Lindon, Ham, Tingley & Bojinov (arXiv:2210.08589, 2022). The A/A
simulations in :mod:`stagewise.rollout.guardrails.simulate` measure the actual error rate.

Every function takes arrays whose **last axis is the looks** (cumulative sums per day) and any
leading shape (e.g. simulated experiments), so simulations and the controller share one code path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["AdjustedEstimates", "Moments", "adjusted_difference", "cumulative_moments"]

Float = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Moments:
    """Cumulative sums of one arm per look: count, sums of ``y``, ``y²``, ``x``, ``x²`` and ``x·y``.

    Without a covariate the ``x`` sums are zeros.
    """

    n: Float
    sum_y: Float
    sum_yy: Float
    sum_x: Float
    sum_xx: Float
    sum_xy: Float

    @property
    def mean_y(self) -> Float:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(self.sum_y / self.n, dtype=np.float64)


def cumulative_moments(
    values: npt.ArrayLike, covariate: npt.ArrayLike | None, look: npt.ArrayLike, n_looks: int
) -> Moments:
    """Cumulative :class:`Moments` of one arm's units over ``n_looks`` looks.

    ``look[i]`` is the look (0-based day index) at which unit ``i`` is first seen; units are
    counted in that look and every later one.

    Examples
    --------
    >>> m = cumulative_moments([1.0, 0.0, 1.0], None, [0, 1, 1], n_looks=3)
    >>> m.n.tolist(), m.sum_y.tolist()
    ([1.0, 3.0, 3.0], [1.0, 2.0, 2.0])
    """
    y = np.asarray(values, dtype=np.float64)
    x = np.zeros_like(y) if covariate is None else np.asarray(covariate, dtype=np.float64)
    idx = np.asarray(look, dtype=np.int64)

    def total(weights: Float | None) -> Float:
        return np.cumsum(np.bincount(idx, weights=weights, minlength=n_looks)[:n_looks].astype(np.float64))

    return Moments(total(None), total(y), total(y * y), total(x), total(x * x), total(x * y))


@dataclass(frozen=True)
class AdjustedEstimates:
    """Per look: the effect estimate (challenger − control), its variance, the variance the same
    comparison would have without the covariate, and the adjustment coefficient ``θ``.

    Looks where the variance is undefined (an arm with no units, fewer than 4 units in all, or no
    spread) hold NaN: no evidence there.
    """

    estimate: Float
    variance: Float
    unadjusted_variance: Float
    theta: Float

    @property
    def variance_ratio(self) -> Float:
        """``variance / unadjusted_variance``: about ``1 − ρ²``; 1 without a covariate."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(self.variance / self.unadjusted_variance, dtype=np.float64)


def _centred(m: Moments) -> tuple[Float, Float, Float, Float, Float]:
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_y, mean_x = m.sum_y / m.n, m.sum_x / m.n
        ss_yy = np.where(m.n > 0, m.sum_yy - m.sum_y * mean_y, 0.0)
        ss_xx = np.where(m.n > 0, m.sum_xx - m.sum_x * mean_x, 0.0)
        ss_xy = np.where(m.n > 0, m.sum_xy - m.sum_x * mean_y, 0.0)
    return mean_y, mean_x, ss_yy, ss_xx, ss_xy


def adjusted_difference(control: Moments, challenger: Moments, *, adjust: bool = True) -> AdjustedEstimates:
    """The ANCOVA (CUPED) estimate of challenger − control per look, and its variance.

    With ``adjust=False`` (or no spread in the covariate) it is the plain difference of means with
    the pooled within-arm variance.

    Examples
    --------
    >>> rng = __import__("numpy").random.default_rng(0)
    >>> x = rng.normal(size=4000); y = x + rng.normal(size=4000)   # ρ² = 1/2
    >>> a = cumulative_moments(y[:2000], x[:2000], [0] * 2000, 1)
    >>> b = cumulative_moments(y[2000:], x[2000:], [0] * 2000, 1)
    >>> round(float(adjusted_difference(a, b).variance_ratio[0]), 1)
    0.5
    """
    ya, xa, yya, xxa, xya = _centred(control)
    yb, xb, yyb, xxb, xyb = _centred(challenger)
    n_a, n_b = control.n, challenger.n
    s_yy, s_xx, s_xy = yya + yyb, xxa + xxb, xya + xyb
    n = n_a + n_b
    scale = 1e-12 * np.maximum(1.0, np.abs(control.sum_xx) + np.abs(challenger.sum_xx))
    use = adjust & (s_xx > scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.where(use, s_xy / np.where(use, s_xx, 1.0), 0.0)
        raw = yb - ya
        dx = np.where(use, xb - xa, 0.0)
        estimate = raw - theta * dx
        both = (n_a > 0) & (n_b > 0)
        plain_s2 = np.clip(s_yy, 0.0, None) / (n - 2.0)
        plain_var = np.where(both & (n > 3), plain_s2 * (1.0 / n_a + 1.0 / n_b), np.nan)
        resid_s2 = np.clip(s_yy - theta * s_xy, 0.0, None) / (n - 3.0)
        adj_var = resid_s2 * (1.0 / n_a + 1.0 / n_b + dx**2 / np.where(use, s_xx, 1.0))
        variance = np.where(use, np.where(both & (n > 3), adj_var, np.nan), plain_var)
    return AdjustedEstimates(
        np.asarray(estimate, dtype=np.float64),
        np.asarray(variance, dtype=np.float64),
        np.asarray(plain_var, dtype=np.float64),
        np.asarray(theta, dtype=np.float64),
    )
