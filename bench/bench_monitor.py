"""Monitor ledger benchmarks, side by side in one run.

(a) Ingestion into SQLite: ``PerformanceMonitor.log_predictions`` (one batched transaction, validation and
    scoring included) against a raw ``sqlite3.executemany`` of exactly the rows it wrote (read back and
    re-inserted into an empty ledger with the same schema and indexes: the practical limit), and against
    one commit per race (``log_prediction`` per race, as the seed logged).
(b) Daily stats over a year of logged boat rows: one day's stats (SQL aggregate, rollup refresh), the
    365-day trend with a cold rollup (every day recomputed in one grouped query) and warm (rollup only).
(c) The same daily accuracy series (the win hit rate = multiclass accuracy of the predicted winner)
    computed with Evidently's ``Report([Accuracy()])`` one day at a time, as a ratio.

Sizes: ``STAGEWISE_BENCH_MONITOR_RACES`` (a, default 20,000 races), ``STAGEWISE_BENCH_MONITOR_BOATS``
(b, default 10,000,000 boat rows), ``STAGEWISE_BENCH_EVIDENTLY_DAYS`` (c, default 30). Evidently 0.7 does
not import with pandas 3 (the project's), so (c) runs it in the interpreter named by
``STAGEWISE_EVIDENTLY_PYTHON`` (a venv with ``evidently`` and ``pandas<3``) when set, else in-process.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from _report import write_section

ROOT = Path(__file__).resolve().parent.parent
START = date(2025, 1, 1)


def _races(n: int, seed: int = 0, start: date = START, per_day: int = 144) -> list[dict[str, Any]]:
    """Seed-shaped rows: predictions best first with total_score, results in finish order."""
    rng = np.random.default_rng(seed)
    preds = np.argsort(rng.random((n, 6)), axis=1) + 1
    finish = np.argsort(rng.random((n, 6)) - np.array([0.3, 0.15, 0.1, 0.05, 0.0, -0.05]), axis=1) + 1
    rows = []
    for i in range(n):
        day = start + timedelta(days=i // per_day)
        k = i % per_day
        rows.append(
            {
                "race_id": f"{day:%Y%m%d}{1 + k // 12:02d}{1 + k % 12:02d}-{i}",
                "race_date": day,
                "venue_code": 1 + (k // 12) % 24,
                "race_number": 1 + k % 12,
                "predictions": [
                    {"pit_number": int(p), "total_score": 1.0 - 0.1 * j} for j, p in enumerate(preds[i])
                ],
                "actual_results": [{"pit_number": int(p), "rank": j + 1} for j, p in enumerate(finish[i])],
                "integration_mode": "DYNAMIC",
                "feature_flags": {"dynamic_integration": True},
                "model_version": "v1",
            }
        )
    return rows


def _timed(fn: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def bench_ingestion(workdir: Path, n: int) -> tuple[list[str], dict[str, float]]:
    from stagewise.monitor import PerformanceMonitor

    rows = _races(n)
    batched_db = workdir / "batched.db"
    monitor = PerformanceMonitor(monitor_db=batched_db)
    _, t_batched = _timed(lambda: monitor.log_predictions(rows))
    monitor.close()

    tables = ("races", "race_predictions", "boat_predictions", "ledger_days")
    raw_db = workdir / "raw.db"
    PerformanceMonitor(monitor_db=raw_db).close()  # same schema and indexes, empty
    src = sqlite3.connect(batched_db)
    data = {t: src.execute(f"SELECT * FROM {t}").fetchall() for t in tables}
    src.close()
    dst = sqlite3.connect(raw_db, isolation_level=None)
    dst.execute("PRAGMA journal_mode=WAL")
    dst.execute("PRAGMA synchronous=NORMAL")

    def raw() -> None:
        dst.execute("BEGIN IMMEDIATE")
        for t in tables:
            marks = ",".join("?" * len(data[t][0]))
            dst.executemany(f"INSERT INTO {t} VALUES ({marks})", data[t])
        dst.execute("COMMIT")

    _, t_raw = _timed(raw)
    dst.close()
    n_rows = sum(len(v) for v in data.values())

    per_row = rows[: min(n, 1000)]
    single = PerformanceMonitor(monitor_db=workdir / "single.db")
    _, t_single = _timed(lambda: [single.log_prediction(**r) for r in per_row])
    single.close()

    boats = 6 * n
    figures = {
        "batched_races_s": n / t_batched,
        "batched_boats_s": boats / t_batched,
        "raw_races_s": n / t_raw,
        "raw_boats_s": boats / t_raw,
        "single_races_s": len(per_row) / t_single,
    }
    lines = [
        f"### (a) Ingestion into SQLite: {n:,} races = {boats:,} boat predictions ({n_rows:,} table rows)",
        "",
        "| method | seconds | races/s | boat predictions/s | ratio to raw executemany |",
        "|---|---:|---:|---:|---:|",
        f"| raw `sqlite3.executemany` of the same rows (limit) | {t_raw:.2f} | "
        f"{figures['raw_races_s']:,.0f} | "
        f"{figures['raw_boats_s']:,.0f} | 1.00 |",
        f"| `log_predictions` batched (validate + score + write) | {t_batched:.2f} | "
        f"{figures['batched_races_s']:,.0f} | "
        f"{figures['batched_boats_s']:,.0f} | {t_batched / t_raw:.2f}x slower |",
        f"| `log_prediction` one commit per race (seed style, {len(per_row):,} races) | {t_single:.2f} | "
        f"{figures['single_races_s']:,.0f} | {6 * figures['single_races_s']:,.0f} | "
        f"{figures['raw_races_s'] / figures['single_races_s']:.0f}x slower |",
        "",
        f"Batched is {figures['batched_races_s'] / figures['single_races_s']:.0f}x faster than one commit "
        "per race.",
    ]
    return lines, figures


def _build_year(path: Path, boats: int) -> tuple[int, float]:
    """Log ``boats`` boat rows (races of 6 boats) spread over 365 days, in batches."""
    from stagewise.monitor import PerformanceMonitor

    n_races = boats // 6
    per_day = -(-n_races // 365)
    monitor = PerformanceMonitor(monitor_db=path)
    chunk = 50_000
    t0 = time.perf_counter()
    for start in range(0, n_races, chunk):
        size = min(chunk, n_races - start)
        rows = _races(size, seed=start, per_day=per_day)
        for j, row in enumerate(rows):
            i = start + j
            row["race_date"] = START + timedelta(days=i // per_day)
            row["race_id"] = f"Y{i}"
        monitor.log_predictions(rows)
        print(f"  {start + size:,} / {n_races:,} races ({time.perf_counter() - t0:.0f} s)", flush=True)
    monitor.close()
    return n_races, time.perf_counter() - t0


def bench_year(workdir: Path, boats: int) -> tuple[list[str], Path, int]:
    from stagewise.monitor import PerformanceMonitor

    path = workdir / "year.db"
    n_races, t_build = _build_year(path, boats)
    monitor = PerformanceMonitor(monitor_db=path)
    end = START + timedelta(days=364)
    one_day, t_day = _timed(lambda: monitor.calculate_daily_stats(START + timedelta(days=180)))
    _, t_day_warm = _timed(lambda: monitor.calculate_daily_stats(START + timedelta(days=180)))
    trend, t_cold = _timed(lambda: monitor.get_performance_trend(365, end_date=end))
    warm = []
    for _ in range(5):
        warm.append(_timed(lambda: monitor.get_performance_trend(365, end_date=end))[1])
    t_warm = float(np.median(warm))
    monitor.close()
    size_mb = path.stat().st_size / 1e6
    lines = [
        f"### (b) A year of logged predictions: {6 * n_races:,} boat rows ({n_races:,} races, 365 days, "
        f"{one_day['total_races'] if one_day else 0:,} races a day; SQLite file {size_mb:,.0f} MB, "
        f"built with `log_predictions` in {t_build:.0f} s)",
        "",
        "| query | seconds | goal |",
        "|---|---:|---|",
        f"| `calculate_daily_stats(day)`: SQL aggregate of one day + rollup upsert | {t_day:.3f} | < 1 s |",
        f"| same day again (rollup fresh) | {t_day_warm:.4f} | |",
        f"| `get_performance_trend(365)`, cold rollup (all days recomputed in one GROUP BY) | "
        f"{t_cold:.3f} | |",
        f"| `get_performance_trend(365)`, from the rollup (median of 5) | {t_warm * 1000:.1f} ms | < 50 ms |",
        "",
        f"The trend returned {len(trend)} days.",
    ]
    return lines, path, n_races


_EVIDENTLY_SCRIPT = r"""
import json, sys, time
import pandas as pd
t0 = time.perf_counter()
from evidently import DataDefinition, Dataset, MulticlassClassification, Report
from evidently.metrics import Accuracy
t_import = time.perf_counter() - t0
frame = pd.read_csv(sys.argv[1])
task = MulticlassClassification(target="target", prediction_labels="prediction")
definition = DataDefinition(classification=[task])
values = {}
t0 = time.perf_counter()
for day, part in frame.groupby("day", sort=True):
    data = Dataset.from_pandas(part[["target", "prediction"]], data_definition=definition)
    snapshot = Report([Accuracy()]).run(data, None)
    values[day] = snapshot.dict()["metrics"][0]["value"]
