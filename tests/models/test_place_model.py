"""The place model: who fills second and third once the winner's pit is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stagewise import DataValidationError, NotFittedError
from stagewise.data import simulate_races
from stagewise.features.races import race_entry_features
from stagewise.models.places import PlaceModel, place_training_rows, predicted_winner_pits
from stagewise.models.races import order_places, rank_races


def test_training_rows_drop_winners_and_races_without_one() -> None:
    features = np.arange(8, dtype=float).reshape(-1, 1)
    codes = [0, 0, 0, 0, 1, 1, 1, 1]
    pits = [1, 2, 3, 4, 1, 2, 3, 4]
    # race 0: pit 3 won, pit 1 second, pit 4 did not finish; race 1: every boat failed to finish
    finish = [2.0, 4.0, 1.0, np.nan, np.nan, np.nan, np.nan, np.nan]
    x, y = place_training_rows(features, codes, pits, finish)
    assert x[:, 0].tolist() == [0.0, 1.0, 3.0]  # the boats of race 0 other than the winner
    assert x[:, 1].tolist() == [3.0, 3.0, 3.0]  # winner_pit
    assert x[:, 2].tolist() == [1.0, 1.0, 0.0]  # inside_of_winner
    assert y.tolist() == [1, 0, 0]  # second is a place; fourth and a non-finisher are not


@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=6, max_size=6), st.integers(1, 6))
def test_predicted_winner_is_the_top_score_and_ties_go_to_the_lower_pit(
    scores: list[float], dup: int
) -> None:
    scores = scores.copy()
    scores[dup - 1] = max(scores)  # force a tie at the top in some cases
    winner = predicted_winner_pits([0] * 6, [1, 2, 3, 4, 5, 6], scores)
    assert set(winner.tolist()) == {float(np.argmax(scores) + 1)}


@settings(deadline=None)  # pandas on a loaded machine; the property is what matters
@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=6, max_size=6), st.permutations(range(6)))
def test_order_places_keeps_the_winner_and_orders_the_rest_by_place_score(
    win: list[float], place_rank: list[int]
) -> None:
    entries = pd.DataFrame({"race_id": ["r"] * 6, "pit": [1, 2, 3, 4, 5, 6]})

    class Fixed:
        def predict_proba(self, x: np.ndarray) -> np.ndarray:
            p = np.asarray(x, dtype=float)[:, 0]
            return np.column_stack([1 - p, p])

    ranked = rank_races(Fixed(), entries, np.array(win).reshape(-1, 1))
    place = pd.Series([float(r) for r in place_rank], index=entries.index)
    reordered = order_places(ranked, place.loc[ranked.index].to_numpy())
    assert reordered.iloc[0]["pit"] == ranked.iloc[0]["pit"]
    rest = reordered.iloc[1:]
    assert list(rest["pit"]) == sorted(rest["pit"], key=lambda p: -place_rank[p - 1])
    assert reordered["predicted_rank"].tolist() == [1, 2, 3, 4, 5, 6]
    assert reordered.set_index("pit")["win_prob"].equals(
        ranked.set_index("pit")["win_prob"].loc[reordered["pit"]]
    )


def test_order_places_refuses_a_score_per_wrong_count() -> None:
    ranking = pd.DataFrame({"race_id": ["r"] * 2, "pit": [1, 2], "predicted_rank": [1, 2]})
    with pytest.raises(DataValidationError, match=r"one value per ranked boat \(2\); got shape \(3,\)"):
        order_places(ranking, [0.1, 0.2, 0.3])


def test_place_model_must_be_fitted_and_needs_both_labels() -> None:
    with pytest.raises(NotFittedError):
        PlaceModel().place_scores(np.zeros((6, 1)), [0] * 6, [1, 2, 3, 4, 5, 6], np.ones(6))
    with pytest.raises(DataValidationError, match="label value"):
        PlaceModel().fit(np.zeros((2, 1)), [0, 0], [1, 2], [1.0, 2.0])


def _race_codes(races: pd.DataFrame) -> np.ndarray:
    return pd.factorize(races["race_id"])[0]


def test_place_scores_order_second_and_third_better_than_win_probability() -> None:
    """Given the true winner, the place model picks the exact 2nd-3rd pair more often than win order."""
    import lightgbm as lgb

    train = simulate_races("2025-01-01", "2025-02-14", seed=5)
    test = simulate_races("2025-02-15", "2025-02-28", seed=6)
    x_train, x_test = race_entry_features(train), race_entry_features(test)
    won = (train["finish_position"] == 1).fillna(False).to_numpy()
    win_model = lgb.LGBMClassifier(n_estimators=100, verbose=-1, n_jobs=1, random_state=0).fit(x_train, won)
    places = PlaceModel(n_jobs=1).fit(
        x_train, _race_codes(train), train["pit"], train["finish_position"].astype(float)
    )
    finish = test["finish_position"].astype(float).to_numpy()
    truth_as_scores = np.where(finish == 1, 1.0, 0.0)  # condition on the real winner
    by_place = places.place_scores(x_test, _race_codes(test), test["pit"], truth_as_scores)
    by_win = win_model.predict_proba(x_test)[:, 1]
    frame = test[["race_id", "pit"]].assign(finish=finish, by_place=by_place, by_win=by_win)
    frame = frame[frame["finish"] != 1]

    def exact_pairs(column: str) -> float:
        hits = []
        for _, race in frame.groupby("race_id"):
            if not {2.0, 3.0} <= set(race["finish"]):
                continue
            top = race.sort_values([column, "pit"], ascending=[False, True])["finish"].head(2).tolist()
            hits.append(top == [2.0, 3.0])
        return float(np.mean(hits))

    assert exact_pairs("by_place") > exact_pairs("by_win") + 0.02
