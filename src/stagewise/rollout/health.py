"""Health verdicts for a rollout: the seed's threshold table, configurable per domain (pure).

The seed's table (races domain), with the boundaries exactly as documented:

=================  ===========  =============  ============
metric             HEALTHY      WARNING        CRITICAL
=================  ===========  =============  ============
hit_rate_1st       ≥ 20 %       15 % – 20 %    < 15 %
hit_rate_top3      ≥ 5 %        –              < 5 %
avg_score_accuracy ≥ 0.65       0.60 – 0.65    < 0.60
error_rate         < 10 %       –              ≥ 10 %
=================  ===========  =============  ============

The seed's code flagged the error rate with ``> 0.1``; stagewise follows the table
(``≥``). Below ``min_sample`` races the verdict is ``INSUFFICIENT_DATA``: a hit
rate over a handful of races says nothing. Rules marked ``needs_sample=False``
(the error rate, a software signal) still turn a small sample CRITICAL.

``HealthPolicy.critical_rule`` says how a sample is held against the CRITICAL line.
``"upper_bound"`` (the default) grades a rate CRITICAL only when its Wilson 95 % interval
lies wholly on the wrong side of the line (for a higher-is-better rate: the upper bound
is below it; for the error rate: the lower bound is at or above it). A rate whose point
value crosses the line while its interval does not is WARNING: hold, do not roll back.
``"point"`` compares the point value alone, as the seed did. Without a sample size (the
seed's call passes none) both rules compare point values. Only proportions of the
sample (hits per race) have such an interval; means such as the score accuracy are
graded on their point value under either rule (``MetricRule.proportion=False``).

Examples
--------
>>> from datetime import datetime, UTC
>>> verdict = evaluate_health(
...     {"hit_rate_1st": 0.25, "hit_rate_top3": 0.10, "avg_score_accuracy": 0.70, "error_rate": 0.02,
...      "total_races": 300},
...     feature_name="probability_calibration", now=datetime(2025, 12, 2, tzinfo=UTC))
>>> verdict["status"], verdict["action"]
('HEALTHY', 'PROCEED_TO_NEXT_STAGE')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from stagewise._domain import Domain
from stagewise._exceptions import ConfigError, DataValidationError
from stagewise.metrics.intervals import wilson_interval
from stagewise.rollout.economic import ECONOMIC, EconomicGuardrail
from stagewise.rollout.guardrails.spec import GuardrailMetric, check_unique, format_validation_error

__all__ = [
    "ACTIONS",
    "CRITICAL",
    "CRITICAL_CONFIDENCE",
    "CRITICAL_RULES",
    "ERROR_RATE_RULE",
    "HEALTHY",
    "INSUFFICIENT_DATA",
    "MARKETS_POLICY",
    "POLICIES",
    "RACES_POLICY",
    "WARNING",
    "HealthPolicy",
    "MetricRule",
    "evaluate_health",
    "load_policy",
]

HEALTHY, WARNING, CRITICAL, INSUFFICIENT_DATA = "HEALTHY", "WARNING", "CRITICAL", "INSUFFICIENT_DATA"
ACTIONS = {
    HEALTHY: "PROCEED_TO_NEXT_STAGE",
    WARNING: "CONTINUE_MONITORING",
    CRITICAL: "ROLLBACK",
    INSUFFICIENT_DATA: "WAIT_FOR_MORE_DATA",
}
CRITICAL_RULES = ("point", "upper_bound")
"""How a sample is held against a CRITICAL line (see the module docstring)."""
CRITICAL_CONFIDENCE = 0.95
"""Confidence of the Wilson interval behind ``critical_rule="upper_bound"``."""
CriticalRule = Literal["point", "upper_bound"]


class MetricRule(BaseModel):
    """One row of the threshold table.

    ``percent`` shows values as percentages; ``rate`` requires values in [0, 1];
    ``proportion`` (default: same as ``rate``) says the value is a share of the sample
    (hits per race), so ``critical_rule="upper_bound"`` may hold it against its Wilson
    interval; ``needs_sample=False`` applies the rule even below the minimum sample.
    For ``higher_is_better`` metrics: ``value < critical`` is CRITICAL, ``value < warning``
    is WARNING, otherwise healthy. For the others: ``value >= critical`` is CRITICAL,
    ``value >= warning`` is WARNING.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str = Field(min_length=1)
    label: str
    label_ja: str = ""
    higher_is_better: bool = True
    warning: float | None = None
    critical: float
    percent: bool = True
    rate: bool = True
    proportion: bool | None = None
    needs_sample: bool = True

    @property
    def is_proportion(self) -> bool:
        """Whether the value is a share of the sample (a Wilson interval applies)."""
        return self.rate if self.proportion is None else self.proportion

    @model_validator(mode="after")
    def _ordered(self) -> MetricRule:
        if self.proportion and not self.rate:
            raise ValueError(
                f"rule {self.metric!r}: 'proportion' needs 'rate' (a share of the sample lies in [0, 1])"
            )
        if self.warning is not None:
            wrong = self.warning < self.critical if self.higher_is_better else self.warning > self.critical
            if wrong:
                side = ">=" if self.higher_is_better else "<="
                raise ValueError(
                    f"rule {self.metric!r}: 'warning' ({self.warning}) must be {side} "
                    f"'critical' ({self.critical})"
                )
        return self

    def grade(self, value: float) -> str:
        """HEALTHY, WARNING or CRITICAL for one value."""
        if self.higher_is_better:
            if value < self.critical:
                return CRITICAL
            return WARNING if self.warning is not None and value < self.warning else HEALTHY
        if value >= self.critical:
            return CRITICAL
        return WARNING if self.warning is not None and value >= self.warning else HEALTHY

    def significant(self, value: float, sample: float) -> tuple[bool, float]:
        """Whether ``value`` over ``sample`` units is beyond the CRITICAL line by its Wilson interval.

        Returns the verdict and the bound compared: the upper bound for higher-is-better rates,
        the lower bound otherwise.
        """
        trials = round(sample)
        low, high = wilson_interval(min(round(value * trials), trials), trials, CRITICAL_CONFIDENCE)
        if self.higher_is_better:
            return high < self.critical, high
        return low >= self.critical, low

    def show(self, value: float) -> str:
        return f"{value:.2%}" if self.percent else f"{value:.4f}"


