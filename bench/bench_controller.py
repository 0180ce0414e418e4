"""The controller's daily run over a 1,000,000-row ledger with 3 declared guardrails: time and ledger queries.

One SQLite ledger of settled race predictions over 60 days (``CONTROLLER_BENCH_ROWS``, default
1,000,000): control and the challenger (``on``) at 10 % for 30 days, then at 50 % (each race drawn to
the challenger with the stage's share), about 16,700 races a day. The rollout
is a file config whose health policy declares three guardrails (``win_hit``, ``trifecta_hit``,
``score_accuracy``); the run is ``run_controller(..., dry_run=True)``: the daily decision without
writing it, so every run reads the same state.

The rows are the monitor's own ``race_predictions`` rows: a few hundred template races go through the
monitor's public validation and scoring (``normalise_race`` + ``prediction_row``, what
``log_prediction`` writes), and each of the million rows is one template with its own race id, day and
variant, inserted with the ledger's ``bulk_insert``. The ``races`` and ``boat_predictions`` tables stay
empty: the controller reads only ``race_predictions``. The ledger and the config are cached in
``$TMPDIR/stagewise_bench_controller/`` (delete it to rebuild).

*Before* are the controllers of :data:`BEFORE_COMMITS` (one query per group, plus one for the pending
days; then every row of the range in one query, summed in pandas), each run in a subprocess on the same
files from ``git archive`` of that commit's ``src``, once; *after* is this checkout, best of
:data:`REPEATS`: the database sums each day's outcomes per group (one ``GROUP BY`` query) and the
guardrails are judged on those sums. Each reports wall time and the
process's CPU time (``time.process_time``: on a shared machine the wall time grows with the load, the CPU
time much less); ledger queries are counted with SQLAlchemy's ``before_cursor_execute`` event on the
monitor's engine (statements on ``race_predictions``).

Run: ``.venv/bin/python bench/run.py controller``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from _report import write_section

BEFORE_COMMITS = {
    "ec9289c": "a read per group",
    "a3016fa": "every row read once",
}
"""Earlier controllers, oldest first: one query per group, then every row of a range read once (before
the database summed each day's outcomes)."""
ROWS = int(os.environ.get("CONTROLLER_BENCH_ROWS", "1000000"))
DAYS = 60
START = date(2026, 9, 1)
FEATURE = "probability_calibration"
REPEATS = 3
GUARDRAILS = [
    {"name": "win", "metric": "win_hit"},
    {"name": "trifecta", "metric": "trifecta_hit"},
    {"name": "score", "metric": "score_accuracy"},
]
HERE = Path(__file__).resolve().parent
CACHE = Path(tempfile.gettempdir()) / "stagewise_bench_controller"


def _templates(rng: np.random.Generator, n: int = 300) -> list[dict[str, Any]]:
    """Scored ``race_predictions`` rows from the monitor's own validation and scoring."""
    from stagewise.monitor.inputs import normalise_race
    from stagewise.monitor.ledger import prediction_row

    now = datetime(2026, 11, 1, 6, 0)
    rows = []
    for i in range(n):
        u = rng.random()
        if u < 0.10:
            order = [1, 2, 3, *rng.permutation([4, 5, 6]).tolist()]  # trifecta (and win)
        elif u < 0.32:
            order = [1, *rng.permutation([2, 3, 4, 5, 6]).tolist()]  # win
        else:
            order = rng.permutation([1, 2, 3, 4, 5, 6]).tolist()
        entry = normalise_race(
            race_id=f"t{i}", race_date=START, venue_code=1, race_number=1,
            predictions=[{"pit_number": p, "total_score": 1.0 / p} for p in range(1, 7)],
            actual_results=[{"pit_number": p, "rank": r} for r, p in enumerate(order, 1)],
            integration_mode="DYNAMIC", variant="control",
        )  # fmt: skip
        rows.append(prediction_row(entry, entry.result, now))
    return rows


def _share(day: int) -> float:
    return 0.10 if day < DAYS // 2 else 0.50


def build(directory: Path) -> tuple[Path, Path]:
    """The cached ledger and rollout config (built once)."""
    from stagewise.monitor import PerformanceMonitor
    from stagewise.monitor.ledger import bulk_insert, chunks
    from stagewise.monitor.schema import race_predictions

    db, config = directory / f"ledger_{ROWS}.db", directory / f"rollout_{ROWS}.json"
    if db.exists() and config.exists():
        return db, config
    directory.mkdir(parents=True, exist_ok=True)
    partial = db.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    rng = np.random.default_rng(14)
    templates = _templates(rng)
    columns = list(templates[0])
    per_day = ROWS // DAYS
    monitor = PerformanceMonitor(monitor_db=partial, notifiers=[])
    pick = rng.integers(0, len(templates), ROWS)
    n = 0
    for d in range(DAYS):
        day = START + timedelta(days=d)
        count = per_day if d < DAYS - 1 else ROWS - per_day * (DAYS - 1)
        on = rng.random(count) < _share(d)
        rows = []
        for i in range(count):
            row = dict(templates[pick[n]])
            row.update(
                race_id=f"{day:%Y%m%d}{i:06d}", race_date=day, race_number=1 + i % 12,
                variant="on" if on[i] else "control",
            )  # fmt: skip
            rows.append(tuple(row[c] for c in columns))
            n += 1
        for part in chunks(rows, 50_000):
            monitor.store.write(lambda conn, p=part: bulk_insert(conn, race_predictions, p, columns))
    monitor.close()
    _rollout(config)
    partial.rename(db)
    return db, config


def _rollout(config: Path) -> None:
    from stagewise.rollout import GradualRollout

    config.unlink(missing_ok=True)
    clock = _Clock(datetime.combine(START, datetime.min.time(), UTC).replace(hour=5))
    rollout = GradualRollout(config, now=clock, refresh_interval=0, actor="bench", create_defaults=False)
    rollout.add_feature(FEATURE, stage="10%", salt=f"{FEATURE}:bench", reason="canary")
    clock.at = clock.at + timedelta(days=DAYS // 2)
    rollout.update_rollout_stage(FEATURE, "50%", reason="healthy")


class _Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def _recorder(statements: list[str]) -> Any:
    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        statements.append(statement)

    return record


def measure(db: Path, config: Path, repeats: int = REPEATS) -> dict[str, Any]:
    """Best wall time of the daily run over :data:`REPEATS`, its ledger queries and decision."""
    from sqlalchemy import event

    from stagewise.monitor import PerformanceMonitor
    from stagewise.rollout import GradualRollout
    from stagewise.rollout.controller_runner import run_controller
    from stagewise.rollout.health import RACES_POLICY, load_policy

    now = datetime.combine(START + timedelta(days=DAYS), datetime.min.time(), UTC).replace(hour=5)
    policy = load_policy({**RACES_POLICY.model_dump(), "guardrails": GUARDRAILS})
    best, cpu, queries, action, guardrails, reason = float("inf"), float("inf"), 0, "", "", ""
    for _ in range(repeats):
        monitor = PerformanceMonitor(monitor_db=db, notifiers=[])
        statements: list[str] = []
        event.listen(monitor.store.engine, "before_cursor_execute", _recorder(statements))
        rollout = GradualRollout(
            config, now=_Clock(now), refresh_interval=0, actor="bench", health_policy=policy,
            create_defaults=False,
        )  # fmt: skip
        began, began_cpu = time.perf_counter(), time.process_time()
        decision = run_controller(rollout, monitor, FEATURE, now=now, dry_run=True)
        best = min(best, time.perf_counter() - began)
        cpu = min(cpu, time.process_time() - began_cpu)
        queries = sum("race_predictions" in s or "market_signals" in s for s in statements)
        action = decision.action
        guardrails = (decision.numbers.get("guardrails") or {}).get("action", "")
        reason = decision.reasons[0] if decision.reasons else ""
        monitor.close()
    return {
        "seconds": best, "cpu": cpu, "queries": queries, "action": action, "guardrails": guardrails,
        "reason": reason,
    }  # fmt: skip


def _ledger_for(db: Path, source: Path) -> Path:
    """A copy of the ledger at the newest schema revision ``source`` knows (an older controller cannot open
    a ledger stamped with a later revision); the ledger itself when it knows them all."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    versions = sorted((source / "src/stagewise/monitor/migrations/versions").glob("0*.py"))
    revision = versions[-1].name.split("_")[0]
    copy = db.with_name(f"{db.stem}_at_{revision}.db")
    if not copy.exists():
        partial = copy.with_suffix(".partial")
        shutil.copyfile(db, partial)
        engine = create_engine(f"sqlite:///{partial}")
        with engine.begin() as conn:
            cfg = Config()
            cfg.set_main_option("script_location", str(HERE.parent / "src/stagewise/monitor/migrations"))
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, revision)
        engine.dispose()
        partial.rename(copy)
    return copy


def _before(db: Path, config: Path, commit: str) -> dict[str, Any] | None:
    """The same run on ``commit``'s source, in a subprocess (None outside a git checkout)."""
    source = CACHE / f"src_{commit}"
    if not source.exists():
        archive = subprocess.run(
            ["git", "archive", commit, "src"], cwd=HERE.parent, capture_output=True, check=False
        )
        if archive.returncode != 0:
            return None
        source.mkdir(parents=True)
        subprocess.run(["tar", "-x", "-C", str(source)], input=archive.stdout, check=True)
    env = {**os.environ, "PYTHONPATH": str(source / "src")}
    out = subprocess.run(
        [sys.executable, str(Path(__file__)), "--measure", str(_ledger_for(db, source)), str(config), "1"],
        env=env, capture_output=True, text=True, check=True, cwd=HERE,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    began = time.perf_counter()
    db, config = build(CACHE)
    built = time.perf_counter() - began
    load = os.getloadavg()
    after = measure(db, config)
    befores = {commit: _before(db, config, commit) for commit in BEFORE_COMMITS}
    load_after = os.getloadavg()
    rows = [
        "| controller | daily run, wall | CPU | ledger queries | decision | guardrails |",
        "|---|---|---|---|---|---|",
    ]
    named = [(f"before ({c}: {what}, 1 run)", befores[c]) for c, what in BEFORE_COMMITS.items()]
    for name, r in [*named, ("after (this checkout: daily sums, best of 3)", after)]:
        if r is not None:
            rows.append(
                f"| {name} | {r['seconds']:.2f} s | {r['cpu']:.2f} s | {r['queries']} | {r['action']} "
                f"| {r['guardrails']} |"
            )
    ratio = (
        "; ".join(
            f"{c} / after: {r['seconds'] / after['seconds']:.1f}× (CPU {r['cpu'] / after['cpu']:.1f}×)"
            for c, r in befores.items()
            if r is not None
        )
        or "n/a"
    )
    body = "\n".join(
        [
            f"`run_controller` (dry run) over a SQLite ledger of {ROWS:,} settled race predictions on "
            f"{DAYS} days (control and `on`, 10 % then 50 %), health policy with 3 declared guardrails "
            "(win_hit, trifecta_hit, score_accuracy). Queries = statements on `race_predictions`.",
            "",
            *rows,
            "",
            f"{ratio}; goal ≤ 5 s wall: {'met' if after['seconds'] <= 5 else 'NOT met'}. "
            f"The decision's first reason: {after['reason']}. "
            f"Ledger build (cached): {built:.1f} s. Load average before/after: "
            f"{load[0]:.2f} / {load_after[0]:.2f} (1 min).",
        ]
    )
    write_section("controller", ".venv/bin/python bench/run.py controller", body)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--measure"]:
        print(json.dumps(measure(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))))
    else:
        main()
