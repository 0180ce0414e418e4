"""Writing races, predictions and delayed results into the ledger, idempotently.

Rules (one transaction per call, so a failing batch leaves nothing behind):

* A race has one date, venue and race number. Logging it again with another date is a
  :class:`~stagewise.DataValidationError`, and nothing of the call is stored.
* A prediction is identified by ``(model_version, race_id)``. Logging the same prediction again changes
  nothing. Logging a *different* prediction for the same key replaces it and records a ``prediction``
  row in ``corrections`` (old and new value, time, reason).
* A result is a fact about the race, shared by every model version. Logging the same result again changes
  nothing; an empty result never erases a known one; a *different* result is a ``result`` correction,
  and every prediction of that race is re-scored.
* Concurrency: on SQLite one writer runs at a time (``BEGIN IMMEDIATE``). On PostgreSQL writers run side
  by side: a call locks the stored races it touches (``SELECT ... FOR UPDATE`` in race order), so two
  writers of one race take turns while writers of other races never wait, and inserts new races with
  ``INSERT ... ON CONFLICT DO NOTHING``. When another process inserted one of those races first, the
  call is run again from the start (:class:`~stagewise.monitor.store.RetryTransaction`) and then sees
  that race: unchanged, corrected or refused exactly as if the two calls had come one after the other.
  Changed days are recorded by appending to ``ledger_changes`` (no shared counter row to wait on).
* Scoring is :func:`stagewise.metrics.score_race`, the single definition of the hit flags, the score
  accuracy and the non-finisher rule. It depends only on the actual ranks read in predicted order (and
  on the statuses of unpredicted boats), so results are memoised on that key: the same function, called
  once per distinct pattern.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Table, and_, bindparam, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from stagewise._exceptions import DataValidationError
from stagewise.metrics.races import RaceScore, score_race
from stagewise.monitor.inputs import RaceEntry, Result, encode_result
from stagewise.monitor.money import win_profit
from stagewise.monitor.schema import (
    boat_predictions,
    corrections,
    ledger_changes,
    ledger_days,
    race_predictions,
    races,
)
from stagewise.monitor.store import RetryTransaction

__all__ = [
    "LogSummary",
    "boat_rows",
    "bulk_insert",
    "bump_days",
    "chunks",
    "fold_changes",
    "insert_new",
    "prediction_row",
    "result_status",
    "score_order",
    "upsert",
    "write_entries",
    "write_results",
]

_CHUNK = 900
_SCORE_CACHE: dict[tuple[tuple[int | str, ...], tuple[int | str, ...]], RaceScore] = {}


@dataclass(frozen=True, slots=True)
class LogSummary:
    """What one logging call changed."""

    inserted: int
    unchanged: int
    replaced: int
    rescored: int
    corrections: int
    pending: int


def score_order(pits: Sequence[int], result: Result) -> RaceScore:
    """:func:`score_race` of ``pits`` against ``result``, memoised on the order-relative pattern."""
    missing = [p for p in pits if p not in result]
    if missing:
        raise DataValidationError(
            f"the prediction names pit(s) {missing} that are not in the result "
            f"(pits in the result: {sorted(result)})."
        )
    values = tuple(result[p] for p in pits)
    rest = tuple(sorted((v for p, v in result.items() if p not in pits), key=str))
    key = (values, rest)
    cached = _SCORE_CACHE.get(key)
    if cached is None:
        canon: dict[int, int | str] = {i + 1: v for i, v in enumerate(values)}
        for j, v in enumerate(rest):
            canon[len(values) + 1 + j] = v
        cached = score_race(list(range(1, len(values) + 1)), canon)
        if len(_SCORE_CACHE) > 200_000:
            _SCORE_CACHE.clear()
        _SCORE_CACHE[key] = cached
    return cached


@lru_cache(maxsize=4096)
def _iso_date(value: date) -> str:
    return value.isoformat()


@lru_cache(maxsize=256)
def _iso_datetime(value: datetime) -> str:
    # the storage format of SQLAlchemy's SQLite DATETIME, so both paths read back the same
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def _sqlite_date(value: Any) -> Any:
    return _iso_date(value) if isinstance(value, date) else value


def _sqlite_datetime(value: Any) -> Any:
    return _iso_datetime(value) if isinstance(value, datetime) else value


_SQLITE_CONVERT = {
    "race_date": _sqlite_date,
    "date": _sqlite_date,
    "signal_date": _sqlite_date,
    "ts": _sqlite_datetime,
    "logged_at": _sqlite_datetime,
    "settled_at": _sqlite_datetime,
    "result_logged_at": _sqlite_datetime,
}


def bulk_insert(
    conn: Connection, table: Table, rows: Sequence[Any], columns: Sequence[str] | None = None
) -> None:
    """Insert many rows with one executemany: dicts, or tuples in the order of ``columns``.

    On SQLite the statement goes to the driver as plain ``?`` parameters (SQLAlchemy Core's
    per-row parameter processing costs more than the insert itself); dates are written in
    SQLAlchemy's own storage format. Elsewhere it is ``conn.execute(insert(table), rows)``.
    """
    if not rows:
        return
    cols = list(rows[0]) if columns is None else list(columns)
    if conn.dialect.name != "sqlite":
        dicts = rows if columns is None else [dict(zip(cols, row, strict=True)) for row in rows]
        conn.execute(insert(table), list(dicts))
        return
    sql = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    converters = [(i, _SQLITE_CONVERT[c]) for i, c in enumerate(cols) if c in _SQLITE_CONVERT]
    if columns is not None and not converters:
        conn.exec_driver_sql(sql, list(rows))
        return
    params = []
    for row in rows:
        values = list(row) if columns is not None else [row[c] for c in cols]
        for i, convert in converters:
            values[i] = convert(values[i])
        params.append(tuple(values))
    conn.exec_driver_sql(sql, params)


def chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def upsert(
    conn: Connection, table: Table, rows: list[dict[str, Any]], keys: Sequence[str], set_: dict[str, Any]
) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET ``set_`` (values may use ``excluded``)."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        stmt: Any = pg_insert(table)
    else:
        stmt = sqlite_insert(table)
    values = {k: (v(stmt.excluded, table) if callable(v) else v) for k, v in set_.items()}
    conn.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=values), rows)


def bump_days(conn: Connection, domain: str, days: Iterable[date]) -> None:
    """Mark days as changed so their rollup rows are recomputed before they are read.

    Appends one ``ledger_changes`` row per day: concurrent writers never update a shared row, so
    none waits for another's commit. :func:`fold_changes` turns the rows into ``ledger_days`` versions.
    """
    rows = [{"date": d, "domain": domain} for d in sorted(set(days))]
    if rows:
        conn.execute(insert(ledger_changes), rows)


def fold_changes(conn: Connection, domain: str) -> None:
    """Move the pending ``ledger_changes`` rows of ``domain`` into ``ledger_days`` (one bump per day).

    Run by the rollup before it reads versions. Only committed rows are folded; a writer that commits
    later leaves its row for the next fold, so a day can be recomputed once too often, never too few.
    """
    lc = ledger_changes.c
    deleted = conn.execute(delete(ledger_changes).where(lc.domain == domain).returning(lc.date)).scalars()
    days = sorted({d if isinstance(d, date) else date.fromisoformat(str(d)) for d in deleted})
    rows = [{"date": d, "domain": domain, "version": 1} for d in days]
    upsert(conn, ledger_days, rows, ("date", "domain"), {"version": lambda ex, t: t.c.version + 1})


def insert_new(conn: Connection, table: Table, rows: list[dict[str, Any]], keys: Sequence[str]) -> None:
    """Insert rows this transaction found missing; on PostgreSQL, rerun the call if another got there first.

    SQLite runs one writer at a time, so the rows are still missing. On PostgreSQL another process may
    have inserted a key since this one looked: ``ON CONFLICT DO NOTHING`` then inserts fewer rows than
    asked, and the whole transaction is retried, reading that row the second time.
    """
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        bulk_insert(conn, table, rows)
        return
    stmt = pg_insert(table).on_conflict_do_nothing(index_elements=list(keys))
    inserted = conn.execute(stmt.returning(*(table.c[k] for k in keys)), rows).all()
    if len(inserted) != len(rows):
        raise RetryTransaction(f"{len(rows) - len(inserted)} {table.name} row(s) inserted concurrently")


@dataclass(slots=True)
class _Race:
    race_date: date
    venue_code: int
    race_number: int
    result: Result | None
    result_json: str | None
    stored: bool
    result_changed: bool = False


def _load_races(conn: Connection, race_ids: Sequence[str]) -> dict[str, _Race]:
    """The stored races among ``race_ids``; on PostgreSQL also row-locked until the transaction ends."""
    out: dict[str, _Race] = {}
    cols = (races.c.race_id, races.c.race_date, races.c.venue_code, races.c.race_number, races.c.result)
    lock = conn.dialect.name == "postgresql"
    for part in chunks(sorted(race_ids)):
        query = select(*cols).where(races.c.race_id.in_(part))
        if lock:
            query = query.order_by(races.c.race_id).with_for_update()
        for rid, rdate, venue, number, result_json in conn.execute(query):
            result = None if result_json is None else {int(k): v for k, v in json.loads(result_json).items()}
            out[rid] = _Race(rdate, venue, number, result, result_json, stored=True)
    return out


@dataclass(frozen=True, slots=True)
class _Stored:
    """What the ledger holds of one (model_version, race_id) prediction."""

    digest: str
    order: str
    race_date: date
    variant: str
    odds: float | None

    @property
    def pits(self) -> list[int]:
        return [int(p) for p in self.order.split("-")]


def _load_predictions(conn: Connection, race_ids: Sequence[str]) -> dict[tuple[str, str], _Stored]:
    """The stored prediction of each (model_version, race_id) among ``race_ids``."""
    out: dict[tuple[str, str], _Stored] = {}
    rp = race_predictions.c
    cols = (rp.model_version, rp.race_id, rp.prediction_digest, rp.predicted_order, rp.race_date, rp.variant)
    for part in chunks(race_ids):
        query = select(*cols, rp.bet_odds).where(rp.race_id.in_(part))
        for mv, rid, digest, order, rdate, variant, odds in conn.execute(query):
            out[(mv, rid)] = _Stored(digest, order, rdate, variant, odds)
    return out


def _score_columns(
    pits: Sequence[int], result: Result | None, now: datetime, odds: float | None = None
) -> dict[str, Any]:
    if result is None:
        return {
            "status": "pending",
            "hit_1st": None,
            "hit_top3": None,
            "hit_trio": None,
            "score_accuracy": None,
            "n_did_not_start": None,
            "n_not_finished": None,
            "settled_at": None,
            "bet_profit": None,
        }
    s = score_order(pits, result)
    return {
        "status": "void" if s.void else "settled",
        "hit_1st": None if s.void else int(s.hit_1st),
        "hit_top3": None if s.void else int(s.hit_top3),
        "hit_trio": None if s.void else int(s.hit_trio),
        "score_accuracy": None if s.score_accuracy != s.score_accuracy else s.score_accuracy,
        "n_did_not_start": s.n_did_not_start,
        "n_not_finished": s.n_not_finished,
        "settled_at": now,
        "bet_profit": win_profit(pits, result, odds),
    }


def prediction_row(e: RaceEntry, result: Result | None, now: datetime) -> dict[str, Any]:
    """The ``race_predictions`` row of an entry, scored against the race's result (pending without)."""
    return {
        "model_version": e.model_version,
        "race_id": e.race_id,
        "race_date": e.race_date,
        "venue_code": e.venue_code,
        "race_number": e.race_number,
        "variant": e.variant,
        "integration_mode": e.integration_mode,
        "feature_flags": e.feature_flags,
        "predicted_order": e.predicted_order,
        "prediction_digest": e.digest,
        "logged_at": now,
        "bet_stake": None if e.bet is None else e.bet.stake,
        "bet_odds": None if e.bet is None else e.bet.odds,
        "rollout_feature": None if e.routing is None else e.routing.rollout_feature,
        "covariate": None if e.routing is None else e.routing.covariate,
        **_score_columns(e.pits, result, now, None if e.bet is None else e.bet.odds),
    }


