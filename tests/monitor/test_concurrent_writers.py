"""Writers that do not take turns: many processes logging the same rows at once on real PostgreSQL.

Since 0002 the ledger has no global write lock on PostgreSQL. These tests start several processes that
log overlapping rows at the same moment and check that the unique constraints and ``ON CONFLICT``
keep the seed semantics: each prediction is inserted exactly once (by one of the processes), repeats
are unchanged, different content is a recorded correction, a race logged under two dates is refused
for all but one, and the stats equal those of one process logging the same rows one after the other.
"""

from __future__ import annotations

import multiprocessing as mp
import traceback
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_helpers import FakeClock
from sqlalchemy import func, select

from stagewise import DataValidationError
from stagewise.monitor import PerformanceMonitor
from stagewise.monitor.schema import boat_predictions, corrections, race_predictions

pytestmark = pytest.mark.postgres

DAY = date(2025, 11, 17)
PROCESSES = 4


def _start_together(target: Any, args_per_process: list[tuple[Any, ...]]) -> list[Any]:
    """Run ``target(barrier, out, *args)`` in one process per args tuple; return what each put in ``out``."""
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(len(args_per_process))
    out = ctx.Queue()
    procs = [ctx.Process(target=target, args=(barrier, out, *args)) for args in args_per_process]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    failures = [r for r in results if isinstance(r, str)]
    assert not failures, "\n".join(failures)
    assert [p.exitcode for p in procs] == [0] * len(procs)
    return results


def _log_rows(barrier: Any, out: Any, url: str, rows: list[dict[str, Any]]) -> None:
    try:
        monitor = PerformanceMonitor(url, notifiers=[])
        barrier.wait(timeout=60)
        inserted = unchanged = replaced = 0
        for row in rows:  # one transaction per call, as a server logging each request would
            summary = monitor.log_prediction(**row)
            inserted += summary.inserted
            unchanged += summary.unchanged
            replaced += summary.replaced
        monitor.close()
        out.put((inserted, unchanged, replaced))
    except BaseException:
        out.put(traceback.format_exc())


