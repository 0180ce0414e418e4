"""One statement for the common per-call case on PostgreSQL: a prediction of a race not logged yet.

A serving host logs each request as it comes: one new race, one model version. The general path
(:func:`stagewise.monitor.ledger.write_entries`) looks the race up, locks it, compares and inserts, five
round trips through SQLAlchemy Core. Here the whole call is one ``INSERT ... ON CONFLICT DO NOTHING``
of the race whose ``RETURNING`` feeds, in the same statement, the inserts of the prediction, its boats
and the day's change marker. If the race was already there (logged earlier, or by another process a
moment ago), the statement writes nothing and the caller runs the general path, which then finds the
race and gives the usual answer: unchanged, corrected or refused. The rows written are built by the
same functions as the general path's, so the two paths store identical rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Connection, Date, DateTime, Float, Integer, SmallInteger, String, Table
from sqlalchemy.types import TypeEngine

from stagewise.monitor.inputs import RaceEntry, encode_result
from stagewise.monitor.ledger import BOAT_COLUMNS, LogSummary, boat_rows, prediction_row, result_status
from stagewise.monitor.schema import boat_predictions, race_predictions

__all__ = ["insert_new_race", "insert_new_races"]

_PREDICTION_COLUMNS = [c.name for c in race_predictions.columns if c.name != "id"]

# the PostgreSQL type a column's values are cast to, from its schema type (one place for both statements);
# most specific first: SmallInteger is an Integer, Text a String
_PG_TYPES: tuple[tuple[type[TypeEngine[Any]], str], ...] = (
    (SmallInteger, "int2"),
    (Integer, "int8"),
    (Float, "float8"),
    (DateTime, "timestamp"),
    (Date, "date"),
    (Boolean, "bool"),
    (String, "text"),
)


def _pg_type(table: Table, name: str) -> str:
    """The PostgreSQL type a column's values are sent as (an unknown column type fails at import)."""
    column_type = table.c[name].type
    for kind, pg in _PG_TYPES:
        if isinstance(column_type, kind):
            return pg
    raise TypeError(f"{table.name}.{name}: no PostgreSQL array type for {column_type!r}; add it to _PG_TYPES")


def _param(name: str) -> str:
    return f"%(p_{name})s::{_pg_type(race_predictions, name)}"


_SQL = f"""
WITH r AS (
    INSERT INTO races (race_id, race_date, venue_code, race_number, result, result_status, result_logged_at)
    VALUES (%(r_race_id)s, %(r_race_date)s::date, %(r_venue_code)s::int2, %(r_race_number)s::int2,
            %(r_result)s::text, %(r_result_status)s, %(r_result_logged_at)s::timestamp)
    ON CONFLICT (race_id) DO NOTHING
    RETURNING race_id
), p AS (
    INSERT INTO race_predictions ({", ".join(_PREDICTION_COLUMNS)})
    SELECT {", ".join(_param(c) for c in _PREDICTION_COLUMNS)} FROM r
), b AS (
    INSERT INTO boat_predictions
        (model_version, race_id, pit, predicted_rank, score, win_prob, finish_rank, finish_status)
    SELECT %(p_model_version)s, r.race_id, u.pit, u.predicted_rank, u.score, u.win_prob, u.finish_rank,
           u.finish_status
    FROM r, unnest(%(b_pit)s::int2[], %(b_rank)s::int2[], %(b_score)s::float8[], %(b_prob)s::float8[],
                   %(b_finish)s::int2[], %(b_status)s::text[])
        AS u(pit, predicted_rank, score, win_prob, finish_rank, finish_status)
), c AS (
    INSERT INTO ledger_changes (date, domain) SELECT %(r_race_date)s::date, 'races' FROM r
)
SELECT count(*) FROM r
"""


def insert_new_race(conn: Connection, entry: RaceEntry, now: datetime) -> LogSummary | None:
    """Log ``entry`` in one statement if its race is new; None (nothing written) if the race exists."""
    result = entry.result
    params: dict[str, Any] = {
        "r_race_id": entry.race_id,
        "r_race_date": entry.race_date,
        "r_venue_code": entry.venue_code,
        "r_race_number": entry.race_number,
        "r_result": None if result is None else encode_result(result),
        "r_result_status": "pending" if result is None else result_status(result),
        "r_result_logged_at": None if result is None else now,
    }
    params.update({f"p_{k}": v for k, v in prediction_row(entry, result, now).items()})
    boats = boat_rows(entry, result)
    for i, name in enumerate(("pit", "rank", "score", "prob", "finish", "status"), start=2):
        params[f"b_{name}"] = [row[i] for row in boats]
    inserted = conn.exec_driver_sql(_SQL, params).scalar_one()
    if not inserted:
        return None
    return LogSummary(1, 0, 0, 0, 0, 1 if result is None else 0)


_BOAT_COLUMNS = list(BOAT_COLUMNS)


def _unnest(table: Table, columns: list[str], prefix: str) -> str:
    arrays = ", ".join(f"%({prefix}{c})s::{_pg_type(table, c)}[]" for c in columns)
    return f"unnest({arrays}) AS v({', '.join(columns)})"


_BATCH_SQL = f"""
WITH r AS (
    INSERT INTO races (race_id, race_date, venue_code, race_number, result, result_status, result_logged_at)
    SELECT v.race_id, v.race_date, v.venue_code, v.race_number, NULL, 'pending', NULL
    FROM {_unnest(race_predictions, ["race_id", "race_date", "venue_code", "race_number"], "p_")}
    ON CONFLICT (race_id) DO NOTHING
    RETURNING race_id
), p AS (
    INSERT INTO race_predictions ({", ".join(_PREDICTION_COLUMNS)})
    SELECT {", ".join(f"v.{c}" for c in _PREDICTION_COLUMNS)}
    FROM {_unnest(race_predictions, _PREDICTION_COLUMNS, "p_")} JOIN r ON r.race_id = v.race_id
), b AS (
    INSERT INTO boat_predictions ({", ".join(_BOAT_COLUMNS)})
    SELECT {", ".join(f"v.{c}" for c in _BOAT_COLUMNS)}
    FROM {_unnest(boat_predictions, _BOAT_COLUMNS, "b_")} JOIN r ON r.race_id = v.race_id
), c AS (
    INSERT INTO ledger_changes (date, domain)
    SELECT DISTINCT v.race_date, 'races'
    FROM {_unnest(race_predictions, ["race_id", "race_date"], "p_")} JOIN r ON r.race_id = v.race_id
)
SELECT race_id FROM r
"""


def insert_new_races(conn: Connection, entries: Sequence[RaceEntry], now: datetime) -> set[str]:
    """Log every entry whose race is new, in one statement; return the race ids it inserted.

    The batch twin of :func:`insert_new_race` for the server's ledger writer: ``entries`` are of
    distinct races without results. Entries of races already stored are left for the general path
    (:func:`stagewise.monitor.ledger.write_entries`), in the caller's transaction.
    """
    rows = [prediction_row(e, None, now) for e in entries]
    params: dict[str, Any] = {f"p_{c}": [row[c] for row in rows] for c in _PREDICTION_COLUMNS}
    boats = [b for e in entries for b in boat_rows(e, None)]
    for i, c in enumerate(_BOAT_COLUMNS):
        params[f"b_{c}"] = [b[i] for b in boats]
    return {str(rid) for (rid,) in conn.exec_driver_sql(_BATCH_SQL, params)}
