"""Per-call logging on PostgreSQL from many processes, side by side with raw psycopg in one run.

Every call logs one new race (a pending prediction of six boats), one transaction per call, as a
serving host that writes each request on its own would. Three runs of the same length, each into a
fresh schema migrated by stagewise (same tables and indexes):

* stagewise, 1 process: ``PerformanceMonitor.log_prediction`` per call;
* stagewise, 8 processes: the same, 8 processes at once;
* raw psycopg, 8 processes: per call one transaction of ``INSERT ... ON CONFLICT DO NOTHING`` into
  ``races``, ``race_predictions`` and ``boat_predictions`` (six rows in one statement): the same rows
  with no validation, no scoring, no idempotency check and no rollup bookkeeping (the practical limit).

Each run counts the rows afterwards (nothing may be lost) and reports calls per second. The machine's
load average is printed beside the figures: on a shared 2-core machine the ratios move with it.

``STAGEWISE_BENCH_PG_URL`` (default ``STAGEWISE_TEST_PG_URL``, else the development server) and
``STAGEWISE_BENCH_LEDGER_SECONDS`` (default 12 per run).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from _report import write_section

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DAY = date(2025, 11, 17)
PROCESSES = 8


def _schema_url(base: str, schema: str) -> str:
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def _stagewise_worker(url: str, tag: str, barrier: Any, seconds: float, out: Any) -> None:
    from stagewise.monitor import PerformanceMonitor

    monitor = PerformanceMonitor(url, notifiers=[])
    monitor.log_prediction(f"{tag}-warm", DAY, 1, 1, [1, 2, 3, 4, 5, 6], None, "DYNAMIC", {})
    barrier.wait()
    deadline = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < deadline:
        monitor.log_prediction(
            f"{tag}-{n}", DAY, 1 + n % 24, 1 + n % 12, [1, 2, 3, 4, 5, 6], None, "DYNAMIC", {}
        )
        n += 1
    monitor.close()
    out.put(n + 1)


_RAW_RACE = (
    "INSERT INTO races (race_id, race_date, venue_code, race_number, result, result_status, "
    "result_logged_at) VALUES (%s, %s, %s, %s, NULL, 'pending', NULL) ON CONFLICT (race_id) DO NOTHING"
)
_RAW_PRED = (
    "INSERT INTO race_predictions (model_version, race_id, race_date, venue_code, race_number, variant, "
    "integration_mode, feature_flags, predicted_order, prediction_digest, status, logged_at) VALUES "
    "('unversioned', %s, %s, %s, %s, 'default', 'DYNAMIC', '{}', '1-2-3-4-5-6', %s, 'pending', %s) "
    "ON CONFLICT (model_version, race_id) DO NOTHING"
)
_RAW_BOATS = (
    "INSERT INTO boat_predictions (model_version, race_id, pit, predicted_rank, score, win_prob) VALUES "
    + ", ".join(["('unversioned', %s, %s, %s, %s, NULL)"] * 6)
    + " ON CONFLICT DO NOTHING"
)


def _raw_worker(url: str, tag: str, barrier: Any, seconds: float, out: Any) -> None:
    import psycopg

    parsed = make_url(url)
    conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:

        def one(race_id: str, n: int) -> None:
            venue, number = 1 + n % 24, 1 + n % 12
            with conn.transaction(), conn.cursor() as cur:
                cur.execute(_RAW_RACE, (race_id, DAY, venue, number))
                cur.execute(_RAW_PRED, (race_id, DAY, venue, number, "d" * 32, datetime.now()))
                boats: list[Any] = []
                for pit in range(1, 7):
                    boats += [race_id, pit, pit, float(7 - pit)]
                cur.execute(_RAW_BOATS, boats)

        one(f"{tag}-warm", 0)
        barrier.wait()
        deadline = time.perf_counter() + seconds
        n = 0
        while time.perf_counter() < deadline:
            one(f"{tag}-{n}", n)
            n += 1
    out.put(n + 1)


def _run(base: str, worker: Any, processes: int, seconds: float) -> tuple[float, int, int, float]:
    """(calls/s, calls, rows counted, load average at the end) of one run in a fresh schema."""
    from stagewise.monitor import PerformanceMonitor

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = _schema_url(base, schema)
    PerformanceMonitor(url, notifiers=[]).close()  # migrate once, before the clock starts
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(processes + 1)
    out = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(url, f"p{i}", barrier, seconds, out)) for i in range(processes)]
    for p in procs:
        p.start()
    barrier.wait()
    start = time.perf_counter()
    calls = sum(out.get(timeout=seconds + 120) for _ in procs)
    elapsed = time.perf_counter() - start
    for p in procs:
        p.join()
    load = os.getloadavg()[0]
    with engine.begin() as conn:
        rows = int(conn.execute(text(f"SELECT count(*) FROM {schema}.race_predictions")).scalar_one())
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()
    # the warm-up call is outside the timed window; the rate counts only timed calls
    return (calls - processes) / elapsed, calls, rows, load


def main() -> None:
    base = os.environ.get("STAGEWISE_BENCH_PG_URL") or os.environ.get("STAGEWISE_TEST_PG_URL") or DEFAULT_URL
    seconds = float(os.environ.get("STAGEWISE_BENCH_LEDGER_SECONDS", "12"))
    load_start = os.getloadavg()[0]
    runs = [
        ("stagewise `log_prediction`, 1 process", _stagewise_worker, 1),
        (f"stagewise `log_prediction`, {PROCESSES} processes", _stagewise_worker, PROCESSES),
        (f"raw psycopg `INSERT ... ON CONFLICT`, {PROCESSES} processes", _raw_worker, PROCESSES),
    ]
    results = []
    for name, worker, procs in runs:
        print(f"{name} ...", flush=True)
        rate, calls, rows, load = _run(base, worker, procs, seconds)
        results.append((name, procs, rate, calls, rows, load))
        print(f"  {rate:,.0f} calls/s, {calls:,} calls, {rows:,} rows, load {load:.1f}", flush=True)
    one, many, raw = (r[2] for r in results)
    lines = [
        f"Each call logs one new race (six boats, result pending) in its own transaction; {seconds:.0f} s "
        "per run, each run in a fresh schema migrated by stagewise. `rows` is `race_predictions` counted "
        "after the run (every call must be there). Load average (1 min) at the start of the benchmark: "
        f"{load_start:.1f} on {os.cpu_count()} cores; at the end of each run in the table.",
        "",
        "| run | processes | calls/s | calls | rows | lossless | load avg |",
        "|---|---:|---:|---:|---:|:---:|---:|",
        *(
            f"| {name} | {procs} | {rate:,.0f} | {calls:,} | {rows:,} | {'yes' if rows == calls else 'NO'} "
            f"| {load:.1f} |"
            for name, procs, rate, calls, rows, load in results
        ),
        "",
        f"stagewise {PROCESSES} processes / raw psycopg {PROCESSES} processes: **{many / raw:.2f}x** "
        f"(goal >= 0.5x); stagewise {PROCESSES} processes / stagewise 1 process: **{many / one:.2f}x** "
        "(goal >= 2x).",
    ]
    env = " ".join(f"{k}={os.environ[k]}" for k in ("STAGEWISE_BENCH_LEDGER_SECONDS",) if k in os.environ)
    write_section(
        "ledger-postgresql",
        f"{env + ' ' if env else ''}.venv/bin/python bench/run.py ledger_pg",
        "\n".join(lines),
    )


if __name__ == "__main__":
    main()
