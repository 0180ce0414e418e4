"""An economic guardrail: is the challenger losing money compared with control? (pure)

Each settled unit carries its money outcome: the profit per unit staked of a race's bets
(``(payout − stake) / stake``, so the mean is the ROI per race) or a signal's net return after
costs. :func:`economic_guardrail` asks, every day, on the cumulative days since the rollout
began, whether the challenger's mean is *below* control's, with the same one-sided,
always-valid mSPRT as the controller's harm test (:func:`sequential_two_means`,
``alternative="less"``): looking every day keeps the false-alarm rate below ``alpha``.

In a rollout the guardrail is a health-policy entry, :class:`EconomicGuardrail`
(``"economic_guardrail": {"alpha": 0.05, "tau": 0.05}``; off when absent). The controller sums
each group's money outcomes per day from the ledger (:func:`money_days`: ``bet_profit`` of races,
``net_return`` of signals; units without money data are ignored) and judges them as the declared
guardrail the entry stands for (:func:`as_guardrail`: the built-in ``roi`` or ``net_return``,
``tau`` as given, ``min_sample = min_units``) **inside the controller's family**: Holm over it and
the other harm tests (the declared guardrails, else the built-in win-hit and score-accuracy tests)
at the controller's α, so the family-wise false-rollback rate covers money too
(:meth:`MoneyEvidence.judge`). The verdict is ``rejected`` (roll back), ``insufficient`` (fewer than
``min_units`` money units in a group: never promote on missing evidence) or ``ok``. The entry's own
``alpha`` is validated and recorded but no longer a separate budget. :func:`judge_economic` is the
entry's former stand-alone test, kept for scripts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, field_validator

from stagewise.rollout.experiments.sequential import SequentialResult, sequential_two_means
from stagewise.rollout.guardrails.adjusted import Moments
from stagewise.rollout.guardrails.judge import GuardrailJudgement, GuardrailRecord, judge_guardrails
from stagewise.rollout.guardrails.spec import GuardrailMetric
from stagewise.rollout.guardrails.sums import ArmSums
from stagewise.rollout.guardrails.units import BUILTINS

__all__ = [
    "ECONOMIC",
    "EconomicGuardrail",
    "EconomicVerdict",
    "MoneyDay",
    "MoneyEvidence",
    "as_guardrail",
    "economic_guardrail",
    "judge_economic",
    "money_day",
    "money_days",
    "summed_money_days",
]


ECONOMIC = "economic"
"""The name of the declared guardrail an ``economic_guardrail`` entry becomes."""


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


class EconomicGuardrail(BaseModel):
    """The ``economic_guardrail`` entry of a health policy: judge money per unit in the rollout.

    Parameters
    ----------
    alpha : float in (0, 0.5]
        The guardrail's own false-alarm budget over every daily look (one-sided).
    tau : float in (0, 10]
        The effect on money per unit the test is most sensitive to (0.05: five points of ROI per race;
        for net returns per signal in return units use the size of a bar's edge, e.g. 0.0005).
    min_units : int >= 1
        Money units (settled races with a bet, signals with a net return) each group needs before
        the guardrail's verdict counts as evidence; below it the controller holds instead of promoting.

    Examples
    --------
    >>> EconomicGuardrail.model_validate({"alpha": 0.05, "tau": 0.05}).min_units
    100
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    alpha: float = 0.05
    tau: float = 0.05
    min_units: int = 100

    @field_validator("alpha", mode="before")
    @classmethod
    def _alpha(cls, value: Any) -> float:
        return _in_range(value, 0.0, 0.5, "a number in (0, 0.5]")

    @field_validator("tau", mode="before")
    @classmethod
    def _tau(cls, value: Any) -> float:
        return _in_range(value, 0.0, 10.0, "a number in (0, 10]")

    @field_validator("min_units", mode="before")
    @classmethod
    def _min_units(cls, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError("must be an int >= 1")
        return value


def _in_range(value: Any, low: float, high: float, rule: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"must be {rule}")
    if not low < float(value) <= high:
        raise ValueError(f"must be {rule}")
    return float(value)


def money_days(outcomes: pd.DataFrame, day_column: str, value_column: str) -> list[MoneyDay]:
    """One :class:`MoneyDay` per day of the settled ``outcomes`` rows that carry money data.

    ``outcomes`` are ledger rows (``race_outcomes``: ``race_date`` and ``bet_profit``;
    ``market_outcomes``: ``signal_date`` and ``net_return``); a row without a finite value in
    ``value_column`` (no bet logged, refunded, void, pending) is ignored.
    """
    if outcomes.empty or value_column not in outcomes.columns:
        return []
    values = pd.to_numeric(outcomes[value_column], errors="coerce").astype("float64")
    usable = np.isfinite(values.to_numpy()) & (outcomes["status"] == "settled").to_numpy()
    if not usable.any():
        return []
    frame = pd.DataFrame(
        {"day": pd.to_datetime(outcomes.loc[usable, day_column]).dt.date, "value": values[usable]}
    )
    return [
        money_day(group["day"].iloc[0], group["value"].to_numpy())
        for _, group in frame.groupby("day", sort=True)
    ]


def summed_money_days(arm: ArmSums, column: str) -> list[MoneyDay]:
    """One :class:`MoneyDay` per day of an arm's per-day sums that has money data in ``column``."""
    moments = arm.columns.get(column)
    if moments is None:
        return []
    days = np.asarray(arm.days, dtype="datetime64[D]").tolist()
    return [
        MoneyDay(day, round(n), float(total), float(total_sq))
        for day, n, total, total_sq in zip(days, moments.n, moments.sum_y, moments.sum_yy, strict=True)
        if n > 0
    ]


@dataclass(frozen=True)
class EconomicVerdict:
    """What the guardrail says about the money since the rollout began."""

    status: Literal["ok", "rejected", "insufficient"]
    reason: str
    numbers: dict[str, Any] = field(default_factory=dict)


def judge_economic(
    control: Sequence[MoneyDay],
    challenger: Sequence[MoneyDay],
    guardrail: EconomicGuardrail,
    unit: str = "races",
) -> EconomicVerdict:
    """Grade the cumulative money per unit: ``rejected`` beats ``insufficient`` beats ``ok``.

    A challenger already significantly worse is rejected however few units it has (the test is
    always valid); a group with fewer than ``min_units`` money units is ``insufficient``.

    Examples
    --------
    >>> import datetime as dt
    >>> day = dt.date(2025, 1, 1)
    >>> judge_economic([money_day(day, [1.0, -1.0])], [], EconomicGuardrail()).status
    'insufficient'
    """
    test = economic_guardrail(control, challenger, alpha=guardrail.alpha, tau=guardrail.tau)
    units = {"control": sum(d.units for d in control), "challenger": sum(d.units for d in challenger)}
    means = {
        name: (sum(d.total for d in days) / units[name]) if units[name] else None
        for name, days in (("control", control), ("challenger", challenger))
    }
    numbers: dict[str, Any] = {
        "units": units,
        "mean_per_unit": {k: None if v is None else round(v, 6) for k, v in means.items()},
        "min_units": guardrail.min_units,
        "test": test.as_dict(),
    }
    if test.rejected:
        reason = (
            f"economic guardrail: the challenger earns less per unit than control "
            f"({means['challenger']:+.4f} vs {means['control']:+.4f} over {units['challenger']} and "
            f"{units['control']} {unit} with money data), always-valid p = {test.p_value:.4g} "
            f"< α = {guardrail.alpha:g}"
        )
        return EconomicVerdict("rejected", reason, numbers)
    short = [name for name, n in units.items() if n < guardrail.min_units]
    if short:
        reason = (
            f"economic guardrail: insufficient money data ({', '.join(f'{k} {units[k]}' for k in short)} "
            f"{unit} with money data, < {guardrail.min_units}); not promoting on missing evidence"
        )
        return EconomicVerdict("insufficient", reason, numbers)
    reason = f"economic guardrail: no significant loss of money per unit (p = {test.p_value:.4g})"
    return EconomicVerdict("ok", reason, numbers)


def as_guardrail(entry: EconomicGuardrail, metric: str = "roi") -> GuardrailMetric:
    """The declared guardrail an ``economic_guardrail`` entry stands for (``metric``: ``roi`` for races,
    ``net_return`` for signals).

    Examples
    --------
    >>> g = as_guardrail(EconomicGuardrail(tau=0.05, min_units=50))
    >>> (g.name, g.metric, g.tau, g.min_sample, g.on_fail)
    ('economic', 'roi', 0.05, 50, 'rollback')
    """
    return GuardrailMetric(name=ECONOMIC, metric=metric, tau=entry.tau, min_sample=entry.min_units)


def _arm(days: Sequence[MoneyDay], column: str) -> ArmSums:
    rows = sorted(days, key=lambda d: d.day)
    zeros = np.zeros(len(rows))
    n = np.array([d.units for d in rows], dtype=np.float64)
    total = np.array([d.total for d in rows], dtype=np.float64)
    total_sq = np.array([d.total_sq for d in rows], dtype=np.float64)
    moments = Moments(n, total, total_sq, zeros, zeros, zeros)
    return ArmSums(np.array([d.day for d in rows], dtype="datetime64[D]"), {column: moments}, {})


@dataclass(frozen=True)
class MoneyEvidence:
    """What the controller's decision needs for the guardrail: the policy entry, both groups' days and
    the built-in the money is (``roi``: profit per unit staked of races; ``net_return``: signals)."""

    guardrail: EconomicGuardrail
    control: Sequence[MoneyDay]
    challenger: Sequence[MoneyDay]
    metric: str = "roi"

    @property
    def as_metric(self) -> GuardrailMetric:
        """The declared guardrail the entry is judged as (:func:`as_guardrail`)."""
        return as_guardrail(self.guardrail, self.metric)

    def _judge(self, alpha: float, others: Mapping[str, float] | None) -> GuardrailJudgement:
        column = BUILTINS[self.metric].column or self.metric
        control, challenger = _arm(self.control, column), _arm(self.challenger, column)
        return judge_guardrails(control, challenger, [self.as_metric], alpha=alpha, others=others)

    def family_p_value(self, alpha: float = 0.05) -> float:
        """The money test's always-valid p-value as a member of a family (1 while insufficient)."""
        return self._judge(alpha, None).family_p[ECONOMIC]

    def judge(
        self, unit: str = "races", *, alpha: float = 0.05, others: Mapping[str, float] | None = None
    ) -> tuple[EconomicVerdict, GuardrailJudgement]:
        """Grade the money inside a family: Holm at ``alpha`` over it and ``others`` (the always-valid
        p-values of the controller's other harm tests); the judgement says what Holm made of those."""
        judgement = self._judge(alpha, others)
        return _verdict(judgement.records[0], judgement, self.guardrail, unit), judgement


def _verdict(
    r: GuardrailRecord, judgement: GuardrailJudgement, guardrail: EconomicGuardrail, unit: str
) -> EconomicVerdict:
    units = {"control": r.n_control, "challenger": r.n_challenger}
    means = {"control": r.mean_control, "challenger": r.mean_challenger}
    numbers: dict[str, Any] = {
        "metric": r.metric,
        "units": units,
        "mean_per_unit": {k: None if v is None else round(v, 6) for k, v in means.items()},
        "min_units": guardrail.min_units,
        "family_size": judgement.family_size,
        "test": {
            "estimate": r.estimate, "interval_low": r.interval_low, "interval_high": r.interval_high,
            "p_value": r.p_value, "alpha": r.level, "rejected": r.verdict == "harm", "tau": r.tau,
            "looks": r.looks,
        },
    }  # fmt: skip
    if r.verdict == "harm":
        reason = (
            f"economic guardrail: the challenger earns less per unit than control "
            f"({r.mean_challenger:+.4f} vs {r.mean_control:+.4f} over {r.n_challenger} and "
            f"{r.n_control} {unit} with money data), always-valid p = {r.p_value:.4g} "
            f"≤ Holm level {r.level:.3g} (family of {judgement.family_size}, α = {judgement.alpha:g})"
        )
        return EconomicVerdict("rejected", reason, numbers)
    short = [name for name, n in units.items() if n < guardrail.min_units]
    if r.verdict == "insufficient" and short:
        reason = (
            f"economic guardrail: insufficient money data ({', '.join(f'{k} {units[k]}' for k in short)} "
            f"{unit} with money data, < {guardrail.min_units}); not promoting on missing evidence"
        )
        return EconomicVerdict("insufficient", reason, numbers)
    if r.verdict == "insufficient":
        reason = f"economic guardrail: insufficient money data ({r.reason}); not promoting on missing data"
        return EconomicVerdict("insufficient", reason, numbers)
    reason = f"economic guardrail: no significant loss of money per unit (p = {r.p_value:.4g})"
    return EconomicVerdict("ok", reason, numbers)
