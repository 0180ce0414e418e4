"""The one-sided always-valid harm test of one guardrail, per look (pure, vectorised).

"Is the challenger worse by more than the tolerance?" For a metric whose harm is a *decrease* the
effect is ``δ = challenger − control`` and the null is ``δ ≥ −tolerance``; for an *increase* (log-loss,
latency) the sign is flipped first. The test is the one-sided mSPRT of
:mod:`stagewise.rollout.experiments.sequential` at ``θ₀ = −tolerance`` on the (optionally
CUPED-adjusted, :mod:`~stagewise.rollout.guardrails.adjusted`) estimate. A look where either arm
has fewer than ``min_sample`` units carries no evidence: skipping looks never breaks always-validity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from stagewise.rollout.experiments.sequential import always_valid_p_values, msprt_log_lr
from stagewise.rollout.guardrails.adjusted import AdjustedEstimates, Moments, adjusted_difference

__all__ = ["HarmPath", "always_valid_interval", "harm_path"]

Float = npt.NDArray[np.float64]


@dataclass(frozen=True)
class HarmPath:
    """Per look: the always-valid p-values (running minimum) and the estimates they came from."""

    p_values: Float
    estimates: AdjustedEstimates
    counted: npt.NDArray[np.bool_]  # looks with both arms at min_sample or more


def harm_path(
    control: Moments,
    challenger: Moments,
    *,
    harm: Literal["decrease", "increase"],
    tolerance: float,
    tau: float,
    min_sample: int,
    adjust: bool,
) -> HarmPath:
    """Always-valid p-values of "worse by more than ``tolerance``" along the last axis (the looks)."""
    est = adjusted_difference(control, challenger, adjust=adjust)
    signed = est.estimate if harm == "decrease" else -est.estimate
    counted = (np.minimum(control.n, challenger.n) >= min_sample) & np.isfinite(est.variance)
    variance = np.where(counted, est.variance, np.nan)
    log_lr = msprt_log_lr(signed, variance, tau=tau, theta0=-tolerance, alternative="less")
    return HarmPath(always_valid_p_values(log_lr), est, counted)


def always_valid_interval(estimate: float, variance: float, tau: float, alpha: float) -> tuple[float, float]:
    """The mSPRT confidence sequence at one look: ``Δ̂ ± sqrt(v(v+τ²)/τ² · (2 log(1/α) + log((v+τ²)/v)))``.

    It covers the true effect at *every* look at once with probability ``≥ 1 − α`` (Johari et al.
    2022, §4): the interval of the two-sided test inverted. NaN with no evidence.

    Examples
    --------
    >>> low, high = always_valid_interval(-0.05, 1e-4, tau=0.05, alpha=0.05)
    >>> round(low, 4), round(high, 4)
    (-0.081, -0.019)
    """
    if not (math.isfinite(estimate) and math.isfinite(variance) and variance > 0):
        return (math.nan, math.nan)
    tau2 = tau * tau
    half = math.sqrt(
        variance
        * (variance + tau2)
        / tau2
        * (2 * math.log(1 / alpha) + math.log((variance + tau2) / variance))
    )
    return (estimate - half, estimate + half)
