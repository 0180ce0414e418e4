"""Race entry features: one row per boat, from pre-race information only.

Every feature is computed from the boat's own entry data and the other entries of the
*same race* (relative exhibition time, start timing, ranks). Results (``finish_position``,
``status``) and the simulator's oracle columns are never read, and no feature looks at
another race, so a race's features are the same whatever else is in the frame.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd

from stagewise._exceptions import DataValidationError

__all__ = ["CLASS_CODES", "RACE_FEATURE_NAMES", "race_entry_features", "race_feature_matrix"]

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
    codes, uniques = pd.factorize(races["race_id"], use_na_sentinel=False)
    inputs: dict[str, npt.NDArray[np.float64]] = {}
    for name in _INPUTS[1:]:
        if name == "racer_class":
            continue
        try:
            inputs[name] = races[name].to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            raise DataValidationError(
                f"Column {name!r} must be numeric; got dtype {races[name].dtype}."
            ) from None
    columns = _feature_columns(
        inputs,
        races["racer_class"].to_numpy(dtype=object),
        _Groups(np.asarray(codes, dtype=np.int64), len(uniques)),
    )
    return pd.DataFrame(columns, index=races.index)


def race_feature_matrix(
    inputs: Mapping[str, npt.NDArray[np.float64]], racer_class: npt.NDArray[np.object_]
) -> npt.NDArray[np.float64]:
    """The features of ONE race's entries as a float64 matrix, columns :data:`RACE_FEATURE_NAMES`.

    The server's path: no DataFrame is built, and the values are bit-identical to the rows of
    :func:`race_entry_features` for the same race. ``inputs`` holds the numeric input columns
    (``pit``, ``venue_code``, the rates and times). A race without missing values (every server
    request) takes a short path of a few whole-matrix numpy calls: means summed entry after entry
    from 0.0 and divided by the count, ranks counted from lower and tied peers, exactly as the
    per-race code below computes them; anything else goes through that code.

    Examples
    --------
    >>> from stagewise.data import simulate_races
    >>> race = simulate_races("2025-01-01", "2025-01-01", venues=[24]).head(6)
    >>> inputs = {n: race[n].to_numpy(dtype=float) for n in _INPUTS if n not in ("race_id", "racer_class")}
    >>> X = race_feature_matrix(inputs, race["racer_class"].to_numpy(dtype=object))
    >>> bool((X == race_entry_features(race).to_numpy()).all())
    True
    """
    codes = [_CLASS_FLOATS.get(c, np.nan) for c in racer_class]
    base = np.column_stack([inputs["pit"], inputs["venue_code"], codes, *(inputs[n] for n in _PLAIN)])
    if base.dtype != np.float64 or not np.isfinite(base).all():
        one_race = _Groups(np.zeros(len(racer_class), dtype=np.int64), 1)
        columns = _feature_columns(inputs, racer_class, one_race)
        return np.ascontiguousarray(np.column_stack(list(columns.values())))
    n = len(codes)
    out = np.empty((n, len(RACE_FEATURE_NAMES)), dtype=np.float64)
    out[:, : len(_BASE)] = base
    relative = base[:, _RELATIVE_OF]
    # row after row from 0.0, as _Groups.centred's bincount adds them: the same rounding
    total = np.add.reduce(relative, axis=0, initial=0.0)
    out[:, len(_BASE) : len(_BASE) + len(_RELATIVE_OF)] = relative - total / float(n)
    ranked = base[:, _RANKED_OF] * _RANK_SIGN
    below = (ranked[None, :, :] < ranked[:, None, :]).sum(axis=1)
    tied = (ranked[None, :, :] == ranked[:, None, :]).sum(axis=1)
    out[:, len(_BASE) + len(_RELATIVE_OF) :] = below + (tied + 1) / 2.0
    return out


# the one-race path's layout: the 9 input columns, then the race-relative and rank columns of them
_BASE = RACE_FEATURE_NAMES[:9]
_PLAIN = _BASE[3:]
_CLASS_FLOATS = {name: float(code) for name, code in CLASS_CODES.items()}
_RELATIVE_OF = [_BASE.index(n.removesuffix("_rel")) for n in RACE_FEATURE_NAMES if n.endswith("_rel")]
_RANKED_OF = [_BASE.index(n.removesuffix("_rank")) for n in RACE_FEATURE_NAMES if n.endswith("_rank")]
# rank 1 = the highest win rate, the fastest exhibition and start (as _feature_columns ranks them)
_RANK_SIGN = np.array([-1.0 if n == "national_win_rate_rank" else 1.0 for n in RACE_FEATURE_NAMES[15:]])


def _feature_columns(
    inputs: Mapping[str, npt.NDArray[np.float64]], classes: npt.NDArray[np.object_], groups: _Groups
) -> dict[str, npt.NDArray[np.float64]]:
    """Every feature column, in :data:`RACE_FEATURE_NAMES` order, from the numeric inputs and classes."""
    known = [classes == name for name in CLASS_CODES]
    unknown = sorted({str(c) for c in classes[~np.logical_or.reduce(known)]})
    if unknown:
        raise DataValidationError(
            f"Column 'racer_class' has values {unknown!r}; accepted: {sorted(CLASS_CODES)!r}."
        )
    columns: dict[str, npt.NDArray[np.float64]] = {
        "class_code": np.select(known, [float(v) for v in CLASS_CODES.values()], np.nan),
        **inputs,
    }
    for name in ("national_win_rate", "local_win_rate", "motor_2rate", "class_code"):
        columns[f"{name}_rel"] = groups.centred(columns[name])
    for name in ("exhibition_time", "avg_start_timing"):
        columns[f"{name}_rel"] = groups.centred(columns[name])
    columns["national_win_rate_rank"] = groups.rank(-columns["national_win_rate"])
    columns["exhibition_time_rank"] = groups.rank(columns["exhibition_time"])
    columns["avg_start_timing_rank"] = groups.rank(columns["avg_start_timing"])
    return {name: columns[name] for name in RACE_FEATURE_NAMES}


class _Groups:
    """Per-race means and ranks with numpy (one race or a million rows, same code path)."""

    def __init__(self, codes: npt.NDArray[np.int64], n_groups: int) -> None:
        self.codes = codes
        self.n_groups = n_groups
        order = np.argsort(codes, kind="stable")
        sizes = np.bincount(codes, minlength=n_groups)
        first = np.cumsum(sizes) - sizes
        self.order = order
        self.slot = np.arange(codes.size) - first[codes[order]]
        self.width = int(sizes.max()) if codes.size else 0

    def centred(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """``x`` minus the mean of its race (missing values skipped, like pandas)."""
        known = ~np.isnan(x)
        total = np.bincount(self.codes, weights=np.where(known, x, 0.0), minlength=self.n_groups)
        count = np.bincount(self.codes, weights=known.astype(np.float64), minlength=self.n_groups)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / count
        out: npt.NDArray[np.float64] = x - mean[self.codes]
        return out

    def rank(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Rank of ``x`` within its race, smallest first, ties sharing the mean rank (pandas 'average')."""
        padded = np.full((self.n_groups, self.width), np.nan)
        padded[self.codes[self.order], self.slot] = x[self.order]
        peers = padded[self.codes]  # (n, width): the values of each row's race
        below = (peers < x[:, None]).sum(axis=1)
        tied = (peers == x[:, None]).sum(axis=1)
        out: npt.NDArray[np.float64] = np.where(np.isnan(x), np.nan, below + (tied + 1) / 2.0)
        return out
