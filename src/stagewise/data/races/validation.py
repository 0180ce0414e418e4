"""``validate_races``: check a race data set against the schema, row by row and race by race.

Every problem is reported with the race, the field and the value; the error lists the
first few and counts them all. Nothing is dropped or clamped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from stagewise._exceptions import DataValidationError
from stagewise.data.races.schema import (
    DTYPES,
    FINISHED,
    NON_FINISH_STATUSES,
    ODDS_COLUMNS,
    ORACLE_COLUMNS,
    RACER_CLASSES,
    REQUIRED_COLUMNS,
)

__all__ = ["validate_races"]

_SHOWN = 10
_INT_RANGES = {"venue_code": (1, 24), "race_number": (1, 12), "pit": (1, 6), "racer_id": (1, None)}
#: Accepted ranges of the numeric entry fields (inclusive); values outside are data errors.
FLOAT_RANGES: dict[str, tuple[float, float]] = {
    "national_win_rate": (0.0, 10.0),
    "local_win_rate": (0.0, 10.0),
    "motor_2rate": (0.0, 100.0),
    "boat_2rate": (0.0, 100.0),
    "exhibition_time": (5.0, 9.0),
    "avg_start_timing": (0.0, 1.0),
}
_STATUSES = sorted(NON_FINISH_STATUSES)


@dataclass
class _Problems:
    messages: list[str] = field(default_factory=list)
    count: int = 0

    def add(
        self, frame: pd.DataFrame, mask: pd.Series, column: str, rule: str, values: pd.Series | None = None
    ) -> None:
        """Record every row in ``mask`` breaking ``rule`` on ``column``."""
        hits = mask.fillna(True).to_numpy(dtype=bool)
        n = int(hits.sum())
        if not n:
            return
        self.count += n
        shown = values if values is not None else frame[column]
        for race_id, value in zip(
            frame["race_id"].to_numpy()[hits][:_SHOWN], shown.to_numpy()[hits][:_SHOWN], strict=True
        ):
            if len(self.messages) < _SHOWN:
                self.messages.append(f"race {race_id!s}: field '{column}' value {_show(value)}: {rule}")

    def raise_if_any(self) -> None:
        if self.count:
            head = f"{self.count} problem(s) in the race data"
            more = f" (showing the first {len(self.messages)})" if self.count > len(self.messages) else ""
            raise DataValidationError(head + more + ":\n  " + "\n  ".join(self.messages))


def _show(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return "missing"
    return repr(value.item() if isinstance(value, np.generic) else value)


def validate_races(races: pd.DataFrame, min_boats: int = 6) -> pd.DataFrame:
    """Check ``races`` against the schema and return it with schema dtypes, sorted.

    Rows are sorted by race_date, venue_code, race_number and pit, with a fresh index;
    columns are the schema's (then the oracle columns if present, then any others). Row rules
    are checked first; the rules across a race's rows (duplicate pits, boats per race, two
    winners, ranks without gaps, one date per race) once every row is well-formed.

    Parameters
    ----------
    races : DataFrame
        One row per boat, columns as in docs/data-races.md.
    min_boats : int, default 6
        Fewest entries a race may have. Kyotei races have six; keep an absent boat as a row
        with status ``欠`` rather than dropping it, or lower this for data sets that drop them.

    Raises
    ------
    DataValidationError
        Listing the first problems (race, field, value, rule) and how many there are.

    Examples
    --------
    >>> from stagewise.data import simulate_races
    >>> races = simulate_races("2025-01-01", "2025-01-01", venues=[24])
    >>> len(validate_races(races)) == len(races)
    True
    >>> bad = races.copy()
    >>> bad.loc[0, "pit"] = 7
    >>> validate_races(bad)
    Traceback (most recent call last):
    ...
    stagewise._exceptions.DataValidationError: 1 problem(s) in the race data:
      race 20250101-24-01: field 'pit' value 7: must be an int in 1..6
    """
    if not isinstance(races, pd.DataFrame):
        raise DataValidationError(f"Race data must be a pandas DataFrame. Got {type(races).__name__}.")
    if isinstance(min_boats, bool) or not isinstance(min_boats, int) or not 1 <= min_boats <= 6:
        raise DataValidationError(
            f"The 'min_boats' parameter must be an int in 1..6. Got {min_boats!r} instead."
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in races.columns]
    if missing:
        raise DataValidationError(
            f"Race data is missing the column(s) {missing!r}; "
            f"required columns are {list(REQUIRED_COLUMNS)!r}."
        )
    given_odds = [c for c in ODDS_COLUMNS if c in races.columns]
    if given_odds and len(given_odds) != len(ODDS_COLUMNS):
        raise DataValidationError(
            "Odds need their snapshot time: give both 'win_odds' and 'odds_snapshot_min' (minutes before "
            f"the close the odds were read, an int >= 1; final odds are a leak). Got only {given_odds!r}."
        )
    problems = _Problems()
    df = _coerce(races.reset_index(drop=True), problems)
    problems.raise_if_any()
    _check_races(df, problems, min_boats)
    problems.raise_if_any()
    oracle = [c for c in ORACLE_COLUMNS if c in df.columns]
    odds = [c for c in ODDS_COLUMNS if c in df.columns]
    known = {*REQUIRED_COLUMNS, *ORACLE_COLUMNS, *ODDS_COLUMNS}
    extra = [c for c in df.columns if c not in known]
    df = df[[*REQUIRED_COLUMNS, *oracle, *odds, *extra]]
    return df.sort_values(["race_date", "venue_code", "race_number", "pit"], kind="stable").reset_index(
        drop=True
    )


def _coerce(raw: pd.DataFrame, problems: _Problems) -> pd.DataFrame:
    """Schema dtypes; rows whose value cannot take the dtype or leaves its range are problems."""
    df = raw.copy()
    race_id = raw["race_id"]
    problems.add(raw, race_id.isna(), "race_id", "a race_id is required")
    df["race_id"] = race_id.astype("str")
    df.loc[race_id.isna(), "race_id"] = "<missing>"

    date = raw["race_date"]
    parsed = (
        pd.to_datetime(date, errors="coerce", format="ISO8601")
        if date.dtype == object or pd.api.types.is_string_dtype(date)
        else pd.to_datetime(date, errors="coerce")
    )
    problems.add(df, parsed.isna(), "race_date", "is not a date (expected YYYY-MM-DD)", date)
    problems.add(
        df,
        parsed.notna() & parsed.ne(parsed.dt.normalize()),
        "race_date",
        "must be a date without a time of day",
        date,
    )
    df["race_date"] = parsed.astype("datetime64[ns]")

    for column, (low, high) in _INT_RANGES.items():
        number = pd.to_numeric(raw[column], errors="coerce")
        bad = number.isna() | number.ne(np.floor(number)) | number.lt(low)
        if high is not None:
            bad |= number.gt(high)
        rule = f"must be an int in {low}..{high}" if high is not None else f"must be an int >= {low}"
        problems.add(df, bad, column, rule, raw[column])
        df[column] = number.where(~bad, 0).astype("int64")

    classes = raw["racer_class"]
    problems.add(df, ~classes.isin(RACER_CLASSES), "racer_class", f"must be one of {list(RACER_CLASSES)!r}")
    df["racer_class"] = classes.astype("str")

    for column, (lowest, highest) in FLOAT_RANGES.items():
        value = pd.to_numeric(raw[column], errors="coerce").astype("float64")
        problems.add(df, value.isna(), column, "a number is required (missing or not numeric)", raw[column])
        out_of_range = value.lt(lowest) | value.gt(highest)
        problems.add(df, out_of_range, column, f"must be in {lowest}..{highest}", raw[column])
        df[column] = value

    status = raw["status"]
    problems.add(
        df, ~status.isin([FINISHED, *_STATUSES]), "status", f"must be {FINISHED!r} or one of {_STATUSES!r}"
    )
    df["status"] = status.astype("str")
    position = pd.to_numeric(raw["finish_position"], errors="coerce").astype("float64")
    given = raw["finish_position"].notna()
    whole = position.notna() & position.eq(position.round()) & position.between(1, 6)
    bad_rank = given & ~whole
    problems.add(df, bad_rank, "finish_position", "must be an int in 1..6 or empty", raw["finish_position"])
    finished = df["status"].eq(FINISHED)
    problems.add(
        df,
        given & ~finished & df["status"].isin(_STATUSES),
        "finish_position",
        "a rank is given for a boat with a non-finish status (leave it empty)",
        raw["finish_position"],
    )
    problems.add(
        df,
        finished & ~given,
        "finish_position",
        "a finished boat needs its rank 1..6",
        raw["finish_position"],
    )
    df["finish_position"] = position.where(whole).round().astype("Int64")

    if "true_win_prob" in raw.columns:
        prob = pd.to_numeric(raw["true_win_prob"], errors="coerce").astype("float64")
        problems.add(
            df, prob.isna() | prob.lt(0) | prob.gt(1), "true_win_prob", "must be a probability in 0..1"
        )
        df["true_win_prob"] = prob
    if "oracle_trifecta_position" in raw.columns:
        pos = pd.to_numeric(raw["oracle_trifecta_position"], errors="coerce")
        bad = raw["oracle_trifecta_position"].notna() & ~pos.isin([1, 2, 3])
        problems.add(df, bad, "oracle_trifecta_position", "must be 1, 2, 3 or empty")
        df["oracle_trifecta_position"] = pos.where(~bad).astype("Int64")
    if "win_odds" in raw.columns:
        _coerce_odds(raw, df, problems)
    return df.astype({c: t for c, t in DTYPES.items() if c in ("race_id", "racer_class", "status")})


def _coerce_odds(raw: pd.DataFrame, df: pd.DataFrame, problems: _Problems) -> None:
    """Decimal win odds >= 1.0 (empty only for an absent boat) and a snapshot time >= 1 minute."""
    odds = pd.to_numeric(raw["win_odds"], errors="coerce").astype("float64")
    absent = df["status"].eq("欠") & raw["win_odds"].isna()
    bad = ~absent & (odds.isna() | ~np.isfinite(odds.fillna(0.0)) | odds.lt(1.0))
    problems.add(
        df,
        bad,
        "win_odds",
        "must be decimal odds, a finite number >= 1.0 (1.0: stake back, 元返し), "
        "or empty for an absent (欠) boat",
        raw["win_odds"],
    )
    df["win_odds"] = odds
    minutes = pd.to_numeric(raw["odds_snapshot_min"], errors="coerce")
    bad_minutes = minutes.isna() | minutes.ne(np.floor(minutes)) | minutes.lt(1)
    problems.add(
        df,
        bad_minutes,
        "odds_snapshot_min",
        "must be an int >= 1: minutes before the close the odds were read (final odds are a leak)",
        raw["odds_snapshot_min"],
    )
    df["odds_snapshot_min"] = minutes.where(~bad_minutes, 0).astype("int64")


def _check_races(df: pd.DataFrame, problems: _Problems, min_boats: int) -> None:
    """Rules across the rows of one race."""
    race = df["race_id"]
    problems.add(
        df, df.duplicated(["race_id", "pit"], keep="first"), "pit", "pits 1..6 must each appear once per race"
    )
    size = df.groupby("race_id")["pit"].transform("size")
    problems.add(df, size.gt(6), "pit", "a race has at most 6 boats", size.astype(str) + " boats")
    problems.add(
        df,
        size.lt(min_boats),
        "pit",
        f"a race needs at least {min_boats} boats (min_boats)",
        size.astype(str) + " boats",
    )
    for column in ("race_date", "venue_code", "race_number"):
        spread = df.groupby("race_id")[column].transform("nunique")
        problems.add(df, spread.gt(1), column, "one race_id is logged with two different values")
    keys = df.groupby(["race_date", "venue_code", "race_number"])["race_id"].transform("nunique")
    problems.add(df, keys.gt(1), "race_id", "two race_ids for the same date, venue and race number")
    ranked = df["finish_position"].notna()
    dup = ranked & df.duplicated(["race_id", "finish_position"], keep=False)
    winners = dup & df["finish_position"].eq(1)
    problems.add(df, winners, "finish_position", "two winners in one race")
    problems.add(df, dup & ~winners, "finish_position", "two boats share a rank")
    n_ranked = ranked.groupby(race).transform("sum")
    problems.add(
        df,
        ranked & ~dup & df["finish_position"].gt(n_ranked),
        "finish_position",
        "finishers must be ranked 1..k without gaps (k = boats that finished)",
    )
    if "true_win_prob" in df.columns:
        total = df.groupby("race_id")["true_win_prob"].transform("sum")
        problems.add(df, (total - 1.0).abs().gt(1e-6), "true_win_prob", "must sum to 1 within a race", total)
    if "oracle_trifecta_position" in df.columns:
        marked = df["oracle_trifecta_position"].notna()
        twice = marked & df.duplicated(["race_id", "oracle_trifecta_position"], keep=False)
        problems.add(df, twice, "oracle_trifecta_position", "each of 1, 2, 3 marks one boat per race")
