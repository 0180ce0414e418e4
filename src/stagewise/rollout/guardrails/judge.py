"""Judge the declared guardrails of one rollout: per-metric records and the action they call for (pure).

:func:`judge_guardrails` takes each arm's units (the day each was served and its logged columns),
computes every declared metric per unit, runs the one-sided always-valid harm test per metric
(CUPED when a covariate is declared), and applies Holm's step-down over the **active** metrics
(not dry-run) at family-wise level ``alpha``. The action is the most severe of:

* ``rollback``: significant harm on an active metric with ``on_fail="rollback"``;
* ``hold``: significant harm on an active metric with ``on_fail="hold"``, or an active metric that
  is *insufficient* (too few units, a column not logged, an unknown metric, a user function that
  raised or returned NaN): no promotion on missing evidence;
* ``pass``: every active metric has its sample and shows no significant harm.

A dry-run metric is computed and recorded with the verdict it *would* have had (Holm over the active
metrics plus itself), but it is neither in the family nor in the action. Each
:class:`GuardrailRecord` is flat (``as_row()``: scalars only), one database row per metric.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from stagewise._exceptions import DataValidationError
from stagewise.rollout.guardrails.adjusted import cumulative_moments
from stagewise.rollout.guardrails.family import holm_levels, holm_rejections
from stagewise.rollout.guardrails.harm_test import HarmPath, always_valid_interval, harm_path
from stagewise.rollout.guardrails.spec import GuardrailMetric, check_unique
from stagewise.rollout.guardrails.units import (
    BUILTINS,
    Columns,
    MetricValues,
    UnitFunction,
    builtin_values,
    function_values,
    resolve_function,
)

__all__ = ["ArmUnits", "GuardrailJudgement", "GuardrailRecord", "judge_guardrails"]

Verdict = Literal["harm", "ok", "insufficient"]
GuardrailAction = Literal["rollback", "hold", "pass"]


@dataclass(frozen=True)
class ArmUnits:
    """One arm's units: the day each was served (``datetime64[D]``-convertible) and its columns."""

    days: npt.ArrayLike
    columns: Columns

    def checked(self, arm: str) -> tuple[npt.NDArray[np.datetime64], Columns]:
        days = np.asarray(self.days, dtype="datetime64[D]")
        bad = {name: len(col) for name, col in self.columns.items() if len(col) != days.size}
        if days.ndim != 1 or bad:
            raise DataValidationError(
                f"The {arm} arm has {days.size} days but columns of other lengths: {bad}; "
                "every column needs one value per unit."
            )
        return days, self.columns


@dataclass(frozen=True)
class GuardrailRecord:
    """What one guardrail showed at the last look (challenger − control, in the metric's units)."""

    name: str
    metric: str
    harm: str
    tolerance: float
    dry_run: bool
    on_fail: str
    verdict: Verdict
    reason: str
    n_control: int
    n_challenger: int
    mean_control: float | None
    mean_challenger: float | None
    estimate: float | None
    interval_low: float | None
    interval_high: float | None
    interval_level: float
    p_value: float
    level: float | None
    tau: float
    covariate: str | None
    adjusted: bool
    theta: float | None
    variance_ratio: float | None
    looks: int

    def as_row(self) -> dict[str, str | float | int | bool | None]:
        """Plain scalars, one column each: a database row or a JSON object."""
        return asdict(self)


@dataclass(frozen=True)
class GuardrailJudgement:
    """Every guardrail's record, the action they call for and why."""

    records: tuple[GuardrailRecord, ...]
    action: GuardrailAction
    reasons: tuple[str, ...]
    alpha: float
    family_size: int

    def as_rows(self) -> list[dict[str, str | float | int | bool | None]]:
        return [r.as_row() for r in self.records]


