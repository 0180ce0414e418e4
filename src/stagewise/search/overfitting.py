"""Overfitting diagnostics (pure): CPCV paths, the Probability of Backtest Overfitting, the deflated Sharpe.

* **Combinatorially Purged Cross-Validation** (López de Prado 2018, ch. 12): the period is cut
  into ``N`` groups; every choice of ``k`` test groups is one split (``C(N, k)`` splits) and
  the test predictions recombine into ``C(N-1, k-1)`` full backtest *paths*, so a
  configuration gets a distribution of backtest scores instead of one number.
* **Probability of Backtest Overfitting** (Bailey, Borwein, López de Prado, Zhu 2017, CSCV):
  over every split of ``S`` time blocks into halves, pick the best candidate in-sample and
  find its relative rank out-of-sample; PBO is the share of splits where it falls in the
  bottom half (logit <= 0).
* **Deflated Sharpe ratio** (Bailey & López de Prado 2014): the probability that the true
  Sharpe ratio is above the best one expected from ``N`` trials of pure noise, corrected for
  the skewness and kurtosis of the returns and their number.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from stagewise._exceptions import ConfigError

__all__ = [
    "PBOResult",
    "cpcv_paths",
    "cpcv_splits",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "probability_of_backtest_overfitting",
]

_EULER_GAMMA = 0.5772156649015329


def cpcv_splits(n_groups: int, n_test_groups: int) -> list[tuple[int, ...]]:
    """The test groups of every CPCV split, in lexicographic order.

    Examples
    --------
    >>> len(cpcv_splits(6, 2)), cpcv_splits(6, 2)[0]
    (15, (0, 1))
    """
    if isinstance(n_groups, bool) or not isinstance(n_groups, int) or n_groups < 2:
        raise ConfigError(f"The 'cpcv_groups' parameter must be an int >= 2. Got {n_groups!r} instead.")
    if (
        isinstance(n_test_groups, bool)
        or not isinstance(n_test_groups, int)
        or not 1 <= n_test_groups < n_groups
    ):
        raise ConfigError(
            f"The 'cpcv_test_groups' parameter must be an int in [1, {n_groups - 1}]. Got "
            f"{n_test_groups!r} instead."
        )
    return list(itertools.combinations(range(n_groups), n_test_groups))


def cpcv_paths(n_groups: int, n_test_groups: int) -> np.ndarray:
    """``paths[p, g]``: the split whose test predictions path ``p`` uses for group ``g``.

    Each group is tested in ``C(N-1, k-1)`` splits; path ``p`` takes the ``p``-th of them, so
    every path covers every group exactly once.

    Examples
    --------
    >>> paths = cpcv_paths(6, 2)
    >>> paths.shape
    (5, 6)
    >>> paths[0].tolist()
    [0, 0, 1, 2, 3, 4]
    """
    splits = cpcv_splits(n_groups, n_test_groups)
    n_paths = math.comb(n_groups - 1, n_test_groups - 1)
    paths = np.empty((n_paths, n_groups), dtype=np.int64)
    for g in range(n_groups):
        using = [i for i, test in enumerate(splits) if g in test]
        paths[:, g] = using
    return paths


@dataclass(frozen=True)
class PBOResult:
    """PBO, the logits of every combination, and the number of combinations."""

    pbo: float
    logits: tuple[float, ...]
    n_combinations: int


def probability_of_backtest_overfitting(
    performance: np.ndarray, n_partitions: int | None = None
) -> PBOResult:
    """CSCV's PBO for a ``(time blocks T, candidates N)`` matrix of performance (higher is better).

    The ``T`` rows are cut into ``n_partitions`` contiguous blocks (default ``T``, which must
    be even); every half of the blocks is once in-sample, the other half out-of-sample.

    Examples
    --------
    >>> import numpy as np
    >>> best_everywhere = np.array([[0.6, 0.5, 0.4]] * 6)
    >>> probability_of_backtest_overfitting(best_everywhere).pbo
    0.0
    """
    matrix = np.asarray(performance, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] < 2:
        raise ConfigError(
            "PBO needs a (time blocks, candidates) matrix with at least 2 candidates. Got shape "
            f"{matrix.shape}."
        )
    n_blocks = matrix.shape[0] if n_partitions is None else n_partitions
    if n_blocks < 2 or n_blocks % 2 or n_blocks > matrix.shape[0]:
        raise ConfigError(
            f"The 'n_partitions' parameter must be an even int in [2, {matrix.shape[0]}]. Got {n_blocks!r} "
            "instead."
        )
    blocks = np.array_split(np.arange(matrix.shape[0]), n_blocks)
    n_candidates = matrix.shape[1]
    logits: list[float] = []
    for chosen in itertools.combinations(range(n_blocks), n_blocks // 2):
        inside = np.concatenate([blocks[b] for b in chosen])
        outside = np.concatenate([blocks[b] for b in range(n_blocks) if b not in chosen])
        in_sample = np.nanmean(matrix[inside], axis=0)
        out_sample = np.nanmean(matrix[outside], axis=0)
        best = int(np.nanargmax(in_sample))
        rank = stats.rankdata(out_sample)[best]  # 1 = worst
        omega = rank / (n_candidates + 1)
        logits.append(float(np.log(omega / (1.0 - omega))))
    pbo = float(np.mean(np.array(logits) <= 0.0))
    return PBOResult(pbo, tuple(logits), len(logits))


def expected_max_sharpe(n_trials: int, sharpe_variance: float) -> float:
    """The Sharpe ratio the best of ``n_trials`` independent zero-skill trials is expected to reach."""
    if n_trials < 1:
        raise ConfigError(f"The 'n_trials' parameter must be an int >= 1. Got {n_trials!r} instead.")
    if n_trials == 1 or sharpe_variance <= 0:
        return 0.0
    z1 = stats.norm.ppf(1.0 - 1.0 / n_trials)
    z2 = stats.norm.ppf(1.0 - 1.0 / (n_trials * math.e))
    return float(math.sqrt(sharpe_variance) * ((1.0 - _EULER_GAMMA) * z1 + _EULER_GAMMA * z2))


def deflated_sharpe_ratio(
    sharpe: float,
    n_observations: int,
    skewness: float,
    kurtosis: float,
    n_trials: int,
    sharpe_variance: float,
) -> float:
    """P(true Sharpe > the best expected from ``n_trials`` noise trials); Sharpe per observation.

    ``kurtosis`` is the plain (not excess) kurtosis: 3 for normal returns. ``sharpe_variance``
    is the variance of the Sharpe ratios of the trials.

    Examples
    --------
    The paper's example (annual SR 2.5 over 5 years of daily returns, 100 trials, annualised
    variance of the trials' SR 0.5, skewness -3, kurtosis 10) gives the paper's 0.9004:

    >>> round(deflated_sharpe_ratio(2.5 / 250**0.5, 1250, -3.0, 10.0, 100, 0.5 / 250), 4)
    0.9004
    """
    if n_observations < 2:
        raise ConfigError(f"The deflated Sharpe ratio needs >= 2 returns. Got {n_observations} instead.")
    benchmark = expected_max_sharpe(n_trials, sharpe_variance)
    denominator = 1.0 - skewness * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if denominator <= 0:
        return float("nan")
    z = (sharpe - benchmark) * math.sqrt(n_observations - 1) / math.sqrt(denominator)
    return float(stats.norm.cdf(z))
