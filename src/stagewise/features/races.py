"""Race entry features: one row per boat, from pre-race information only.

Every feature is computed from the boat's own entry data and the other entries of the
*same race* (relative exhibition time, start timing, ranks). Results (``finish_position``,
``status``) and the simulator's oracle columns are never read, and no feature looks at
another race, so a race's features are the same whatever else is in the frame.
"""

from __future__ import annotations

import pandas as pd

from stagewise._exceptions import DataValidationError

__all__ = ["CLASS_CODES", "RACE_FEATURE_NAMES", "race_entry_features"]

#: Racer class as an ordinal, higher is stronger.
CLASS_CODES: dict[str, int] = {"A1": 3, "A2": 2, "B1": 1, "B2": 0}

RACE_FEATURE_NAMES: list[str] = [
    "pit",
    "venue_code",
    "class_code",
    "national_win_rate",
    "local_win_rate",
    "motor_2rate",
    "boat_2rate",
    "exhibition_time",
    "avg_start_timing",
    "national_win_rate_rel",
    "local_win_rate_rel",
    "motor_2rate_rel",
    "class_code_rel",
    "exhibition_time_rel",
    "avg_start_timing_rel",
    "national_win_rate_rank",
    "exhibition_time_rank",
    "avg_start_timing_rank",
]

_INPUTS = (
    "race_id",
    "pit",
    "venue_code",
    "racer_class",
    "national_win_rate",
    "local_win_rate",
    "motor_2rate",
    "boat_2rate",
    "exhibition_time",
    "avg_start_timing",
)


def race_entry_features(races: pd.DataFrame) -> pd.DataFrame:
    """Features of every entry, same index as ``races``, columns :data:`RACE_FEATURE_NAMES`.

    ``*_rel`` is the boat's value minus its race's mean; ``*_rank`` its rank in the race
    (1 = best: highest win rate, fastest exhibition, earliest average start; ties share
    the mean rank).

    Examples
    --------
    >>> from stagewise.data import simulate_races
    >>> races = simulate_races("2025-01-01", "2025-01-01", venues=[24])
    >>> features = race_entry_features(races)
    >>> list(features.columns) == RACE_FEATURE_NAMES, len(features) == len(races)
    (True, True)
    """
    missing = [c for c in _INPUTS if c not in races.columns]
    if missing:
        raise DataValidationError(
            f"race_entry_features needs the columns {list(_INPUTS)!r}; missing {missing!r}."
        )
    unknown = sorted(set(races["racer_class"].dropna().astype(str)) - set(CLASS_CODES))
    if unknown or races["racer_class"].isna().any():
        raise DataValidationError(
            f"Column 'racer_class' has values {unknown or [None]!r}; accepted: {sorted(CLASS_CODES)!r}."
        )
    out = pd.DataFrame(index=races.index)
    out["pit"] = races["pit"].astype("float64")
    out["venue_code"] = races["venue_code"].astype("float64")
    out["class_code"] = races["racer_class"].astype(str).map(CLASS_CODES).astype("float64")
    for name in ("national_win_rate", "local_win_rate", "motor_2rate", "boat_2rate"):
        out[name] = races[name].astype("float64")
    out["exhibition_time"] = races["exhibition_time"].astype("float64")
    out["avg_start_timing"] = races["avg_start_timing"].astype("float64")
    group = races["race_id"].astype(str)
    for name in ("national_win_rate", "local_win_rate", "motor_2rate", "class_code"):
        out[f"{name}_rel"] = out[name] - out[name].groupby(group).transform("mean")
    for name in ("exhibition_time", "avg_start_timing"):
        out[f"{name}_rel"] = out[name] - out[name].groupby(group).transform("mean")
    out["national_win_rate_rank"] = out["national_win_rate"].groupby(group).rank(ascending=False)
    out["exhibition_time_rank"] = out["exhibition_time"].groupby(group).rank(ascending=True)
    out["avg_start_timing_rank"] = out["avg_start_timing"].groupby(group).rank(ascending=True)
    return out[RACE_FEATURE_NAMES]