@dataclass(frozen=True)
class _Tested:
    metric: GuardrailMetric
    path: HarmPath | None
    n: tuple[int, int]
    means: tuple[float, float]
    adjusted: bool
    reason: str


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _values(metric: GuardrailMetric, columns: Columns, functions: Mapping[str, UnitFunction]) -> MetricValues:
    if metric.metric in BUILTINS:
        return builtin_values(metric.metric, columns)
    size = len(next(iter(columns.values()))) if columns else 0
    empty = MetricValues(np.empty(0), np.zeros(size, dtype=bool))
    if not metric.is_function:
        known = ", ".join(BUILTINS)
        return MetricValues(
            empty.values, empty.kept, f"unknown metric {metric.metric!r} (built-ins: {known})"
        )
    fn = functions.get(metric.metric)
    if fn is None:
        try:
            fn = resolve_function(metric.metric)
        except (ImportError, AttributeError, TypeError, ValueError) as exc:
            reason = f"cannot load {metric.metric}: {type(exc).__name__}: {exc}"
            return MetricValues(empty.values, empty.kept, reason)
    return function_values(metric.metric, fn, columns)


def _covariate(
    metric: GuardrailMetric, columns: Columns, kept: npt.NDArray[np.bool_]
) -> npt.NDArray[np.float64] | None:
    if metric.covariate is None or metric.covariate not in columns:
        return None
    try:
        x = np.asarray(columns[metric.covariate], dtype=np.float64)[kept]
    except (TypeError, ValueError):
        return None
    return x if np.isfinite(x).all() else None


def _test(
    metric: GuardrailMetric,
    arms: tuple[tuple[npt.NDArray[np.datetime64], Columns], ...],
    looks: npt.NDArray[np.datetime64],
    functions: Mapping[str, UnitFunction],
) -> _Tested:
    per_arm = [
        _values(metric, columns, functions)
        if days.size
        else MetricValues(np.empty(0), np.zeros(0, bool), "no units")
        for days, columns in arms
    ]
    reasons = [
        f"{arm}: {v.reason}" for arm, v in zip(("control", "challenger"), per_arm, strict=True) if v.reason
    ]
    n = (int(per_arm[0].values.size), int(per_arm[1].values.size))
    means = tuple(float(v.values.mean()) if v.values.size else math.nan for v in per_arm)
    if reasons:
        return _Tested(metric, None, n, (means[0], means[1]), False, "; ".join(reasons))
    covariates = [_covariate(metric, columns, v.kept) for (_, columns), v in zip(arms, per_arm, strict=True)]
    adjust = metric.covariate is not None and all(x is not None for x in covariates)
    moments = [
        cumulative_moments(v.values, x if adjust else None, np.searchsorted(looks, days[v.kept]), looks.size)
        for (days, _), v, x in zip(arms, per_arm, covariates, strict=True)
    ]
    path = harm_path(
        moments[0], moments[1], harm=metric.effective_harm, tolerance=metric.tolerance,
        tau=metric.effective_tau, min_sample=metric.min_sample, adjust=adjust,
    )  # fmt: skip
    reason = ""
    if min(n) < metric.min_sample:
        reason = f"{min(n)} units in the smaller arm (< min_sample {metric.min_sample})"
    elif metric.covariate is not None and not adjust:
        reason = f"covariate {metric.covariate!r} missing or not finite for some units: not adjusted"
    return _Tested(metric, path, n, (means[0], means[1]), adjust, reason)


def _record(t: _Tested, verdict: Verdict, level: float | None, interval_alpha: float) -> GuardrailRecord:
    m = t.metric
    p_value, estimate, variance, theta, ratio, looks = 1.0, math.nan, math.nan, math.nan, math.nan, 0
    if t.path is not None and t.path.p_values.size:
        p_value = float(t.path.p_values[-1])
        est = t.path.estimates
        estimate, variance = float(est.estimate[-1]), float(est.variance[-1])
        theta, ratio = float(est.theta[-1]), float(est.variance_ratio[-1])
        looks = int(t.path.counted.sum())
    low, high = always_valid_interval(estimate, variance, m.effective_tau, interval_alpha)
    return GuardrailRecord(
        name=m.name, metric=m.metric, harm=m.effective_harm, tolerance=m.tolerance, dry_run=m.dry_run,
        on_fail=m.on_fail, verdict=verdict, reason=t.reason, n_control=t.n[0], n_challenger=t.n[1],
        mean_control=_finite(t.means[0]), mean_challenger=_finite(t.means[1]), estimate=_finite(estimate),
        interval_low=_finite(low), interval_high=_finite(high), interval_level=1.0 - interval_alpha,
        p_value=p_value, level=level, tau=m.effective_tau, covariate=m.covariate, adjusted=t.adjusted,
        theta=_finite(theta) if t.adjusted else None, variance_ratio=_finite(ratio) if t.adjusted else None,
        looks=looks,
    )  # fmt: skip