def result_status(result: Result) -> str:
    return "settled" if 1 in result.values() else "void"


def _merge_result(
    st: _Race, race_id: str, result: Result, now: datetime, reason: str | None, fixes: list[dict[str, Any]]
) -> None:
    encoded = encode_result(result)
    if st.result_json == encoded:
        return
    if st.result_json is not None:
        fixes.append(
            {
                "kind": "result",
                "race_id": race_id,
                "model_version": None,
                "symbol": None,
                "old_value": st.result_json,
                "new_value": encoded,
                "reason": reason,
                "corrected_at": now,
            }
        )
    st.result, st.result_json, st.result_changed = result, encoded, True


BOAT_COLUMNS = (
    "model_version", "race_id", "pit", "predicted_rank", "score", "win_prob", "finish_rank", "finish_status",
)  # fmt: skip


def boat_rows(e: RaceEntry, result: Result | None) -> list[tuple[Any, ...]]:
    rows = []
    mv, rid, scores, probs = e.model_version, e.race_id, e.scores, e.win_probs
    for i, pit in enumerate(e.pits):
        finish = None if result is None else result.get(pit)
        rank = finish if type(finish) is int else None
        status = finish if type(finish) is str else None
        rows.append((mv, rid, pit, i + 1, scores[i], probs[i], rank, status))
    return rows


