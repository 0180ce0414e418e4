"""Sample-ratio mismatch (SRM): do the groups hold the share of units they should?

If a feature at 10 % should put 10 % of races in the challenger group and the
ledger shows 13 %, something upstream is broken (a logging path that drops
one group, a cache that pins assignments, a bucketing bug), and every
comparison between the groups is biased in an unknown direction. The check is a
chi-square goodness-of-fit test (:func:`scipy.stats.chisquare`) of the observed
counts against the expected shares; with ``p < 0.001`` the rollout is held until
a human looks. The strict threshold is the usual one (Fabijan et al., "Diagnosing
Sample Ratio Mismatch in Online Controlled Experiments", KDD 2019): the check
runs every day, so it must almost never fire on a healthy experiment.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from scipy.stats import chisquare

from stagewise._exceptions import ConfigError

__all__ = ["SRM_P_THRESHOLD", "SrmResult", "srm_check"]

SRM_P_THRESHOLD = 0.001
"""p-value below which a sample-ratio mismatch holds the rollout."""

SrmVerdict = Literal["ok", "hold", "insufficient_data"]


@dataclass(frozen=True)
class SrmResult:
    """Outcome of a sample-ratio-mismatch check.

    ``verdict`` is ``"hold"`` when ``p_value < threshold``, ``"insufficient_data"``
    when some group expects fewer than ``min_expected`` units (the chi-square
    approximation is not trustworthy there) and ``"ok"`` otherwise.

    Examples
    --------
    >>> r = srm_check({"control": 900, "challenger": 100}, {"control": 0.9, "challenger": 0.1})
    >>> r.verdict, r.p_value
    ('ok', 1.0)
    """

    counts: dict[str, int]
    expected: dict[str, float]
    statistic: float
    p_value: float
    threshold: float
    verdict: SrmVerdict

    @property
    def total(self) -> int:
        """Number of units counted over all groups."""
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, object]:
        """Plain-JSON view, e.g. for the audit log."""
        return {
            "counts": dict(self.counts),
            "expected": {k: round(v, 3) for k, v in self.expected.items()},
            "statistic": _json_float(self.statistic),
            "p_value": _json_float(self.p_value),
            "threshold": self.threshold,
            "verdict": self.verdict,
        }


def srm_check(
    counts: Mapping[str, int],
    expected_shares: Mapping[str, float],
    threshold: float = SRM_P_THRESHOLD,
    min_expected: float = 5.0,
) -> SrmResult:
    """Chi-square test of observed group counts against their expected shares.

    Parameters
    ----------
    counts : mapping of str to int
        Units (races) observed in each group.
    expected_shares : mapping of str to float
        Share each group should hold, e.g. :meth:`VariantSplit.expected_shares`.
        Shares are non-negative and sum to 1 (within 1e-9); the names must equal
        those of ``counts``.
    threshold : float, default 0.001
        Hold when the p-value is below this.
    min_expected : float, default 5
        Smallest expected count (over groups with a positive share) for which
        the test is run; below it the verdict is ``"insufficient_data"``.

    A group with share 0 that has units is an outright mismatch (p = 0).

    Examples
    --------
    >>> srm_check({"control": 9_000, "challenger": 1_150}, {"control": 0.9, "challenger": 0.1}).verdict
    'hold'
    """
    observed, shares = _validated(counts, expected_shares, threshold, min_expected)
    total = sum(observed.values())
    expected = {name: total * share for name, share in shares.items()}
    if any(observed[n] > 0 for n, s in shares.items() if s == 0.0):
        return SrmResult(observed, expected, math.inf, 0.0, threshold, "hold")
    positive = [n for n, s in shares.items() if s > 0.0]
    if total == 0 or min(expected[n] for n in positive) < min_expected:
        return SrmResult(observed, expected, math.nan, math.nan, threshold, "insufficient_data")
    if len(positive) == 1:  # a single group: every unit is where it must be
        return SrmResult(observed, expected, 0.0, 1.0, threshold, "ok")
    result = chisquare([observed[n] for n in positive], [expected[n] for n in positive])
    statistic, p_value = float(result.statistic), float(result.pvalue)
    verdict: SrmVerdict = "hold" if p_value < threshold else "ok"
    return SrmResult(observed, expected, statistic, p_value, threshold, verdict)


def _validated(
    counts: Mapping[str, int], shares: Mapping[str, float], threshold: float, min_expected: float
) -> tuple[dict[str, int], dict[str, float]]:
    if not 0.0 < threshold < 1.0:
        raise ConfigError(f"The SRM 'threshold' must be a p-value in (0, 1). Got {threshold!r}.")
    if not min_expected >= 0.0:
        raise ConfigError(f"'min_expected' must be a number >= 0. Got {min_expected!r}.")
    if set(counts) != set(shares) or not counts:
        raise ConfigError(
            f"SRM 'counts' and 'expected_shares' must name the same groups. Got counts for "
            f"{sorted(counts)!r} and shares for {sorted(shares)!r}."
        )
    observed: dict[str, int] = {}
    for name, count in counts.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            try:
                ok = not isinstance(count, bool) and int(count) == count and count >= 0
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ConfigError(f"The count of group {name!r} must be an int >= 0. Got {count!r}.")
        observed[name] = int(count)
    clean: dict[str, float] = {}
    for name in counts:  # keep the order of counts
        share = shares[name]
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0.0 <= share <= 1.0:
            raise ConfigError(
                f"The expected share of group {name!r} must be a number in [0, 1]. Got {share!r}."
            )
        clean[name] = float(share)
    total = math.fsum(clean.values())
    if abs(total - 1.0) > 1e-9:
        raise ConfigError(
            f"Expected shares must sum to 1 (within 1e-9). Got {list(clean.values())!r}, "
            f"summing to {total!r}."
        )
    return observed, clean


def _json_float(value: float) -> float | None:
    return None if not math.isfinite(value) else value
