"""A/A simulation: how often would the controller roll back a challenger that is not worse?

Each simulated experiment runs ``days`` days of ``races_per_day`` races. Every
race lands in the challenger cohort with probability ``treatment_share`` (the
bucketing is a fair coin per race) and each model wins it with its own hit rate.
Every day both rules look at the cumulative counts:

* **sequential**: the one-sided mSPRT of :mod:`stagewise.rollout.experiments.sequential`
  ("challenger worse", always-valid p-value < α);
* **naive**: a one-sided two-proportion z-test at level α (pooled variance),
  which is valid for one look only and is here checked every day.

A "false rollback" is an A/A experiment (both hit rates equal) in which a rule
ever fires. Power is the same count when the challenger really is worse. All
simulations run at once as ``(n_sims, days)`` numpy arrays.

Examples
--------
>>> r = simulate_aa(n_sims=200, days=10, races_per_day=140, seed=1)
>>> r.sequential.rate <= 0.05 < r.naive.rate
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from stagewise._exceptions import ConfigError
from stagewise.metrics.intervals import wilson_interval
from stagewise.rollout.experiments.sequential import (
    DEFAULT_TAU,
    always_valid_p_values,
    msprt_log_lr,
    two_proportion_estimates,
)

__all__ = ["BATCH_SIMS", "AaResult", "RuleOutcome", "simulate_aa", "simulate_health_gate", "simulate_power"]


@dataclass(frozen=True)
class RuleOutcome:
    """How often one decision rule fired over the simulated experiments."""

    rule: str
    fired: int
    n_sims: int
    median_day: float | None  # median first day (1-based) among experiments where it fired

    @property
    def rate(self) -> float:
        """Share of simulated experiments in which the rule fired at some look."""
        return self.fired / self.n_sims

    def interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """Wilson interval of :attr:`rate` (the Monte-Carlo uncertainty)."""
        return wilson_interval(self.fired, self.n_sims, confidence)


@dataclass(frozen=True)
class AaResult:
    """Outcome of :func:`simulate_aa` or :func:`simulate_power`: both rules on the same simulations."""

    n_sims: int
    days: int
    races_per_day: int
    treatment_share: float
    p_control: float
    p_treatment: float
    alpha: float
    tau: float
    seed: int
    sequential: RuleOutcome
    naive: RuleOutcome


def _validate(
    n_sims: int, days: int, races_per_day: int, share: float, alpha: float, rates: tuple[float, float]
) -> None:
    for name, value in (("n_sims", n_sims), ("days", days), ("races_per_day", races_per_day)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"The '{name}' parameter must be an int >= 1. Got {value!r}.")
    if not 0.0 < share < 1.0:
        raise ConfigError(f"The 'treatment_share' parameter must be in (0, 1). Got {share!r}.")
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"The 'alpha' parameter must be in (0, 1). Got {alpha!r}.")
    for name, rate in zip(("p", "p_treatment"), rates, strict=True):
        if not 0.0 <= rate <= 1.0:
            raise ConfigError(f"The '{name}' parameter must be a hit rate in [0, 1]. Got {rate!r}.")


def _first_day(fired_by_day: np.ndarray, rule: str) -> RuleOutcome:
    ever = fired_by_day.any(axis=1)
    first = np.argmax(fired_by_day, axis=1)[ever] + 1
    median = float(np.median(first)) if first.size else None
    return RuleOutcome(rule=rule, fired=int(ever.sum()), n_sims=fired_by_day.shape[0], median_day=median)


BATCH_SIMS = 10_000
"""Simulations drawn per batch (bounds memory; results do not depend on a progress callback)."""

Progress = Callable[[int, int], None]


def _batch(
    rng: np.random.Generator,
    n_sims: int,
    days: int,
    races_per_day: int,
    p_control: float,
    p_treatment: float,
    treatment_share: float,
    alpha: float,
    tau: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(sequential fired, naive fired), each ``(n_sims, days)`` booleans."""
    treated = rng.binomial(races_per_day, treatment_share, size=(n_sims, days))
    control = races_per_day - treated
    treated_hits = rng.binomial(treated, p_treatment)
    control_hits = rng.binomial(control, p_control)
    cum = [np.cumsum(a, axis=1) for a in (control_hits, control, treated_hits, treated)]
    estimate, variance = two_proportion_estimates(*cum)

    log_lr = msprt_log_lr(estimate, variance, tau=tau, alternative="less")
    sequential_fired = always_valid_p_values(log_lr) < alpha

    with np.errstate(divide="ignore", invalid="ignore"):
        z = estimate / np.sqrt(variance)
    naive_fired = np.nan_to_num(z, nan=0.0) < norm.ppf(alpha)
    return sequential_fired, naive_fired


