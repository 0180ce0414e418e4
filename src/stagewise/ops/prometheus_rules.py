"""Prometheus alerting rules for the metrics ``stagewise serve`` exposes at ``/metrics``.

:func:`prometheus_rules` returns the rule file as plain, typed dicts; :func:`rules_text` renders it
as JSON, which is valid YAML, so Prometheus and ``promtool check rules`` read it as is (no YAML
library needed). ``stagewise ops prometheus-rules`` prints it.

Four groups, one per thing that can go wrong:

* ``stagewise-monitor`` — an alert of the monitor is firing (hit rate, trifecta, score accuracy,
  race count, drift ...), or the ledger's daily figures cannot be read;
* ``stagewise-ledger`` — predictions answered but shed (queue full), rows refused by the ledger,
  writes failing, the queue filling up;
* ``stagewise-models`` — a model version refused at load (changed file, wrong features);
* ``stagewise-rollout`` — the controller rolled a feature back, or a kill switch is engaged.

Counters are alerted on with ``increase(...[window]) > 0``: every counter the rules use exists at 0
from the first scrape (labels pre-created), so the first event is an increase Prometheus sees.
"""

from __future__ import annotations

import json
import re
from typing import Literal, NotRequired, TypedDict

from stagewise._exceptions import ConfigError

__all__ = ["AlertRule", "RuleFile", "RuleGroup", "prometheus_rules", "rules_text"]

Severity = Literal["critical", "warning", "info"]
_DURATION = re.compile(r"^(0|([0-9]+(ms|s|m|h|d|w|y))+)$")


# functional form: "for" is a Python keyword
AlertRule = TypedDict(
    "AlertRule",
    {"alert": str, "expr": str, "for": str, "labels": dict[str, str], "annotations": dict[str, str]},
)


class RuleGroup(TypedDict):
    name: str
    interval: NotRequired[str]
    rules: list[AlertRule]


class RuleFile(TypedDict):
    groups: list[RuleGroup]


def _rule(alert: str, expr: str, wait: str, severity: Severity, summary: str, description: str) -> AlertRule:
    return {
        "alert": alert,
        "expr": expr,
        "for": wait,
        "labels": {"severity": severity, "service": "stagewise"},
        "annotations": {"summary": summary, "description": description},
    }


def _check_duration(name: str, value: str) -> str:
    if not _DURATION.match(value):
        raise ConfigError(
            f"The '{name}' must be a Prometheus duration such as '30s', '5m' or '1h30m'. Got {value!r}."
        )
    return value


