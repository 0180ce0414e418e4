"""validate_races rejects bad rows naming the race, the field and the value."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from stagewise import DataValidationError
from stagewise.data import validate_races

RACE = "20250101-24-01"
Breaker = Callable[[pd.DataFrame], pd.DataFrame]


def _set(row: int, column: str, value: object) -> Breaker:
    def breaker(df: pd.DataFrame) -> pd.DataFrame:
        df = df.astype({column: object}) if not isinstance(value, int | float) else df
        df.loc[row, column] = value
        return df

    return breaker


def _seventh_boat(df: pd.DataFrame) -> pd.DataFrame:
    extra = df.iloc[[5]].assign(pit=6)
    return pd.concat([df, extra], ignore_index=True)


def _two_winners(df: pd.DataFrame) -> pd.DataFrame:
    first = df.index[df["race_id"].eq(RACE) & df["finish_position"].eq(2)][0]
    df.loc[first, "finish_position"] = 1
    return df


def _rank_with_status(df: pd.DataFrame) -> pd.DataFrame:
    df = df.astype({"status": object})
    df.loc[0, "status"] = "F"
    return df


def _two_dates(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[3, "race_date"] = pd.Timestamp("2025-01-02")
    return df


def _missing_boat(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(index=5).reset_index(drop=True)


def _gap_in_ranks(df: pd.DataFrame) -> pd.DataFrame:
    race = df["race_id"].eq(RACE)
    df.loc[race & df["finish_position"].eq(6), "finish_position"] = pd.NA
    df.loc[race & df["finish_position"].isna(), "status"] = "転"
    df.loc[race & df["finish_position"].eq(5), "finish_position"] = 6  # 1,2,3,4,6
    return df


CASES: list[tuple[str, Breaker, str, str]] = [
    ("duplicate-pit", _set(1, "pit", 1), "'pit' value 1", "pits 1..6 must each appear once per race"),
    ("seven-boats", _seventh_boat, "'pit' value '7 boats'", "at most 6 boats"),
    ("five-boats", _missing_boat, "'pit' value '5 boats'", "at least 6 boats"),
    ("two-winners", _two_winners, "'finish_position' value 1", "two winners in one race"),
    ("rank-7", _set(0, "finish_position", 7), "'finish_position' value 7", "must be an int in 1..6"),
    (
        "rank-with-F",
        _rank_with_status,
        "'finish_position' value",
        "a rank is given for a boat with a non-finish",
    ),
    ("not-a-date", _set(0, "race_date", "2025-02-30"), "'race_date' value '2025-02-30'", "is not a date"),
    ("venue-25", _set(0, "venue_code", 25), "'venue_code' value 25", "1..24"),
    ("race-13", _set(0, "race_number", 13), "'race_number' value 13", "1..12"),
    ("class-C1", _set(0, "racer_class", "C1"), "'racer_class' value 'C1'", "['A1', 'A2', 'B1', 'B2']"),
    ("two-dates", _two_dates, "'race_date'", "two different values"),
    ("nan-rate", _set(2, "national_win_rate", np.nan), "'national_win_rate' value missing", "a number"),
    ("text-rate", _set(2, "motor_2rate", "fast"), "'motor_2rate' value 'fast'", "a number"),
    ("unknown-status", _set(2, "status", "DQ"), "'status' value 'DQ'", "'finished' or one of"),
    (
        "finished-no-rank",
        _set(2, "finish_position", pd.NA),
        "'finish_position' value missing",
        "needs its rank",
    ),
    ("rank-gap", _gap_in_ranks, "'finish_position' value 6", "without gaps"),
    ("prob-out-of-range", _set(0, "true_win_prob", 1.5), "'true_win_prob' value 1.5", "probability"),
    ("exhibition-negative", _set(0, "exhibition_time", -6.7), "'exhibition_time' value -6.7", "5.0..9.0"),
]


@pytest.mark.parametrize(("breaker", "field", "rule"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_row_is_rejected_naming_race_field_and_value(
    one_day: pd.DataFrame, breaker: Breaker, field: str, rule: str
) -> None:
    bad = breaker(one_day.copy())
    with pytest.raises(DataValidationError) as info:
        validate_races(bad)
    message = str(info.value)
    assert f"race {RACE}: field {field}" in message
    assert rule in message


def test_every_problem_is_counted_and_the_first_ten_shown(one_day: pd.DataFrame) -> None:
    bad = one_day.copy()
    bad["venue_code"] = 99
    with pytest.raises(
        DataValidationError, match=r"^72 problem\(s\) in the race data \(showing the first 10\)"
    ):
        validate_races(bad)


def test_missing_column_names_it_and_the_required_ones(one_day: pd.DataFrame) -> None:
    with pytest.raises(DataValidationError, match=r"missing the column\(s\) \['exhibition_time'\]"):
        validate_races(one_day.drop(columns="exhibition_time"))


def test_min_boats_allows_races_that_dropped_an_absent_boat(one_day: pd.DataFrame) -> None:
    five = one_day.drop(index=5).reset_index(drop=True)
    five = five.drop(columns=["true_win_prob", "oracle_trifecta_position"])
    race = five["race_id"].eq(RACE) & five["finish_position"].notna()
    five.loc[race, "finish_position"] = five.loc[race, "finish_position"].rank().astype("Int64")
    assert len(validate_races(five, min_boats=5)) == len(five)


def test_validation_sorts_and_coerces_without_losing_rows(one_day: pd.DataFrame) -> None:
    shuffled = one_day.sample(frac=1.0, random_state=0)
    as_text = shuffled.assign(
        race_date=shuffled["race_date"].dt.strftime("%Y-%m-%d"),
        venue_code=shuffled["venue_code"].astype(float),
        finish_position=shuffled["finish_position"].astype("float64"),
    )
    pd.testing.assert_frame_equal(validate_races(as_text), one_day)


def test_absent_and_capsized_boats_are_valid_without_a_rank(one_day: pd.DataFrame) -> None:
    race = one_day.index[one_day["race_id"].eq(RACE)]
    df = one_day.copy()
    df.loc[race, ["finish_position", "status"]] = [
        [1, "finished"],
        [pd.NA, "欠"],
        [2, "finished"],
        [pd.NA, "転"],
        [3, "finished"],
        [4, "finished"],
    ]
    validated = validate_races(df)
    assert validated.loc[validated["race_id"].eq(RACE), "status"].tolist()[1] == "欠"
