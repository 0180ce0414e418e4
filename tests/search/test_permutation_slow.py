"""The proof that nesting matters: on labels that carry nothing, best-of-N looks skilful, nested does not."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.search.search_support import noise_features, tree_space, tree_target

from stagewise.data import synthetic_bars
from stagewise.search import NestedSearch

CHANCE = 0.5  # a prediction independent of the outcome is right half the time when up and down are even


@pytest.mark.slow
def test_naive_best_of_n_beats_chance_on_permuted_labels_while_the_nested_interval_covers_it(
    tmp_path: Path,
) -> None:
    bars = synthetic_bars(24 * 90, freq="1h", seed=0)
    search = NestedSearch(
        "markets",
        data=bars,
        space=tree_space(),
        target=tree_target(),
        n_trials=200,
        storage="memory",
        new_study=True,
        inner_train_days=14,
        inner_test_days=7,
        n_candidates=0,
        permute_labels=True,
        sampler="random",
        feature_fn=noise_features,
        html=False,
    )
    result = search.run(
        bars.index[24 * 40],
        bars.index[24 * 79],
        train_days=28,
        test_days=20,
        step_days=20,
        output_dir=tmp_path,
    )
    up_share = (bars["close"].shift(-1) > bars["close"])[bars.index[24 * 40] :].mean()
    assert 0.47 < up_share < 0.53, "the test needs even outcomes for chance to be 0.5"
    naive, nested = result["naive"], result["nested"]
    assert naive["units"] == nested["units"] == 960  # the same 40 test days of hourly bars
    assert naive["ci"][0] > CHANCE, f"best of 200 on the test windows looks above chance: {naive}"
    assert nested["ci"][0] <= CHANCE <= nested["ci"][1], f"the nested estimate finds nothing: {nested}"
