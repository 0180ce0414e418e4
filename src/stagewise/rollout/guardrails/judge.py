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
from dataclasses import asdict, dataclass, field, replace
from typing import Literal

import numpy as np
import numpy.typing as npt

from stagewise._exceptions import DataValidationError
from stagewise.rollout.guardrails.adjusted import Moments, cumulative_moments
from stagewise.rollout.guardrails.family import holm_levels, holm_rejections
from stagewise.rollout.guardrails.harm_test import HarmPath, always_valid_interval, harm_path
from stagewise.rollout.guardrails.spec import GuardrailMetric, check_unique
from stagewise.rollout.guardrails.sums import ArmSums, cumulate
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
    family_p: Mapping[str, float] = field(default_factory=dict)
    """Each active metric's p-value as a member of the family (1 when insufficient)."""
    others: Mapping[str, tuple[bool, float]] = field(default_factory=dict)
    """Holm's verdict on each outside member (``others`` of :func:`judge_guardrails`): rejected, level."""

    def as_rows(self) -> list[dict[str, str | float | int | bool | None]]:
        return [r.as_row() for r in self.records]


_Checked = tuple[npt.NDArray[np.datetime64], Columns | ArmSums]


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
    name = metric.covariate_column
    if name is None or name not in columns:
        return None
    try:
        x = np.asarray(columns[name], dtype=np.float64)[kept]
    except (TypeError, ValueError):
        return None
    return x if np.isfinite(x).all() else None


@dataclass(frozen=True)
class _ArmMoments:
    """One arm's cumulative moments of a metric, plain and (when its covariate is there) adjusted."""

    reason: str | None
    n: int = 0
    mean: float = math.nan
    plain: Moments | None = None
    adjusted: Moments | None = None


def _from_units(
    metric: GuardrailMetric,
    days: npt.NDArray[np.datetime64],
    columns: Columns,
    looks: npt.NDArray[np.datetime64],
    functions: Mapping[str, UnitFunction],
) -> _ArmMoments:
    if not days.size:
        return _ArmMoments("no units")
    v = _values(metric, columns, functions)
    if v.reason:
        return _ArmMoments(v.reason, int(v.values.size))
    look = np.searchsorted(looks, days[v.kept])
    x = _covariate(metric, columns, v.kept)
    return _ArmMoments(
        None,
        int(v.values.size),
        float(v.values.mean()) if v.values.size else math.nan,
        cumulative_moments(v.values, None, look, looks.size),
        None if x is None else cumulative_moments(v.values, x, look, looks.size),
    )


def _from_sums(
    metric: GuardrailMetric,
    days: npt.NDArray[np.datetime64],
    sums: ArmSums,
    looks: npt.NDArray[np.datetime64],
) -> _ArmMoments:
    if not days.size:
        return _ArmMoments("no units")
    builtin = BUILTINS.get(metric.metric)
    if builtin is None and not metric.is_function:
        return _ArmMoments(f"unknown metric {metric.metric!r} (built-ins: {', '.join(BUILTINS)})")
    if builtin is None or builtin.column is None:
        return _ArmMoments(f"{metric.metric} needs each unit's row; the ledger was read as daily sums")
    daily = sums.columns.get(builtin.column)
    if daily is None:
        return _ArmMoments(f"column {builtin.column!r} is not logged")
    look = np.searchsorted(looks, days)
    n = int(daily.n.sum())
    name = metric.covariate_column
    pair = sums.pairs.get((builtin.column, name)) if name else None
    complete = pair is not None and np.array_equal(pair.n, daily.n)  # the covariate is set wherever y is
    return _ArmMoments(
        None,
        n,
        float(daily.sum_y.sum() / n) if n else math.nan,
        cumulate(daily, look, looks.size),
        cumulate(pair, look, looks.size) if complete and pair is not None else None,
    )