def _insufficient(t: _Tested) -> bool:
    return t.path is None or min(t.n) < t.metric.min_sample


def _p_value(t: _Tested) -> float:
    """The last look's always-valid p-value; 1 (no evidence) for an insufficient metric."""
    return 1.0 if _insufficient(t) or t.path is None else float(t.path.p_values[-1])


def judge_guardrails(
    control: ArmUnits,
    challenger: ArmUnits,
    metrics: Sequence[GuardrailMetric],
    *,
    alpha: float = 0.05,
    functions: Mapping[str, UnitFunction] | None = None,
) -> GuardrailJudgement:
    """Judge every declared guardrail on the units since the rollout began, one look per day.

    ``functions`` maps a user metric's ``"pkg.module:function"`` to the callable (tests, or a
    function already imported); others are imported by their path.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> days = np.repeat(np.arange("2026-11-01", "2026-11-21", dtype="datetime64[D]"), 70)
    >>> control = ArmUnits(days, {"hit_1st": rng.binomial(1, 0.25, days.size)})
    >>> worse = ArmUnits(days, {"hit_1st": rng.binomial(1, 0.10, days.size)})
    >>> j = judge_guardrails(control, worse, [GuardrailMetric(name="win", metric="win_hit")])
    >>> j.action, j.records[0].verdict
    ('rollback', 'harm')
    """
    check_unique(metrics)
    arms = (control.checked("control"), challenger.checked("challenger"))
    looks = np.unique(np.concatenate([arms[0][0], arms[1][0]]))
    tested = [_test(m, arms, looks, functions or {}) for m in metrics]
    active = [t for t in tested if not t.metric.dry_run]
    k = max(len(active), 1)
    p_active = np.array([_p_value(t) for t in active])
    rejected = holm_rejections(p_active, alpha)
    levels = holm_levels(p_active, alpha)
    by_name: dict[str, GuardrailRecord] = {}
    for t, hit, level in zip(active, rejected, levels, strict=True):
        verdict: Verdict = "insufficient" if _insufficient(t) else "harm" if hit else "ok"
        by_name[t.metric.name] = _record(t, verdict, float(level), alpha / k)
    for t in tested:
        if t.metric.dry_run:  # the verdict it would have had as one more member of the family
            family = np.append(p_active, _p_value(t))
            would: Verdict = "harm" if holm_rejections(family, alpha)[-1] else "ok"
            level = float(holm_levels(family, alpha)[-1])
            by_name[t.metric.name] = _record(
                t, "insufficient" if _insufficient(t) else would, level, alpha / k
            )
    records = tuple(by_name[m.name] for m in metrics)
    return _decide(records, alpha, len(active))


def _decide(records: tuple[GuardrailRecord, ...], alpha: float, family_size: int) -> GuardrailJudgement:
    active = [r for r in records if not r.dry_run]
    harmed = [r for r in active if r.verdict == "harm"]
    missing = [r for r in active if r.verdict == "insufficient"]
    reasons = [
        f"significant harm on {r.name}: challenger − control = {r.estimate:+.4g} "
        f"(tolerance {r.tolerance:g}), always-valid p = {r.p_value:.3g} ≤ Holm level {r.level:.3g}; "
        f"on_fail={r.on_fail}"
        for r in harmed
    ]
    reasons += [f"{r.name} is insufficient: {r.reason}; holding" for r in missing]
    action: GuardrailAction = (
        "rollback"
        if any(r.on_fail == "rollback" for r in harmed)
        else "hold"
        if harmed or missing
        else "pass"
    )
    if action == "pass":
        reasons.append(
            f"no significant harm on {family_size} active guardrail(s) (family-wise α = {alpha:g})"
        )
    return GuardrailJudgement(records, action, tuple(reasons), alpha, family_size)