def prometheus_rules(
    *, for_override: str | None = None, window: str = "10m", evaluation_interval: str | None = None
) -> RuleFile:
    """The alerting rules.

    Parameters
    ----------
    for_override : str, optional
        Replace every rule's ``for`` (e.g. ``"0s"`` in a test that wants alerts at once).
    window : str, default "10m"
        The range of ``increase(...)`` on counters: an event keeps its alert firing this long.
    evaluation_interval : str, optional
        Each group's ``interval`` (default: Prometheus's global ``evaluation_interval``).

    Examples
    --------
    >>> rules = prometheus_rules()
    >>> [g["name"] for g in rules["groups"]]
    ['stagewise-monitor', 'stagewise-ledger', 'stagewise-models', 'stagewise-rollout']
    >>> prometheus_rules(window="soon")
    Traceback (most recent call last):
    ...
    stagewise._exceptions.ConfigError: The 'window' must be a Prometheus duration such as '30s', '5m' or '1h30m'. Got 'soon'.
    """  # noqa: E501
    _check_duration("window", window)
    if for_override is not None:
        _check_duration("for_override", for_override)
    if evaluation_interval is not None:
        _check_duration("evaluation_interval", evaluation_interval)
    w = window

    def wait(default: str) -> str:
        return for_override if for_override is not None else default

    groups: list[RuleGroup] = [
        {
            "name": "stagewise-monitor",
            "rules": [
                _rule(
                    "StagewiseMonitorAlertFiring",
                    "max by (domain) (stagewise_monitor_alerts_firing) > 0",
                    wait("5m"),
                    "warning",
                    "{{ $value }} stagewise monitor alert(s) firing for {{ $labels.domain }}",
                    "The ledger's alert rules (hit rate, trifecta, score accuracy, race count, drift) have "
                    "firing alerts. See `stagewise monitor alerts` and the dashboard.",
                ),
                _rule(
                    "StagewiseMonitorMetricsDown",
                    "min by (instance) (stagewise_monitor_metrics_up) == 0",
                    wait("15m"),
                    "warning",
                    "stagewise cannot read the ledger's daily figures on {{ $labels.instance }}",
                    "The monitor gauges are stale: the ledger database did not answer the last read.",
                ),
            ],
        },
        {
            "name": "stagewise-ledger",
            "rules": [
                _rule(
                    "StagewisePredictionsShed",
                    f"sum by (instance) (increase(stagewise_predictions_shed_total[{w}])) > 0",
                    wait("0s"),
                    "critical",
                    "Predictions answered but not logged on {{ $labels.instance }}",
                    "The ledger queue was full: these predictions were answered with logged=false and are "
                    "missing from the ledger. Check the database and raise --queue-max or add workers.",
                ),
                _rule(
                    "StagewiseLedgerRowsRejected",
                    f"sum by (instance, kind) (increase(stagewise_ledger_rows_rejected_total[{w}])) > 0",
                    wait("0s"),
                    "warning",
                    "The ledger refused {{ $labels.kind }} rows on {{ $labels.instance }}",
                    "Rows refused as invalid (e.g. a race id reused with another date); the server log "
                    "names each one.",
                ),
                _rule(
                    "StagewiseLedgerWritesFailing",
                    f"sum by (instance) (increase(stagewise_ledger_write_failures_total[{w}])) > 0",
                    wait("5m"),
                    "warning",
                    "Ledger writes keep failing on {{ $labels.instance }}",
                    "Batches are kept and retried; the queue grows until the database answers.",
                ),
                _rule(
                    "StagewiseLogQueueFilling",
                    "sum by (instance) (stagewise_log_queue_depth) "
                    "/ sum by (instance) (stagewise_log_queue_capacity) > 0.5",
                    wait("5m"),
                    "warning",
                    "The ledger queue on {{ $labels.instance }} is over half full",
                    "When it is full, predictions are answered but not logged (shed).",
                ),
            ],
        },
        {
            "name": "stagewise-models",
            "rules": [
                _rule(
                    "StagewiseModelLoadFailed",
                    f"sum by (instance, role) (increase(stagewise_model_load_failures_total[{w}])) > 0",
                    wait("0s"),
                    "critical",
                    "The {{ $labels.role }} model failed to load on {{ $labels.instance }}",
                    "A version was refused (changed file, wrong features, unreadable artifact); the last "
                    "good version keeps serving if there was one. /readyz names the error.",
                ),
            ],
        },
        {
            "name": "stagewise-rollout",
            "rules": [
                _rule(
                    "StagewiseRolloutRolledBack",
                    f"max by (feature) (increase(stagewise_rollout_rollbacks_total[{w}])) > 0",
                    wait("0s"),
                    "critical",
                    "The controller rolled back {{ $labels.feature }}",
                    "The rollout controller found a CRITICAL day or significant harm and disabled the "
                    "feature; `stagewise rollout audit` has the decision and its numbers.",
                ),
                _rule(
                    "StagewiseRolloutKilled",
                    "max by (feature) (stagewise_rollout_killed) == 1",
                    wait("0s"),
                    "warning",
                    "The kill switch of {{ $labels.feature }} is engaged",
                    "Every unit goes to the control group until a person sets a stage again.",
                ),
            ],
        },
    ]
    if evaluation_interval is not None:
        for group in groups:
            group["interval"] = evaluation_interval
    return {"groups": groups}


def rules_text(rules: RuleFile | None = None) -> str:
    """The rule file as indented JSON (valid YAML for Prometheus), newline-terminated."""
    return json.dumps(rules if rules is not None else prometheus_rules(), indent=2, ensure_ascii=False) + "\n"
