"""Handing recorded alerts to notifiers, and recording how that went.

An alert row is written (``delivery_status='pending'``) and committed *before* any notifier runs, so
nothing a notifier does can lose it. Each notifier is called with the alert as a plain dict; the row
then becomes ``sent`` when every notifier succeeded, or ``failed`` with the errors (one line per
notifier) — and :func:`retry` sends the failed and pending ones again later.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeAlias, TypeGuard

import pandas as pd
from sqlalchemy import Connection, select, update

from stagewise._dates import DateLike
from stagewise.monitor.inputs import parse_date
from stagewise.monitor.schema import alerts
from stagewise.monitor.store import LedgerStore
from stagewise.notify import AlertMessage, Notifier, notify_all

__all__ = ["AlertSink", "alert_payload", "deliver", "history", "retry", "send_all", "to_message"]

AlertSink: TypeAlias = Notifier | Callable[[dict[str, Any]], object]
"""Where an alert goes: a :class:`~stagewise.notify.Notifier` (gets an ``AlertMessage``) or a callable
that takes the alert dict (:func:`alert_payload`) and fails by raising."""


def alert_payload(row: Any) -> dict[str, Any]:
    """The dict a notifier receives for one ``alerts`` row."""
    return {
        "alert_type": row["alert_type"],
        "message": row["message"],
        "metric_value": row["metric_value"],
        "threshold": row["threshold"],
        "severity": row["severity"],
        "state": row["state"],
        "fingerprint": row["fingerprint"],
        "segment": json.loads(row["segment"]),
        "date": row["date"].isoformat() if hasattr(row["date"], "isoformat") else str(row["date"]),
        "domain": row["domain"],
    }


def to_message(payload: dict[str, Any], occurred_at: datetime | None = None) -> AlertMessage:
    """The :class:`~stagewise.notify.AlertMessage` of an alert payload."""
    segment = ", ".join(f"{k}={v}" for k, v in payload["segment"].items()) or "all"
    title = f"{payload['alert_type']} ({payload['domain']}, {segment})"
    fields = {
        "date": payload["date"],
        "alert_type": payload["alert_type"],
        "metric_value": payload["metric_value"],
        "threshold": payload["threshold"],
        "segment": segment,
    }
    return AlertMessage(
        title=title,
        text=payload["message"],
        severity=payload["severity"] if payload["severity"] in ("info", "warning", "critical") else "warning",
        fields=fields,
        fingerprint=payload["fingerprint"],
        status="resolved" if payload["state"] == "resolved" else "firing",
        occurred_at=None if occurred_at is None else occurred_at.replace(tzinfo=UTC),
    )


def _is_protocol(notifier: object) -> TypeGuard[Notifier]:
    return hasattr(notifier, "channel") and callable(getattr(notifier, "send", None))


def send_all(
    notifiers: Sequence[AlertSink], payload: dict[str, Any], occurred_at: datetime | None = None
) -> list[str]:
    """Deliver one alert through every notifier; return one error line per notifier that failed.

    Notifiers of :mod:`stagewise.notify` (``channel`` and ``send(AlertMessage) ->
    DeliveryResult``) are called together through :func:`~stagewise.notify.notify_all`; any other
    callable gets the payload dict and fails by raising.
    """
    errors: list[str] = []
    channels = [n for n in notifiers if _is_protocol(n)]
    if channels:
        for result in notify_all(channels, to_message(payload, occurred_at)):
            if not result.ok:
                errors.append(
                    f"{result.channel} to {result.target} failed after {result.attempts} attempt(s): "
                    f"{result.error}"
                )
    for notifier in notifiers:
        if _is_protocol(notifier):
            continue
        try:
            if not callable(notifier):
                raise TypeError(
                    f"{type(notifier).__name__} has no send(AlertMessage) method and is not callable"
                )
            notifier(payload)
        except Exception as exc:  # a notifier's failure must never lose the alert
            errors.append(f"{type(notifier).__name__}: {type(exc).__name__}: {exc}")
    return errors


def deliver(
    store: LedgerStore,
    notifiers: Sequence[AlertSink],
    alert_ids: Sequence[int],
    clock: Callable[[], datetime],
) -> dict[str, str]:
    """Send the given alert rows; return ``{fingerprint: delivery_status}``."""
    rows = store.read(
        lambda conn: conn.execute(select(alerts).where(alerts.c.id.in_(list(alert_ids)))).mappings().all()
    )
    outcomes: list[dict[str, Any]] = []
    statuses: dict[str, str] = {}
    for row in rows:
        payload = alert_payload(row)
        errors = send_all(notifiers, payload, row["created_at"])
        status = "failed" if errors else "sent"
        statuses[row["fingerprint"]] = status
        outcomes.append({"id": row["id"], "status": status, "error": "\n".join(errors) or None})
    now = clock()
    now = now.replace(tzinfo=None) if now.tzinfo else now

    def _record(conn: Connection) -> None:
        for item in outcomes:
            conn.execute(
                update(alerts)
                .where(alerts.c.id == item["id"])
                .values(
                    delivery_status=item["status"],
                    delivery_error=item["error"],
                    delivered_at=now if item["status"] == "sent" else None,
                )
            )

    store.write(_record, lock="alerts")
    return statuses


def retry(store: LedgerStore, notifiers: Sequence[AlertSink], clock: Callable[[], datetime]) -> int:
    """Deliver again every ``failed`` or ``pending`` alert; return how many are now ``sent``."""
    if not notifiers:
        return 0
    ids = store.read(
        lambda conn: [
            int(i)
            for i in conn.execute(
                select(alerts.c.id).where(alerts.c.delivery_status.in_(["failed", "pending"]))
            ).scalars()
        ]
    )
    if not ids:
        return 0
    return sum(1 for s in deliver(store, notifiers, ids, clock).values() if s == "sent")


def history(
    store: LedgerStore, start_date: DateLike | None = None, end_date: DateLike | None = None
) -> pd.DataFrame:
    """Alert rows between two dates (inclusive), oldest first."""
    query = select(alerts).order_by(alerts.c.created_at, alerts.c.id)
    if start_date is not None:
        query = query.where(alerts.c.date >= parse_date(start_date, "start_date"))
    if end_date is not None:
        query = query.where(alerts.c.date <= parse_date(end_date, "end_date"))

    def _read(conn: Connection) -> pd.DataFrame:
        result = conn.execute(query)
        return pd.DataFrame(result.all(), columns=list(result.keys()))

    return store.read(_read)