def _simulate(
    n_sims: int,
    days: int,
    races_per_day: int,
    p_control: float,
    p_treatment: float,
    treatment_share: float,
    alpha: float,
    tau: float,
    seed: int,
    progress: Progress | None = None,
) -> AaResult:
    _validate(n_sims, days, races_per_day, treatment_share, alpha, (p_control, p_treatment))
    rng = np.random.default_rng(seed)
    sequential_parts, naive_parts = [], []
    done = 0
    while done < n_sims:
        size = min(BATCH_SIMS, n_sims - done)
        seq, naive = _batch(
            rng, size, days, races_per_day, p_control, p_treatment, treatment_share, alpha, tau
        )
        sequential_parts.append(seq)
        naive_parts.append(naive)
        done += size
        if progress is not None:
            progress(done, n_sims)
    return AaResult(
        n_sims=n_sims,
        days=days,
        races_per_day=races_per_day,
        treatment_share=treatment_share,
        p_control=p_control,
        p_treatment=p_treatment,
        alpha=alpha,
        tau=tau,
        seed=seed,
        sequential=_first_day(np.concatenate(sequential_parts), "sequential (mSPRT, always valid)"),
        naive=_first_day(np.concatenate(naive_parts), "naive daily z-test"),
    )


def simulate_aa(
    n_sims: int = 1000,
    days: int = 30,
    races_per_day: int = 140,
    p: float = 0.25,
    alpha: float = 0.05,
    seed: int = 0,
    treatment_share: float = 0.5,
    tau: float = DEFAULT_TAU,
    progress: Progress | None = None,
) -> AaResult:
    """False-rollback rate of the sequential and the naive rule when both groups hit at rate ``p``.

    Parameters
    ----------
    n_sims : int
        Simulated experiments.
    days : int
        Daily looks per experiment (30: a month of checks).
    races_per_day : int
        Races a day across both groups (about 130–150 nationally).
    p : float
        The common win hit rate.
    alpha : float
        Level of both rules.
    seed : int
        Seed of the numpy generator; the same seed gives the same result.
    treatment_share : float
        Expected share of races in the challenger cohort (0.1 at the 10 % stage).
    tau : float
        mSPRT mixing standard deviation.
    progress : callable, optional
        Called as ``progress(done, n_sims)`` after each batch of up to 10,000 simulations.
    """
    return _simulate(n_sims, days, races_per_day, p, p, treatment_share, alpha, tau, seed, progress)


def simulate_power(
    n_sims: int = 1000,
    days: int = 30,
    races_per_day: int = 140,
    p_control: float = 0.25,
    p_treatment: float = 0.20,
    alpha: float = 0.05,
    seed: int = 0,
    treatment_share: float = 0.5,
    tau: float = DEFAULT_TAU,
    progress: Progress | None = None,
) -> AaResult:
    """Share of experiments in which each rule detects a challenger that is really worse.

    Same simulation as :func:`simulate_aa` with the challenger's hit rate at
    ``p_treatment``; ``RuleOutcome.median_day`` is the median day of detection.

    Examples
    --------
    >>> r = simulate_power(n_sims=200, seed=2)
    >>> r.sequential.rate > 0.5
    True
    """
    return _simulate(
        n_sims, days, races_per_day, p_control, p_treatment, treatment_share, alpha, tau, seed, progress
    )


def _rolling(counts: np.ndarray, window: int) -> np.ndarray:
    total = np.cumsum(counts, axis=1)
    out = total.copy()
    out[:, window:] = total[:, window:] - total[:, :-window]
    return out


def _growing_windows(
    races: np.ndarray, hits: Sequence[np.ndarray], window_days: int, max_window_days: int, min_sample: int
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Each day's pooled counts over the last ``window_days`` days, grown one day at a time (up to
    ``max_window_days``, and never before day 1) until they hold ``min_sample`` races, as the
    controller's health step pools them."""
    n = _rolling(races, window_days)
    pooled = [_rolling(h, window_days) for h in hits]
    for k in range(window_days + 1, max_window_days + 1):
        short = n < min_sample
        if not short.any():
            break
        wider = _rolling(races, k)
        n = np.where(short, wider, n)
        pooled = [np.where(short, _rolling(h, k), p) for h, p in zip(hits, pooled, strict=True)]
    return n, pooled


