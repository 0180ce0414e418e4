"""An economic guardrail: is the challenger losing money compared with control? (pure)

Each settled unit carries its money outcome: the profit per unit staked of a race's bets
(``(payout − stake) / stake``, so the mean is the ROI per race) or a signal's net return after
costs. :func:`economic_guardrail` asks, every day, on the cumulative days since the rollout
began, whether the challenger's mean is *below* control's, with the same one-sided,
always-valid mSPRT as the controller's harm test (:func:`sequential_two_means`,
``alternative="less"``): looking every day keeps the false-alarm rate below ``alpha``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from stagewise.rollout.experiments.sequential import SequentialResult, sequential_two_means

__all__ = ["MoneyDay", "economic_guardrail", "money_day"]


@dataclass(frozen=True)
class MoneyDay:
    """One group's money outcomes for one day: count, sum and sum of squares."""

    day: date
    units: int
    total: float
    total_sq: float


def money_day(day: date, outcomes: Iterable[float]) -> MoneyDay:
    """Summarise a day's per-unit outcomes (ROI per race, or net return per signal)."""
    values = np.asarray(list(outcomes), dtype=np.float64)
    values = values[np.isfinite(values)]
    return MoneyDay(day, int(values.size), float(values.sum()), float((values**2).sum()))


def economic_guardrail(
    control: Sequence[MoneyDay], challenger: Sequence[MoneyDay], alpha: float = 0.05, tau: float = 0.05
) -> SequentialResult:
    """One-sided always-valid test of "the challenger earns less per unit than control".

    Days are aligned by date (a day missing in one group counts as zero units there); ``tau``
    is the effect the test is most sensitive to (0.05: five points of ROI per race).

    Examples
    --------
    >>> import datetime as dt
    >>> days = [dt.date(2025, 1, d) for d in range(1, 31)]
    >>> rng = __import__("numpy").random.default_rng(0)
    >>> control = [money_day(d, rng.normal(-0.2, 1.0, 140)) for d in days]
    >>> worse = [money_day(d, rng.normal(-0.5, 1.0, 140)) for d in days]
    >>> economic_guardrail(control, worse).rejected
    True
    """
    dates = sorted({d.day for d in control} | {d.day for d in challenger})

    def cumulative(group: Sequence[MoneyDay]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        by_day = {d.day: d for d in group}
        rows = [by_day.get(day, MoneyDay(day, 0, 0.0, 0.0)) for day in dates]
        return (
            np.cumsum([r.total for r in rows]),
            np.cumsum([r.total_sq for r in rows]),
            np.cumsum([r.units for r in rows]).astype(np.float64),
        )

    cs, cq, cn = cumulative(control)
    ts, tq, tn = cumulative(challenger)
    return sequential_two_means(cs, cq, cn, ts, tq, tn, alpha=alpha, tau=tau, alternative="less")
