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

from stagewise._exceptions import ConfigError, DataValidationError

__all__ = [
    "ACTIONS",
    "CRITICAL",
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


class MetricRule(BaseModel):
    """One row of the threshold table.

    ``percent`` shows values as percentages; ``rate`` requires values in [0, 1];
    ``needs_sample=False`` applies the rule even below the minimum sample.
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
    needs_sample: bool = True

    @model_validator(mode="after")
    def _ordered(self) -> MetricRule:
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


RACES_POLICY = HealthPolicy(
    domain="races",
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
        ),
        MetricRule(
            metric="error_rate",
            label="error rate",
            label_ja="エラー率",
            higher_is_better=False,
            critical=0.10,
            needs_sample=False,
        ),
    ],
)
"""The seed's table; 100 races minimum (about a week of races at a 10 % stage)."""

MARKETS_POLICY = HealthPolicy(
    domain="markets",
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
        MetricRule(
            metric="error_rate",
            label="error rate",
            label_ja="エラー率",
            higher_is_better=False,
            critical=0.10,
            needs_sample=False,
        ),
    ],
    sample_metric="total_signals",
    min_sample=50,
)
"""Next-bar direction signals: 50 settled signals minimum (about five weeks of hourly FX bars at 10 %).

On hourly FX an honest model is right about half the time, so the direction floor only catches a
model that is wrong most of the time (35 % of 50 signals is 2.1 standard errors below a coin);
the Brier skill against the base-rate forecast (the probabilistic majority baseline) catches
confident noise: probabilities far from the base rate that the outcomes do not bear out.
See ``docs/demo.md`` for what these gates can and cannot detect at this sample size.
"""

POLICIES: dict[str, HealthPolicy] = {"races": RACES_POLICY, "markets": MARKETS_POLICY}
"""Built-in policies by domain name."""


def load_policy(source: HealthPolicy | Mapping[str, Any] | str | Path | None) -> HealthPolicy:
    """A policy from an object, a dict, a JSON file path, or a built-in domain name (None: races)."""
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
        raise ConfigError(f"Invalid health policy {source!r}: {exc}") from None


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
    for rule in policy.rules:
        value = values[rule.metric]
        grade = rule.grade(value)
        grades.append(grade)
        label = rule.label_ja or rule.label if ja else rule.label
        bound = rule.critical if grade == CRITICAL else rule.warning
        if grade == HEALTHY or bound is None:
            continue
        sign = "<" if rule.higher_is_better else ">="
        text = f"{label} {rule.show(value)} {sign} {rule.show(bound)} ({grade})"
        (issues if grade == CRITICAL else warnings).append(text)
    enough = sample is None or sample >= policy.min_sample
    if sample is None:
        warnings.append(
            f"{policy.sample_metric} was not given, so the sample size was not checked "
            f"(minimum {policy.min_sample})"
        )
    sample_free_critical = any(
        g == CRITICAL and not r.needs_sample for g, r in zip(grades, policy.rules, strict=True)
    )
    if not enough and not sample_free_critical:
        status = INSUFFICIENT_DATA
        warnings.insert(0, f"only {sample} {policy.sample_metric} (< {policy.min_sample}): verdict withheld")
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


def _validated(metrics: Mapping[str, Any], policy: HealthPolicy) -> dict[str, float]:
    if not isinstance(metrics, Mapping):
        raise DataValidationError(f"'metrics' must be a dict of metric name -> number. Got {metrics!r}.")
    needed = [rule.metric for rule in policy.rules]
    missing = [m for m in needed if m not in metrics]
    if missing:
        raise DataValidationError(
            f"'metrics' lacks {', '.join(missing)}; the {policy.domain!r} health policy needs "
            f"{', '.join(needed)} (and optionally {policy.sample_metric})."
        )
    values: dict[str, float] = {}
    for name in [*needed, policy.sample_metric]:
        value = metrics.get(name)
        if value is None and name == policy.sample_metric:
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