def write_entries(
    conn: Connection, entries: Sequence[RaceEntry], now: datetime, reason: str | None = None
) -> LogSummary:
    """Apply validated entries in order inside the caller's transaction (see the module rules)."""
    race_ids = sorted({e.race_id for e in entries})
    state = _load_races(conn, race_ids)
    # a race not stored has no prediction yet: skip the query on the common path of new races
    stored_preds = _load_predictions(conn, sorted(state))
    latest: dict[tuple[str, str], RaceEntry] = {}
    # What makes a re-log "unchanged": the prediction's digest and the variant it was served under.
    digests = {k: (v.digest, v.variant) for k, v in stored_preds.items()}
    fixes: list[dict[str, Any]] = []
    unchanged = 0
    for e in entries:
        st = state.get(e.race_id)
        if st is None:
            st = state[e.race_id] = _Race(e.race_date, e.venue_code, e.race_number, None, None, stored=False)
        elif (st.race_date, st.venue_code, st.race_number) != (e.race_date, e.venue_code, e.race_number):
            raise DataValidationError(
                f"race_id {e.race_id!r} is already logged with race_date={st.race_date.isoformat()}, "
                f"venue_code={st.venue_code}, race_number={st.race_number}; got "
                f"race_date={e.race_date.isoformat()}, venue_code={e.venue_code}, "
                f"race_number={e.race_number}. A race has one date, venue and number."
            )
        if e.result is not None:
            _merge_result(st, e.race_id, e.result, now, reason, fixes)
        key = (e.model_version, e.race_id)
        previous = digests.get(key)
        if previous == (e.digest, e.variant):
            unchanged += 1
            continue
        if previous is not None and previous[1] != e.variant:
            fixes.append(
                {
                    "kind": "variant",
                    "race_id": e.race_id,
                    "model_version": e.model_version,
                    "symbol": None,
                    "old_value": previous[1],
                    "new_value": e.variant,
                    "reason": reason,
                    "corrected_at": now,
                }
            )
        if previous is not None and previous[0] != e.digest:
            old = latest[key].predicted_order if key in latest else stored_preds[key].order
            fixes.append(
                {
                    "kind": "prediction",
                    "race_id": e.race_id,
                    "model_version": e.model_version,
                    "symbol": None,
                    "old_value": old,
                    "new_value": e.predicted_order,
                    "reason": reason,
                    "corrected_at": now,
                }
            )
        digests[key] = (e.digest, e.variant)
        latest[key] = e

    new_races = [
        {
            "race_id": rid,
            "race_date": st.race_date,
            "venue_code": st.venue_code,
            "race_number": st.race_number,
            "result": st.result_json,
            "result_status": "pending" if st.result is None else result_status(st.result),
            "result_logged_at": None if st.result is None else now,
        }
        for rid, st in sorted(state.items())
        if not st.stored
    ]
    insert_new(conn, races, new_races, ("race_id",))
    changed_results = [(rid, st) for rid, st in state.items() if st.stored and st.result_changed]
    if changed_results:
        conn.execute(
            update(races).where(races.c.race_id == bindparam("b_race_id")),
            [
                {
                    "b_race_id": rid,
                    "result": st.result_json,
                    "result_status": result_status(st.result or {}),
                    "result_logged_at": now,
                }
                for rid, st in changed_results
            ],
        )

    inserts: list[dict[str, Any]] = []
    replaces: list[dict[str, Any]] = []
    boats: list[tuple[Any, ...]] = []
    for key, e in latest.items():
        st = state[e.race_id]
        row = prediction_row(e, st.result, now)
        (replaces if key in stored_preds else inserts).append(row)
        boats.extend(boat_rows(e, st.result))
    bulk_insert(conn, race_predictions, inserts)
    if replaces:
        rp = race_predictions.c
        conn.execute(
            delete(boat_predictions).where(
                and_(
                    boat_predictions.c.model_version == bindparam("b_mv"),
                    boat_predictions.c.race_id == bindparam("b_rid"),
                )
            ),
            [{"b_mv": r["model_version"], "b_rid": r["race_id"]} for r in replaces],
        )
        conn.execute(
            update(race_predictions).where(
                and_(rp.model_version == bindparam("b_mv"), rp.race_id == bindparam("b_rid"))
            ),
            [
                {
                    **{k: v for k, v in r.items() if k not in ("model_version", "race_id")},
                    "b_mv": r["model_version"],
                    "b_rid": r["race_id"],
                }
                for r in replaces
            ],
        )
    bulk_insert(conn, boat_predictions, boats, BOAT_COLUMNS)

    rescore = [
        (key, stored)
        for key, stored in stored_preds.items()
        if key not in latest and state[key[1]].result_changed
    ]
    _rescore(conn, rescore, state, now)
    _update_boat_finishes(conn, [(rid, st) for rid, st in changed_results])
    if fixes:
        conn.execute(insert(corrections), fixes)
    days = {e.race_date for e in latest.values()} | {stored.race_date for _, stored in rescore}
    bump_days(conn, "races", days)
    pending = sum(1 for e in latest.values() if state[e.race_id].result is None)
    return LogSummary(len(inserts), unchanged, len(replaces), len(rescore), len(fixes), pending)


