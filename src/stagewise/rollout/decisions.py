"""The controller's decision record: one row per decision, one row per metric it judged.

Every decision the controller applies is written into the hash-chained audit log, its numbers in
``details["controller"]`` (:func:`~stagewise.rollout.controller_runner.run_controller`). That
entry *is* the record: :func:`decision_from_entry` reads it into a :class:`DecisionRecord` (the
action, the stages, the reasons) with one :class:`MetricRecord` per judged metric (estimate,
interval, always-valid p-value, the level it was held to, units per arm, covariate adjustment,
verdict). A SQL store also keeps them in two tables of their own, written in the transaction that
writes the audit entry (:class:`~stagewise.rollout.sql_store.SqlRolloutStore`); the file and
memory stores derive them from the log when read. A ``--dry-run`` decision writes nothing, so it
has no record: the record lists what the controller did, never what it would have done.

Metric kinds: ``built-in`` (the always-valid harm test on win hit rate / score accuracy),
``economic`` (the health policy's money guardrail), ``declared`` (a guardrail metric of the
policy, :mod:`stagewise.rollout.guardrails`) and ``srm`` (the sample-ratio check).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "DecisionLog",
    "DecisionRecord",
    "MetricRecord",
    "decision_from_entry",
    "decisions_from_entries",
    "read_decisions",
]

Scalar = str | float | int | bool | None


@dataclass(frozen=True)
class MetricRecord:
    """One metric of one decision (challenger − control at the decision's look)."""

    metric: str
    kind: str
    verdict: str | None
    estimate: float | None = None
    interval_low: float | None = None
    interval_high: float | None = None
    p_value: float | None = None
    level: float | None = None
    n_control: int | None = None
    n_challenger: int | None = None
    covariate: str | None = None
    variance_ratio: float | None = None
    reason: str | None = None

    def as_row(self) -> dict[str, Scalar]:
        return asdict(self)


@dataclass(frozen=True)
class DecisionRecord:
    """One applied controller decision; ``seq`` is its audit entry's sequence number.

    ``variant`` names the A/B/n variant the decision judged (an A/B/n run records one decision per
    variant); None for a feature without a split.
    """

    seq: int
    feature: str
    decided_at: str
    day: str | None
    stage_before: str
    stage_after: str
    action: str
    reasons: tuple[str, ...]
    actor: str | None
    dry_run: bool = False
    metrics: tuple[MetricRecord, ...] = ()
    variant: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON (what ``stagewise rollout decisions --json`` prints)."""
        out = asdict(self)
        out["reasons"] = list(self.reasons)
        out["metrics"] = [m.as_row() for m in self.metrics]
        return out


@runtime_checkable
class DecisionLog(Protocol):
    """A store that keeps decision records itself (the SQL store); others derive them from the log."""

    def decisions(self, feature: str | None, limit: int | None = None) -> list[DecisionRecord]:
        """The feature's (None: every feature's) decisions, newest first, at most ``limit``."""
        ...


class _AuditSource(Protocol):
    def audit_entries(self) -> list[dict[str, Any]]: ...


def read_decisions(
    store: _AuditSource, feature: str | None, limit: int | None = None
) -> list[DecisionRecord]:
    """The feature's (None: every feature's) decision records, newest first: from the store's tables,
    else from its audit log (read once)."""
    if isinstance(store, DecisionLog):
        return store.decisions(feature, limit)
    return decisions_from_entries(store.audit_entries(), feature, limit)


def decisions_from_entries(
    entries: Iterable[Mapping[str, Any]], feature: str | None = None, limit: int | None = None
) -> list[DecisionRecord]:
    """The decision records among audit ``entries`` (of ``feature``, or all), newest first."""
    found = [d for d in map(decision_from_entry, entries) if d is not None]
    out = sorted((d for d in found if feature is None or d.feature == feature), key=lambda d: -d.seq)
    return out if limit is None else out[:limit]


def decision_from_entry(entry: Mapping[str, Any]) -> DecisionRecord | None:
    """The decision an audit entry records, or None when the entry is not a controller decision."""
    details = entry.get("details")
    decision = details.get("controller") if isinstance(details, Mapping) else None
    if not isinstance(decision, Mapping) or not isinstance(entry.get("seq"), int):
        return None
    numbers = decision.get("numbers")
    numbers = numbers if isinstance(numbers, Mapping) else {}
    days = numbers.get("days") or []
    last_day = days[-1].get("date") if days and isinstance(days[-1], Mapping) else None
    return DecisionRecord(
        seq=int(entry["seq"]),
        feature=str(entry.get("feature") or decision.get("feature")),
        decided_at=str(decision.get("decided_at") or entry.get("at")),
        day=_text(last_day),
        stage_before=str(decision.get("from_stage", entry.get("old_stage"))),
        stage_after=str(decision.get("to_stage", entry.get("new_stage"))),
        action=str(decision.get("action")),
        reasons=tuple(str(r) for r in decision.get("reasons") or ()),
        actor=_text(entry.get("actor")),
        dry_run=bool(decision.get("dry_run", False)),
        metrics=tuple(metric_records(numbers)),
        variant=_text(decision.get("variant")),
    )


def metric_records(numbers: Mapping[str, Any]) -> list[MetricRecord]:
    """Every metric the decision's ``numbers`` judged, in a fixed order: built-in, economic, declared, srm."""
    out: list[MetricRecord] = []
    cumulative = numbers.get("cumulative") or {}
    n_control = _int((cumulative.get("control") or {}).get("races"))
    n_challenger = _int((cumulative.get("challenger") or {}).get("races"))
    for name, test in sorted((numbers.get("sequential") or {}).items()):
        out.append(
            MetricRecord(
                metric=str(name), kind="built-in", verdict="harm" if test.get("rejected") else "ok",
                estimate=_float(test.get("estimate")), p_value=_float(test.get("p_value")),
                level=_float(test.get("alpha")), n_control=n_control, n_challenger=n_challenger,
            )
        )  # fmt: skip
    economic = numbers.get("economic")
    if isinstance(economic, Mapping):
        test = economic.get("test") or {}
        units = economic.get("units") or {}
        status = economic.get("status")
        out.append(
            MetricRecord(
                metric="money_per_unit", kind="economic",
                verdict="harm" if status == "rejected" else _text(status),
                estimate=_float(test.get("estimate")), p_value=_float(test.get("p_value")),
                level=_float(test.get("alpha")), n_control=_int(units.get("control")),
                n_challenger=_int(units.get("challenger")), reason=_text(economic.get("reason")),
            )
        )  # fmt: skip
    for row in (numbers.get("guardrails") or {}).get("records") or ():
        out.append(
            MetricRecord(
                metric=str(row.get("name")), kind="declared", verdict=_text(row.get("verdict")),
                estimate=_float(row.get("estimate")), interval_low=_float(row.get("interval_low")),
                interval_high=_float(row.get("interval_high")), p_value=_float(row.get("p_value")),
                level=_float(row.get("level")), n_control=_int(row.get("n_control")),
                n_challenger=_int(row.get("n_challenger")),
                covariate=_text(row.get("covariate")) if row.get("adjusted") else None,
                variance_ratio=_float(row.get("variance_ratio")), reason=_text(row.get("reason")),
            )
        )  # fmt: skip
    srm = numbers.get("srm")
    if isinstance(srm, Mapping):
        out.append(
            MetricRecord(
                metric="sample_ratio", kind="srm", verdict=_text(srm.get("verdict")),
                p_value=_float(srm.get("p_value")), level=_float(srm.get("threshold")),
            )
        )  # fmt: skip
    return out


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
