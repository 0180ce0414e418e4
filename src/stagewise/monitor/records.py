"""Typed prediction records: what a caller that already holds typed values (the server) logs.

The seed's dict shape (``PerformanceMonitor.log_predictions([{...}])``) stays the facade for callers
that build dicts. A caller whose values are already typed builds one of these frozen records instead,
hands it across threads as is, and logs it with :meth:`PerformanceMonitor.log_records`: the record's
fields arrive unchanged in the ledger row, with the same validation (ranges, duplicate pits, finite
numbers) and the same canonical form as the dict path, but without a dict in between.

Examples
--------
>>> from datetime import date
>>> record = RacePrediction(
...     race_id="20251117-01-01", race_date=date(2025, 11, 17), venue_code=1, race_number=1,
...     boats=(BoatScore(3, 0.5, 0.5), BoatScore(1, 0.3, 0.3), BoatScore(2, 0.2, 0.2)),
...     model_version="v1", variant="control", feature_flags={"challenger_model": False})
>>> record.pits
(3, 1, 2)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from stagewise.monitor.inputs import DEFAULT_MODEL_VERSION, DEFAULT_VARIANT

__all__ = ["BoatScore", "LedgerRecord", "RacePrediction", "SignalPrediction"]


@dataclass(frozen=True, slots=True)
class BoatScore:
    """One boat of a race prediction: its pit, the model's score and its win probability."""

    pit: int
    score: float | None = None
    win_prob: float | None = None


@dataclass(frozen=True, slots=True)
class RacePrediction:
    """One model's prediction of one race, boats best first (the typed twin of a ``log_prediction`` call).

    ``feature_flags`` are the rollout flags the prediction was made under, stored as canonical JSON;
    ``integration_mode`` is the seed's optional segment label (None: none); ``odds`` and ``stake`` are
    the optional win bet on the top pick (:mod:`stagewise.monitor.money`; None: no bet logged);
    ``rollout_feature`` is the rollout feature that routed the prediction and ``covariate`` a number
    known before the outcome, for variance reduction (None: none).
    """

    race_id: str
    race_date: date
    venue_code: int
    race_number: int
    boats: tuple[BoatScore, ...]
    model_version: str = DEFAULT_MODEL_VERSION
    variant: str = DEFAULT_VARIANT
    feature_flags: Mapping[str, bool] = field(default_factory=dict)
    integration_mode: str | None = None
    odds: float | None = None
    stake: float | None = None
    rollout_feature: str | None = None
    covariate: float | None = None

    @property
    def pits(self) -> tuple[int, ...]:
        """The predicted order, best first."""
        return tuple(b.pit for b in self.boats)


@dataclass(frozen=True, slots=True)
class SignalPrediction:
    """One market model's direction signal for one bar (the typed twin of a ``log_signal`` call)."""

    symbol: str
    timestamp: datetime
    signal: int
    probability: float
    model_version: str = DEFAULT_MODEL_VERSION
    variant: str = DEFAULT_VARIANT
    rollout_feature: str | None = None
    covariate: float | None = None


LedgerRecord = RacePrediction | SignalPrediction
"""Any record :meth:`PerformanceMonitor.log_records` accepts."""
