"""Race entry features use only pre-race information of the same race."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stagewise import DataValidationError
from stagewise.data import simulate_races
from stagewise.features.races import RACE_FEATURE_NAMES, race_entry_features

OUTCOME_COLUMNS = ["finish_position", "status", "true_win_prob", "oracle_trifecta_position"]


@pytest.fixture(scope="module")
def week() -> pd.DataFrame:
    return simulate_races("2025-06-01", "2025-06-07", seed=5)


def test_one_row_per_boat_same_index_named_columns(week: pd.DataFrame) -> None:
    features = race_entry_features(week)
    assert list(features.columns) == RACE_FEATURE_NAMES
    assert features.index.equals(week.index)
    assert features.notna().all().all()
    assert (features.dtypes == "float64").all()


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_changing_results_and_oracle_leaves_features_unchanged(seed: int) -> None:
    races = simulate_races("2025-06-01", "2025-06-01", seed=0, venues=[2])
    rng = np.random.default_rng(seed)
    scrambled = races.copy()
    for column in OUTCOME_COLUMNS:
        scrambled[column] = rng.permutation(scrambled[column].to_numpy(copy=True))
    pd.testing.assert_frame_equal(race_entry_features(scrambled), race_entry_features(races))
    pd.testing.assert_frame_equal(
        race_entry_features(races.drop(columns=OUTCOME_COLUMNS)), race_entry_features(races)
    )


def test_a_race_alone_gets_the_features_it_gets_among_others(week: pd.DataFrame) -> None:
    features = race_entry_features(week)
    for race_id in week["race_id"].drop_duplicates().sample(20, random_state=1):
        alone = week[week["race_id"].eq(race_id)]
        pd.testing.assert_frame_equal(race_entry_features(alone), features.loc[alone.index])
    shuffled = week.sample(frac=1.0, random_state=2)
    pd.testing.assert_frame_equal(race_entry_features(shuffled), features.loc[shuffled.index])


def test_relative_features_are_centred_and_ranks_put_the_fastest_first(week: pd.DataFrame) -> None:
    features = race_entry_features(week)
    by_race = features.groupby(week["race_id"])
    for column in ["exhibition_time_rel", "avg_start_timing_rel", "national_win_rate_rel", "motor_2rate_rel"]:
        np.testing.assert_allclose(by_race[column].sum(), 0.0, atol=1e-9)
    fastest = week.loc[features["exhibition_time_rank"].eq(by_race["exhibition_time_rank"].transform("min"))]
    race_min = week.groupby("race_id")["exhibition_time"].min()
    assert (fastest["exhibition_time"].to_numpy() == race_min[fastest["race_id"]].to_numpy()).all()
    assert features["class_code"].isin([0.0, 1.0, 2.0, 3.0]).all()


def test_unknown_class_or_missing_input_is_named(week: pd.DataFrame) -> None:
    with pytest.raises(DataValidationError, match=r"racer_class.*\['C1'\]"):
        race_entry_features(week.astype({"racer_class": object}).assign(racer_class="C1"))
    with pytest.raises(DataValidationError, match=r"missing \['exhibition_time'\]"):
        race_entry_features(week.drop(columns="exhibition_time"))
    with pytest.raises(DataValidationError, match=r"Column 'motor_2rate' must be numeric"):
        race_entry_features(week.astype({"motor_2rate": object}).assign(motor_2rate="fast"))


def test_ranks_match_pandas_average_ranks_with_ties() -> None:
    races = pd.DataFrame(
        {
            "race_id": ["b"] * 4 + ["a"] * 3,
            "pit": [1, 2, 3, 4, 1, 2, 3],
            "venue_code": 5,
            "racer_class": ["A1", "B2", "A2", "B1", "B1", "B1", "A1"],
            "national_win_rate": [6.0, 5.0, 6.0, 4.0, 7.0, 7.0, 7.0],
            "local_win_rate": 5.0,
            "motor_2rate": [30.0, 40.0, 50.0, 20.0, 33.0, 33.0, 60.0],
            "boat_2rate": 30.0,
            "exhibition_time": [6.70, 6.70, 6.80, 6.60, 6.75, 6.74, 6.76],
            "avg_start_timing": [0.15, 0.16, 0.15, 0.15, 0.12, 0.2, 0.2],
        },
        index=[10, 11, 12, 13, 20, 21, 22],
    )
    features = race_entry_features(races)
    assert features["national_win_rate_rank"].tolist() == [1.5, 3.0, 1.5, 4.0, 2.0, 2.0, 2.0]
    assert features["exhibition_time_rank"].tolist() == [2.5, 2.5, 4.0, 1.0, 2.0, 1.0, 3.0]
    assert features["avg_start_timing_rank"].tolist() == [2.0, 4.0, 2.0, 2.0, 1.0, 2.5, 2.5]
    assert features["motor_2rate_rel"].tolist() == pytest.approx([-5.0, 5.0, 15.0, -15.0, -9.0, -9.0, 18.0])
    assert features["class_code"].tolist() == [3.0, 0.0, 2.0, 1.0, 1.0, 1.0, 3.0]