class HealthPolicy(BaseModel):
    """A domain's threshold table and minimum sample, loadable from JSON.

    Examples
    --------
    >>> policy = RACES_POLICY.model_copy(update={"min_sample": 50})
    >>> [rule.metric for rule in policy.rules]
    ['hit_rate_1st', 'hit_rate_top3', 'avg_score_accuracy', 'error_rate']
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    domain: str = Field(min_length=1)
    rules: list[MetricRule] = Field(min_length=1)
    sample_metric: str = "total_races"
    min_sample: int = Field(default=100, ge=0)
    critical_rule: CriticalRule = "upper_bound"
    """``"upper_bound"``: CRITICAL only when the rate's Wilson 95 % interval is past the line
    (a challenger as good as the baseline is not rolled back for a noisy week);
    ``"point"``: the point value against the line, as the seed did."""
    guardrails: list[GuardrailMetric] = Field(default_factory=list)
    """Declared guardrail metrics (:mod:`stagewise.rollout.guardrails`): each judged by an always-valid
    harm test of challenger against control, Holm across the active ones."""
    economic_guardrail: EconomicGuardrail | None = None
    """Judge money per unit (ROI per race, net return per signal) in the controller: roll back when the
    challenger earns significantly less than control; hold while a group has too few money units.
    Judged as the declared ``roi`` / ``net_return`` guardrail named ``economic``, in one Holm family
    with the other harm tests (its own ``alpha`` is no longer a separate budget). Off when absent (see
    :mod:`stagewise.rollout.economic` and ``docs/money.md``); refused beside a declared money guardrail."""

    @model_validator(mode="after")
    def _unique_guardrails(self) -> HealthPolicy:
        try:
            check_unique(self.guardrails)
        except ConfigError as exc:
            raise ValueError(str(exc).removeprefix("Invalid ")) from None
        money = "net_return" if self.domain == Domain.MARKETS else "roi"
        both = [g.name for g in self.guardrails if g.metric == money or g.name == ECONOMIC]
        if self.economic_guardrail is not None and both:
            raise ValueError(
                f"economic_guardrail and the declared guardrail {both[0]!r} both judge money (metric "
                f"{money!r}); keep one: the declared guardrail, or economic_guardrail (which is judged "
                f"as the declared {money!r} metric named {ECONOMIC!r})"
            )
        return self


#: The seed's error-rate line (10 %), the same in every domain; it needs no sample size.
ERROR_RATE_RULE = MetricRule(
    metric="error_rate", label="error rate", label_ja="エラー率", higher_is_better=False, critical=0.10,
    needs_sample=False,
)  # fmt: skip

RACES_POLICY = HealthPolicy(
    domain=Domain.RACES,
    rules=[
        MetricRule(
            metric="hit_rate_1st", label="win hit rate", label_ja="1着的中率", warning=0.20, critical=0.15
        ),
        MetricRule(metric="hit_rate_top3", label="trifecta hit rate", label_ja="3連単的中率", critical=0.05),
        MetricRule(
            metric="avg_score_accuracy",
            label="score accuracy",
            label_ja="スコア精度",
            warning=0.65,
            critical=0.60,
            percent=False,
            proportion=False,
        ),
        ERROR_RATE_RULE,
    ],
)
"""The seed's table; 100 races minimum (about a week of races at a 10 % stage), CRITICAL by the
Wilson upper bound (``critical_rule="point"`` for the seed's point comparison)."""

MARKETS_POLICY = HealthPolicy(
    domain=Domain.MARKETS,
    rules=[
        MetricRule(
            metric="direction_accuracy", label="direction accuracy", label_ja="方向的中率", critical=0.35
        ),
        MetricRule(
            metric="brier_skill",
            label="Brier skill vs the base rate",
            label_ja="ブライアスキル (基準率比)",
            warning=-0.10,
            critical=-0.25,
            percent=False,
            rate=False,
        ),
        ERROR_RATE_RULE,
    ],
    sample_metric="total_signals",
    min_sample=50,
)
"""Next-bar direction signals: 50 settled signals minimum (about five weeks of hourly FX bars at 10 %).

On hourly FX an honest model is right about half the time, so the direction floor only catches a
model that is wrong most of the time: below 35 % holds (WARNING; a coin does that at 50 signals with
probability 1.6 %), and with the default ``critical_rule="upper_bound"`` it rolls back only when the
Wilson 95 % upper bound is below 35 % (10 or fewer right of 50). The Brier skill against the
base-rate forecast (the probabilistic majority baseline; a mean, graded on its point value) catches
confident noise: probabilities far from the base rate that the outcomes do not bear out.
See ``docs/demo.md`` for what these gates can and cannot detect at this sample size.
"""

POLICIES: dict[str, HealthPolicy] = {Domain.RACES: RACES_POLICY, Domain.MARKETS: MARKETS_POLICY}
"""Built-in policies by domain name."""


def load_policy(
    source: HealthPolicy | Mapping[str, Any] | str | Path | None, *, critical_rule: str | None = None
) -> HealthPolicy:
    """A policy from an object, a dict, a JSON file path, or a built-in domain name (None: races).

    ``critical_rule`` (``"point"`` or ``"upper_bound"``) replaces the policy's own.

    Examples
    --------
    >>> load_policy("races", critical_rule="point").critical_rule
    'point'
    """
    if critical_rule is not None and critical_rule not in CRITICAL_RULES:
        raise ConfigError(
            f"The 'critical_rule' (--critical-rule) must be 'point' or 'upper_bound'. Got {critical_rule!r}."
        )
    policy = _load_policy(source)
    if critical_rule is None or critical_rule == policy.critical_rule:
        return policy
    return policy.model_copy(update={"critical_rule": critical_rule})


def _load_policy(source: HealthPolicy | Mapping[str, Any] | str | Path | None) -> HealthPolicy:
    if source is None:
        return RACES_POLICY
    if isinstance(source, HealthPolicy):
        return source
    try:
        if isinstance(source, Mapping):
            return HealthPolicy.model_validate(source)
        if isinstance(source, str) and source in POLICIES:
            return POLICIES[source]
        path = Path(source)
        if not path.is_file():
            raise ConfigError(
                f"The health policy {str(source)!r} is neither a built-in domain ({', '.join(POLICIES)}) "
                "nor an existing JSON file."
            )
        return HealthPolicy.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        shown = "(dict)" if isinstance(source, Mapping) else repr(str(source))
        raise ConfigError(f"Invalid health policy {shown}: {format_validation_error(exc)}") from None


def evaluate_health(
    metrics: Mapping[str, Any],
    policy: HealthPolicy = RACES_POLICY,
    *,
    feature_name: str,
    now: datetime,
    next_stage: str | None = None,
    lang: Literal["en", "ja"] = "en",
) -> dict[str, Any]:
    """Grade ``metrics`` against ``policy``; the dict ``check_rollout_health`` returns.

    Returns ``feature_name, status, action, issues, warnings, recommendations, metrics,
    checked_at``. ``issues`` explain CRITICAL grades, ``warnings`` WARNING grades and
    anything that weakens the verdict (no sample size given).
    """
    values = _validated(metrics, policy)
    sample = metrics.get(policy.sample_metric)
    issues: list[str] = []
    warnings: list[str] = []
    grades: list[str] = []
    ja = lang == "ja"
    sample_size = None if sample is None else float(sample)
    by_interval = policy.critical_rule == "upper_bound" and bool(sample_size)
    no_data: list[str] = []
    for rule in policy.rules:
        value = values[rule.metric]
        if value is None:  # e.g. a day whose races are all still pending: nothing to grade
            no_data.append(rule.metric)
            grades.append(INSUFFICIENT_DATA)
            continue
        grade = rule.grade(value)
        label = rule.label_ja or rule.label if ja else rule.label
        sign = "<" if rule.higher_is_better else ">="
        if grade == CRITICAL and by_interval and rule.is_proportion and sample_size is not None:
            beyond, bound_value = rule.significant(value, sample_size)
            if not beyond:  # past the line by its point value only: hold, do not roll back
                grades.append(WARNING)
                warnings.append(_not_significant(rule, label, value, sample_size, bound_value, policy, ja))
                continue
        grades.append(grade)
        bound = rule.critical if grade == CRITICAL else rule.warning
        if grade == HEALTHY or bound is None:
            continue
        text = f"{label} {rule.show(value)} {sign} {rule.show(bound)} ({grade})"
        (issues if grade == CRITICAL else warnings).append(text)
    enough = (sample is None or sample >= policy.min_sample) and not no_data
    if no_data:
        warnings.append(
            f"no data for {', '.join(no_data)} (None: nothing settled to measure), not graded"
            if not ja
            else f"{', '.join(no_data)} はデータなし (None): 判定対象外"
        )
    if sample is None:
        warnings.append(
            f"{policy.sample_metric} was not given, so the sample size was not checked "
            f"(minimum {policy.min_sample})"
            + ("; CRITICAL compares point values" if policy.critical_rule == "upper_bound" else "")
        )
    sample_free_critical = any(
        g == CRITICAL and not r.needs_sample for g, r in zip(grades, policy.rules, strict=True)
    )
    if not enough and not sample_free_critical:
        status = INSUFFICIENT_DATA
        if not no_data:
            warnings.insert(
                0, f"only {sample} {policy.sample_metric} (< {policy.min_sample}): verdict withheld"
            )
    elif CRITICAL in grades:
        status = CRITICAL
    elif WARNING in grades:
        status = WARNING
    else:
        status = HEALTHY
    return {
        "feature_name": feature_name,
        "status": status,
        "action": ACTIONS[status],
        "issues": issues,
        "warnings": warnings,
        "recommendations": _recommend(status, feature_name, next_stage, ja),
        "metrics": dict(metrics),
        "checked_at": now.isoformat(),
    }


def _not_significant(
    rule: MetricRule, label: str, value: float, sample: float, bound: float, policy: HealthPolicy, ja: bool
) -> str:
    line = f"{label} {rule.show(value)} {'<' if rule.higher_is_better else '>='} {rule.show(rule.critical)}"
    if ja:
        side = "上限" if rule.higher_is_better else "下限"
        return f"{line}、ただし {sample:g} 件での95%{side}は {rule.show(bound)} (WARNING: 有意ではない)"
    side = "upper" if rule.higher_is_better else "lower"
    return (
        f"{line}, but its 95 % {side} bound over {sample:g} {policy.sample_metric} is {rule.show(bound)} "
        "(WARNING: not significantly past the CRITICAL line)"
    )


def _validated(metrics: Mapping[str, Any], policy: HealthPolicy) -> dict[str, float | None]:
    if not isinstance(metrics, Mapping):
        raise DataValidationError(f"'metrics' must be a dict of metric name -> number. Got {metrics!r}.")
    needed = [rule.metric for rule in policy.rules]
    missing = [m for m in needed if m not in metrics]
    if missing:
        raise DataValidationError(
            f"'metrics' lacks {', '.join(missing)}; the {policy.domain!r} health policy needs "
            f"{', '.join(needed)} (and optionally {policy.sample_metric})."
        )
    values: dict[str, float | None] = {}
    for name in [*needed, policy.sample_metric]:
        value = metrics.get(name)
        if value is None:  # no data (a rate of a day without settled races); the sample may be omitted
            if name != policy.sample_metric:
                values[name] = None
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise DataValidationError(f"metrics[{name!r}] must be a finite number. Got {value!r}.")
        if name == policy.sample_metric and value < 0:
            raise DataValidationError(f"metrics[{name!r}] must be a count >= 0. Got {value!r}.")
        if name != policy.sample_metric and _is_rate(name, policy) and not 0 <= value <= 1:
            raise DataValidationError(f"metrics[{name!r}] must be a rate in [0, 1]. Got {value!r}.")
        values[name] = float(value)
    return values


def _is_rate(name: str, policy: HealthPolicy) -> bool:
    return any(rule.metric == name and rule.rate for rule in policy.rules)


def _recommend(status: str, feature: str, next_stage: str | None, ja: bool) -> list[str]:
    if status == HEALTHY:
        if next_stage is None:
            return [
                f"{feature}: 全展開済み、監視を継続"
                if ja
                else f"{feature} is fully rolled out; keep monitoring"
            ]
        return [f"{feature}: {next_stage} へ進行可能" if ja else f"advance {feature} to {next_stage}"]
    if status == WARNING:
        return ["現ステージで継続モニタリング" if ja else "hold the current stage and keep monitoring"]
    if status == CRITICAL:
        return [
            f"{feature} をロールバック (disabled) 推奨" if ja else f"roll {feature} back to 'disabled'",
            "原因を調査してから再開" if ja else "find the cause before enabling it again",
        ]
    return ["サンプル不足: 判定を保留" if ja else "hold the stage until enough races are scored"]