import evidently
print(json.dumps({"values": values, "seconds": time.perf_counter() - t0, "import_seconds": t_import,
                  "version": evidently.__version__, "pandas": pd.__version__}))
"""


def bench_evidently(workdir: Path, path: Path, days: int) -> list[str]:
    from stagewise.monitor import PerformanceMonitor

    end = START + timedelta(days=days - 1)
    monitor = PerformanceMonitor(monitor_db=path)
    export_sql = (
        "SELECT p.race_date AS day, r.result AS result, p.predicted_order AS predicted "
        "FROM race_predictions p JOIN races r ON r.race_id = p.race_id WHERE p.race_date BETWEEN ? AND ?"
    )
    con = sqlite3.connect(path)
    records = con.execute(export_sql, (START.isoformat(), end.isoformat())).fetchall()
    con.close()
    rows = []
    for day, result, predicted in records:
        winner = next(int(p) for p, r in json.loads(result).items() if r == 1)
        rows.append(f"{day},{winner},{predicted.split('-')[0]}")
    csv = workdir / "daily_winners.csv"
    csv.write_text("day,target,prediction\n" + "\n".join(rows) + "\n")

    # ours: stats straight from the ledger (SQL), cold rollup and warm
    from sqlalchemy import delete

    from stagewise.monitor.schema import daily_performance

    monitor.store.write(lambda c: c.execute(delete(daily_performance)))
    ours, t_cold = _timed(lambda: monitor.get_performance_trend(days, end_date=end))
    _, t_warm = _timed(lambda: monitor.get_performance_trend(days, end_date=end))
    monitor.close()

    python = os.environ.get("STAGEWISE_EVIDENTLY_PYTHON", sys.executable)
    proc = subprocess.run(
        [python, "-c", _EVIDENTLY_SCRIPT, str(csv)], capture_output=True, text=True, timeout=3600, check=False
    )
    if proc.returncode != 0:
        reason = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
        return [
            f"### (c) Evidently: not run: `{python}` could not run it ({reason}).",
            "Set STAGEWISE_EVIDENTLY_PYTHON to an interpreter with `evidently` and `pandas<3`.",
        ]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    theirs = out["values"]
    diffs = [abs(d["hit_rate_1st"] - theirs[d["date"]]) for d in ours]
    t_ev = out["seconds"]
    return [
        f"### (c) The daily accuracy series over {days} days ({len(rows):,} races) with Evidently "
        f"{out['version']} (pandas {out['pandas']}, interpreter `{python}`)",
        "",
        "| method | seconds | ratio |",
        "|---|---:|---:|",
        "| Evidently `Report([Accuracy()])` per day, on an exported frame "
        f"(import {out['import_seconds']:.1f} s "
        f"not counted) | {t_ev:.2f} | {t_ev / t_cold:,.0f}x our cold |",
        f"| `get_performance_trend({days})`, cold rollup (SQL GROUP BY over the ledger) | {t_cold:.3f} | 1 |",
        f"| `get_performance_trend({days})`, warm rollup | {t_warm:.4f} | "
        f"{t_ev / t_warm:,.0f}x faster than Evidently |",
        "",
        f"Largest difference between the two series: {max(diffs):.2e} over {len(diffs)} days "
        "(Evidently's accuracy of the predicted winner equals our `hit_rate_1st`). Ours also gives the",
        "trifecta, trio, score accuracy and Wilson intervals in the same query; the export step for",
        "Evidently is not timed.",
    ]


def main() -> None:
    n = int(os.environ.get("STAGEWISE_BENCH_MONITOR_RACES", "20000"))
    boats = int(os.environ.get("STAGEWISE_BENCH_MONITOR_BOATS", "10000000"))
    days = int(os.environ.get("STAGEWISE_BENCH_EVIDENTLY_DAYS", "30"))
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench_monitor_") as tmp:
        workdir = Path(tmp)
        print("(a) ingestion ...", flush=True)
        lines_a, _ = bench_ingestion(workdir, n)
        print("\n".join(lines_a), flush=True)
        print("(b) building a year ...", flush=True)
        lines_b, path, _ = bench_year(workdir, boats)
        print("\n".join(lines_b), flush=True)
        print("(c) evidently ...", flush=True)
        lines_c = bench_evidently(workdir, path, days)
    load_end = os.getloadavg()[0]
    load = (
        f"Load average (1 min) at start / end: {load_start:.1f} / {load_end:.1f} on {os.cpu_count()} cores."
    )
    env = " ".join(
        f"{k}={os.environ[k]}"
        for k in (
            "STAGEWISE_BENCH_MONITOR_RACES",
            "STAGEWISE_BENCH_MONITOR_BOATS",
            "STAGEWISE_EVIDENTLY_PYTHON",
        )
        if k in os.environ
    )
    write_section(
        "monitor",
        f"{env + ' ' if env else ''}.venv/bin/python bench/run.py monitor",
        "\n".join([load, "", *lines_a, "", *lines_b, "", *lines_c]),
    )


if __name__ == "__main__":
    main()
