"""Simulations of the guardrail judge: family-wise false rollbacks (A/A) and CUPED's power (pure, vectorised).

Each simulated month has ``days`` days of ``races_per_day`` races; a race lands in the challenger
arm with probability ``treatment_share``. Every race has its own true probability ``q`` that the
champion's pick wins, drawn from a Beta distribution with mean ``p_win`` and standard deviation
``q_sd`` (some races have a clear favourite, others are open). The covariate logged at prediction
time is the champion's predicted probability for that race, a noisy reading of ``q``:
``expit(logit(q) + N(0, noise_sd²))``; the negative control replaces it with pure noise ``N(0, 1)``.

* :func:`simulate_family` runs three guardrails (win hit, trifecta hit, score accuracy) through
  the same harm test and Holm step-down as :func:`~stagewise.rollout.guardrails.judge_guardrails`.
  *Correlated*: a trifecta is also a win (``P(trifecta | win)`` fixed) and a win lifts the score
  accuracy; *independent*: the three are drawn separately.
* :func:`simulate_variants` runs the same three guardrails for every variant of an A/B/n split against
  one shared control, and compares Holm over all variants × metrics (what the controller does) with no
  correction at all (each hypothesis at α).
* :func:`simulate_cuped` runs the win-hit guardrail alone, unadjusted and with CUPED on the same
  races, beside today's controller test (pooled two proportions).

All draws are ``(batch, days, races)`` arrays reduced to cumulative per-day sums.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.special import expit, logit

from stagewise._exceptions import ConfigError
from stagewise.rollout.experiments.aa import RuleOutcome
from stagewise.rollout.experiments.sequential import (
    always_valid_p_values,
    msprt_log_lr,
    two_proportion_estimates,
)
from stagewise.rollout.guardrails.adjusted import Moments
from stagewise.rollout.guardrails.family import holm_rejections
from stagewise.rollout.guardrails.harm_test import harm_path

__all__ = [
    "CupedResult",
    "FamilyResult",
    "VariantsResult",
    "simulate_cuped",
    "simulate_family",
    "simulate_variants",
]

Float = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]
BATCH = 200
P_TRIFECTA = 0.07
SCORE_WIN_LIFT = 0.1


@dataclass(frozen=True)
class FamilyResult:
    """Family-wise false rollbacks over three guardrails, and how often each metric alone fired."""

    family: RuleOutcome
    per_metric: dict[str, RuleOutcome]
    correlated: bool
    treatment_share: float
    alpha: float
    cuped: bool


@dataclass(frozen=True)
class VariantsResult:
    """A/A for A/B/n: how often any variant is rolled back, with and without multiplicity control."""

    holm: RuleOutcome  # Holm over every variant × metric at α (the controller)
    uncorrected: RuleOutcome  # every hypothesis at α: what judging each alone would do
    n_variants: int
    family_size: int
    treatment_share: float
    correlated: bool
    alpha: float


@dataclass(frozen=True)
class CupedResult:
    """The win-hit guardrail with and without CUPED on the same simulated races."""

    two_proportions: RuleOutcome
    unadjusted: RuleOutcome
    cuped: RuleOutcome
    variance_ratio: float  # mean over simulations of the last look's adjusted / unadjusted variance
    covariate: str
    only_cuped: int  # simulated months in which CUPED fired and the unadjusted test did not
    only_unadjusted: int  # and the other way round (McNemar's discordant pairs)


def _check(n_sims: int, days: int, races_per_day: int, share: float, q_sd: float, p_win: float) -> None:
    for name, value in (("n_sims", n_sims), ("days", days), ("races_per_day", races_per_day)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"The '{name}' parameter must be an int >= 1. Got {value!r}.")
    if not 0.0 < share < 1.0:
        raise ConfigError(f"The 'treatment_share' parameter must be in (0, 1). Got {share!r}.")
    if not 0.0 < q_sd < (p_win * (1.0 - p_win)) ** 0.5:
        raise ConfigError(
            f"The 'q_sd' parameter must be in (0, sqrt(p(1-p)) = {(p_win * (1 - p_win)) ** 0.5:.3f}). "
            f"Got {q_sd!r}."
        )


def _race_probabilities(rng: np.random.Generator, shape: tuple[int, ...], mean: float, sd: float) -> Float:
    k = mean * (1.0 - mean) / sd**2 - 1.0
    return rng.beta(mean * k, (1.0 - mean) * k, size=shape)


def _covariate(rng: np.random.Generator, q: Float, kind: str, noise_sd: float) -> Float:
    if kind == "noise":
        return rng.normal(size=q.shape)
    return np.asarray(expit(logit(np.clip(q, 1e-6, 1 - 1e-6)) + rng.normal(0.0, noise_sd, q.shape)))


def _moments(y: Float, x: Float, mask: Bool) -> Moments:
    """Cumulative per-day sums of the units in ``mask``; axes (batch, days, races) → (batch, days)."""
    w = mask.astype(np.float64)

    def total(a: Float) -> Float:
        return np.cumsum((a * w).sum(axis=-1), axis=-1)

    return Moments(total(np.ones_like(y)), total(y), total(y * y), total(x), total(x * x), total(x * y))


def _outcome(fired: Bool, rule: str) -> RuleOutcome:
    ever = fired.any(axis=1)
    first = np.argmax(fired, axis=1)[ever] + 1
    return RuleOutcome(rule, int(ever.sum()), fired.shape[0], float(np.median(first)) if first.size else None)


def simulate_family(
    n_sims: int = 2000,
    days: int = 30,
    races_per_day: int = 140,
    treatment_share: float = 0.5,
    correlated: bool = True,
    alpha: float = 0.05,
    seed: int = 0,
    cuped: bool = False,
    q_sd: float = 0.15,
    noise_sd: float = 0.5,
    min_sample: int = 1,
) -> FamilyResult:
    """A/A: how often Holm over three always-valid guardrails ever rolls back a challenger that is not worse.

    Examples
    --------
    >>> r = simulate_family(n_sims=200, days=10, seed=1)
    >>> r.family.rate <= 0.05
    True
    """
    _check(n_sims, days, races_per_day, treatment_share, q_sd, 0.25)
    rng = np.random.default_rng(seed)
    names = ("win_hit", "trifecta_hit", "score_accuracy")
    taus = (0.05, 0.02, 0.02)
    family_parts: list[Bool] = []
    metric_parts: list[Bool] = []
    for start in range(0, n_sims, BATCH):
        shape = (min(BATCH, n_sims - start), days, races_per_day)
        treated = rng.random(shape) < treatment_share
        q = _race_probabilities(rng, shape, 0.25, q_sd)
        x = _covariate(rng, q, "champion", noise_sd)
        win = rng.random(shape) < q
        if correlated:
            trifecta = win & (rng.random(shape) < P_TRIFECTA / 0.25)
            score = 0.9 * rng.beta(6.0, 3.0, shape) + SCORE_WIN_LIFT * win
        else:
            trifecta = rng.random(shape) < P_TRIFECTA
            score = 0.9 * rng.beta(6.0, 3.0, shape) + SCORE_WIN_LIFT * (rng.random(shape) < 0.25)
        p_paths = []
        for y, tau in zip((win.astype(np.float64), trifecta.astype(np.float64), score), taus, strict=True):
            path = harm_path(
                _moments(y, x, ~treated), _moments(y, x, treated), harm="decrease", tolerance=0.0,
                tau=tau, min_sample=min_sample, adjust=cuped,
            )  # fmt: skip
            p_paths.append(path.p_values)
        p = np.stack(p_paths, axis=-1)  # (batch, days, metrics)
        family_parts.append(np.asarray(holm_rejections(p, alpha).any(axis=-1)))
        metric_parts.append(p < alpha / len(names))
    family = np.concatenate(family_parts)
    metrics = np.concatenate(metric_parts)
    label = "Holm over 3 guardrails" + (" (CUPED)" if cuped else "")
    return FamilyResult(
        _outcome(family, label),
        {n: _outcome(metrics[..., i], f"{n} at α/3") for i, n in enumerate(names)},
        correlated,
        treatment_share,
        alpha,
        cuped,
    )


def _three_metrics(
    rng: np.random.Generator, shape: tuple[int, ...], correlated: bool
) -> tuple[Float, Float, Float]:
    win = rng.random(shape) < _race_probabilities(rng, shape, 0.25, 0.15)
    if correlated:
        trifecta = win & (rng.random(shape) < P_TRIFECTA / 0.25)
        score = 0.9 * rng.beta(6.0, 3.0, shape) + SCORE_WIN_LIFT * win
    else:
        trifecta = rng.random(shape) < P_TRIFECTA
        score = 0.9 * rng.beta(6.0, 3.0, shape) + SCORE_WIN_LIFT * (rng.random(shape) < 0.25)
    return win.astype(np.float64), trifecta.astype(np.float64), score


def simulate_variants(
    n_sims: int = 2000,
    n_variants: int = 3,
    days: int = 30,
    races_per_day: int = 140,
    treatment_share: float = 0.5,
    correlated: bool = True,
    alpha: float = 0.05,
    seed: int = 0,
    min_sample: int = 1,
) -> VariantsResult:
    """A/A for A/B/n: every variant equal to control, three guardrails each, one look a day.

    ``treatment_share`` is the stage (all variants together); each variant gets an equal part of it
    and every variant is compared with the same control units, so the comparisons are correlated
    (as in the controller). A run *falsely rolls back* when any variant is ever found harmful.

    Examples
    --------
    >>> r = simulate_variants(n_sims=100, days=10, seed=1)
    >>> r.family_size, r.holm.fired <= r.uncorrected.fired
    (9, True)
    """
    _check(n_sims, days, races_per_day, treatment_share, 0.15, 0.25)
    if isinstance(n_variants, bool) or not isinstance(n_variants, int) or n_variants < 1:
        raise ConfigError(f"The 'n_variants' parameter must be an int >= 1. Got {n_variants!r}.")
    rng = np.random.default_rng(seed)
    taus = (0.05, 0.02, 0.02)
    holm_parts: list[Bool] = []
    plain_parts: list[Bool] = []
    for start in range(0, n_sims, BATCH):
        shape = (min(BATCH, n_sims - start), days, races_per_day)
        draw = rng.random(shape)
        # group 0 is control; variant v takes an equal slice of the treated share
        group = np.where(draw < treatment_share, 1 + (draw / treatment_share * n_variants).astype(int), 0)
        zeros = np.zeros(shape)
        metrics = _three_metrics(rng, shape, correlated)
        p_paths = []
        for v in range(1, n_variants + 1):
            for y, tau in zip(metrics, taus, strict=True):
                path = harm_path(
                    _moments(y, zeros, group == 0), _moments(y, zeros, group == v), harm="decrease",
                    tolerance=0.0, tau=tau, min_sample=min_sample, adjust=False,
                )  # fmt: skip
                p_paths.append(path.p_values)
        p = np.stack(p_paths, axis=-1)  # (batch, days, variants × metrics)
        holm_parts.append(np.asarray(holm_rejections(p, alpha).any(axis=-1)))
        plain_parts.append(np.asarray((p < alpha).any(axis=-1)))
    k = n_variants * len(taus)
    return VariantsResult(
        _outcome(np.concatenate(holm_parts), f"Holm over {n_variants} variants × 3 guardrails"),
        _outcome(np.concatenate(plain_parts), "each hypothesis at α (no correction)"),
        n_variants, k, treatment_share, correlated, alpha,
    )  # fmt: skip


def simulate_cuped(
    n_sims: int = 2000,
    days: int = 30,
    races_per_day: int = 140,
    treatment_share: float = 0.1,
    p_control: float = 0.25,
    p_challenger: float = 0.20,
    alpha: float = 0.05,
    tau: float = 0.05,
    seed: int = 0,
    covariate: Literal["champion", "noise"] = "champion",
    q_sd: float = 0.15,
    noise_sd: float = 0.5,
    min_sample: int = 1,
) -> CupedResult:
    """How often the win-hit guardrail fires, with and without CUPED, on the same races.

    With ``p_challenger == p_control`` the rates are false rollbacks; below it, power. The
    challenger's win probability in a race is ``q · p_challenger / p_control``: worse everywhere by
    the same factor.

    Examples
    --------
    >>> r = simulate_cuped(n_sims=200, seed=1)
    >>> r.variance_ratio < 1.0
    True
    """
    _check(n_sims, days, races_per_day, treatment_share, q_sd, p_control)
    if covariate not in ("champion", "noise"):
        raise ConfigError(f"The 'covariate' parameter must be 'champion' or 'noise'. Got {covariate!r}.")
    rng = np.random.default_rng(seed)
    parts: dict[str, list[Bool]] = {"two": [], "plain": [], "cuped": []}
    ratios: list[Float] = []
    for start in range(0, n_sims, BATCH):
        shape = (min(BATCH, n_sims - start), days, races_per_day)
        treated = rng.random(shape) < treatment_share
        q = _race_probabilities(rng, shape, p_control, q_sd)
        x = _covariate(rng, q, covariate, noise_sd)
        win = (rng.random(shape) < np.where(treated, q * p_challenger / p_control, q)).astype(np.float64)
        control, challenger = _moments(win, x, ~treated), _moments(win, x, treated)
        plain, adjusted = (
            harm_path(
                control, challenger, harm="decrease", tolerance=0.0, tau=tau, min_sample=min_sample,
                adjust=adjust,
            )
            for adjust in (False, True)
        )  # fmt: skip
        estimate, variance = two_proportion_estimates(
            control.sum_y, control.n, challenger.sum_y, challenger.n
        )
        two = always_valid_p_values(msprt_log_lr(estimate, variance, tau=tau, alternative="less"))
        parts["two"].append(np.asarray(two < alpha))
        parts["plain"].append(plain.p_values < alpha)
        parts["cuped"].append(adjusted.p_values < alpha)
        ratios.append(adjusted.estimates.variance_ratio[:, -1])
    plain_ever = np.concatenate(parts["plain"]).any(axis=1)
    cuped_ever = np.concatenate(parts["cuped"]).any(axis=1)
    return CupedResult(
        _outcome(np.concatenate(parts["two"]), "two proportions, pooled (today's controller)"),
        _outcome(np.concatenate(parts["plain"]), "guardrail, unadjusted"),
        _outcome(np.concatenate(parts["cuped"]), f"guardrail, CUPED on the {covariate} covariate"),
        float(np.nanmean(np.concatenate(ratios))),
        covariate,
        int((cuped_ever & ~plain_ever).sum()),
        int((plain_ever & ~cuped_ever).sum()),
    )
