from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from models_support import TINY

from stagewise import DataValidationError
from stagewise.metrics.races import score_race
from stagewise.models import ProductionEnsemble
from stagewise.models.races import predicted_orders, rank_races


class FirstColumn:
    """A 'model' whose P(win) is the first feature: lets tests state exact expectations."""

    def predict_proba(self, X: object) -> np.ndarray:
        p = np.asarray(X, dtype=float)[:, 0]
        return np.column_stack([1 - p, p])


def _entries(scores: dict[str, list[float]]) -> tuple[pd.DataFrame, np.ndarray]:
    rows = [(race, pit) for race, s in scores.items() for pit in range(1, len(s) + 1)]
    entries = pd.DataFrame(rows, columns=["race_id", "pit"])
    features = np.array([[v] for s in scores.values() for v in s])
    return entries, features


def test_hand_made_races_are_ranked_and_normalised() -> None:
    entries, features = _entries(
        {
            "2025-01-01-01-01": [0.10, 0.40, 0.20, 0.10, 0.15, 0.05],
            "2025-01-01-01-02": [0.50, 0.10, 0.10, 0.10, 0.10, 0.10],
        }
    )
    ranked = rank_races(FirstColumn(), entries, features)
    assert list(ranked.columns) == ["race_id", "pit", "score", "win_prob", "predicted_rank"]
    first = ranked[ranked["race_id"] == "2025-01-01-01-01"]
    # pit 2 best; pits 1 and 4 tie at 0.10: the lower pit ranks first
    assert first["pit"].tolist() == [2, 3, 5, 1, 4, 6]
    assert first["predicted_rank"].tolist() == [1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose(first["win_prob"].sum(), 1.0)
    second = ranked[ranked["race_id"] == "2025-01-01-01-02"]
    assert second["pit"].tolist() == [1, 2, 3, 4, 5, 6]
    assert second["win_prob"].iloc[0] == pytest.approx(0.5)
    # races keep their order of first appearance and rows keep the entries' index
    assert ranked["race_id"].iloc[0] == "2025-01-01-01-01"
    assert ranked.loc[1, "pit"] == 2


def test_race_with_all_zero_scores_gets_equal_shares() -> None:
    entries, features = _entries({"r": [0.0, 0.0, 0.0]})
    ranked = rank_races(FirstColumn(), entries, features)
    assert ranked["win_prob"].tolist() == pytest.approx([1 / 3] * 3)
    assert ranked["pit"].tolist() == [1, 2, 3]


def test_predicted_orders_feed_score_race() -> None:
    entries, features = _entries({"r1": [0.1, 0.5, 0.3, 0.05, 0.03, 0.02]})
    order = predicted_orders(rank_races(FirstColumn(), entries, features))
    assert order == {"r1": [2, 3, 1, 4, 5, 6]}
    score = score_race(order["r1"], {1: 2, 2: 1, 3: 3, 4: 4, 5: 5, 6: 6})
    assert score.hit_1st
    assert not score.hit_top3
    assert score.hit_trio


def test_works_with_a_fitted_ensemble_and_feature_frame() -> None:
    rng = np.random.default_rng(0)
    n_races = 60
    entries = pd.DataFrame(
        {
            "race_id": np.repeat([f"r{i:03d}" for i in range(n_races)], 6),
            "pit": np.tile(np.arange(1, 7), n_races),
        }
    )
    strength = -entries["pit"].to_numpy() + rng.normal(scale=1.0, size=len(entries))
    features = pd.DataFrame({"lane": entries["pit"].astype(float), "noise": rng.normal(size=len(entries))})
    winner = pd.Series(strength).groupby(entries["race_id"]).transform("max").to_numpy() == strength
    model = ProductionEnsemble(**TINY).fit(features, winner.astype(int))
    ranked = rank_races(model, entries, features)
    assert ranked.groupby("race_id")["win_prob"].sum().to_numpy() == pytest.approx(np.ones(n_races))
    # lane 1 is by far the strongest here, so the model must put it first in most races
    assert (ranked.loc[ranked["predicted_rank"] == 1, "pit"] == 1).mean() > 0.8


@pytest.mark.parametrize(
    ("entries", "features", "message"),
    [
        pytest.param(
            pd.DataFrame({"race_id": ["r"]}), np.zeros((1, 1)), r"missing column\(s\) \['pit'\]", id="no-pit"
        ),
        pytest.param(
            pd.DataFrame({"race_id": ["r", "r"], "pit": [1, 1]}),
            np.zeros((2, 1)),
            "lists pit 1 more than once",
            id="dup",
        ),
        pytest.param(
            pd.DataFrame({"race_id": ["r", "r"], "pit": [1, 2]}),
            np.zeros((3, 1)),
            "3 feature rows for 2",
            id="rows",
        ),
        pytest.param(
            pd.DataFrame({"race_id": ["r", "r"], "pit": [1, 2]}),
            pd.DataFrame({"a": [0.1, 0.2]}, index=[5, 6]),
            "same index",
            id="index",
        ),
    ],
)
def test_bad_entries_are_refused(entries: pd.DataFrame, features: object, message: str) -> None:
    with pytest.raises(DataValidationError, match=message):
        rank_races(FirstColumn(), entries, features)


@given(
    st.lists(
        st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=6),
        min_size=1,
        max_size=8,
    )
)
@settings(max_examples=100, deadline=None)
def test_ranks_are_a_permutation_and_follow_scores(races: list[list[float]]) -> None:
    entries, features = _entries({f"r{i}": s for i, s in enumerate(races)})
    ranked = rank_races(FirstColumn(), entries, features)
    for _, race in ranked.groupby("race_id"):
        assert sorted(race["predicted_rank"]) == list(range(1, len(race) + 1))
        assert race["win_prob"].sum() == pytest.approx(1.0)
        ordered = race.sort_values("predicted_rank")
        keys = list(zip(-ordered["score"], ordered["pit"], strict=True))
        assert keys == sorted(keys)
