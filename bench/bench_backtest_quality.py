"""Model quality against the best achievable: the default race model against the simulator's oracle.

Run: ``.venv/bin/python bench/run.py backtest_quality`` (about 10 minutes on 2 cores). One simulated
year (2025, all venues, seed 0), windows 30/7/7 days from 2025-01-31 to 2025-12-31, the default
``ProductionEnsemble`` refitted every step, twice: boats 2-6 ordered by the place model (the
default) and by win probability. Goal: >= 97 % of the oracle's win hit rate and >= 90 % of its
trifecta hit rate, with day-block bootstrap intervals of the share.
"""

from __future__ import annotations

import tempfile
from typing import Any

from _report import write_section
from stagewise.backtest import WalkForwardBacktest
from stagewise.data.races.simulator import simulate_races

START, END, TRAIN, TEST, STEP = "2025-01-31", "2025-12-31", 30, 7, 7


def run(races: Any, places: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as out:
        bt = WalkForwardBacktest("races", data=races, places=places, html=False)  # type: ignore[arg-type]
        return bt.run_walkforward(START, END, TRAIN, TEST, STEP, out)


def main() -> None:
    races = simulate_races("2025-01-01", "2025-12-31", seed=0)
    results = {places: run(races, places) for places in ("model", "win_order")}
    base = results["model"]["baselines"]

    def row(name: str, key: str) -> str:
        cells = []
        for places in ("model", "win_order"):
            overall = results[places]["summary"]["overall"][key]
            share = results[places]["oracle_share"][key]
            cells.append(
                f"{overall:.2%} (**{share['share']:.1%}**, {share['low']:.1%} – {share['high']:.1%})"
            )
        return f"| {name} | {' | '.join(cells)} | {base['oracle'][key]:.2%} | {base['lane_order'][key]:.2%} |"

    s = results["model"]["summary"]
    body = "\n".join(
        [
            f"One simulated year: {races.race_id.nunique():,} races; windows {TRAIN}/{TEST}/{STEP} days, "
            f"{s['total_steps']} steps, {s['total_races']:,} races evaluated, default `ProductionEnsemble` "
            "refitted every step. Each cell: the model's hit rate (its share of the oracle's, day-block "
            "bootstrap 95 % interval of the share). The oracle is the simulator's true probabilities "
            "(its trifecta pick is the single most probable ordered trifecta).",
            "",
            "| metric | places by the place model (default) | places by win probability | oracle | "
            "lane order 1-2-3 |",
            "|---|---:|---:|---:|---:|",
            row("win hit rate (goal ≥ 97 % of oracle)", "hit_rate_1st"),
            row("trifecta hit rate (goal ≥ 90 % of oracle)", "hit_rate_top3"),
            row("trio hit rate", "hit_rate_trio"),
        ]
    )
    write_section("backtest_quality", ".venv/bin/python bench/run.py backtest_quality", body)


if __name__ == "__main__":
    main()
