"""Writing race predictions and results through the store: the facade's logging calls land here.

:func:`write_race_entries` takes validated entries (:mod:`~stagewise.monitor.inputs`) and writes them
in one transaction (:func:`~stagewise.monitor.ledger.write_entries`); on PostgreSQL one new race is
one statement and a batch of new races without results one more (:mod:`~stagewise.monitor.ledger_pg`);
:func:`write_race_results` validates every ``(race_id, result)`` pair before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection

from stagewise._exceptions import DataValidationError
from stagewise.monitor.inputs import RaceEntry, parse_result, race_id_text
from stagewise.monitor.ledger import LogSummary, write_entries, write_results
from stagewise.monitor.ledger_pg import insert_new_race, insert_new_races
from stagewise.monitor.store import LedgerStore

__all__ = ["write_race_entries", "write_race_results"]


def write_race_entries(
    store: LedgerStore, entries: Sequence[RaceEntry], now: datetime, reason: str | None
) -> LogSummary:
    """Write validated entries in one transaction (all or nothing)."""
    if len(entries) == 1 and store.dialect == "postgresql":
        # the per-call case: one statement when the race is new (see ledger_pg)
        summary = store.write_statement(lambda conn: insert_new_race(conn, entries[0], now))
        if summary is not None:
            return summary
    elif (
        store.dialect == "postgresql"
        and all(e.result is None for e in entries)
        and len({e.race_id for e in entries}) == len(entries)
    ):
        # a server's batch: the new races in one statement, the others by the general rules
        return store.write(lambda conn: _write_new_races_first(conn, entries, now, reason))
    return store.write(lambda conn: write_entries(conn, entries, now, reason))


def _write_new_races_first(
    conn: Connection, entries: Sequence[RaceEntry], now: datetime, reason: str | None
) -> LogSummary:
    """Distinct races without results: the new ones in one statement, then the rest (one transaction)."""
    inserted = insert_new_races(conn, entries, now)
    rest = [e for e in entries if e.race_id not in inserted]
    new = len(entries) - len(rest)
    if not rest:
        return LogSummary(new, 0, 0, 0, 0, new)
    s = write_entries(conn, rest, now, reason)
    return LogSummary(s.inserted + new, s.unchanged, s.replaced, s.rescored, s.corrections, s.pending + new)


def write_race_results(
    store: LedgerStore, items: Iterable[tuple[str | int, object]], now: datetime, reason: str | None
) -> LogSummary:
    """Check every ``(race_id, actual_results)`` pair, then record the results in one transaction.

    A pair without a result is a :class:`~stagewise.DataValidationError` naming its row and race.
    """
    parsed = []
    for i, (race_id, results) in enumerate(items):
        rid = race_id_text(race_id, i)
        result = parse_result(results, i)
        if result is None:
            raise DataValidationError(
                f"row {i}: log_result needs a result for race_id {rid!r}; got {results!r}."
            )
        parsed.append((rid, result))
    return store.write(lambda conn: write_results(conn, parsed, now, reason))
