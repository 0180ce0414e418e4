"""Race entry features of one race in NumPy: :func:`race_entry_features` without pandas overhead.

The library's :func:`stagewise.features.races.race_entry_features` is the definition; this is the
same arithmetic for the six entries of one request (about 100x faster than a pandas groupby on
six rows). ``tests/serve/test_features.py`` checks with Hypothesis that both agree to 1e-12
on arbitrary races, so training and serving cannot drift apart unnoticed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from stagewise.features.races import CLASS_CODES, RACE_FEATURE_NAMES
from stagewise.serve.schemas import RaceEntryIn

__all__ = ["one_race_features"]

_RAW = (
    "national_win_rate",
    "local_win_rate",
    "motor_2rate",
    "boat_2rate",
    "exhibition_time",
    "avg_start_timing",
)


def _rank(values: np.ndarray, *, ascending: bool) -> np.ndarray:
    """pandas ``rank(method="average")``: 1 = smallest (or largest), ties share the mean rank."""
    v = values if ascending else -values
    less = (v[None, :] < v[:, None]).sum(axis=1)
    equal = (v[None, :] == v[:, None]).sum(axis=1)
    ranks: np.ndarray = less + (equal + 1) / 2.0
    return ranks


def one_race_features(entries: Sequence[RaceEntryIn], venue_code: int) -> np.ndarray:
    """Feature matrix (one row per entry, columns :data:`RACE_FEATURE_NAMES`) of one race.

    Examples
    --------
    >>> from stagewise.serve.schemas import RacePredictRequest
    >>> example = RacePredictRequest.model_config["json_schema_extra"]["example"]
    >>> race = RacePredictRequest.model_validate(example)
    >>> one_race_features(race.entries, race.venue_code).shape
    (6, 18)
    """
    n = len(entries)
    cols: dict[str, np.ndarray] = {
        "pit": np.array([e.pit for e in entries], dtype=np.float64),
        "venue_code": np.full(n, float(venue_code)),
        "class_code": np.array([CLASS_CODES[e.racer_class] for e in entries], dtype=np.float64),
    }
    for name in _RAW:
        cols[name] = np.array([getattr(e, name) for e in entries], dtype=np.float64)
    for name in (
        "national_win_rate",
        "local_win_rate",
        "motor_2rate",
        "class_code",
        "exhibition_time",
        "avg_start_timing",
    ):
        cols[f"{name}_rel"] = cols[name] - cols[name].mean()
    cols["national_win_rate_rank"] = _rank(cols["national_win_rate"], ascending=False)
    cols["exhibition_time_rank"] = _rank(cols["exhibition_time"], ascending=True)
    cols["avg_start_timing_rank"] = _rank(cols["avg_start_timing"], ascending=True)
    return np.column_stack([cols[name] for name in RACE_FEATURE_NAMES])
