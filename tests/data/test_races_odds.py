"""Pre-race odds: the simulated public's pools, and users' own odds columns on the way in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stagewise._exceptions import ConfigError, DataValidationError
from stagewise.data import load_races, save_races, simulate_races, validate_races
from stagewise.data.races.odds import (
    KYOTEI_PAYOUT_RATE,
    PublicModel,
    harville_trifecta,
    trifecta_odds,
)


def _grid(races: pd.DataFrame, column: str) -> np.ndarray:
    return races[column].to_numpy(dtype=float).reshape(-1, 6)


def test_every_simulated_boat_has_pre_close_odds(race_year: pd.DataFrame) -> None:
    odds = race_year["win_odds"]
    assert odds.notna().all()
    assert (odds >= 1.0).all()
    assert race_year["odds_snapshot_min"].eq(5).all()


def test_win_pool_pays_back_75_percent(race_year: pd.DataFrame) -> None:
    odds = _grid(race_year, "win_odds")
    unfloored = (odds > 1.0).all(axis=1)
    # Pari-mutuel: stakes share the pool, so sum(payout / odds) is 1 in every race (the 1.0
    # minimum payout, 元返し, lifts a few heavy favourites above the pool).
    shares = (KYOTEI_PAYOUT_RATE / odds[unfloored]).sum(axis=1)
    np.testing.assert_allclose(shares, 1.0, atol=1e-9)
    assert unfloored.mean() > 0.85


def test_public_over_bets_longshots(race_year: pd.DataFrame) -> None:
    p, odds = _grid(race_year, "true_win_prob"), _grid(race_year, "win_odds")
    expected_return = p * odds  # per unit staked, ignoring refunds
    favourites = expected_return[odds < 3.0].mean()
    longshots = expected_return[odds > 30.0].mean()
    assert favourites > 0.75 > longshots  # the favourite-longshot bias


def test_odds_of_a_venue_day_do_not_depend_on_the_range(race_year: pd.DataFrame) -> None:
    january = simulate_races("2025-01-01", "2025-01-31", seed=0)
    year_january = race_year[race_year["race_date"] < "2025-02-01"].reset_index(drop=True)
    pd.testing.assert_series_equal(january["win_odds"], year_january["win_odds"])


def test_trifecta_pool_pays_back_75_percent(one_day: pd.DataFrame) -> None:
    odds = trifecta_odds(_grid(one_day, "win_odds"))
    assert odds.shape == (12, 120)
    unfloored = (odds > 1.0).all(axis=1)
    np.testing.assert_allclose((KYOTEI_PAYOUT_RATE / odds[unfloored]).sum(axis=1), 1.0, atol=1e-9)


def test_harville_is_a_distribution() -> None:
    w = np.array([[0.5, 0.2, 0.1, 0.1, 0.05, 0.05]])
    probs = harville_trifecta(w)
    assert probs.sum() == pytest.approx(1.0)
    assert probs[0, 0, 1, 2] == pytest.approx(0.5 * 0.2 / 0.5 * 0.1 / 0.3)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"payout_rate": 1.2}, "payout_rate"),
        ({"noise_sd": -0.1}, "noise_sd"),
        ({"longshot_bias": float("nan")}, "longshot_bias"),
        ({"snapshot_minutes": 0}, "snapshot_minutes"),
    ],
    ids=["payout-above-1", "negative-noise", "nan-bias", "final-odds"],
)
def test_public_model_refuses_bad_settings(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ConfigError, match=f"'{field}'"):
        PublicModel(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0.8, "0.8"), (1.0 - 1e-9, "0.999999999"), (-2.0, "-2.0"), (float("nan"), "missing"), ("abc", "'abc'")],
    ids=["below-1", "just-below-1", "negative", "nan", "text"],
)
def test_bad_odds_are_named_with_the_accepted_range(one_day: pd.DataFrame, value: object, shown: str) -> None:
    bad = one_day.astype({"win_odds": object})
    bad.loc[3, "win_odds"] = value
    with pytest.raises(DataValidationError) as caught:
        validate_races(bad)
    message = str(caught.value)
    assert "1 problem(s)" in message
    assert f"field 'win_odds' value {shown}" in message
    assert "finite number >= 1.0" in message


def test_odds_of_1_are_the_minimum_payout_and_accepted(one_day: pd.DataFrame) -> None:
    ok = one_day.copy()
    ok.loc[0, "win_odds"] = 1.0
    assert validate_races(ok).loc[0, "win_odds"] == 1.0


def test_an_absent_boat_may_have_no_odds(one_day: pd.DataFrame) -> None:
    ok = one_day.copy()
    row = ok.index[ok["status"].eq("finished") & ok["finish_position"].gt(1)][0]
    rank = ok.loc[row, "finish_position"]
    later = ok["race_id"].eq(ok.loc[row, "race_id"]) & ok["finish_position"].gt(rank)
    ok.loc[later, "finish_position"] -= 1
    ok.loc[row, ["status", "finish_position", "win_odds"]] = ["欠", pd.NA, np.nan]
    assert np.isnan(validate_races(ok).loc[row, "win_odds"])


def test_odds_without_a_snapshot_time_are_refused(one_day: pd.DataFrame) -> None:
    with pytest.raises(DataValidationError, match=r"'odds_snapshot_min'.*final odds are a leak"):
        validate_races(one_day.drop(columns="odds_snapshot_min"))
    final = one_day.copy()
    final["odds_snapshot_min"] = 0
    with pytest.raises(DataValidationError, match="field 'odds_snapshot_min' value 0: must be an int >= 1"):
        validate_races(final)


def test_users_own_odds_columns_load_from_csv(one_day: pd.DataFrame, tmp_path: Path) -> None:
    mine = one_day.drop(columns=["true_win_prob", "oracle_trifecta_position"])
    mine["win_odds"] = np.round(mine["win_odds"], 1).clip(lower=1.0)
    mine["odds_snapshot_min"] = 2
    path = save_races(mine, tmp_path / "mine.csv")
    loaded = load_races(path)
    assert list(loaded.columns[-2:]) == ["win_odds", "odds_snapshot_min"]
    pd.testing.assert_series_equal(loaded["win_odds"], mine["win_odds"].reset_index(drop=True))
    assert loaded["odds_snapshot_min"].eq(2).all()