def _wilson_upper(hits: np.ndarray, trials: np.ndarray) -> np.ndarray:
    """Wilson 95 % upper bounds by :func:`~stagewise.metrics.intervals.wilson_interval`, once per
    distinct (hits, trials) pair; NaN where there are no trials."""
    pairs, inverse = np.unique(np.stack([hits.ravel(), trials.ravel()]), axis=1, return_inverse=True)
    upper = np.array([wilson_interval(int(h), int(t))[1] for h, t in pairs.T])
    return upper[inverse.ravel()].reshape(hits.shape)


def simulate_health_gate(
    n_sims: int = 1000,
    days: int = 30,
    races_per_day: int = 140,
    treatment_share: float = 0.5,
    p_win: float = 0.25,
    p_trifecta: float = 0.07,
    window_days: int = 7,
    min_sample: int = 100,
    win_critical: float = 0.15,
    trifecta_critical: float = 0.05,
    seed: int = 0,
    critical_rule: str = "point",
    max_window_days: int | None = None,
) -> RuleOutcome:
    """How often the seed's absolute CRITICAL thresholds fire on the challenger, once a day.

    Each day the challenger's win and trifecta rates over the last ``window_days`` days
    (once they hold ``min_sample`` races) are compared with the seed's CRITICAL lines
    (win < 15 %, trifecta < 5 %), as the controller's health step does. A trifecta is
    also a win, so trifecta hits are drawn first and the other wins among the rest.
    A model near the lane-order baseline (trifecta about 7 %) crosses 5 % by chance
    often: this is the false-rollback rate of an absolute gate that ignores sample size.
    With rates below the lines it is the gate's power.

    ``critical_rule="point"`` (the seed's) compares the pooled rates with the lines;
    ``"upper_bound"`` (the health policy's default) fires only when a rate's Wilson 95 %
    upper bound is below its line. ``max_window_days`` grows a window that holds fewer than
    ``min_sample`` races one day at a time up to that many days, as the controller does
    (default: ``window_days``, a fixed window).

    Examples
    --------
    >>> simulate_health_gate(n_sims=500, seed=1).rate > 0.05
    True
    >>> simulate_health_gate(n_sims=500, seed=1, critical_rule="upper_bound").rate < 0.05
    True
    """
    _validate(n_sims, days, races_per_day, treatment_share, 0.05, (p_win, p_trifecta))
    if p_trifecta > p_win:
        raise ConfigError(
            f"'p_trifecta' ({p_trifecta!r}) cannot exceed 'p_win' ({p_win!r}): a trifecta is a win."
        )
    max_window = window_days if max_window_days is None else max_window_days
    for name, value in (
        ("window_days", window_days),
        ("min_sample", min_sample),
        ("max_window_days", max_window),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"The '{name}' parameter must be an int >= 1. Got {value!r}.")
    if max_window < window_days:
        raise ConfigError(
            f"The 'max_window_days' parameter must be >= window_days ({window_days}). Got {max_window!r}."
        )
    if critical_rule not in ("point", "upper_bound"):
        raise ConfigError(
            f"The 'critical_rule' parameter must be 'point' or 'upper_bound'. Got {critical_rule!r}."
        )
    rng = np.random.default_rng(seed)
    fired_parts = []
    done = 0
    while done < n_sims:
        size = min(BATCH_SIMS, n_sims - done)
        races = rng.binomial(races_per_day, treatment_share, size=(size, days))
        trifecta = rng.binomial(races, p_trifecta)
        other_wins = rng.binomial(races - trifecta, (p_win - p_trifecta) / (1.0 - p_trifecta))
        n, (wins, trifectas) = _growing_windows(
            races, (trifecta + other_wins, trifecta), window_days, max_window, min_sample
        )
        if critical_rule == "point":
            with np.errstate(divide="ignore", invalid="ignore"):
                win_stat, trifecta_stat = wins / n, trifectas / n
        else:
            win_stat, trifecta_stat = _wilson_upper(wins, n), _wilson_upper(trifectas, n)
        fired_parts.append(
            (n >= min_sample) & ((win_stat < win_critical) | (trifecta_stat < trifecta_critical))
        )
        done += size
    label = "Wilson upper bound" if critical_rule == "upper_bound" else "point values"
    return _first_day(np.concatenate(fired_parts), f"seed absolute thresholds (CRITICAL, {label})")
