"""``stagewise data simulate`` and ``stagewise data check``: make and check race data files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from stagewise._console import cell, make_console

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["check", "simulate"]


def _print_summary(title: str, path: Path, races: pd.DataFrame) -> None:
    from stagewise.data.races.calibration import calibration_figures

    figures = calibration_figures(races)
    console = make_console()
    facts = Table(title=cell(title), show_header=False, title_justify="left")
    facts.add_column("fact", style="bold")
    facts.add_column("value", overflow="fold")
    facts.add_row("file", cell(path))
    facts.add_row("races", f"{figures.races:,}")
    facts.add_row("boats (rows)", f"{len(races):,}")
    facts.add_row("days", f"{figures.days:,}")
    facts.add_row("venues", str(figures.venues))
    facts.add_row("races per day", f"{figures.races_per_day:.1f}")
    facts.add_row("races per venue-day", f"{figures.races_per_venue_day:.1f}")
    facts.add_row("1-2-3 trifecta", f"{figures.trifecta_123:.2%}")
    facts.add_row("{1,2,3} any order", f"{figures.trio_123:.2%}")
    if figures.lane1_win_rate_by_venue:
        spread = figures.lane1_win_rate_by_venue.values()
        facts.add_row("lane-1 win rate by venue", f"{min(spread):.1%} .. {max(spread):.1%}")
    non_finish = sum(figures.status_rate.values())
    facts.add_row("non-finishes per boat", f"{non_finish:.2%} (F {figures.status_rate['F']:.2%})")
    console.print(facts)
    lanes = Table(title="win rate by lane", title_justify="left")
    for pit in range(1, 7):
        lanes.add_column(f"pit {pit}", justify="right")
    lanes.add_row(*(f"{rate:.1%}" for rate in figures.lane_win_rate))
    console.print(lanes)


def simulate(
    start: Annotated[str, typer.Option("--start", help="First race day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--end", help="Last race day (inclusive), YYYY-MM-DD.")],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="File to write: .parquet or .csv (parent dirs are created)."),
    ] = Path("data/races.parquet"),
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same races.")] = 0,
    venue: Annotated[
        list[int] | None,
        typer.Option("--venue", help="Venue code 1-24 to simulate (repeatable); all by default."),
    ] = None,
) -> None:
    """Simulate kyotei races calibrated to the published national figures, with the oracle.

    Each boat gets its entry data (class, win rates, motor and boat 2-rates, exhibition
    time, average start timing), its result, and the true win probability it was drawn
    from. A year (about 50,000 races) takes a few seconds.

    Example: stagewise data simulate --start 2025-01-01 --end 2025-12-31 --output data/races.parquet
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from stagewise.data.races import RaceSimulator, save_races

    simulator = RaceSimulator(seed=seed, venues=venue)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} days"),
        TimeElapsedColumn(),
        transient=True,
        console=make_console(),
    ) as bar:
        task = bar.add_task("simulating", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        races = simulator.simulate(start, end, progress=advance)
        bar.update(task, description=f"writing {output}")
        written = save_races(races, output)
    _print_summary(f"simulated races (seed {seed})", written, races)


def check(
    path: Annotated[Path, typer.Argument(help="A .csv or .parquet race data file.")],
    min_boats: Annotated[
        int,
        typer.Option("--min-boats", help="Fewest entries a race may have (absent boats kept as 欠 rows)."),
    ] = 6,
) -> None:
    """Validate a race data file and summarise it; otherwise list the first ten problems and their count.

    Example: stagewise data check data/races.parquet
    """
    from stagewise.data.races import load_races

    races = load_races(path, min_boats=min_boats)
    _print_summary("valid race data", path, races)
