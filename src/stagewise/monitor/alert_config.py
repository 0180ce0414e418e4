"""Alert rules per domain, validated from a TOML or JSON file.

The defaults are the seed's four rules for races (win hit < 15 %, trifecta < 5 %, score accuracy < 0.6,
fewer than 10 races) and two for markets (accuracy < 50 %, fewer than 10 signals). A file replaces the
rules of the domains it names::

    cooldown_minutes = 1440        # a firing alert is notified again at most once a day
    notify_resolved = true

    [[domains.races.rules]]
    alert_type = "LOW_HIT_RATE_1ST"
    metric = "hit_rate_1st"
    threshold = 0.15
    min_samples = 30               # below 30 settled races: INSUFFICIENT_DATA, not a page
    compare = "wilson_upper"       # fire only when even the upper 95 % bound is below 15 %

A wrong file raises :class:`~stagewise.ConfigError` naming the field, the value and what is accepted.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from stagewise._domain import LedgerKey
from stagewise._exceptions import ConfigError

__all__ = ["AlertConfig", "AlertRule", "DomainRules", "load_alert_config"]

FORMAT_VERSION = 1
_RATE_METRICS = {"hit_rate_1st", "hit_rate_top3", "hit_rate_trio", "accuracy"}
_MEAN_METRICS = {"avg_score_accuracy", "f1", "mcc"}
_COUNT_METRICS = {"total_races", "total_signals"}
_ERROR_METRICS = {"calibration_ece"}  # lower is better: these fire when *above* the threshold
_SAMPLE_OF = {
    "accuracy": "total_signals",
    "f1": "total_signals",
    "mcc": "total_signals",
    "calibration_ece": "calibration_races",
}


class AlertRule(BaseModel):
    """One threshold rule: fire when ``metric`` is below ``threshold``.

    ``calibration_ece`` is an error, so its rule fires when the value is *above* the threshold; with
    ``compare = "interval_lower"`` it compares the lower 95 % bound of the ECE in excess of chance
    (``calibration_ece_ci_low``), so it fires only when the miscalibration is larger than the threshold
    beyond sampling noise.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    alert_type: str = Field(min_length=1, max_length=32, pattern=r"^[A-Z][A-Z0-9_]*$")
    metric: Literal[
        "hit_rate_1st",
        "hit_rate_top3",
        "hit_rate_trio",
        "avg_score_accuracy",
        "total_races",
        "accuracy",
        "f1",
        "mcc",
        "total_signals",
        "calibration_ece",
    ]
    threshold: float
    min_samples: int = Field(default=10, ge=0)
    compare: Literal["point", "wilson_upper", "interval_lower"] = "point"
    severity: Literal["info", "warning", "critical"] = "warning"
    message: str | None = None

    @model_validator(mode="after")
    def _check(self) -> AlertRule:
        if self.compare == "wilson_upper" and self.metric not in _RATE_METRICS | {"avg_score_accuracy"}:
            raise ValueError(
                f"compare='wilson_upper' needs a metric with an interval ({sorted(_RATE_METRICS)} or "
                f"'avg_score_accuracy'), not {self.metric!r}"
            )
        if self.compare == "interval_lower" and self.metric not in _ERROR_METRICS:
            raise ValueError(
                f"compare='interval_lower' needs an error metric ({sorted(_ERROR_METRICS)}), "
                f"not {self.metric!r}"
            )
        return self

    @property
    def fires_above(self) -> bool:
        """True for an error metric (fires when above the threshold), False for a rate (below)."""
        return self.metric in _ERROR_METRICS

    @property
    def kind(self) -> str:
        if self.metric in _COUNT_METRICS:
            return "count"
        return "rate" if self.metric in _RATE_METRICS else "mean"

    @property
    def sample_field(self) -> str:
        return _SAMPLE_OF.get(
            self.metric, "score_accuracy_races" if self.metric == "avg_score_accuracy" else "total_races"
        )


class DomainRules(BaseModel):
    """The rules of one domain (``races`` or ``market``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: tuple[AlertRule, ...]


Domain = LedgerKey
"""The ledger's names of the two domains (``races``, ``market``): the keys of an alert-rule file."""


def _default_domains() -> dict[Domain, DomainRules]:
    return {"races": _seed_race_rules(), "market": _market_rules()}


def _seed_race_rules() -> DomainRules:
    return DomainRules(
        rules=(
            AlertRule(alert_type="LOW_HIT_RATE_1ST", metric="hit_rate_1st", threshold=0.15),
            AlertRule(alert_type="LOW_HIT_RATE_TOP3", metric="hit_rate_top3", threshold=0.05),
            AlertRule(alert_type="LOW_SCORE_ACCURACY", metric="avg_score_accuracy", threshold=0.6),
            AlertRule(alert_type="LOW_RACE_COUNT", metric="total_races", threshold=10, min_samples=0),
        )
    )


def _market_rules() -> DomainRules:
    return DomainRules(
        rules=(
            AlertRule(alert_type="LOW_ACCURACY", metric="accuracy", threshold=0.5, min_samples=30),
            AlertRule(alert_type="LOW_SIGNAL_COUNT", metric="total_signals", threshold=10, min_samples=0),
        )
    )


class AlertConfig(BaseModel):
    """Rules per domain plus the cooldown and drift settings.

    Examples
    --------
    >>> cfg = AlertConfig()
    >>> [r.alert_type for r in cfg.domains["races"].rules]
    ['LOW_HIT_RATE_1ST', 'LOW_HIT_RATE_TOP3', 'LOW_SCORE_ACCURACY', 'LOW_RACE_COUNT']
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    format_version: Literal[1] = 1
    cooldown_minutes: float = Field(default=24 * 60, ge=0)
    notify_resolved: bool = True
    drift_alerts: bool = True
    domains: dict[Domain, DomainRules] = Field(default_factory=_default_domains)

    @model_validator(mode="after")
    def _fill_defaults(self) -> AlertConfig:
        for name, rules in _default_domains().items():
            if name not in self.domains:
                self.domains[name] = rules
        return self


def load_alert_config(path: str | Path) -> AlertConfig:
    """Read and validate an alert config file (``.toml`` or ``.json``)."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"Cannot read the alert config {str(file)!r}: {exc.strerror}.") from exc
    try:
        data: Any = json.loads(raw) if file.suffix.lower() == ".json" else tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"The alert config {str(file)!r} is not valid {file.suffix or 'TOML'}: {exc}."
        ) from exc
    try:
        return AlertConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"The alert config {str(file)!r} has an invalid field {where!r}: {first['msg']} "
            f"(got {first.get('input')!r})."
        ) from exc
