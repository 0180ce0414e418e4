"""The markets domain's part of :class:`~stagewise.monitor.PerformanceMonitor`: signals, outcomes, stats.

The twin of the race methods for direction signals on bars: log a signal (or many), settle a bar
with its realised direction and return, read the outcomes back, and the day's or a window's
accuracy, F1 and MCC from the rollup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from stagewise._dates import DateLike, TimestampLike
from stagewise.monitor import daily_stats
from stagewise.monitor.facade_base import LedgerFacade, SegmentValue
from stagewise.monitor.inputs import DEFAULT_MODEL_VERSION, DEFAULT_VARIANT, parse_date
from stagewise.monitor.market import (
    normalise_signal,
    normalise_signals,
    parse_outcome,
    parse_timestamp,
    read_outcomes,
    write_outcomes,
    write_signals,
)
from stagewise.monitor.records import SignalPrediction

__all__ = ["MarketMethods"]


class MarketMethods(LedgerFacade):
    """Signals and their outcomes in the ledger (``market_signals``), and their daily stats."""

    def log_signal_records(self, records: Iterable[SignalPrediction]) -> int:
        """Log typed market signals in one transaction (the typed twin of :meth:`log_signals`)."""
        sigs = [
            normalise_signal(
                r.symbol,
                r.timestamp,
                r.signal,
                r.probability,
                model_version=r.model_version,
                variant=r.variant,
                rollout_feature=r.rollout_feature,
                covariate=r.covariate,
            )
            for r in records
        ]
        now = self._now()
        return self.store.write(lambda conn: write_signals(conn, sigs, now))

    def log_signal(
        self,
        symbol: str,
        timestamp: TimestampLike,
        signal: int,
        probability: float,
        *,
        model_version: str = DEFAULT_MODEL_VERSION,
        variant: str = DEFAULT_VARIANT,
        outcome: int | None = None,
        rollout_feature: str | None = None,
        covariate: float | None = None,
    ) -> int:
        """Log a direction signal (1 = up) with its probability; idempotent per (model, symbol, time).

        ``rollout_feature`` and ``covariate`` are the optional routing, as in :meth:`log_prediction`.
        """
        sig = normalise_signal(
            symbol,
            timestamp,
            signal,
            probability,
            model_version=model_version,
            variant=variant,
            outcome=outcome,
            rollout_feature=rollout_feature,
            covariate=covariate,
        )
        now = self._now()
        return self.store.write(lambda conn: write_signals(conn, [sig], now))

    def log_signals(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Log many signals (dicts of ``log_signal`` arguments) in one transaction."""
        sigs = normalise_signals(rows)
        now = self._now()
        return self.store.write(lambda conn: write_signals(conn, sigs, now))

    def log_market_outcome(
        self,
        symbol: str,
        timestamp: TimestampLike,
        outcome: int,
        *,
        model_version: str | None = None,
        reason: str | None = None,
        bar_return: float | None = None,
        cost: float = 0.0,
    ) -> int:
        """Settle the signals of one bar with the realised direction (1 = up, 0 = not up).

        ``bar_return`` (the bar's realised return over the horizon, e.g. 0.0004) records each settled
        signal's net return after ``cost`` (what acting on one signal costs, in return units, >= 0):
        ``bar_return − cost`` for an up signal, ``−bar_return − cost`` for a down one; the economic
        guardrail compares it between rollout groups (``docs/money.md``).
        """
        ts = parse_timestamp(timestamp)
        value, money = parse_outcome(outcome, bar_return, cost)
        now = self._now()
        return self.store.write(
            lambda conn: write_outcomes(conn, symbol, ts, value, model_version, now, reason, money)
        )

    def market_outcomes(
        self,
        start_date: DateLike,
        end_date: DateLike,
        *,
        model_version: str | None = None,
        variant: str | None = None,
        symbol: str | None = None,
        rollout_feature: str | None = None,
    ) -> pd.DataFrame:
        """One row per logged signal dated ``start_date`` to ``end_date`` inclusive (the markets twin of
        :meth:`race_outcomes`).

        Columns: symbol, ts, signal_date, variant, model_version, signal, probability, outcome
        (``<NA>`` until settled), status (``pending`` or ``settled``), net_return (NaN unless its
        outcome was logged with ``bar_return``), rollout_feature and covariate (as in
        :meth:`race_outcomes`) and hit (signal == outcome, ``<NA>`` until settled), sorted by time.
        ``rollout_feature`` filters as in :meth:`race_outcomes` (rows naming no feature are kept).
        """
        start, end = parse_date(start_date, "start_date"), parse_date(end_date, "end_date")
        return self.store.read(
            lambda conn: read_outcomes(
                conn,
                start,
                end,
                model_version=model_version,
                variant=variant,
                symbol=symbol,
                rollout_feature=rollout_feature,
            )
        )

    def calculate_market_stats(
        self,
        date: DateLike,
        *,
        symbol: str | None = None,
        model_version: str | None = None,
        variant: str | None = None,
    ) -> dict[str, Any] | None:
        """Accuracy (Wilson interval), F1 and MCC of the day's settled signals, or None."""
        day = parse_date(date, "date")
        segments = {"symbol": symbol, "model_version": model_version, "variant": variant}
        return daily_stats.market_day_stats(self.store, day, segments, self._now())

    def get_market_trend(
        self, days: int = 30, *, end_date: DateLike | None = None, **segments: SegmentValue
    ) -> list[dict[str, Any]]:
        """Market stats of each day with signals in the window, from the rollup."""
        _, dates = self._window(days, end_date)
        return daily_stats.market_trend(self.store, dates, segments, self._now())
