"""A day's or a window's statistics for one segment, read through the rollup (races and markets).

:class:`~stagewise.monitor.PerformanceMonitor` answers ``calculate_daily_stats``,
``get_performance_trend``, ``calculate_market_stats`` and ``get_market_trend`` with these: each
refreshes the rollup rows of the days it reads (:func:`~stagewise.monitor.stats.rollup`) and turns
the sums into the seed's dicts; the race figures carry the day's calibration as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from stagewise._dates import DateLike
from stagewise._domain import Domain
from stagewise._exceptions import ConfigError
from stagewise.monitor.calibration_stats import race_calibration
from stagewise.monitor.inputs import parse_date
from stagewise.monitor.market import MARKETS_KEY
from stagewise.monitor.stats import (
    aggregate_days,
    market_stats_from_counts,
    race_stats_from_counts,
    rollup,
    segment_key,
)
from stagewise.monitor.store import LedgerStore

__all__ = [
    "MAX_WINDOW_DAYS",
    "market_day_stats",
    "market_trend",
    "race_day_stats",
    "race_day_stats_read_only",
    "race_trend",
    "window",
]

RACES_KEY = Domain.RACES.ledger_key
MAX_WINDOW_DAYS = 36_525
"""Longest window (days) of a trend or report: a century, longer than any ledger's history."""


def window(days: int, end_date: DateLike | None, today: date) -> tuple[date, list[date]]:
    """The last day and the ``days`` days ending it (``end_date``, else ``today``), oldest first.

    Examples
    --------
    >>> end, dates = window(3, "2026-11-02", date(2026, 12, 1))
    >>> end, [d.isoformat() for d in dates]
    (datetime.date(2026, 11, 2), ['2026-10-31', '2026-11-01', '2026-11-02'])
    >>> window(0, None, date(2026, 12, 1))
    Traceback (most recent call last):
    ...
    stagewise._exceptions.ConfigError: The 'days' parameter must be an int in 1..36525. Got 0.
    """
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_WINDOW_DAYS:
        raise ConfigError(f"The 'days' parameter must be an int in 1..{MAX_WINDOW_DAYS}. Got {days!r}.")
    end = today if end_date is None else parse_date(end_date, "end_date")
    if days > end.toordinal():
        raise ConfigError(f"The 'days' parameter reaches before the year 1 from {end}. Got {days!r}.")
    return end, [end - timedelta(days=i) for i in range(days - 1, -1, -1)]


def race_day_stats(
    store: LedgerStore, day: date, segments: Mapping[str, Any], now: datetime
) -> dict[str, Any] | None:
    """The day's race stats with their calibration (None: no races); refreshes its rollup row."""
    key = segment_key(RACES_KEY, segments)
    sums = store.write(lambda conn: rollup(conn, RACES_KEY, [day], key, now))
    stats = race_stats_from_counts(day, sums[day], key) if day in sums else None
    if stats is not None:
        stats.update(store.read(lambda conn: race_calibration(conn, [day], key))[day])
    return stats


def race_trend(
    store: LedgerStore, dates: list[date], segments: Mapping[str, Any], now: datetime
) -> list[dict[str, Any]]:
    """The race stats (with calibration) of each of ``dates`` that has races, oldest first."""
    key = segment_key(RACES_KEY, segments)
    sums = store.write(lambda conn: rollup(conn, RACES_KEY, dates, key, now))
    out = {d: race_stats_from_counts(d, s, key) for d, s in sums.items()}
    found = {d: s for d, s in out.items() if s is not None}
    calibration = store.read(lambda conn: race_calibration(conn, list(found), key))
    for day, stats in found.items():
        stats.update(calibration[day])
    return list(found.values())


def race_day_stats_read_only(store: LedgerStore, day: date) -> dict[str, Any] | None:
    """The day's all-races stats computed without refreshing the rollup table (None: no races)."""
    key = segment_key(RACES_KEY, {})
    sums = store.read(lambda conn: aggregate_days(conn, RACES_KEY, [day], key))
    return race_stats_from_counts(day, sums[day], key) if day in sums else None


def market_day_stats(
    store: LedgerStore, day: date, segments: Mapping[str, Any], now: datetime
) -> dict[str, Any] | None:
    """The day's market stats for the segment (None: no settled signals); refreshes its rollup row."""
    key = segment_key(MARKETS_KEY, segments)
    sums = store.write(lambda conn: rollup(conn, MARKETS_KEY, [day], key, now))
    return market_stats_from_counts(day, sums[day], key) if day in sums else None


def market_trend(
    store: LedgerStore, dates: list[date], segments: Mapping[str, Any], now: datetime
) -> list[dict[str, Any]]:
    """The market stats of each of ``dates`` that has signals, oldest first."""
    key = segment_key(MARKETS_KEY, segments)
    sums = store.write(lambda conn: rollup(conn, MARKETS_KEY, dates, key, now))
    return [s for s in (market_stats_from_counts(d, v, key) for d, v in sums.items()) if s is not None]
