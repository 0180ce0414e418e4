"""The nested search on both domains: what it chooses, what it scores, what it writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.search.search_support import FlakyTree, tree_space, tree_target

from stagewise import ConfigError, StorageError
from stagewise.data import simulate_races, synthetic_bars
from stagewise.search import EnsembleTarget, IntRange, NestedSearch, SearchSpace, SklearnTarget, read_results


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return synthetic_bars(24 * 70, freq="1h", seed=3)


def _search(bars: pd.DataFrame, storage: str, **kwargs: object) -> NestedSearch:
    settings: dict[str, object] = {
        "space": tree_space(),
        "target": tree_target(),
        "n_trials": 6,
        "storage": storage,
        "inner_train_days": 10,
        "inner_test_days": 5,
        "cpcv_groups": 4,
        "cpcv_test_groups": 1,
        "n_candidates": 3,
    }
    settings.update(kwargs)
    return NestedSearch("markets", data=bars, **settings)  # type: ignore[arg-type]


def test_markets_search_scores_each_outer_window_with_its_own_inner_choice(
    bars: pd.DataFrame, tmp_path: Path
) -> None:
    storage = f"sqlite:///{tmp_path / 'ledger.db'}"
    result = _search(bars, storage).run(
        bars.index[24 * 40],
        bars.index[24 * 69 - 1],
        train_days=21,
        test_days=10,
        step_days=10,
        output_dir=tmp_path / "out",
    )
    outer_steps = [s for s in result["steps"] if not s["final"]]
    assert len(outer_steps) == 3
    assert result["steps"][-1]["final"]
    for step in outer_steps:
        label = f"outer-{step['step']:03d}"
        trials = [t for t in result["trials"] if t["study"] == label]
        assert len(trials) == 6
        complete = [t for t in trials if t["state"] == "COMPLETE"]
        best = max(complete, key=lambda t: t["value"])
        assert step["chosen_params"] == best["params"]  # chosen on the inner walk-forward only
        assert step["outer"]["units"] == 24 * 10 or step["step"] == 2  # the last window is cut at --end
    nested = result["nested"]
    assert nested["hits"] == sum(s["outer"]["hits"] for s in outer_steps)
    assert nested["units"] == sum(s["outer"]["units"] for s in outer_steps)
    assert nested["ci"][0] <= nested["score"] <= nested["ci"][1]
    assert result["naive"]["units"] == nested["units"]
    assert result["chosen"]["params"] == result["steps"][-1]["chosen_params"]
    cpcv = result["diagnostics"]["cpcv"]
    assert cpcv["n_splits"] == 4
    assert cpcv["n_paths"] == 1
    assert len(cpcv["candidates"]) >= 2
    assert 0.0 <= cpcv["pbo"]["pbo"] <= 1.0
    dsr = result["diagnostics"]["deflated_sharpe"]
    assert 0.0 <= dsr["deflated_sharpe_ratio"] <= 1.0
    assert dsr["n_returns"] == nested["units"]
    assert set(result["importances"]) <= {"max_depth", "random_state"}
    stored = read_results(tmp_path / "out")
    assert stored["nested"] == json.loads(json.dumps(result["nested"]))
    page = (tmp_path / "out" / "search_report.html").read_text(encoding="utf-8")
    for text in (
        "Optimisation history",
        "naive best-of-N",
        "probability of backtest overfitting",
        "Outer steps",
    ):
        assert text.lower() in page.lower()


def test_a_crashing_trial_is_recorded_as_failed_and_the_search_goes_on(
    bars: pd.DataFrame, tmp_path: Path
) -> None:
    space = SearchSpace({"max_depth": IntRange(2, 4), "random_state": IntRange(0, 9)})
    search = _search(
        bars,
        "memory",
        space=space,
        target=SklearnTarget(FlakyTree, {"max_features": 1}),
        n_trials=8,
        naive=False,
        n_candidates=0,
        sampler="random",
        study_name="flaky",
        new_study=True,
    )
    result = search.run(
        bars.index[24 * 40],
        bars.index[24 * 50],
        train_days=21,
        test_days=10,
        step_days=10,
        output_dir=tmp_path,
    )
    failed = [t for t in result["trials"] if t["state"] == "FAIL"]
    assert failed
    assert all(t["params"]["max_depth"] == 3 for t in failed)
    assert all("depth 3 is not supported" in t["fail_reason"] for t in failed)
    for step in result["steps"]:
        assert step["n_complete"] + step["n_pruned"] + step["n_failed"] == 8
        assert step["chosen_params"]["max_depth"] != 3


def test_races_search_on_the_ensemble(tmp_path: Path) -> None:
    races = simulate_races("2025-01-01", "2025-02-20", seed=2, venues=[1, 2])
    space = SearchSpace({"lightgbm.num_leaves": IntRange(4, 16), "random_forest.max_depth": IntRange(2, 6)})
    base = {f: {"n_estimators": 5} for f in ("lightgbm", "xgboost", "random_forest")}
    search = NestedSearch(
        "races",
        data=races,
        space=space,
        target=EnsembleTarget(base),
        n_trials=2,
        storage="memory",
        study_name="races",
        new_study=True,
        inner_train_days=10,
        inner_test_days=5,
        n_candidates=2,
        cpcv_groups=4,
        cpcv_test_groups=1,
    )
    last = str(pd.Timestamp(races["race_date"].max()).date())
    result = search.run("2025-02-06", last, train_days=21, test_days=5, step_days=5, output_dir=tmp_path)
    assert result["metric"] == "hit_rate_1st"
    tested = races[(races["race_date"] >= "2025-02-06") & (races["race_date"] <= last)]
    with_winner = tested.loc[tested["finish_position"] == 1, "race_id"].nunique()
    assert result["nested"]["units"] == with_winner
    assert result["chance"]["name"] == "lane_order"
    assert "deflated_sharpe" not in result["diagnostics"]  # a Sharpe ratio is for markets
    assert np.isfinite(result["diagnostics"]["cpcv"]["candidates"][0]["mean"])


def test_bad_settings_are_one_line_errors_naming_the_flag(bars: pd.DataFrame, tmp_path: Path) -> None:
    run = {
        "start_date": bars.index[24 * 40],
        "end_date": bars.index[24 * 50],
        "train_days": 21,
        "test_days": 10,
        "step_days": 10,
        "output_dir": tmp_path,
    }
    with pytest.raises(
        ConfigError, match=r"The 'n_trials' parameter \(--trials\) must be an int >= 1. Got 0"
    ):
        _search(bars, "memory", n_trials=0).run(**run)  # type: ignore[arg-type]
    with pytest.raises(
        ConfigError,
        match=r"'max_dept' is unknown: DecisionTreeClassifier accepts .* Did you mean \['max_depth'",
    ):
        _search(bars, "memory", space=SearchSpace({"max_dept": IntRange(1, 3)})).run(**run)  # type: ignore[arg-type]
    with pytest.raises(StorageError, match=r"The '--storage' URL .* cannot be reached"):
        _search(bars, "postgresql+psycopg://nobody@127.0.0.1:9/none").run(**run)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"The '--storage' URL 'no-such-driver://x' is not a database URL"):
        _search(bars, "no-such-driver://x").run(**run)  # type: ignore[arg-type]


def test_a_study_made_with_another_space_is_refused_unless_new_study(
    bars: pd.DataFrame, tmp_path: Path
) -> None:
    storage = f"sqlite:///{tmp_path / 'ledger.db'}"
    run = {
        "start_date": bars.index[24 * 40],
        "end_date": bars.index[24 * 45],
        "train_days": 21,
        "test_days": 10,
        "step_days": 10,
        "output_dir": tmp_path,
    }
    _search(bars, storage, n_trials=2, naive=False, n_candidates=0).run(**run)  # type: ignore[arg-type]
    other = SearchSpace({"max_depth": IntRange(2, 5), "random_state": IntRange(0, 1_000_000)})
    with pytest.raises(ConfigError, match=r"made with a different search space: pass --new-study"):
        _search(bars, storage, space=other, n_trials=2, naive=False, n_candidates=0).run(**run)  # type: ignore[arg-type]
    result = _search(bars, storage, space=other, n_trials=2, naive=False, n_candidates=0, new_study=True).run(
        **run
    )  # type: ignore[arg-type]
    assert all(t["params"]["max_depth"] <= 5 for t in result["trials"])
    assert len(result["trials"]) == 2 * len(result["steps"])


def test_a_rerun_continues_the_stored_study_and_adds_only_the_missing_trials(
    bars: pd.DataFrame, tmp_path: Path
) -> None:
    storage = f"sqlite:///{tmp_path / 'ledger.db'}"
    run = {
        "start_date": bars.index[24 * 40],
        "end_date": bars.index[24 * 45],
        "train_days": 21,
        "test_days": 10,
        "step_days": 10,
        "output_dir": tmp_path,
    }
    first = _search(bars, storage, n_trials=3, naive=False, n_candidates=0).run(**run)  # type: ignore[arg-type]
    again = _search(bars, storage, n_trials=3, naive=False, n_candidates=0).run(**run)  # type: ignore[arg-type]
    assert again["trials"] == first["trials"]  # nothing to do: every trial had finished
    more = _search(bars, storage, n_trials=5, naive=False, n_candidates=0).run(**run)  # type: ignore[arg-type]
    for label in ("outer-000", "final"):
        old = [t for t in first["trials"] if t["study"] == label]
        new = [t for t in more["trials"] if t["study"] == label]
        assert new[:3] == old
        assert len(new) == 5
