"""The race simulator against the published national figures (SPEC §4), and its oracle.

Tolerances: each national figure must fall in the range SPEC §4 publishes (widened by about
one standard error of a 50,000-race year where the range is narrower than that noise).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stagewise import ConfigError
from stagewise.data import (
    NON_FINISH_STATUSES,
    RACE_COLUMNS,
    CalibrationFigures,
    RaceSimulator,
    simulate_races,
    validate_races,
)

LANE_RANGES = [(0.54, 0.57), (0.13, 0.15), (0.115, 0.135), (0.095, 0.115), (0.05, 0.065), (0.015, 0.021)]


@pytest.mark.parametrize("pit", range(1, 7), ids=[f"pit{p}" for p in range(1, 7)])
def test_win_rate_by_lane_matches_published_figures(race_year_figures: CalibrationFigures, pit: int) -> None:
    low, high = LANE_RANGES[pit - 1]
    assert low <= race_year_figures.lane_win_rate[pit - 1] <= high


def test_trifecta_1_2_3_and_trio_match_published_figures(race_year_figures: CalibrationFigures) -> None:
    assert 0.06 <= race_year_figures.trifecta_123 <= 0.075
    # Published 17.5-18.5 %; a plain Plackett-Luce on lane strengths would give 23.5 %.
    assert 0.175 <= race_year_figures.trio_123 <= 0.185


def test_lane1_win_rate_spreads_across_venues(race_year_figures: CalibrationFigures) -> None:
    by_venue = race_year_figures.lane1_win_rate_by_venue
    assert sorted(by_venue) == list(range(1, 25))
    # Published spread about 41 % .. 66 %; one venue-year (~2,100 races) has a 1.1-point SE.
    assert 0.38 <= min(by_venue.values()) <= 0.45
    assert 0.63 <= max(by_venue.values()) <= 0.70
    assert min(by_venue, key=by_venue.__getitem__) == 3  # Edogawa
    assert max(by_venue, key=by_venue.__getitem__) == 24  # Omura


def test_volumes_twelve_races_a_venue_day_and_130_to_150_a_day(
    race_year: pd.DataFrame, race_year_figures: CalibrationFigures
) -> None:
    assert race_year_figures.days == 365
    per_venue_day = race_year.groupby(["race_date", "venue_code"])["race_id"].nunique()
    assert per_venue_day.eq(12).all()
    assert 130 <= race_year_figures.races_per_day <= 150
    open_venues = race_year.groupby("race_date")["venue_code"].nunique()
    assert open_venues.min() < open_venues.mean() < open_venues.max()  # varies day to day
    assert race_year.groupby("race_id").size().eq(6).all()


def test_non_finishes_occur_at_a_small_realistic_rate(race_year_figures: CalibrationFigures) -> None:
    rates = race_year_figures.status_rate
    assert set(rates) == NON_FINISH_STATUSES
    assert all(rate > 0 for rate in rates.values()), rates  # every code occurs in a year
    assert 0.002 <= rates["F"] <= 0.005
    assert 0.005 <= sum(rates.values()) <= 0.015


def test_racers_have_realistic_classes_and_recur(race_year: pd.DataFrame) -> None:
    racers = race_year.drop_duplicates("racer_id")
    share = racers["racer_class"].value_counts(normalize=True)
    assert share.to_dict() == pytest.approx({"A1": 0.2, "A2": 0.2, "B1": 0.5, "B2": 0.1}, abs=0.03)
    assert race_year.groupby("racer_id").size().median() > 100
    by_class = racers.groupby("racer_class")["national_win_rate"].mean()
    assert by_class["A1"] > by_class["A2"] > by_class["B1"] > by_class["B2"]


def test_outcome_depends_on_observable_entry_data(race_year: pd.DataFrame) -> None:
    lane1 = race_year[race_year["pit"].eq(1)]
    won = lane1["finish_position"].eq(1).fillna(False)
    by_class = won.groupby(lane1["racer_class"]).mean()
    assert by_class["A1"] > by_class["B1"] + 0.1
    relative = (
        lane1["exhibition_time"]
        - race_year.groupby("race_id")["exhibition_time"].transform("mean")[lane1.index]
    )
    assert won[relative < -0.03].mean() > won[relative > 0.03].mean() + 0.05


def test_simulated_data_passes_validation(race_year: pd.DataFrame) -> None:
    checked = validate_races(race_year)
    assert list(race_year.columns) == list(RACE_COLUMNS)
    pd.testing.assert_frame_equal(checked, race_year)


def test_true_win_prob_sums_to_one_and_oracle_marks_one_trifecta(race_year: pd.DataFrame) -> None:
    np.testing.assert_allclose(race_year.groupby("race_id")["true_win_prob"].sum(), 1.0, atol=1e-9)
    marks = race_year.dropna(subset=["oracle_trifecta_position"]).groupby("race_id")[
        "oracle_trifecta_position"
    ]
    assert marks.size().eq(3).all()
    assert marks.apply(lambda m: sorted(m.tolist()) == [1, 2, 3]).all()
    assert len(marks) == race_year["race_id"].nunique()


def test_oracle_win_pick_is_calibrated(race_year: pd.DataFrame) -> None:
    """The oracle's pick wins as often as its own probabilities say (within 3 standard errors)."""
    picks = race_year.loc[race_year.groupby("race_id")["true_win_prob"].idxmax()]
    hit = picks["finish_position"].eq(1).fillna(False).to_numpy()
    expected = picks["true_win_prob"].to_numpy()
    se = np.sqrt((expected * (1 - expected)).sum()) / len(expected)
    assert abs(hit.mean() - expected.mean()) < 3 * se
    # And every boat, by probability decile.
    won = race_year["finish_position"].eq(1).fillna(False)
    decile = pd.qcut(race_year["true_win_prob"], 10, labels=False)
    for _, group in race_year.groupby(decile):
        p = group["true_win_prob"]
        se = np.sqrt((p * (1 - p)).sum()) / len(p)
        assert abs(won[group.index].mean() - p.mean()) < 3.5 * se


