"""What the controller reads of the ledger (:class:`OutcomeSource`) and its in-memory twin.

The controller needs two reads, one per domain: the outcome of every logged race prediction
(``race_outcomes``) and of every logged market signal (``market_outcomes``), between two days,
optionally for one model version or one variant. :class:`~stagewise.monitor.PerformanceMonitor`
has both methods, so it *is* an :class:`OutcomeSource` without this package importing the
monitor; :class:`MemoryOutcomes` holds the same rows in lists, so a controller test, a notebook or
a doc example needs no database (like httpx's ``MockTransport``).

The frames have the columns :data:`RACE_OUTCOME_COLUMNS` and :data:`MARKET_OUTCOME_COLUMNS`, with
the dtypes the monitor gives them (``tests/rollout/test_outcomes.py`` holds both to the same frames).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal, Protocol, runtime_checkable

import pandas as pd

from stagewise._exceptions import DataValidationError

__all__ = [
    "MARKET_OUTCOME_COLUMNS",
    "RACE_OUTCOME_COLUMNS",
    "MemoryOutcomes",
    "OutcomeSource",
    "OutcomeSums",
]

RACE_OUTCOME_COLUMNS = (
    "race_id",
    "race_date",
    "venue_code",
    "variant",
    "model_version",
    "integration_mode",
    "hit_1st",
    "hit_top3",
    "hit_trio",
    "score_accuracy",
    "status",
    "bet_stake",
    "bet_odds",
    "bet_profit",
    "rollout_feature",
    "covariate",
)
"""Columns of ``race_outcomes``: one row per logged prediction; hits are ``<NA>`` unless settled, the
bet's stake and odds NaN without a bet, its profit per unit staked NaN unless settled with a bet;
``rollout_feature`` (None: no rollout named) and ``covariate`` (NaN: none logged) as logged."""

MARKET_OUTCOME_COLUMNS = (
    "symbol",
    "ts",
    "signal_date",
    "variant",
    "model_version",
    "signal",
    "probability",
    "outcome",
    "status",
    "net_return",
    "rollout_feature",
    "covariate",
    "hit",
)
"""Columns of ``market_outcomes``: one row per signal; ``outcome`` and ``hit`` are ``<NA>`` until settled,
``net_return`` (the signal's realised return after costs) NaN unless recorded; the routing as in races."""

RaceStatus = Literal["pending", "settled", "void"]


@runtime_checkable
class OutcomeSource(Protocol):
    """The ledger as the controller reads it: per-unit outcomes between two days (inclusive).

    ``race_outcomes`` rows are sorted by date and race, ``market_outcomes`` rows by time; a
    filter left ``None`` does not filter. ``rollout_feature="f"`` keeps the rows routed by ``f`` and
    the rows that name no feature (logged before the ledger recorded it), never another feature's.
    """

    def race_outcomes(
        self,
        start_date: date,
        end_date: date,
        *,
        model_version: str | None = None,
        variant: str | None = None,
        rollout_feature: str | None = None,
    ) -> pd.DataFrame:
        """One row per logged race prediction (:data:`RACE_OUTCOME_COLUMNS`)."""
        ...

    def market_outcomes(
        self,
        start_date: date,
        end_date: date,
        *,
        model_version: str | None = None,
        variant: str | None = None,
        rollout_feature: str | None = None,
    ) -> pd.DataFrame:
        """One row per logged market signal (:data:`MARKET_OUTCOME_COLUMNS`)."""
        ...


@runtime_checkable
class OutcomeSums(Protocol):
    """A ledger that can also sum ``race_outcomes`` per day and group itself (the database does it).

    :class:`~stagewise.monitor.PerformanceMonitor` is one. The controller uses it when every metric
    it judges is a sum of ledger columns, and reads the rows otherwise.
    """

    def race_outcome_sums(
        self,
        start_date: date,
        end_date: date,
        *,
        values: Sequence[str] = (),
        pairs: Sequence[tuple[str, str]] = (),
        rollout_feature: str | None = None,
    ) -> pd.DataFrame:
        """Per ``(race_date, variant, model_version, status)``: ``units`` and, per column ``c`` of
        ``values``, ``c:n``, ``c:sum``, ``c:sum_sq``; per pair ``(c, x)``, ``c|x:n``, ``c|x:sum_y``,
        ``c|x:sum_yy``, ``c|x:sum_x``, ``c|x:sum_xx``, ``c|x:sum_xy`` over rows where both are set.
        Columns the ledger does not have are left out; ``rollout_feature`` filters as in
        ``race_outcomes``."""
        ...


@dataclass(frozen=True)
class _Race:
    race_id: str
    race_date: date
    variant: str
    model_version: str
    status: RaceStatus
    hit_1st: bool | None
    hit_top3: bool | None
    hit_trio: bool | None
    score_accuracy: float | None
    venue_code: int
    integration_mode: str | None
    bet_stake: float | None
    bet_odds: float | None
    bet_profit: float | None
    rollout_feature: str | None
    covariate: float | None


@dataclass(frozen=True)
class _Signal:
    symbol: str
    ts: datetime
    variant: str
    model_version: str
    signal: int
    probability: float
    outcome: int | None
    net_return: float | None
    rollout_feature: str | None = None
    covariate: float | None = None


class MemoryOutcomes:
    """An :class:`OutcomeSource` held in memory: add outcomes, and the controller reads them back.

    Races are added settled by default (give ``status="pending"`` for one whose result is not in,
    or ``"void"``); a signal is settled once it has an ``outcome``.

    Examples
    --------
    >>> from datetime import date
    >>> ledger = MemoryOutcomes()
    >>> ledger.add_race("r1", date(2026, 11, 2), variant="on", hit_1st=True, score_accuracy=0.9)
    >>> ledger.add_race("r2", date(2026, 11, 2), variant="control", status="pending")
    >>> frame = ledger.race_outcomes(date(2026, 11, 1), date(2026, 11, 30), variant="on")
    >>> frame[["race_id", "hit_1st", "status"]].values.tolist()
    [['r1', True, 'settled']]
    """

    def __init__(self) -> None:
        self._races: list[_Race] = []
        self._signals: list[_Signal] = []

    def add_race(
        self,
        race_id: str,
        race_date: date,
        *,
        variant: str = "default",
        model_version: str = "unversioned",
        hit_1st: bool | None = None,
        hit_top3: bool | None = None,
        hit_trio: bool | None = None,
        score_accuracy: float | None = None,
        status: RaceStatus = "settled",
        venue_code: int = 1,
        integration_mode: str | None = None,
        bet_stake: float | None = None,
        bet_odds: float | None = None,
        bet_profit: float | None = None,
        rollout_feature: str | None = None,
        covariate: float | None = None,
    ) -> None:
        """Record one race prediction's outcome (hits, score and profit are dropped unless settled)."""
        if status not in ("pending", "settled", "void"):
            raise DataValidationError(
                f"The 'status' of a race outcome must be 'pending', 'settled' or 'void'. Got {status!r}."
            )
        settled = status == "settled"
        self._races.append(
            _Race(
                race_id=race_id,
                race_date=race_date,
                variant=variant,
                model_version=model_version,
                status=status,
                hit_1st=hit_1st if settled else None,
                hit_top3=hit_top3 if settled else None,
                hit_trio=hit_trio if settled else None,
                score_accuracy=score_accuracy if settled else None,
                venue_code=venue_code,
                integration_mode=integration_mode,
                bet_stake=bet_stake,
                bet_odds=bet_odds,
                bet_profit=bet_profit if settled else None,
                rollout_feature=rollout_feature,
                covariate=covariate,
            )
        )

    def add_signal(
        self,
        symbol: str,
        ts: datetime,
        *,
        signal: int,
        probability: float,
        outcome: int | None = None,
        net_return: float | None = None,
        variant: str = "default",
        model_version: str = "unversioned",
        rollout_feature: str | None = None,
        covariate: float | None = None,
    ) -> None:
        """Record one market signal (1 = up) with its probability, and its outcome once known.

        An aware ``ts`` is kept in UTC, as the ledger keeps it; a naive one is taken as UTC.
        """
        for name, value in (("signal", signal), ("outcome", outcome)):
            if value not in (0, 1) and not (name == "outcome" and value is None):
                raise DataValidationError(f"The '{name}' of a signal must be 0 or 1. Got {value!r}.")
        # the ledger keeps naive UTC times and dates a signal by its UTC day
        naive = ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo is not None else ts
        signal_row = _Signal(
            symbol, naive, variant, model_version, signal, probability, outcome, net_return,
            rollout_feature, covariate,
        )  # fmt: skip
        self._signals.append(signal_row)

    def race_outcomes(
        self,
        start_date: date,
        end_date: date,
        *,
        model_version: str | None = None,
        variant: str | None = None,
        rollout_feature: str | None = None,
    ) -> pd.DataFrame:
        """The races dated ``start_date`` to ``end_date`` (inclusive), oldest first."""
        chosen = sorted(
            (
                r
                for r in self._races
                if start_date <= r.race_date <= end_date
                and _wanted(r, model_version, variant, rollout_feature)
            ),
            key=lambda r: (r.race_date, r.race_id, r.model_version),
        )
        frame = pd.DataFrame(
            [[getattr(r, name) for name in RACE_OUTCOME_COLUMNS] for r in chosen],
            columns=list(RACE_OUTCOME_COLUMNS),
        )
        frame["race_date"] = pd.to_datetime(frame["race_date"]).astype("datetime64[ns]")
        frame["venue_code"] = frame["venue_code"].astype("int64")
        for flag in ("hit_1st", "hit_top3", "hit_trio"):
            frame[flag] = frame[flag].astype("boolean")
        for column in ("score_accuracy", "bet_stake", "bet_odds", "bet_profit", "covariate"):
            frame[column] = frame[column].astype("float64")
        feature = frame["rollout_feature"].astype("object")
        frame["rollout_feature"] = feature.where(feature.notna(), None)  # None, not NaN: no feature
        return frame

    def market_outcomes(
        self,
        start_date: date,
        end_date: date,
        *,
        model_version: str | None = None,
        variant: str | None = None,
        rollout_feature: str | None = None,
    ) -> pd.DataFrame:
        """The signals dated ``start_date`` to ``end_date`` (inclusive), oldest first."""
        chosen = sorted(
            (
                s
                for s in self._signals
                if start_date <= s.ts.date() <= end_date
                and _wanted(s, model_version, variant, rollout_feature)
            ),
            key=lambda s: (s.ts, s.symbol, s.model_version),
        )
        rows = [
            [
                *(s.symbol, s.ts, s.ts.date(), s.variant, s.model_version, s.signal, s.probability),
                *(s.outcome, "pending" if s.outcome is None else "settled", s.net_return),
                *(s.rollout_feature, s.covariate),
            ]
            for s in chosen
        ]
        frame = pd.DataFrame(rows, columns=list(MARKET_OUTCOME_COLUMNS[:-1]))
        frame["ts"] = pd.to_datetime(frame["ts"]).astype("datetime64[ns]")
        frame["signal_date"] = pd.to_datetime(frame["signal_date"]).astype("datetime64[ns]")
        frame["signal"] = frame["signal"].astype("int64")
        frame["probability"] = frame["probability"].astype("float64")
        frame["outcome"] = frame["outcome"].astype("Int64")
        frame["net_return"] = frame["net_return"].astype("float64")
        frame["covariate"] = frame["covariate"].astype("float64")
        feature = frame["rollout_feature"].astype("object")
        frame["rollout_feature"] = feature.where(feature.notna(), None)  # None, not NaN: no feature
        settled = frame["status"] == "settled"
        frame["hit"] = (frame["signal"] == frame["outcome"]).astype("boolean").mask(~settled)
        return frame


def _wanted(
    row: _Race | _Signal, model_version: str | None, variant: str | None, rollout_feature: str | None
) -> bool:
    return (
        (model_version is None or row.model_version == model_version)
        and (variant is None or row.variant == variant)
        # the ledger's rule: a row naming no feature predates routing and is kept
        and (rollout_feature is None or row.rollout_feature in (None, rollout_feature))
    )
