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
