"""The figures the race simulator is calibrated against, measured on any race data set."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from stagewise.data.races.schema import NON_FINISH_STATUSES, RACER_CLASSES

__all__ = ["CalibrationFigures", "calibration_figures"]


@dataclass(frozen=True, slots=True)
class CalibrationFigures:
    """Published-style national figures of a race data set (shares in 0..1).

    Races in which no boat finished first (every boat a non-starter or non-finisher) count
    in ``races`` but not in the rates.

    Examples
    --------
    >>> from stagewise.data.races import simulate_races
    >>> figures = calibration_figures(simulate_races("2025-01-01", "2025-01-07"))
    >>> figures.races_per_venue_day
    12.0
    """

    races: int
    days: int
    venues: int
    races_per_day: float
    races_per_venue_day: float
    lane_win_rate: tuple[float, ...]
    trifecta_123: float
    trio_123: float
    lane1_win_rate_by_venue: dict[int, float]
    status_rate: dict[str, float]
    class_share: dict[str, float]


def calibration_figures(races: pd.DataFrame) -> CalibrationFigures:
    """Measure win rate by lane, 1-2-3 and {1,2,3} rates, venue spread, volumes and non-finishes."""
    winners = races.loc[races["finish_position"].eq(1).fillna(False), ["race_id", "pit", "venue_code"]]
    top3 = races.loc[races["finish_position"].isin([1, 2, 3]).fillna(False)]
    by_race = top3.sort_values(["race_id", "finish_position"]).groupby("race_id")["pit"].agg(tuple)
    decided = winners["race_id"].nunique()
    ordered = by_race.map(lambda pits: pits == (1, 2, 3))
    trio = by_race.map(lambda pits: len(pits) == 3 and set(pits) == {1, 2, 3})
    lane_win = winners["pit"].value_counts().reindex(range(1, 7), fill_value=0) / max(decided, 1)
    venue_lane1 = winners.assign(lane1=winners["pit"].eq(1)).groupby("venue_code")["lane1"].mean()
    n_races = races["race_id"].nunique()
    n_days = races["race_date"].nunique()
    venue_days = races[["race_date", "venue_code"]].drop_duplicates().shape[0]
    status = races["status"].value_counts() / len(races)
    racers = races.drop_duplicates("racer_id")["racer_class"].value_counts() / max(
        races["racer_id"].nunique(), 1
    )
    return CalibrationFigures(
        races=n_races,
        days=n_days,
        venues=int(races["venue_code"].nunique()),
        races_per_day=n_races / max(n_days, 1),
        races_per_venue_day=n_races / max(venue_days, 1),
        lane_win_rate=tuple(float(x) for x in lane_win),
        trifecta_123=float(ordered.sum()) / max(decided, 1),
        trio_123=float(trio.sum()) / max(decided, 1),
        lane1_win_rate_by_venue={int(str(k)): float(v) for k, v in venue_lane1.items()},
        status_rate={s: float(status.get(s, 0.0)) for s in sorted(NON_FINISH_STATUSES)},
        class_share={c: float(racers.get(c, 0.0)) for c in RACER_CLASSES},
    )
