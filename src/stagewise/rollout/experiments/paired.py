"""Paired champion/challenger comparison on the same races (shadow mode).

When both models score every race, each race is its own control: the
difference between the models is estimated from the races where they disagree,
which removes the race-to-race variance (an easy day helps both models) and
needs far fewer races than comparing two disjoint groups.

* Hit rates (win, trifecta): **McNemar's test** on the discordant pairs. With
  ``b`` races only the champion hit and ``c`` races only the challenger hit, under
  "no difference" ``c ~ Binomial(b + c, 1/2)``. Below
  :data:`EXACT_DISCORDANT_LIMIT` discordant races the exact binomial test
  (:func:`scipy.stats.binomtest`) is used; from there on the chi-square statistic
  with continuity correction ``(|b - c| - 1)^2 / (b + c)`` on 1 degree of freedom,
  whose error against the exact test is then below a few thousandths in p
  (the usual rule of thumb is ``b + c >= 25``; Agresti, *Categorical Data
  Analysis*, 3rd ed., §11.1).
* Score accuracy (continuous): a **paired bootstrap** confidence interval of the
  mean per-race difference (:func:`scipy.stats.bootstrap` with ``paired=True``,
  BCa, fixed seed), so no normality is assumed.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.stats import binomtest, bootstrap, chi2, norm

from stagewise._exceptions import ConfigError

__all__ = [
    "EXACT_DISCORDANT_LIMIT",
    "McNemarResult",
    "PairedBootstrapResult",
    "mcnemar_test",
    "paired_bootstrap",
]

EXACT_DISCORDANT_LIMIT = 25
"""Fewer discordant pairs than this use the exact binomial test; more use chi-square."""

Alternative = Literal["two-sided", "less", "greater"]
_ALTERNATIVES = ("two-sided", "less", "greater")


@dataclass(frozen=True)
class McNemarResult:
    """McNemar's test of two hit rates measured on the same races.

    ``difference`` is challenger hit rate minus champion hit rate; ``alternative``
    ``"less"`` tests whether the challenger hits less often than the champion.

    Examples
    --------
    >>> r = mcnemar_test([1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0])
    >>> r.champion_only, r.challenger_only, r.method
    (2, 0, 'exact')
    """

    n_races: int
    champion_hits: int
    challenger_hits: int
    champion_only: int  # b: champion hit, challenger missed
    challenger_only: int  # c: challenger hit, champion missed
    difference: float
    statistic: float
    p_value: float
    method: Literal["exact", "chi2-cc"]
    alternative: Alternative


@dataclass(frozen=True)
class PairedBootstrapResult:
    """Bootstrap confidence interval of the mean per-race difference (challenger − champion).

    Examples
    --------
    >>> r = paired_bootstrap([0.7, 0.6, 0.8, 0.7] * 10, [0.6, 0.5, 0.7, 0.6] * 10, seed=0)
    >>> round(r.mean_difference, 3), r.ci_high < 0
    (-0.1, True)
    """

    n_races: int
    champion_mean: float
    challenger_mean: float
    mean_difference: float
    ci_low: float
    ci_high: float
    confidence: float
    n_resamples: int
    seed: int


def _paired_arrays(
    champion: npt.ArrayLike, challenger: npt.ArrayLike, what: str
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    a = np.asarray(champion, dtype=np.float64).ravel()
    b = np.asarray(challenger, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ConfigError(
            f"Paired {what} need one value per race for both models; got {a.size} champion values "
            f"and {b.size} challenger values."
        )
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ConfigError(
            f"Paired {what} must be finite numbers; got NaN or infinity (void races must be dropped "
            "from both models before pairing)."
        )
    return a, b


def mcnemar_test(
    champion_hits: npt.ArrayLike, challenger_hits: npt.ArrayLike, alternative: Alternative = "two-sided"
) -> McNemarResult:
    """McNemar's test of two hit rates on the same races.

    Parameters
    ----------
    champion_hits, challenger_hits : array-like of bool or 0/1
        One entry per race, in the same race order.
    alternative : {"two-sided", "less", "greater"}
        ``"less"``: the challenger's hit rate is lower (harm). For the chi-square
        branch a one-sided p-value uses the signed statistic
        ``(c - b ± 1) / sqrt(b + c)`` against the standard normal.

    Examples
    --------
    >>> r = mcnemar_test([1] * 9 + [0] * 1 + [0] * 40, [0] * 9 + [1] * 1 + [0] * 40)
    >>> r.method, round(r.p_value, 6)
    ('exact', 0.021484)
    """
    if alternative not in _ALTERNATIVES:
        raise ConfigError(f"'alternative' must be one of {_ALTERNATIVES}. Got {alternative!r}.")
    a, b = _paired_arrays(champion_hits, challenger_hits, "hits")
    if not (np.isin(a, (0.0, 1.0)).all() and np.isin(b, (0.0, 1.0)).all()):
        raise ConfigError("Hits must be booleans or 0/1 per race; got other values.")
    n = int(a.size)
    if n == 0:
        raise ConfigError("mcnemar_test needs at least one race; got none.")
    champ_only = int(np.sum((a == 1) & (b == 0)))
    chall_only = int(np.sum((a == 0) & (b == 1)))
    discordant = champ_only + chall_only
    difference = (chall_only - champ_only) / n
    common = (n, int(a.sum()), int(b.sum()), champ_only, chall_only, difference)
    if discordant == 0:
        return McNemarResult(*common, statistic=0.0, p_value=1.0, method="exact", alternative=alternative)
    if discordant < EXACT_DISCORDANT_LIMIT:
        test = binomtest(chall_only, discordant, 0.5, alternative=alternative)
        return McNemarResult(
            *common,
            statistic=float(chall_only),
            p_value=float(test.pvalue),
            method="exact",
            alternative=alternative,
        )
    statistic = (abs(champ_only - chall_only) - 1.0) ** 2 / discordant
    if alternative == "two-sided":
        p_value = float(chi2.sf(statistic, df=1))
    else:
        # Continuity correction moves the signed count towards the null by 1/2 ... 1; the
        # one-sided normal version of the chi-square statistic.
        shift = chall_only - champ_only
        if alternative == "less":
            z = (shift + 1.0) / math.sqrt(discordant)
            p_value = float(norm.cdf(z))
        else:
            z = (shift - 1.0) / math.sqrt(discordant)
            p_value = float(norm.sf(z))
        p_value = min(1.0, p_value)
    return McNemarResult(
        *common, statistic=statistic, p_value=p_value, method="chi2-cc", alternative=alternative
    )


def paired_bootstrap(
    champion_scores: npt.ArrayLike,
    challenger_scores: npt.ArrayLike,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> PairedBootstrapResult:
    """Paired bootstrap interval of the mean score-accuracy difference (challenger − champion).

    Races are resampled with replacement as whole pairs, so the correlation
    between the two models on a race is kept. BCa intervals; a fixed ``seed``
    makes the interval reproducible.

    Examples
    --------
    >>> r = paired_bootstrap([0.5, 0.7, 0.6, 0.8] * 25, [0.5, 0.7, 0.6, 0.8] * 25, seed=1)
    >>> r.mean_difference, r.ci_low, r.ci_high
    (0.0, 0.0, 0.0)
    """
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"'confidence' must be in (0, 1). Got {confidence!r}.")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 100:
        raise ConfigError(f"'n_resamples' must be an int >= 100. Got {n_resamples!r}.")
    a, b = _paired_arrays(champion_scores, challenger_scores, "scores")
    n = int(a.size)
    if n < 2:
        raise ConfigError(f"paired_bootstrap needs at least 2 races; got {n}.")
    diff = b - a
    mean_diff = float(diff.mean())
    if np.ptp(diff) <= 1e-12 * max(1.0, float(np.abs(diff).max())):
        low = high = mean_diff  # every resample has the same mean: the interval is a point
    else:
        low, high = _bootstrap_interval(a, b, confidence, n_resamples, seed)
    return PairedBootstrapResult(
        n_races=n,
        champion_mean=float(a.mean()),
        challenger_mean=float(b.mean()),
        mean_difference=mean_diff,
        ci_low=low,
        ci_high=high,
        confidence=confidence,
        n_resamples=n_resamples,
        seed=seed,
    )


def _bootstrap_interval(
    a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], confidence: float, n_resamples: int, seed: int
) -> tuple[float, float]:
    """BCa interval; the percentile interval when BCa's acceleration is undefined (near-constant data)."""
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = bootstrap(
                (a, b),
                lambda x, y, axis: np.mean(y - x, axis=axis),
                paired=True,
                vectorized=True,
                confidence_level=confidence,
                n_resamples=n_resamples,
                method=method,
                rng=np.random.default_rng(seed),
            )
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
        if math.isfinite(low) and math.isfinite(high):
            break
    return low, high
