"""Log a day of race predictions before the races, their results after, then read the day back.

What it teaches
---------------
* The seed's ``PerformanceMonitor`` calls work unchanged: ``log_prediction(race_id, race_date,
  venue_code, race_number, predictions, actual_results, integration_mode, feature_flags)`` with
  predictions best first (``pit_number``, ``total_score``) and results in finish order
  (``pit_number``, ``rank``), then ``calculate_daily_stats``, ``check_alerts``,
  ``get_performance_trend`` and ``generate_report``.
* A prediction logged before its race is *pending* (the seed dropped it); ``log_result`` settles it.
* A boat that did not finish is given by its status (``"F"``, ``"転"`` ...), never dropped.
* The ledger is SQLite ``data/monitor.db`` with the seed's tables; a PostgreSQL URL works the same.

Run it::

    .venv/bin/python examples/03_monitor_a_day.py [WORKDIR]

Writes WORKDIR/data/monitor.db and WORKDIR/temp/monitor/report.txt and .html (default WORKDIR: a
new temporary directory). Under 10 s.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from stagewise import PerformanceMonitor, simulate_races

DAY = "2025-11-17"


def finish_order(race: pd.DataFrame) -> list[dict[str, Any]]:
    """The seed's ``actual_results``: finishers by rank, then the boats that did not finish."""
    finished = race[race["status"] == "finished"].sort_values("finish_position")
    out: list[dict[str, Any]] = [
        {"pit_number": int(pit), "rank": int(rank)}
        for pit, rank in zip(finished["pit"], finished["finish_position"], strict=True)
    ]
    others = race[race["status"] != "finished"]
    out += [{"pit_number": int(p), "status": s} for p, s in zip(others["pit"], others["status"], strict=True)]
    return out


def main(workdir: Path) -> None:
    races = simulate_races(DAY, DAY, seed=1)
    # notifiers=[]: no Slack/Discord/e-mail from an example, whatever the environment configures.
    monitor = PerformanceMonitor(monitor_db=workdir / "data" / "monitor.db", notifiers=[])

    # Before the races: a naive model that ranks boats by their national win rate, best first.
    for race_id, race in races.groupby("race_id", sort=True):
        ranked = race.sort_values("national_win_rate", ascending=False)
        monitor.log_prediction(
            race_id=race_id,
            race_date=DAY,
            venue_code=f"{int(race['venue_code'].iloc[0]):02d}",
            race_number=int(race["race_number"].iloc[0]),
            predictions=[
                {"pit_number": int(p), "total_score": float(s)}
                for p, s in zip(ranked["pit"], ranked["national_win_rate"], strict=True)
            ],
            actual_results=None,  # not run yet: recorded as pending
            integration_mode="DYNAMIC",
            feature_flags={"dynamic_integration": True},
        )
    before = monitor.calculate_daily_stats(DAY)
    assert before is not None
    print(f"before the races: {before['pending_races']} pending, {before['total_races']} settled")

    # After the races: the results arrive and settle the predictions.
    for race_id, race in races.groupby("race_id", sort=True):
        monitor.log_result(race_id, finish_order(race))

    stats = monitor.calculate_daily_stats(DAY)
    assert stats is not None
    print(f"評価レース数: {stats['total_races']}")
    print(f"1着的中率: {stats['hit_rate_1st']:.2%}  3連単的中率: {stats['hit_rate_top3']:.2%}")
    print(f"スコア精度: {stats['avg_score_accuracy']:.4f}")
    for alert in monitor.check_alerts(date=DAY, stats=stats):
        print(f"[{alert['alert_type']}] {alert['message']}")

    trend = monitor.get_performance_trend(days=7, end_date=DAY)
    print(f"trend: {len(trend)} day(s) with races in the week ending {DAY}")
    written = monitor.generate_report(days=7, output_path=workdir / "temp/monitor/report.txt", end_date=DAY)
    for path in written.values():
        print(f"wrote {path}")
    monitor.close()


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="stagewise-example-"))
    main(target)
