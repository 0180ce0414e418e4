"""Stage 2, the data: the race data set and, when given, a bar file.

Each file is read through the library's validating loader, so a failure carries the
loader's message (field, bad value, what is accepted) and a success a one-line summary.
Nothing is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from stagewise.check.result import CheckResult, guarded

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["bars_check", "race_data_check", "summarise_races"]


def summarise_races(races: pd.DataFrame) -> dict[str, Any]:
    """Counts a user wants at a glance: races, days, venues, date range, non-finishes."""
    empty = len(races) == 0
    return {
        "races": int(races["race_id"].nunique()),
        "days": int(races["race_date"].nunique()),
        "venues": int(races["venue_code"].nunique()),
        "first_day": "-" if empty else str(races["race_date"].min().date()),
        "last_day": "-" if empty else str(races["race_date"].max().date()),
        "non_finishes": int((races["status"].astype(str) != "finished").sum()),
    }


def race_data_check(path: str | Path) -> tuple[CheckResult, pd.DataFrame | None]:
    """Validate the race data file (CSV/Parquet) against the schema; the result and the races."""
    path = Path(path)
    fix = (
        f"create it: `stagewise data simulate --start 2025-01-01 --end 2025-03-31 --output {path}`, "
        f"or repair the rows named in the detail (`stagewise data check {path}` lists them); "
        "--data points the check at another file"
    )
    loaded: dict[str, pd.DataFrame] = {}

    def run() -> CheckResult:
        from stagewise.data import load_races

        if not path.is_file():
            return CheckResult("race data", False, f"{path} does not exist", fix)
        races = load_races(path)
        facts = summarise_races(races)
        if facts["races"] == 0:
            return CheckResult("race data", False, f"{path} holds no race", fix)
        loaded["races"] = races
        detail = (
            f"{path}: {facts['races']:,} races on {facts['days']} days at {facts['venues']} venues, "
            f"{facts['first_day']} → {facts['last_day']}, {facts['non_finishes']} non-finishing boats"
        )
        return CheckResult("race data", True, detail)

    result = guarded("race data", fix, run)
    return result, loaded.get("races")


def bars_check(path: str | Path) -> CheckResult:
    """Validate a bar file (columns, prices, monotonic time; gaps allowed) and summarise it."""
    path = Path(path)
    fix = f"repair the bar named in the detail; `stagewise data check-bars {path}` shows the file's facts"

    def run() -> CheckResult:
        from stagewise.data import find_gaps, load_bars

        if not path.is_file():
            return CheckResult("bars", False, f"{path} does not exist", fix)
        bars = load_bars(path, "allow")
        if bars.empty:
            return CheckResult("bars", False, f"{path} holds no bar", fix)
        gaps = find_gaps(bars)
        detail = f"{path}: {len(bars):,} bars, {bars.index[0]} → {bars.index[-1]}, {gaps.n_gaps} gap(s)"
        return CheckResult("bars", True, detail)

    return guarded("bars", fix, run)