def _rescore(
    conn: Connection, items: list[tuple[tuple[str, str], _Stored]], state: dict[str, _Race], now: datetime
) -> None:
    if not items:
        return
    rp = race_predictions.c
    conn.execute(
        update(race_predictions).where(
            and_(rp.model_version == bindparam("b_mv"), rp.race_id == bindparam("b_rid"))
        ),
        [
            {
                "b_mv": mv,
                "b_rid": rid,
                **_score_columns(stored.pits, state[rid].result, now, stored.odds),
            }
            for (mv, rid), stored in items
        ],
    )


def _update_boat_finishes(conn: Connection, changed: list[tuple[str, _Race]]) -> None:
    params = []
    for rid, st in changed:
        for pit, value in (st.result or {}).items():
            params.append(
                {
                    "b_rid": rid,
                    "b_pit": pit,
                    "finish_rank": value if isinstance(value, int) else None,
                    "finish_status": value if isinstance(value, str) else None,
                }
            )
    if params:
        bp = boat_predictions.c
        conn.execute(
            update(boat_predictions).where(
                and_(bp.race_id == bindparam("b_rid"), bp.pit == bindparam("b_pit"))
            ),
            params,
        )


def write_results(
    conn: Connection, results: Sequence[tuple[str, Result]], now: datetime, reason: str | None = None
) -> LogSummary:
    """Record delayed results of races already in the ledger; re-score every prediction of each."""
    race_ids = sorted({rid for rid, _ in results})
    state = _load_races(conn, race_ids)
    missing = [rid for rid in race_ids if rid not in state]
    if missing:
        from stagewise._exceptions import NotFoundError

        raise NotFoundError(
            f"log_result: race_id(s) {missing[:5]} are not in the ledger; log the prediction first "
            "(log_prediction with actual_results=None records it as pending)."
        )
    fixes: list[dict[str, Any]] = []
    for rid, result in results:
        _merge_result(state[rid], rid, result, now, reason, fixes)
    changed = [(rid, st) for rid, st in state.items() if st.result_changed]
    if changed:
        conn.execute(
            update(races).where(races.c.race_id == bindparam("b_race_id")),
            [
                {
                    "b_race_id": rid,
                    "result": st.result_json,
                    "result_status": result_status(st.result or {}),
                    "result_logged_at": now,
                }
                for rid, st in changed
            ],
        )
    preds = _load_predictions(conn, [rid for rid, _ in changed])
    items = list(preds.items())
    try:
        _rescore(conn, items, state, now)
    except DataValidationError as exc:
        raise DataValidationError(f"log_result: the result does not fit a logged prediction: {exc}") from exc
    _update_boat_finishes(conn, changed)
    if fixes:
        conn.execute(insert(corrections), fixes)
    bump_days(conn, "races", {stored.race_date for _, stored in items} | {st.race_date for _, st in changed})
    return LogSummary(0, len(results) - len(changed), 0, len(items), len(fixes), 0)
