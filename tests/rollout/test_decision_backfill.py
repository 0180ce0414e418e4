"""Opening a SQL rollout store copies decisions in from the audit log once, not on every open.

A store is opened by every CLI call and every server reload, so an open must not read the whole audit
log each time: the first open of a store older than the decision tables (or of one an earlier version
wrote to) copies the missing decisions in and remembers how far it looked; later opens look only at
entries written since. The records are always exactly those derived from the whole log.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, delete, event, select, update
from sqlalchemy.engine import Engine

from stagewise.rollout import GradualRollout
from stagewise.rollout.decisions import DecisionRecord, decisions_from_entries
from stagewise.rollout.sql_store import SqlRolloutStore

FEATURE = "probability_calibration"


def controller_details(look: int) -> dict[str, Any]:
    """What the controller records in a decision's audit entry (one metric: the sample-ratio check)."""
    numbers = {"srm": {"p_value": 0.5 + look / 1000, "threshold": 0.001, "verdict": "ok"}}
    decision = {"action": "hold", "from_stage": "10%", "to_stage": "10%", "reasons": [f"look {look}"]}
    return {"controller": {**decision, "numbers": numbers}}


def write_entries(store: SqlRolloutStore, count: int, *, indexed: bool = True) -> None:
    """``count`` audit entries, every third a controller decision; ``indexed=False`` leaves their decision
    rows out and the backfill mark where it was, as a process of a version older than the tables does."""
    tables = store.decision_tables
    with store.engine.connect() as conn:
        mark = conn.execute(select(tables.backfilled.c.through_seq)).scalar()
    rollout = GradualRollout(store=store, refresh_interval=0, actor="ops")
    if FEATURE not in rollout.get_rollout_status()["feature_rollouts"]:
        rollout.add_feature(FEATURE, stage="10%", salt=f"{FEATURE}:backfill", reason="start canary")
    first = len(store.audit_entries()) + 1
    for i in range(count):
        if i % 3 == 0:
            rollout.record_audit(
                FEATURE, "controller_hold", reason=f"controller hold: look {i}", details=controller_details(i)
            )
        else:
            rollout.record_audit(FEATURE, "note", reason=f"checked by hand {i}")
    if not indexed:
        with store.engine.begin() as conn:
            conn.execute(delete(tables.metrics).where(tables.metrics.c.seq >= first))
            conn.execute(delete(tables.decisions).where(tables.decisions.c.seq >= first))
            conn.execute(update(tables.backfilled).values(through_seq=mark))


def make_old(store: SqlRolloutStore) -> None:
    """Drop the decision tables and the backfill mark: the database a version before them left."""
    tables = store.decision_tables
    for table in (tables.metrics, tables.variants, tables.decisions, tables.backfilled):
        table.drop(store.engine)


class AuditReads:
    """The statements that read audit entries' text, with their parameters, on an engine."""

    def __init__(self, engine: Engine) -> None:
        self.seen: list[tuple[str, Any]] = []
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if "rollout_audit.entry" in statement:
            self.seen.append((statement, params))

    def take(self) -> list[tuple[str, Any]]:
        out, self.seen = self.seen, []
        return out


def open_counted(url: str, schema: str | None) -> tuple[SqlRolloutStore, list[tuple[str, Any]]]:
    """Open a store on an engine of its own and return the audit reads the open made."""
    engine = create_engine(url)
    reads = AuditReads(engine)
    store = SqlRolloutStore(url, schema=schema, engine=engine)
    return store, reads.take()


def full_backfill(store: SqlRolloutStore) -> list[DecisionRecord]:
    """The records derived from the whole audit log (what a backfill of every entry gives)."""
    return decisions_from_entries(store.audit_entries(), FEATURE)


def test_a_second_open_reads_no_audit_entry_and_a_later_one_only_the_new_ones(
    db: tuple[str, str | None],
) -> None:
    url, schema = db
    writer = SqlRolloutStore(url, schema=schema)
    write_entries(writer, 300)
    expected = full_backfill(writer)
    assert len(expected) == 100
    make_old(writer)
    writer.close()

    first, reads = open_counted(url, schema)
    assert len(reads) == 1  # the old database's entries are looked at once
    assert first.decisions(FEATURE) == expected
    first.engine.dispose()

    again, reads = open_counted(url, schema)
    assert reads == []  # nothing written since: no audit entry is read
    assert again.decisions(FEATURE) == expected

    write_entries(again, 30)  # this version indexes what it writes: opens stay read-only
    expected = full_backfill(again)
    again.engine.dispose()
    again, reads = open_counted(url, schema)
    assert reads == []
    assert again.decisions(FEATURE) == expected
    top = len(again.audit_entries())

    write_entries(again, 30, indexed=False)  # an older version's process, still writing
    assert again.decisions(FEATURE) == expected  # not indexed yet
    again.engine.dispose()
    later, reads = open_counted(url, schema)
    ((_statement, params),) = reads
    bounds = list(params.values() if isinstance(params, dict) else params)
    assert top in bounds  # only entries after the first open's last one
    assert later.decisions(FEATURE) == full_backfill(later)
    assert len(later.decisions(FEATURE)) == 120
    later.engine.dispose()


def test_concurrent_openers_of_an_old_database_agree_and_lose_nothing(db: tuple[str, str | None]) -> None:
    url, schema = db
    writer = SqlRolloutStore(url, schema=schema)
    write_entries(writer, 120)
    expected = full_backfill(writer)
    make_old(writer)
    writer.close()

    opened: list[SqlRolloutStore] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def open_one() -> None:
        barrier.wait()
        try:
            opened.append(SqlRolloutStore(url, schema=schema))
        except BaseException as exc:  # reported below, with the others' results
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(opened) == 4
    for store in opened:
        assert store.decisions(FEATURE) == expected
        store.close()
    reopened, reads = open_counted(url, schema)
    assert reads == []
    reopened.engine.dispose()


@settings(max_examples=20, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["indexed", "unindexed", "reopen", "old"]), st.integers(1, 4)), max_size=6
    )
)
def test_the_records_after_an_open_are_always_those_of_the_whole_log(steps: list[tuple[str, int]]) -> None:
    """Whatever mix of indexed writes, writes by an older version, reopens and downgrades to a database
    without the decision tables came before, an open leaves exactly the records the whole log gives."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'monitor.db'}"
        store = SqlRolloutStore(url)
        for action, count in steps:
            if action == "reopen":
                store.close()
                store = SqlRolloutStore(url)
            elif action == "old":
                make_old(store)
                store.close()
                store = SqlRolloutStore(url)
            else:
                write_entries(store, count, indexed=action == "indexed")
        store.close()
        final = SqlRolloutStore(url)
        assert final.decisions(FEATURE) == full_backfill(final)
        final.close()
