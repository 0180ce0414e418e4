"""Confidence intervals for rates and averages."""

from __future__ import annotations

import math

from scipy.stats import binomtest

__all__ = ["wilson_interval"]


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion.

    With no trials nothing is known, so the interval is ``(nan, nan)``.

    Examples
    --------
    >>> low, high = wilson_interval(25, 100)
    >>> round(low, 3), round(high, 3)
    (0.175, 0.343)
    """
    if trials < 0 or successes < 0 or successes > trials:
        from stagewise._exceptions import ConfigError

        raise ConfigError(
            f"wilson_interval needs 0 <= successes <= trials; got successes={successes!r}, trials={trials!r}."
        )
    if trials == 0:
        return (math.nan, math.nan)
    ci = binomtest(int(successes), int(trials)).proportion_ci(confidence_level=confidence, method="wilson")
    return (float(ci.low), float(ci.high))
