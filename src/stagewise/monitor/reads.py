"""The ledger's read-only queries that other packages need, named (no SQL outside monitor).

Each function takes a connection and returns plain values; :class:`PerformanceMonitor` exposes them
as methods (``race_identity``, ``latest_race_date``, ``prediction_counts``, ``ping``,
``race_outcomes``), and
:func:`require_ledger` is the one check every reader makes before opening a ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import ColumnElement, Connection, bindparam, func, or_, select, text

from stagewise._exceptions import NotFoundError
from stagewise.monitor.frames import query_frame
from stagewise.monitor.schema import race_predictions, races
from stagewise.monitor.store import sqlite_path

__all__ = [
    "LedgerCounts",
    "RaceIdentity",
    "feature_filter",
    "latest_race_date",
    "ping",
    "prediction_counts",
    "race_identities",
    "race_identity",
    "race_outcomes",
    "require_ledger",
]

RaceIdentity = tuple[date, int, int]
"""``(race_date, venue_code, race_number)`` of a stored race."""


@dataclass(frozen=True, slots=True)
class LedgerCounts:
    """How many predictions the ledger holds, its newest race day and how many await a result."""

    predictions: int
    last_race_date: date | None
    pending: int


def require_ledger(db: str | Path, *, option: str = "--db") -> Path | None:
    """The ledger's SQLite file, after checking it exists (None for a database server).

    Opening a ledger creates a missing file, so every reader calls this first: one message, naming the
    path and what to do, whichever command or page asked.

    Examples
    --------
    >>> require_ledger("postgresql+psycopg://postgres@127.0.0.1/test") is None
    True
    >>> require_ledger("/no/such/monitor.db")
    Traceback (most recent call last):
    ...
    stagewise._exceptions.NotFoundError: The ledger '/no/such/monitor.db' does not exist; ...
    """
    path = sqlite_path(db)
    if path is not None and not path.is_file():
        raise NotFoundError(
            f"The ledger {str(db)!r} does not exist; log predictions first (`stagewise serve`, or "
            f"`stagewise demo` for a complete example), or point {option} at the ledger."
        )
    return path


# built once: the server asks it for every race it has not seen yet
_IDENTITY = select(races.c.race_date, races.c.venue_code, races.c.race_number).where(
    races.c.race_id == bindparam("race_id")
)


def race_identity(conn: Connection, race_id: str) -> RaceIdentity | None:
    """The stored date, venue and number of ``race_id``, or None when the race is not in the ledger."""
    row = conn.execute(_IDENTITY, {"race_id": race_id}).first()
    return None if row is None else (row[0], int(row[1]), int(row[2]))


_IDENTITIES = select(races.c.race_id, races.c.race_date, races.c.venue_code, races.c.race_number).where(
    races.c.race_id.in_(bindparam("race_ids", expanding=True))
)
# PostgreSQL: one array parameter, so the statement text never changes with the batch's size
_PG_IDENTITIES = (
    "SELECT race_id, race_date, venue_code, race_number FROM races WHERE race_id = ANY(%(race_ids)s::text[])"
)


def race_identities(conn: Connection, race_ids: Sequence[str]) -> dict[str, RaceIdentity]:
    """The stored date, venue and number of each of ``race_ids`` the ledger holds (one query)."""
    if conn.dialect.name == "postgresql":
        rows = conn.exec_driver_sql(_PG_IDENTITIES, {"race_ids": list(race_ids)}).all()
    else:
        rows = []
        for start in range(0, len(race_ids), 500):  # SQLite's bound-parameter limit
            part = list(race_ids[start : start + 500])
            rows += conn.execute(_IDENTITIES, {"race_ids": part}).all()
    return {str(rid): (_as_date(rdate), int(venue), int(number)) for rid, rdate, venue, number in rows}


def latest_race_date(conn: Connection) -> date | None:
    """The newest race day with a logged prediction, or None for an empty ledger."""
    value = conn.execute(select(func.max(race_predictions.c.race_date))).scalar()
    return None if value is None else _as_date(value)


def prediction_counts(conn: Connection) -> LedgerCounts:
    """Predictions logged, the newest race day and predictions awaiting a result, in one query."""
    rp = race_predictions.c
    query = select(func.count(), func.max(rp.race_date), func.count().filter(rp.status == "pending"))
    n, last, pending = conn.execute(query).one()
    return LedgerCounts(int(n), None if last is None else _as_date(last), int(pending))


def ping(conn: Connection) -> None:
    """One round trip to the database."""
    conn.execute(text("SELECT 1"))


def feature_filter(column: ColumnElement[str | None], feature: str) -> ColumnElement[bool]:
    """Rows routed by ``feature``, and rows that name no feature (NULL: logged before revision 0004
    or by a client that logs none, read as they always were); never rows routed by another feature."""
    return or_(column == feature, column.is_(None))


_OUTCOME_COLUMNS = (
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


def race_outcomes(
    conn: Connection,
    start: date,
    end: date,
    *,
    model_version: str | None = None,
    variant: str | None = None,
    integration_mode: str | None = None,
    rollout_feature: str | None = None,
) -> pd.DataFrame:
    """One row per logged prediction dated ``start`` to ``end`` (inclusive), sorted by date and race.

    Hits as nullable booleans, score accuracy, the bet's money and the covariate as float (NaN when
    missing), ``race_date`` as datetime64, ``rollout_feature`` None when no rollout routed the row; a
    filter left None does not filter (``rollout_feature`` as :func:`feature_filter`).
    """
    rp = race_predictions.c
    cols = [rp[name] for name in _OUTCOME_COLUMNS]
    query = select(*cols).where(rp.race_date.between(start, end))
    if rollout_feature is not None:
        query = query.where(feature_filter(rp.rollout_feature, rollout_feature))
    for column, value in (
        ("model_version", model_version),
        ("variant", variant),
        ("integration_mode", integration_mode),
    ):
        if value is not None:
            query = query.where(rp[column] == value)
    query = query.order_by(rp.race_date, rp.race_id, rp.model_version)
    frame = query_frame(conn, query, list(_OUTCOME_COLUMNS))
    frame["race_date"] = pd.to_datetime(frame["race_date"]).astype("datetime64[ns]")
    frame["venue_code"] = frame["venue_code"].astype("int64")
    for flag in ("hit_1st", "hit_top3", "hit_trio"):
        frame[flag] = frame[flag].astype("boolean")
    for column in ("score_accuracy", "bet_stake", "bet_odds", "bet_profit", "covariate"):
        frame[column] = frame[column].astype("float64")
    feature = frame["rollout_feature"].astype("object")
    frame["rollout_feature"] = feature.where(feature.notna(), None)  # None, not NaN: no feature
    return frame


def _as_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
