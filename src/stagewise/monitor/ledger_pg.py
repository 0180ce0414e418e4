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

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from stagewise.monitor.inputs import RaceEntry, encode_result
from stagewise.monitor.ledger import LogSummary, boat_rows, prediction_row, result_status
from stagewise.monitor.schema import race_predictions

__all__ = ["insert_new_race"]

_PREDICTION_COLUMNS = [c.name for c in race_predictions.columns if c.name != "id"]
_CASTS = {
    "race_date": "date",
    "venue_code": "int2",
    "race_number": "int2",
    "hit_1st": "int2",
    "hit_top3": "int2",
    "hit_trio": "int2",
    "score_accuracy": "float8",
    "n_did_not_start": "int2",
    "n_not_finished": "int2",
    "logged_at": "timestamp",
    "settled_at": "timestamp",
    "bet_stake": "float8",
    "bet_odds": "float8",
    "bet_profit": "float8",
    "covariate": "float8",
}


def _param(name: str) -> str:
    return f"%(p_{name})s::{_CASTS.get(name, 'text')}"


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
