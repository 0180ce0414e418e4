"""Recording alert verdicts in the ledger, then delivering the ones that are due.

``check_alerts`` and ``drift`` of :class:`~stagewise.monitor.PerformanceMonitor` share this: the
verdicts are written first, under the ``alerts`` lock (:func:`~stagewise.monitor.alerts.apply_verdicts`
decides what fires, repeats or resolves), and only then handed to the notifiers
(:mod:`~stagewise.monitor.delivery`), so a failing notifier never loses an alert.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from stagewise.monitor import delivery
from stagewise.monitor.alert_config import AlertConfig
from stagewise.monitor.alerts import Verdict, apply_verdicts
from stagewise.monitor.delivery import AlertSink
from stagewise.monitor.store import LedgerStore

__all__ = ["record_alerts"]


def record_alerts(
    store: LedgerStore,
    *,
    config: AlertConfig,
    notifiers: Sequence[AlertSink],
    clock: Callable[[], datetime],
    day: date,
    domain: str,
    segment: Mapping[str, Any],
    verdicts: Sequence[Verdict],
) -> list[dict[str, Any]]:
    """Record ``verdicts`` for the day and segment, deliver the due ones; the seed-shaped alert dicts.

    ``clock`` gives the naive UTC time the rows are stamped with (read once to record, again after
    delivery).
    """
    now = clock()
    reported, to_deliver = store.write(
        lambda conn: apply_verdicts(
            conn,
            day=day,
            domain=domain,
            segment=segment,
            verdicts=verdicts,
            config=config,
            now=now,
            has_notifiers=bool(notifiers),
        ),
        lock="alerts",
    )
    if to_deliver:
        statuses = delivery.deliver(store, notifiers, to_deliver, clock)
        for item in reported:
            item["delivery_status"] = statuses.get(item["fingerprint"], item.get("delivery_status"))
    return reported
