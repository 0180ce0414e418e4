"""``stagewise data bars`` and ``stagewise data check-bars``: make and check market bar files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from stagewise._console import cell, make_console

__all__ = ["bars", "check_bars"]


def _print_summary(title: str, facts: dict[str, object]) -> None:
    console = make_console()
    console.print(title, soft_wrap=True, markup=False)  # a long path must stay greppable on one line
    table = Table(show_header=False)
    table.add_column("fact", style="bold")
    table.add_column("value")
    for key, value in facts.items():
        table.add_row(cell(key), cell(f"{value:,.6g}" if isinstance(value, float) else value))
    console.print(table)


def bars(
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write: .parquet or .csv.")],
    source: Annotated[
        str,
        typer.Option("--source", "-s", help="EURUSD (hourly), GOOG (daily), BTCUSD (monthly) or synthetic."),
    ] = "EURUSD",
    n: Annotated[
        int, typer.Option("--n", min=1, max=100_000_000, help="Number of bars (synthetic only).")
    ] = 100_000,
    freq: Annotated[
        str, typer.Option("--freq", help="Bar spacing, e.g. 1min, 1h, 1D (synthetic only).")
    ] = "1h",
    seed: Annotated[int, typer.Option("--seed", help="Random seed (synthetic only).")] = 0,
) -> None:
    """Write validated market bars: a real series bundled with backtesting.py, or synthetic ones.

    Synthetic bars have volatility clustering (GARCH) and regime changes; a million bars take about a second.

    Example: stagewise data bars --source synthetic --n 1000000 --freq 1min --output bars.parquet
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from stagewise.data.markets.summary import bars_summary, make_bars, write_bars

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        transient=True,
        console=make_console(),
    ) as bar:
        task = bar.add_task(f"making {source} bars", total=2)
        frame = make_bars(source, n=n, freq=freq, seed=seed)
        bar.update(task, advance=1, description=f"writing {output}")
        written = write_bars(frame, output)
        bar.update(task, advance=1)
    _print_summary(f"{source} bars -> {written}", bars_summary(frame))


def check_bars(
    path: Annotated[Path, typer.Argument(help="A .csv, .csv.gz, .parquet or .pq file of OHLCV bars.")],
    gaps: Annotated[
        str,
        typer.Option(
            "--gaps", help="error: fail on a gap; allow: report gaps; ffill: count the bars a fill would add."
        ),
    ] = "error",
    freq: Annotated[
        str | None, typer.Option("--freq", help="Expected bar spacing (1h, 1D, ME); default: inferred.")
    ] = None,
    session: Annotated[
        str, typer.Option("--session", help="auto, continuous (24/7) or weekdays (weekends closed).")
    ] = "auto",
) -> None:
    """Validate a bar file: schema, prices, high/low, volume, and gaps under the chosen policy.

    Column spellings such as Open/High/Low/Close/Volume or a Date column are mapped and listed.

    Exits 1 with the timestamp, column and value of the first problem. Gap rule: docs/data-markets.md.
    """
    from stagewise.data.markets.loaders import COLUMNS_MAPPED_ATTR, load_bars
    from stagewise.data.markets.summary import bars_summary

    loaded = load_bars(path, gaps, freq=freq, session=session)  # type: ignore[arg-type]  # checked inside
    mapping = loaded.attrs.get(COLUMNS_MAPPED_ATTR, {})
    facts: dict[str, object] = {
        "columns mapped": ", ".join(f"{k} -> {v}" for k, v in mapping.items()) or "none (canonical)",
    }
    if gaps == "ffill":
        original = load_bars(path, "allow", freq=freq, session=session)  # type: ignore[arg-type]
        facts["bars added by ffill"] = len(loaded) - len(original)
    facts.update(bars_summary(loaded, freq=freq, session=session))  # type: ignore[arg-type]
    _print_summary(f"{path}: valid (gaps={gaps})", facts)
