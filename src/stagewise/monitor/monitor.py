"""``PerformanceMonitor``: the seed's API over the ledger, stats, alerts, drift and reports.

This module holds its construction and the races, stats, alerts and reports; the markets domain
(:mod:`~stagewise.monitor.facade_markets`) and drift (:mod:`~stagewise.monitor.facade_drift`) are
its other parts, and :mod:`~stagewise.monitor.facade_base` what they share.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from stagewise._dates import DateLike
from stagewise._domain import Domain, parse_domain
from stagewise.monitor import daily_stats, delivery, reads
from stagewise.monitor.alert_config import AlertConfig, load_alert_config
from stagewise.monitor.alerts import evaluate
from stagewise.monitor.daily_stats import MAX_WINDOW_DAYS
from stagewise.monitor.delivery import AlertSink
from stagewise.monitor.facade_base import SegmentValue
from stagewise.monitor.facade_drift import DriftMethods
from stagewise.monitor.facade_markets import MarketMethods
from stagewise.monitor.inputs import (
    DEFAULT_MODEL_VERSION,
    DEFAULT_VARIANT,
    entry_of_record,
    normalise_batch,
    normalise_race,
    parse_date,
)
from stagewise.monitor.ledger import LogSummary
from stagewise.monitor.race_log import write_race_entries, write_race_results
from stagewise.monitor.reads import LedgerCounts, RaceIdentity, require_ledger
from stagewise.monitor.records import RacePrediction
from stagewise.monitor.store import LedgerStore, resolve_url

if TYPE_CHECKING:
    pass

__all__ = ["MAX_WINDOW_DAYS", "PerformanceMonitor"]

RACES_KEY = Domain.RACES.ledger_key
_NO_STATS: Any = object()


def _is_file_path(value: str | Path | None) -> bool:
    return isinstance(value, Path) or (isinstance(value, str) and value != "" and "://" not in value)


class PerformanceMonitor(MarketMethods, DriftMethods):
    """A prediction ledger with daily stats, alerts, drift and reports (SQLite or PostgreSQL).

    Parameters
    ----------
    db_url : str or Path, optional
        SQLAlchemy URL (``sqlite:///data/monitor.db`` by default, or ``postgresql+psycopg://...``).
        A value without ``://`` is a SQLite file path.
    monitor_db : str or Path, optional
        The seed's name for the SQLite file (``data/monitor.db``); give it or ``db_url``, not both.
        It is also the second positional argument, as in the seed.
    db_path : str or Path, optional
        The seed's race database path; accepted for compatibility and recorded as :attr:`db_path`
        (the monitor does not read it). The seed's positional call
        ``PerformanceMonitor("data/boatrace.db", "data/monitor.db")`` works: when a file path is
        followed by ``monitor_db``, the path is the seed's ``db_path`` and the ledger is
        ``monitor_db``. A single positional value stays the ledger (``db_url``).
    alert_config : AlertConfig, str or Path, optional
        Alert rules (a TOML/JSON file is validated); the seed's thresholds by default.
    notifiers : sequence of Notifier or callable, optional
        Channels from :mod:`stagewise.notify` (or callables taking the alert dict) that deliver
        firing and resolved alerts. By default the channels configured in the environment
        (:func:`~stagewise.notify.notifiers_from_env`); pass ``[]`` for none.
    clock : callable, optional
        Returns the current UTC time; injected by tests.

    Examples
    --------
    >>> import tempfile, os
    >>> m = PerformanceMonitor(monitor_db=os.path.join(tempfile.mkdtemp(), "monitor.db"))
    >>> _ = m.log_prediction(
    ...     race_id="202511170101", race_date="2025-11-17", venue_code="01", race_number=1,
    ...     predictions=[{"pit_number": p, "total_score": 1.0 / p} for p in (1, 2, 3, 4, 5, 6)],
    ...     actual_results=[{"pit_number": p, "rank": r} for r, p in enumerate((1, 3, 2, 4, 5, 6), 1)],
    ...     integration_mode="DYNAMIC", feature_flags={"dynamic_integration": True})
    >>> stats = m.calculate_daily_stats("2025-11-17")
    >>> stats["total_races"], stats["hit_rate_1st"], stats["hit_rate_top3"]
    (1, 1.0, 0.0)
    """

    def __init__(
        self,
        db_url: str | Path | None = None,
        monitor_db: str | Path | None = None,
        *,
        db_path: str | Path | None = None,
        alert_config: AlertConfig | str | Path | None = None,
        notifiers: Sequence[AlertSink] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if db_path is None and monitor_db is not None and _is_file_path(db_url):
            # the seed's order: PerformanceMonitor(db_path, monitor_db)
            db_path, db_url = db_url, None
        self.db_path = None if db_path is None else Path(db_path)
        self.url = resolve_url(None if db_url is None else str(db_url), monitor_db)
        if alert_config is None:
            self.alert_config = AlertConfig()
        elif isinstance(alert_config, AlertConfig):
            self.alert_config = alert_config
        else:
            self.alert_config = load_alert_config(alert_config)
        if notifiers is None:
            from stagewise.notify import notifiers_from_env

            notifiers = notifiers_from_env()
        self.notifiers: list[AlertSink] = list(notifiers)
        self._clock = clock or (lambda: datetime.now(UTC))
        self.store = LedgerStore(self.url)

    @classmethod
    def open_for_reading(
        cls,
        db: str | Path,
        *,
        alert_config: AlertConfig | str | Path | None = None,
        notifiers: Sequence[AlertSink] | None = None,
        option: str = "--db",
    ) -> PerformanceMonitor:
        """The monitor on an existing ledger; a SQLite file that does not exist is a
        :class:`~stagewise.NotFoundError` naming it (opening would create an empty one).

        Every reader (the CLI, the dashboard, ``stagewise check``) opens the ledger with this;
        ``option`` is the command-line option the message tells the user to correct.
        """
        require_ledger(db, option=option)
        return cls(str(db), alert_config=alert_config, notifiers=notifiers)

    def close(self) -> None:
        """Release the database connections."""
        self.store.dispose()

    def __enter__(self) -> PerformanceMonitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- races: logging ----------------------------------------------------------------------------
    def log_prediction(
        self,
        race_id: str | int,
        race_date: DateLike,
        venue_code: int | str,
        race_number: int,
        predictions: object,
        actual_results: object = None,
        integration_mode: str | None = None,
        feature_flags: Mapping[str, Any] | None = None,
        *,
        model_version: str = DEFAULT_MODEL_VERSION,
        variant: str = DEFAULT_VARIANT,
        reason: str | None = None,
        odds: float | None = None,
        stake: float | None = None,
        rollout_feature: str | None = None,
        covariate: float | None = None,
    ) -> LogSummary:
        """Log one race's prediction (and its result if known; otherwise it is pending).

        Idempotent per ``(model_version, race_id)``; see ``docs/monitor.md`` for the accepted shapes.
        ``odds`` (decimal win odds of the top pick, read before the close) and ``stake`` (default 1)
        record the bet the prediction implies; once settled the ledger keeps its profit per unit
        staked (``bet_profit`` in :meth:`race_outcomes`; see ``docs/money.md``). ``rollout_feature``
        names the rollout feature that routed the prediction (a non-empty str of at most 64
        characters) and ``covariate`` is a finite number known before the outcome, for the
        controller's variance reduction (e.g. the champion's probability of its own top pick).
        """
        entry = normalise_race(
            race_id=race_id,
            race_date=race_date,
            venue_code=venue_code,
            race_number=race_number,
            predictions=predictions,
            actual_results=actual_results,
            integration_mode=integration_mode,
            feature_flags=feature_flags,
            model_version=model_version,
            variant=variant,
            odds=odds,
            stake=stake,
            rollout_feature=rollout_feature,
            covariate=covariate,
        )
        return write_race_entries(self.store, [entry], self._now(), reason)

    def log_predictions(self, rows: Iterable[Mapping[str, Any]], *, reason: str | None = None) -> LogSummary:
        """Log many races in one transaction: every row is validated first; all or nothing.

        Each row holds :meth:`log_prediction`'s arguments, ``odds``, ``stake``, ``rollout_feature``
        and ``covariate`` optional.
        """
        return write_race_entries(self.store, normalise_batch(rows), self._now(), reason)

    def log_records(self, records: Iterable[RacePrediction], *, reason: str | None = None) -> LogSummary:
        """Log typed race records (:mod:`stagewise.monitor.records`) in one transaction; all or nothing.

        The same checks and stored rows as :meth:`log_predictions` with the equivalent dicts.
        """
        entries = [entry_of_record(r, i) for i, r in enumerate(records)]
        return write_race_entries(self.store, entries, self._now(), reason)

    def log_result(
        self, race_id: str | int, actual_results: object, *, reason: str | None = None
    ) -> LogSummary:
        """Record the (delayed) result of a logged race; a different result is a recorded correction."""
        return self.log_results([(race_id, actual_results)], reason=reason)

    def log_results(
        self, items: Iterable[tuple[str | int, object]], *, reason: str | None = None
    ) -> LogSummary:
        """Record many results in one transaction (``(race_id, actual_results)`` pairs)."""
        return write_race_results(self.store, items, self._now(), reason)

    # -- races: named reads ------------------------------------------------------------------------
    def race_identity(self, race_id: str) -> RaceIdentity | None:
        """``(race_date, venue_code, race_number)`` stored for ``race_id``, or None if it was never logged."""
        return self.store.read_statement(lambda conn: reads.race_identity(conn, race_id))

    def race_identities(self, race_ids: Sequence[str]) -> dict[str, RaceIdentity]:
        """:meth:`race_identity` of many races in one query: the ones the ledger holds, by race_id."""
        if not race_ids:
            return {}
        return self.store.read_statement(lambda conn: reads.race_identities(conn, race_ids))

    def latest_race_date(self) -> date | None:
        """The newest race day with a logged prediction, or None for an empty ledger."""
        return self.store.read(reads.latest_race_date)

    def prediction_counts(self) -> LedgerCounts:
        """Predictions logged, the newest race day and how many await a result (one query)."""
        return self.store.read(reads.prediction_counts)

    def ping(self) -> None:
        """One round trip to the database; raises when it cannot be reached."""
        self.store.read(reads.ping)

    def race_stats_read_only(self, day: date) -> dict[str, Any] | None:
        """The day's all-races stats computed without refreshing the rollup table (None: no races)."""
        return daily_stats.race_day_stats_read_only(self.store, day)

    # -- races: stats ------------------------------------------------------------------------------
    def calculate_daily_stats(
        self,
        date: DateLike,
        *,
        venue_code: int | str | None = None,
        integration_mode: str | None = None,
        model_version: str | None = None,
        variant: str | None = None,
    ) -> dict[str, Any] | None:
        """The day's stats for the segment (None for a day without races); refreshes its rollup row.

        Besides the seed's keys, the dict carries the day's calibration of the logged win probabilities
        (``calibration_ece`` with its interval, None without data; see
        :mod:`stagewise.monitor.calibration_stats`).
        """
        day = parse_date(date, "date")
        segments = {
            "venue_code": venue_code,
            "integration_mode": integration_mode,
            "model_version": model_version,
            "variant": variant,
        }
        return daily_stats.race_day_stats(self.store, day, segments, self._now())

    def get_performance_trend(
        self, days: int = 30, *, end_date: DateLike | None = None, **segments: SegmentValue
    ) -> list[dict[str, Any]]:
        """Stats of each day with races in the ``days`` days ending ``end_date`` (today by default)."""
        _, dates = self._window(days, end_date)
        return daily_stats.race_trend(self.store, dates, segments, self._now())

    def race_outcomes(
        self,
        start_date: DateLike,
        end_date: DateLike,
        *,
        model_version: str | None = None,
        variant: str | None = None,
        integration_mode: str | None = None,
        rollout_feature: str | None = None,
    ) -> pd.DataFrame:
        """One row per logged prediction with its outcome, for ``start_date`` to ``end_date`` inclusive.

        Columns: race_id, race_date, venue_code, variant, model_version, integration_mode, hit_1st,
        hit_top3, hit_trio (booleans, ``<NA>`` unless settled), score_accuracy (NaN when undefined or
        not settled), status (``pending``, ``settled`` or ``void``), the money of the logged bet:
        bet_stake, bet_odds (NaN without a bet) and bet_profit (profit per unit staked; NaN unless
        settled with a bet, and for a refunded pick), and the routing: rollout_feature (None when no
        rollout routed the prediction) and covariate (NaN when none was logged), sorted by date and race.

        ``rollout_feature="f"`` keeps the rows routed by ``f`` and the rows that name no feature (logged
        before ledger revision 0004, or by a client that logs none), and leaves out every row routed by
        another feature: two rollouts judged side by side never see each other's rows.
        """
        start, end = parse_date(start_date, "start_date"), parse_date(end_date, "end_date")
        return self.store.read(
            lambda conn: reads.race_outcomes(
                conn,
                start,
                end,
                model_version=model_version,
                variant=variant,
                integration_mode=integration_mode,
                rollout_feature=rollout_feature,
            )
        )

    def race_outcome_sums(
        self,
        start_date: DateLike,
        end_date: DateLike,
        *,
        values: Sequence[str] = (),
        pairs: Sequence[tuple[str, str]] = (),
        rollout_feature: str | None = None,
    ) -> pd.DataFrame:
        """:meth:`race_outcomes` summed per day and group by the database, in one query.

        One row per ``(race_date, variant, model_version, status)`` with ``units`` (predictions) and,
        for each column ``c`` of ``values``, ``c:n`` (rows where it is set), ``c:sum`` and ``c:sum_sq``;
        for each pair ``(c, x)`` of ``pairs``, ``c|x:n``, ``c|x:sum_y``, ``c|x:sum_yy``, ``c|x:sum_x``,
        ``c|x:sum_xx`` and ``c|x:sum_xy`` over the rows where both are set. A name that is not a
        numeric column of :meth:`race_outcomes` is left out (see :mod:`stagewise.monitor.sums`);
        ``rollout_feature`` filters as in :meth:`race_outcomes`.
        """
        from stagewise.monitor.sums import race_outcome_sums

        start, end = parse_date(start_date, "start_date"), parse_date(end_date, "end_date")
        return self.store.read(
            lambda conn: race_outcome_sums(conn, start, end, values, pairs, rollout_feature)
        )

    # -- alerts ------------------------------------------------------------------------------------
    def check_alerts(
        self,
        date: DateLike,
        stats: Mapping[str, Any] | None = _NO_STATS,
        *,
        domain: Domain | str = Domain.RACES,
        **segments: Any,  # passed on to calculate_daily_stats or calculate_market_stats (keywords differ)
    ) -> list[dict[str, Any]]:
        """Evaluate the day's alert rules of ``domain`` (races or markets; ``"market"`` is accepted too).

        Each dict has the seed's ``alert_type, message, metric_value, threshold`` plus ``severity``,
        ``state``, ``fingerprint``, ``segment`` and ``notified``.

        Firing alerts are recorded and notified once per fingerprint and cooldown; rules that pass
        resolve a firing alert; rate rules below their minimum sample report ``INSUFFICIENT_DATA``.
        """
        named = parse_domain(domain)
        key = named.ledger_key  # the rule files and the alert rows name the markets domain "market"
        day = parse_date(date, "date")
        if stats is _NO_STATS:
            stats = (
                self.calculate_daily_stats(day, **segments)
                if named is Domain.RACES
                else self.calculate_market_stats(day, **segments)
            )
        segment = dict(stats.get("segment", {})) if stats else {}
        segment.update({k: str(v) for k, v in segments.items() if v is not None})
        verdicts = evaluate(self.alert_config.domains[key].rules, stats)
        return self._record_alerts(day, key, segment, verdicts)

    def alert_history(
        self, start_date: DateLike | None = None, end_date: DateLike | None = None
    ) -> pd.DataFrame:
        """Every recorded alert row (firing and resolved) with its delivery status."""
        return delivery.history(self.store, start_date, end_date)

    def retry_failed_deliveries(self) -> int:
        """Deliver again every alert whose delivery failed or is still pending; returns how many were sent."""
        return delivery.retry(self.store, self.notifiers, self._now)

    # -- reports -----------------------------------------------------------------------------------
    def generate_report(
        self,
        days: int = 7,
        output_path: str | Path = "temp/monitor/report.txt",
        *,
        lang: str = "en",
        end_date: DateLike | None = None,
        **segments: SegmentValue,
    ) -> dict[str, Path]:
        """Write the seed's text report to ``output_path`` and an HTML report beside it (``.html``)."""
        from stagewise.monitor.report import write_reports

        trend = self.get_performance_trend(days, end_date=end_date, **segments)
        end, dates = self._window(days, end_date)
        history = self.alert_history(dates[0], end)
        return write_reports(
            trend,
            history,
            Path(output_path),
            lang=lang,
            start=dates[0],
            end=end,
            thresholds=self.alert_config.domains[RACES_KEY].rules,
        )

    def prometheus_metrics(self, *, end_date: DateLike | None = None) -> str:
        """Prometheus text exposition of the latest day's metrics per model and variant."""
        from stagewise.monitor.prometheus import exposition

        end = self._now().date() if end_date is None else parse_date(end_date, "end_date")
        return exposition(self, end)
