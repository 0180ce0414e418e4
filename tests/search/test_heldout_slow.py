"""On the simulator, the nested estimate predicts what the chosen configuration does on a fresh year."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stagewise.backtest.race_domain import RaceDomain
from stagewise.data import simulate_races
from stagewise.search import EnsembleTarget, IntRange, NestedSearch, SearchSpace
from stagewise.search.register import train_chosen
from stagewise.search.scoring import EvalRows, score


@pytest.mark.slow
def test_the_nested_estimate_agrees_with_a_fresh_held_out_year(tmp_path: Path) -> None:
    races = simulate_races("2024-01-01", "2025-12-31", seed=21, venues=[1, 2, 3])
    searched = races[races["race_date"] <= "2024-12-31"].reset_index(drop=True)
    held_out = races[races["race_date"] >= "2025-01-01"].reset_index(drop=True)
    space = SearchSpace(
        {"lightgbm.num_leaves": IntRange(4, 31), "lightgbm.min_child_samples": IntRange(10, 200)}
    )
    base = {f: {"n_estimators": 30} for f in ("lightgbm", "xgboost", "random_forest")}
    search = NestedSearch(
        "races", data=searched, space=space, target=EnsembleTarget(base), n_trials=4, storage="memory",
        study_name="heldout", new_study=True, inner_train_days=45, inner_test_days=15, naive=False,
        n_candidates=0, html=False,
    )  # fmt: skip
    last = str(pd.Timestamp(searched["race_date"].max()).date())
    result = search.run("2024-04-01", last, train_days=90, test_days=30, step_days=30, output_dir=tmp_path)

    model, _window = train_chosen(result, data=searched)
    domain = RaceDomain("win_order")
    prepared = domain.prepare(domain.load(held_out), None)
    chosen_columns = list(prepared.feature_names)  # the space searches no feature set
    proba = np.asarray(model.predict_proba(pd.DataFrame(prepared.features, columns=chosen_columns)))[:, 1]
    hits, units = score(proba, EvalRows(prepared.labels, groups=prepared.extras["race_codes"]))
    fresh = hits / units
    low, high = result["nested"]["ci"]
    assert units > 5_000  # a whole year of three venues (6,564 races with a winner at seed 21)
    assert low <= fresh <= high, (
        f"held-out year {fresh:.4f} outside the nested interval [{low:.4f}, {high:.4f}]"
    )