def _test(
    metric: GuardrailMetric,
    arms: tuple[_Checked, _Checked],
    looks: npt.NDArray[np.datetime64],
    functions: Mapping[str, UnitFunction],
) -> _Tested:
    per_arm = [
        _from_sums(metric, days, data, looks)
        if isinstance(data, ArmSums)
        else _from_units(metric, days, data, looks, functions)
        for days, data in arms
    ]
    reasons = [
        f"{arm}: {a.reason}" for arm, a in zip(("control", "challenger"), per_arm, strict=True) if a.reason
    ]
    n = (per_arm[0].n, per_arm[1].n)
    means = (per_arm[0].mean, per_arm[1].mean)
    if reasons:
        return _Tested(metric, None, n, means, False, "; ".join(reasons))
    adjust = metric.covariate_column is not None and all(a.adjusted is not None for a in per_arm)
    moments = [a.adjusted if adjust else a.plain for a in per_arm]
    control, challenger = moments
    if control is None or challenger is None:  # unreachable: an arm without moments has a reason
        return _Tested(metric, None, n, means, False, "no moments")
    path = harm_path(
        control, challenger, harm=metric.effective_harm, tolerance=metric.tolerance,
        tau=metric.effective_tau, min_sample=metric.min_sample, adjust=adjust,
    )  # fmt: skip
    reason = ""
    if min(n) < metric.min_sample:
        reason = f"{min(n)} units in the smaller arm (< min_sample {metric.min_sample})"
    elif metric.covariate is not None and not metric.covariate_is_auto and not adjust:
        reason = f"covariate {metric.covariate!r} missing or not finite for some units: not adjusted"
    return _Tested(metric, path, n, means, adjust, reason)


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
        p_value=p_value, level=level, tau=m.effective_tau,
        covariate=m.covariate_column if t.adjusted or not m.covariate_is_auto else None, adjusted=t.adjusted,
        theta=_finite(theta) if t.adjusted else None, variance_ratio=_finite(ratio) if t.adjusted else None,
        looks=looks,
    )  # fmt: skip


def _insufficient(t: _Tested) -> bool:
    return t.path is None or min(t.n) < t.metric.min_sample


def _p_value(t: _Tested) -> float:
    """The last look's always-valid p-value; 1 (no evidence) for an insufficient metric."""
    return 1.0 if _insufficient(t) or t.path is None else float(t.path.p_values[-1])


def _checked(arm: ArmUnits | ArmSums, name: str) -> _Checked:
    if isinstance(arm, ArmSums):
        return arm.checked(name), arm
    return arm.checked(name)


def judge_guardrails(
    control: ArmUnits | ArmSums,
    challenger: ArmUnits | ArmSums,
    metrics: Sequence[GuardrailMetric],
    *,
    alpha: float = 0.05,
    functions: Mapping[str, UnitFunction] | None = None,
    others: Mapping[str, float] | None = None,
) -> GuardrailJudgement:
    """Judge every declared guardrail on the units since the rollout began, one look per day.

    Each arm is its units (:class:`ArmUnits`: every unit's columns) or its per-day sums
    (:class:`~stagewise.rollout.guardrails.sums.ArmSums`, enough for the built-ins that are one
    column); both give the same records. ``functions`` maps a user metric's ``"pkg.module:function"``
    to the callable (tests, or a function already imported); others are imported by their path.

    ``others`` are the always-valid p-values of tests judged elsewhere that belong to the same family
    (the controller's built-in harm tests, its economic guardrail): Holm runs over the active metrics
    and them together, and ``GuardrailJudgement.others`` says whether each is rejected and at which
    level. They do not enter the action or the reasons: their owner acts on them.

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
    arms = (_checked(control, "control"), _checked(challenger, "challenger"))
    looks = np.unique(np.concatenate([arms[0][0], arms[1][0]]))
    tested = [_test(m, arms, looks, functions or {}) for m in metrics]
    active = [t for t in tested if not t.metric.dry_run]
    outside = dict(others or {})
    p_active = np.array([_p_value(t) for t in active])
    p_family = np.concatenate([p_active, np.nan_to_num(np.array(list(outside.values()), float), nan=1.0)])
    k = max(p_family.size, 1)
    # equal p-values take their Holm levels in the order of the members' names, so two judgements of
    # one family (the controller judges money with the others as outside members) report the same levels
    names = [t.metric.name for t in active] + list(outside)
    by_name_order = np.argsort(np.array(names, dtype=object), kind="stable")
    back = np.argsort(by_name_order, kind="stable")
    rejected = holm_rejections(p_family[by_name_order], alpha)[back]
    levels = holm_levels(p_family[by_name_order], alpha)[back]
    by_name: dict[str, GuardrailRecord] = {}
    for t, hit, level in zip(active, rejected, levels, strict=False):
        verdict: Verdict = "insufficient" if _insufficient(t) else "harm" if hit else "ok"
        by_name[t.metric.name] = _record(t, verdict, float(level), alpha / k)
    for t in tested:
        if t.metric.dry_run:  # the verdict it would have had as one more member of the family
            family = np.append(p_family, _p_value(t))
            would: Verdict = "harm" if holm_rejections(family, alpha)[-1] else "ok"
            level = float(holm_levels(family, alpha)[-1])
            by_name[t.metric.name] = _record(
                t, "insufficient" if _insufficient(t) else would, level, alpha / k
            )
    records = tuple(by_name[m.name] for m in metrics)
    judged = _decide(records, alpha, len(active))
    verdicts = zip(outside, rejected[len(active) :], levels[len(active) :], strict=True)
    return replace(
        judged,
        family_size=int(p_family.size),
        family_p={t.metric.name: float(p) for t, p in zip(active, p_active, strict=True)},
        others={name: (bool(hit), float(level)) for name, hit, level in verdicts},
    )


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