race_spec = st.tuples(
    st.permutations([1, 2, 3, 4, 5, 6]),  # predicted order
    st.one_of(st.none(), st.permutations([1, 2, 3, 4, 5, 6])),  # finish order, or not known yet
    st.integers(0, 1),  # day offset
    st.sets(st.sampled_from(["champion", "challenger"]), min_size=1),  # model versions predicting it
)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=st.lists(race_spec, min_size=1, max_size=10), seed=st.randoms(use_true_random=False))
def test_processes_logging_the_same_rows_at_once_store_each_once(
    pg_schema: str, tmp_path_factory: pytest.TempPathFactory, specs: list[Any], seed: Any
) -> None:
    prefix = uuid.uuid4().hex[:8]  # one ledger for every example; each example has its own races
    rows = [
        {
            "race_id": f"{prefix}-{i}",
            "race_date": DAY + timedelta(days=offset),
            "venue_code": 1 + i % 24,
            "race_number": 1 + i % 12,
            "predictions": list(order),
            "actual_results": None if finish is None else {p: r for r, p in enumerate(finish, 1)},
            "integration_mode": "DYNAMIC",
            "model_version": f"{prefix}-{mv}",
        }
        for i, (order, finish, offset, versions) in enumerate(specs)
        for mv in sorted(versions)
    ]
    per_process = []
    for _ in range(PROCESSES):
        mine = rows + seed.sample(rows, k=len(rows) // 2)  # every row, some twice, each its own order
        seed.shuffle(mine)
        per_process.append((pg_schema, mine))
    counts = _start_together(_log_rows, per_process)

    keys = len(rows)
    calls = sum(len(mine) for _, mine in per_process)
    assert sum(c[0] for c in counts) == keys  # every prediction inserted by exactly one process
    assert sum(c[1] for c in counts) == calls - keys  # every other call found it unchanged
    assert sum(c[2] for c in counts) == 0

    monitor = PerformanceMonitor(pg_schema, notifiers=[])
    mvs = [f"{prefix}-champion", f"{prefix}-challenger"]
    stored = monitor.store.read(
        lambda c: [
            int(c.execute(select(func.count()).select_from(t).where(t.c.model_version.in_(mvs))).scalar_one())
            for t in (race_predictions, boat_predictions, corrections)
        ]
    )
    assert stored == [keys, 6 * keys, 0]
    # the same rows logged by one process, one after the other, into a SQLite ledger
    reference = PerformanceMonitor(tmp_path_factory.mktemp(prefix) / "reference.db", notifiers=[])
    for row in rows:
        reference.log_prediction(**row)
    for day in (DAY, DAY + timedelta(days=1)):
        for mv in mvs:
            got = monitor.calculate_daily_stats(day, model_version=mv)
            want = reference.calculate_daily_stats(day, model_version=mv)
            assert _comparable(got) == _comparable(want)
    monitor.close()
    reference.close()


def _comparable(stats: dict[str, Any] | None) -> Any:
    if stats is None:
        return None
    return {k: v for k, v in stats.items() if isinstance(v, int) and not isinstance(v, bool)}


def _log_one(barrier: Any, out: Any, url: str, row: dict[str, Any]) -> None:
    try:
        monitor = PerformanceMonitor(url, notifiers=[])
        barrier.wait(timeout=60)
        try:
            summary = monitor.log_prediction(**row)
            out.put(("ok", summary.inserted, summary.replaced, row["race_date"]))
        except DataValidationError as exc:
            out.put(("refused", str(exc), 0, row["race_date"]))
        monitor.close()
    except BaseException:
        out.put(traceback.format_exc())


def _race(race_id: str, day: date, order: list[int]) -> dict[str, Any]:
    return {
        "race_id": race_id,
        "race_date": day,
        "venue_code": 3,
        "race_number": 7,
        "predictions": order,
        "actual_results": None,
        "integration_mode": "DYNAMIC",
        "model_version": "v1",
    }


def test_a_race_logged_under_different_dates_at_once_keeps_one_and_refuses_the_others(
    pg_schema: str,
) -> None:
    rows = [_race("R-identity", DAY + timedelta(days=k), [1, 2, 3, 4, 5, 6]) for k in range(PROCESSES)]
    results = _start_together(_log_one, [(pg_schema, row) for row in rows])
    accepted = [r for r in results if r[0] == "ok"]
    refused = [r for r in results if r[0] == "refused"]
    assert len(accepted) == 1
    assert len(refused) == PROCESSES - 1
    assert all("race_id 'R-identity' is already logged with" in r[1] for r in refused)
    monitor = PerformanceMonitor(pg_schema, notifiers=[])
    outcomes = monitor.race_outcomes(DAY, DAY + timedelta(days=PROCESSES))
    assert list(outcomes["race_id"]) == ["R-identity"]
    assert outcomes["race_date"].iloc[0].date() == accepted[0][3]
    monitor.close()


def test_different_predictions_for_one_key_at_once_are_a_chain_of_corrections(pg_schema: str) -> None:
    orders = [[1, 2, 3, 4, 5, 6], [2, 1, 3, 4, 5, 6], [3, 1, 2, 4, 5, 6], [4, 1, 2, 3, 5, 6]]
    rows = [_race("R-fix", DAY, order) for order in orders[:PROCESSES]]
    results = _start_together(_log_one, [(pg_schema, row) for row in rows])
    assert sorted((r[1], r[2]) for r in results) == [(0, 1)] * (PROCESSES - 1) + [(1, 0)]
    monitor = PerformanceMonitor(pg_schema, notifiers=[])
    chain = monitor.store.read(
        lambda c: c.execute(
            select(corrections.c.old_value, corrections.c.new_value).order_by(corrections.c.id)
        ).all()
    )
    assert len(chain) == PROCESSES - 1
    # each correction starts from what the previous one left: no update was lost between processes
    assert all(chain[i].new_value == chain[i + 1].old_value for i in range(len(chain) - 1))
    final = monitor.store.read(lambda c: c.execute(select(race_predictions.c.predicted_order)).scalar_one())
    assert final == chain[-1].new_value
    monitor.close()


def test_the_one_statement_path_stores_the_rows_the_general_path_stores(pg_schema: str) -> None:
    from stagewise.monitor.schema import races

    def row(race_id: str, result: Any) -> dict[str, Any]:
        return {
            "race_id": race_id,
            "race_date": DAY,
            "venue_code": 4,
            "race_number": 9,
            "predictions": [
                {"pit": 3, "predicted_rank": 1, "score": 0.5, "win_prob": 0.5},
                {"pit": 1, "predicted_rank": 2, "score": 0.3, "win_prob": 0.3},
                {"pit": 2, "predicted_rank": 3, "score": 0.2},
            ],
            "actual_results": result,
            "integration_mode": "DYNAMIC",
            "feature_flags": {"dynamic_integration": True},
            "model_version": "v7",
        }

    finish = {3: 1, 1: 2, 5: 3, 6: 4, 2: "転", 4: "F"}
    monitor = PerformanceMonitor(pg_schema, notifiers=[], clock=FakeClock())  # same logged_at on both paths
    fast = [monitor.log_prediction(**row(f"fast-{k}", r)) for k, r in (("p", None), ("s", finish))]
    assert [(s.inserted, s.pending) for s in fast] == [(1, 1), (1, 0)]
    general = monitor.log_predictions([row("general-p", None), row("general-s", finish)])
    assert (general.inserted, general.pending) == (2, 1)

    def stored(table: Any, key: str, drop: tuple[str, ...] = ()) -> dict[str, list[tuple[Any, ...]]]:
        cols = [c for c in table.c if c.name not in ("id", key, *drop)]
        out: dict[str, list[tuple[Any, ...]]] = {}
        for r in monitor.store.read(lambda c: c.execute(select(table.c[key], *cols)).all()):
            path, kind = r[0].split("-")
            out.setdefault(f"{path}/{kind}", []).append(tuple(r[1:]))
        return {k: sorted(v, key=repr) for k, v in out.items()}

    for table in (races, race_predictions, boat_predictions):
        rows = stored(table, "race_id")
        assert rows["fast/p"] == rows["general/p"], table.name
        assert rows["fast/s"] == rows["general/s"], table.name
    assert monitor.log_prediction(**row("fast-s", finish)).unchanged == 1
    monitor.close()
