"""Drift's part of :class:`~stagewise.monitor.PerformanceMonitor`: feature samples and the drift check.

``log_features`` keeps a bounded sample of each day's feature values; ``drift`` compares the last
days with the days before them (:func:`~stagewise.monitor.drift.detect_drift`) and raises or
resolves one ``FEATURE_DRIFT`` alert per feature.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

import pandas as pd

from stagewise._dates import DateLike
from stagewise._exceptions import ConfigError
from stagewise.monitor.alerts import drift_verdicts
from stagewise.monitor.facade_base import LedgerFacade
from stagewise.monitor.feature_log import read_features, write_features
from stagewise.monitor.inputs import parse_date

if TYPE_CHECKING:
    from stagewise.monitor.drift import DriftReport

__all__ = ["DriftMethods"]


class DriftMethods(LedgerFacade):
    """Feature snapshots in the ledger and the drift of the recent days against the days before."""

    def log_features(
        self,
        date: DateLike,
        features: pd.DataFrame,
        *,
        domain: str = "races",
        max_rows_per_day: int = 5000,
        seed: int = 0,
    ) -> int:
        """Keep a bounded sample (``max_rows_per_day`` per feature) of the day's feature values for drift."""
        day = parse_date(date, "date")
        if (
            isinstance(max_rows_per_day, bool)
            or not isinstance(max_rows_per_day, int)
            or max_rows_per_day < 1
        ):
            raise ConfigError(
                f"The 'max_rows_per_day' parameter must be an int >= 1. Got {max_rows_per_day!r}."
            )
        return self.store.write(
            lambda conn: write_features(conn, domain, day, features, max_rows_per_day, seed),
            lock="features",
        )

    def drift(
        self,
        reference_days: int = 28,
        current_days: int = 7,
        *,
        features: Sequence[str] | None = None,
        end_date: DateLike | None = None,
        domain: str = "races",
        reference: pd.DataFrame | None = None,
        current: pd.DataFrame | None = None,
        alpha: float = 0.01,
        alert: bool = True,
    ) -> DriftReport:
        """Drift of the last ``current_days`` against the ``reference_days`` before them.

        Uses the logged feature snapshots unless ``reference``/``current`` DataFrames are given, and
        :func:`stagewise.monitor.drift.detect_drift` (PSI, KS, Wasserstein with sample-size-aware
        thresholds). With ``alert=True`` each drifted feature fires a ``FEATURE_DRIFT`` alert
        (fingerprint per feature) and a feature back to normal resolves it.
        """
        from stagewise.monitor.drift import detect_drift

        end, current_dates = self._window(current_days, end_date)
        _, reference_dates = self._window(reference_days, current_dates[0] - timedelta(days=1))
        wanted = None if features is None else list(features)
        if reference is None or current is None:
            ref_frame, cur_frame = self.store.read(
                lambda conn: (
                    read_features(conn, domain, reference_dates[0], reference_dates[-1], wanted),
                    read_features(conn, domain, current_dates[0], current_dates[-1], wanted),
                )
            )
            reference = ref_frame if reference is None else reference
            current = cur_frame if current is None else current
        report = detect_drift(reference, current, wanted, alpha=alpha)
        if alert and self.alert_config.drift_alerts:
            for name, verdict in drift_verdicts(report):
                self._record_alerts(end, domain, {"feature": name}, [verdict])
        return report
