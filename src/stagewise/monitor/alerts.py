"""Alert evaluation (pure) and alert state: firing / resolved, fingerprint, cooldown, delivery status.

* :func:`evaluate` turns one day's stats and the rules into verdicts: ``firing``, ``ok`` or
  ``insufficient`` (a rate or mean rule with fewer than ``min_samples`` behind it never fires).
* :func:`apply_verdicts` records them. The *fingerprint* of an alert is a hash of its domain, type and
  segment (not of the date): the same problem on consecutive days is one alert. A new problem is
  written to ``alerts`` and handed to the notifiers; while it keeps firing it is reported again only
  after ``cooldown_minutes``; when its rule passes again the state becomes ``resolved`` with the time,
  and a ``resolved`` row is written.
* Delivery happens after the transaction commits (no database lock is held during HTTP or SMTP).
  Every alert row carries ``delivery_status`` (``pending`` → ``sent`` / ``failed`` with the error, or
  ``not_configured``), so a failing notifier never loses an alert.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from stagewise.monitor.alert_config import AlertConfig, AlertRule
from stagewise.monitor.schema import alert_state, alerts

__all__ = ["Verdict", "apply_verdicts", "drift_verdicts", "evaluate", "fingerprint"]

_LABELS = {
    "hit_rate_1st": "Win hit rate",
    "hit_rate_top3": "Trifecta hit rate",
    "hit_rate_trio": "Trio hit rate",
    "avg_score_accuracy": "Score accuracy",
    "total_races": "Races evaluated",
    "accuracy": "Signal accuracy",
    "f1": "Signal F1",
    "mcc": "Signal MCC",
    "total_signals": "Signals evaluated",
    "calibration_ece": "Calibration error (ECE) of the win probabilities",
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of one rule on one day's stats."""

    alert_type: str
    metric: str
    threshold: float
    severity: str
    min_samples: int
    status: str  # firing / ok / insufficient
    value: float | None
    compared: float | None
    samples: int
    message: str


