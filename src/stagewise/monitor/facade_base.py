"""What every part of :class:`~stagewise.monitor.PerformanceMonitor` shares: :class:`LedgerFacade`.

The monitor's methods come in three parts — races, stats, alerts and reports
(:mod:`~stagewise.monitor.monitor`), the markets domain (:mod:`~stagewise.monitor.facade_markets`) and
drift (:mod:`~stagewise.monitor.facade_drift`) — and each reads the same few things: the ledger's
store, the clock, the alert rules and the notifiers, set by ``PerformanceMonitor.__init__``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from stagewise._dates import DateLike
from stagewise.monitor.alert_config import AlertConfig
from stagewise.monitor.alert_log import record_alerts
from stagewise.monitor.alerts import Verdict
from stagewise.monitor.daily_stats import window
from stagewise.monitor.delivery import AlertSink
from stagewise.monitor.store import LedgerStore

__all__ = ["LedgerFacade", "SegmentValue"]

SegmentValue = str | int | None
"""A segment filter's value (``venue_code=1``, ``variant="on"``); None does not filter."""


class LedgerFacade:
    """The ledger's store, the clock (naive UTC), the alert rules and the notifiers, and the plumbing
    (the current time, a window of days, recording alerts) every part of the monitor uses."""

    store: LedgerStore
    alert_config: AlertConfig
    notifiers: list[AlertSink]
    _clock: Callable[[], datetime]

    def _now(self) -> datetime:
        now = self._clock()
        return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now

    def _window(self, days: int, end_date: DateLike | None) -> tuple[date, list[date]]:
        return window(days, end_date, self._now().date())

    def _record_alerts(
        self, day: date, domain: str, segment: Mapping[str, Any], verdicts: Sequence[Verdict]
    ) -> list[dict[str, Any]]:
        return record_alerts(
            self.store,
            config=self.alert_config,
            notifiers=self.notifiers,
            clock=self._now,
            day=day,
            domain=domain,
            segment=segment,
            verdicts=verdicts,
        )