def test_oracle_beats_always_lane_order(race_year: pd.DataFrame) -> None:
    first3 = race_year.dropna(subset=["finish_position"]).query("finish_position <= 3")
    actual = first3.sort_values(["race_id", "finish_position"]).groupby("race_id")["pit"].agg(tuple)
    oracle = (
        race_year.dropna(subset=["oracle_trifecta_position"])
        .sort_values(["race_id", "oracle_trifecta_position"])
        .groupby("race_id")["pit"]
        .agg(tuple)
        .reindex(actual.index)
    )
    pick = race_year.loc[race_year.groupby("race_id")["true_win_prob"].idxmax()].set_index("race_id")["pit"]
    lane_win = actual.map(lambda t: t[0] == 1).mean()
    lane_trifecta = actual.map(lambda t: t == (1, 2, 3)).mean()
    oracle_win = (actual.map(lambda t: t[0]) == pick.reindex(actual.index)).mean()
    oracle_trifecta = (actual == oracle).mean()
    assert 0.54 <= lane_win <= 0.57
    assert 0.06 <= lane_trifecta <= 0.075
    assert oracle_win > lane_win + 0.01
    assert oracle_trifecta > lane_trifecta + 0.04


def test_same_seed_same_races_other_seed_other_races() -> None:
    a = simulate_races("2025-03-01", "2025-03-05", seed=7)
    b = simulate_races("2025-03-01", "2025-03-05", seed=7)
    c = simulate_races("2025-03-01", "2025-03-05", seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not a["finish_position"].equals(c["finish_position"])
    assert not a["racer_id"].equals(c["racer_id"])


def test_a_venue_day_does_not_depend_on_the_requested_range_or_venues() -> None:
    month = simulate_races("2025-05-01", "2025-05-31", seed=3)
    week = simulate_races("2025-05-10", "2025-05-16", seed=3)
    omura = simulate_races("2025-05-01", "2025-05-31", seed=3, venues=[24])
    in_week = month[month["race_date"].between("2025-05-10", "2025-05-16")].reset_index(drop=True)
    pd.testing.assert_frame_equal(in_week, week)
    pd.testing.assert_frame_equal(month[month["venue_code"].eq(24)].reset_index(drop=True), omura)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"start": "2025-13-01", "end": "2025-12-31"}, "'start' date must be a date in ISO format"),
        ({"start": "yesterday", "end": "2025-12-31"}, "Got 'yesterday'"),
        ({"start": "2025-02-01", "end": "2025-01-31"}, "start=2025-02-01, end=2025-01-31"),
        ({"start": "2025-01-01", "end": "2025-01-02", "venues": [25]}, "ints in 1..24"),
        ({"start": "2025-01-01", "end": "2025-01-02", "venues": [3, 3]}, "distinct venue codes"),
        ({"start": "2025-01-01", "end": "2025-01-02", "seed": -1}, "'seed' parameter must be an int >= 0"),
    ],
    ids=["bad-month", "not-a-date", "end-before-start", "venue-25", "venue-twice", "negative-seed"],
)
def test_bad_parameters_raise_config_error_naming_the_value(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(").replace(".", r"\.")):
        simulate_races(**kwargs)  # type: ignore[arg-type]


def test_days_with_no_open_venue_give_an_empty_frame_with_the_schema() -> None:
    sim = RaceSimulator(seed=0, venues=[24])
    closed = next(
        d for d in pd.date_range("2025-01-01", "2025-03-01") if sim.simulate(d.date(), d.date()).empty
    )
    empty = sim.simulate(closed.date(), closed.date())
    assert list(empty.columns) == list(RACE_COLUMNS)
    assert empty.dtypes["finish_position"] == "Int64"


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), venue=st.integers(1, 24), offset=st.integers(0, 3000))
def test_every_simulated_race_is_well_formed(seed: int, venue: int, offset: int) -> None:
    start = pd.Timestamp("2020-01-01") + pd.Timedelta(days=offset)
    races = simulate_races(start.date(), (start + pd.Timedelta(days=6)).date(), seed=seed, venues=[venue])
    validate_races(races)  # consecutive ranks, no rank with a status, probabilities sum to 1, ...
    for _, race in races.groupby("race_id"):
        assert race["pit"].tolist() == [1, 2, 3, 4, 5, 6]
        finishers = race["finish_position"].dropna().astype(int)
        assert sorted(finishers) == list(range(1, len(finishers) + 1))
        winner = race.loc[race["finish_position"].eq(1).fillna(False), "status"]
        assert winner.eq("finished").all()