def _fmt(metric: str, value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if metric.startswith("hit_rate") or metric == "accuracy":
        return f"{value:.2%}"
    if metric.startswith("total"):
        return f"{value:g}"
    return f"{value:.4f}"


def evaluate(rules: Sequence[AlertRule], stats: Mapping[str, Any] | None) -> list[Verdict]:
    """Verdicts of ``rules`` on one day's ``stats`` (None = a day without races)."""
    out = []
    for rule in rules:
        label = _LABELS[rule.metric]
        if rule.kind == "count":
            count = float(stats.get(rule.metric, 0)) if stats else 0.0
            status = "firing" if count < rule.threshold else "ok"
            msg = (
                f"{label} {_fmt(rule.metric, count)} is below the minimum {_fmt(rule.metric, rule.threshold)}"
            )
            out.append(_verdict(rule, status, count, count, int(count), rule.message or msg))
            continue
        samples = _samples(stats, rule.sample_field)
        raw = stats.get(rule.metric) if stats else None
        value: float | None = (
            None if raw is None or (isinstance(raw, float) and math.isnan(raw)) else float(raw)
        )
        if samples < rule.min_samples or value is None:
            msg = (
                f"{label}: insufficient data ({samples} < min_samples {rule.min_samples}); "
                f"rule {rule.alert_type} not evaluated"
            )
            out.append(_verdict(rule, "insufficient", value, None, samples, msg))
            continue
        compared = value
        detail = ""
        if rule.compare == "wilson_upper" and stats is not None:
            compared = float(stats.get(f"{rule.metric}_ci_high", value))
            detail = f", 95% upper bound {_fmt(rule.metric, compared)}"
        if rule.fires_above:
            if rule.compare == "interval_lower" and stats is not None:
                low = stats.get(f"{rule.metric}_ci_low")
                compared = value if low is None else float(low)
                detail = f", lower 95% bound of the excess over chance {_fmt(rule.metric, compared)}"
            status = "firing" if compared > rule.threshold else "ok"
            msg = (
                f"{label} {_fmt(rule.metric, value)} is above the threshold "
                f"{_fmt(rule.metric, rule.threshold)} (n={samples} races{detail})"
            )
            out.append(_verdict(rule, status, value, compared, samples, rule.message or msg))
            continue
        status = "firing" if compared < rule.threshold else "ok"
        msg = (
            f"{label} {_fmt(rule.metric, value)} is below the threshold {_fmt(rule.metric, rule.threshold)} "
            f"(n={samples}{detail})"
        )
        out.append(_verdict(rule, status, value, compared, samples, rule.message or msg))
    return out


_DAY_TOTALS = ("total_races", "total_signals")


def _samples(stats: Mapping[str, Any] | None, field: str) -> int:
    """The rule's sample size; a stats dict without the rule's own count (the seed's 7-key dict has
    no ``score_accuracy_races``) falls back to the day's settled total, which it was computed over."""
    if not stats:
        return 0
    if field in stats:
        return int(stats[field])
    return next((int(stats[total]) for total in _DAY_TOTALS if total in stats), 0)


def _verdict(
    rule: AlertRule, status: str, value: float | None, compared: float | None, samples: int, message: str
) -> Verdict:
    return Verdict(
        rule.alert_type,
        rule.metric,
        rule.threshold,
        rule.severity,
        rule.min_samples,
        status,
        value,
        compared,
        samples,
        message,
    )


def drift_verdicts(report: Any) -> list[tuple[str, Verdict]]:
    """One ``FEATURE_DRIFT`` verdict per checked feature of a :class:`~stagewise.monitor.drift.DriftReport`.

    ``metric_value`` is the feature's PSI when it was computed (else its combined p-value) and
    ``threshold`` the PSI that flags at these sample sizes, so the alert says how far off it is.
    """
    out = []
    for name, feature in report.features.items():
        psi = feature.methods.get("psi")
        value = psi.statistic if psi is not None else feature.p_value
        threshold = psi.threshold if psi is not None else feature.level
        methods = ", ".join(f"{m} {r.statistic:.3g}" for m, r in feature.methods.items() if r.drifted)
        message = (
            f"Feature {name!r} drifted ({feature.severity}; {methods}; n_ref={feature.n_reference}, "
            f"n_cur={feature.n_current})"
            if feature.drifted
            else f"Feature {name!r} shows no drift"
        )
        severity = "critical" if feature.severity == "major" else "warning"
        status = "firing" if feature.drifted else "ok"
        out.append(
            (
                name,
                Verdict(
                    "FEATURE_DRIFT",
                    "psi",
                    float(threshold),
                    severity,
                    0,
                    status,
                    float(value),
                    float(value),
                    int(feature.n_current),
                    message,
                ),
            )
        )
    return out


def fingerprint(domain: str, alert_type: str, segment: Mapping[str, Any]) -> str:
    """Stable id of a problem: domain, alert type and segment (never the date)."""
    key = json.dumps([domain, alert_type, dict(sorted(segment.items()))], sort_keys=True, ensure_ascii=False)
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def apply_verdicts(
    conn: Connection,
    *,
    day: date,
    domain: str,
    segment: Mapping[str, Any],
    verdicts: Sequence[Verdict],
    config: AlertConfig,
    now: datetime,
    has_notifiers: bool,
) -> tuple[list[dict[str, Any]], list[int]]:
    """Record the verdicts; return the seed-shaped alert dicts and the alert row ids to deliver."""
    seg_json = json.dumps(dict(sorted(segment.items())), ensure_ascii=False)
    cooldown = timedelta(minutes=config.cooldown_minutes)
    delivery = "pending" if has_notifiers else "not_configured"
    reported: list[dict[str, Any]] = []
    to_deliver: list[int] = []
    for v in verdicts:
        fp = fingerprint(domain, v.alert_type, segment)
        base = {
            "alert_type": v.alert_type,
            "message": v.message,
            "metric_value": v.value,
            "threshold": v.threshold,
            "severity": v.severity,
            "fingerprint": fp,
            "segment": dict(segment),
            "date": day.isoformat(),
            "domain": domain,
        }
        if v.status == "insufficient":
            reported.append(
                {
                    **base,
                    "alert_type": "INSUFFICIENT_DATA",
                    "rule": v.alert_type,
                    "severity": "info",
                    "state": "insufficient_data",
                    "notified": False,
                }
            )
            continue
        state = conn.execute(select(alert_state).where(alert_state.c.fingerprint == fp)).mappings().first()
        row = {
            "date": day,
            "domain": domain,
            "alert_type": v.alert_type,
            "message": v.message,
            "metric_value": v.value,
            "threshold": v.threshold,
            "severity": v.severity,
            "fingerprint": fp,
            "segment": seg_json,
            "created_at": now,
            "delivery_status": delivery,
        }
        if v.status == "ok":
            if state is not None and state["state"] == "firing":
                conn.execute(
                    update(alert_state)
                    .where(alert_state.c.fingerprint == fp)
                    .values(state="resolved", resolved_at=now, last_value=v.value)
                )
                notify = has_notifiers and config.notify_resolved
                resolved = {
                    **row,
                    "state": "resolved",
                    "message": f"RESOLVED {v.alert_type}: {v.message}",
                    "delivery_status": "pending" if notify else "not_configured",
                }
                alert_id = conn.execute(insert(alerts).values(**resolved)).inserted_primary_key
                if notify and alert_id is not None:
                    to_deliver.append(int(alert_id[0]))
            continue
        is_new = state is None or state["state"] != "firing"
        last = None if state is None else state["last_notified_at"]
        due = is_new or last is None or now - last >= cooldown
        if state is None:
            conn.execute(
                insert(alert_state).values(
                    fingerprint=fp,
                    domain=domain,
                    alert_type=v.alert_type,
                    segment=seg_json,
                    state="firing",
                    first_fired_at=now,
                    last_fired_at=now,
                    last_notified_at=now if due else None,
                    last_value=v.value,
                )
            )
        else:
            values: dict[str, Any] = {"state": "firing", "last_fired_at": now, "last_value": v.value}
            if is_new:
                values.update(first_fired_at=now, resolved_at=None)
            if due:
                values["last_notified_at"] = now
            conn.execute(update(alert_state).where(alert_state.c.fingerprint == fp).values(**values))
        if due:
            alert_id = conn.execute(insert(alerts).values(**row, state="firing")).inserted_primary_key
            if has_notifiers and alert_id is not None:
                to_deliver.append(int(alert_id[0]))
        reported.append({**base, "state": "firing", "notified": due, "repeat": not is_new})
    return reported, to_deliver
