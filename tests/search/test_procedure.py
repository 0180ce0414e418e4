"""Calibration on/off and the bet margin as search space entries: checked, searched, scored, registered."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.tree import DecisionTreeClassifier

from stagewise import ConfigError
from stagewise.backtest.betting import evaluate_race_bets
from stagewise.data import simulate_races, synthetic_bars
from stagewise.metrics.betting import StakeStrategy
from stagewise.models import ModelRegistry, SklearnFlavour
from stagewise.models.flavours.calibrated import CalibratedFlavour
from stagewise.search import (
    Choice,
    EnsembleTarget,
    FloatRange,
    IntRange,
    NestedSearch,
    SearchSpace,
    SklearnTarget,
    load_space,
)
from stagewise.search.procedure import CALIBRATION_CHOICES
from stagewise.search.register import register_chosen
from stagewise.search.scoring import EvalRows, score
from stagewise.search.study import CALIBRATION_FRACTION, OuterTask, fit_predict

SPACE_FILE = """
[params]
"lightgbm.num_leaves" = { type = "int", low = 4, high = 16 }
calibration = { choices = ["none", "isotonic", "platt"] }
bet_margin = { type = "float", low = 0.0, high = 0.3 }
"""


def _tree() -> SklearnTarget:
    return SklearnTarget(DecisionTreeClassifier, {"random_state": 0, "min_samples_leaf": 20})


@pytest.fixture(scope="module")
def races() -> pd.DataFrame:
    return simulate_races("2025-01-01", "2025-02-20", seed=2, venues=[1, 2])


def test_a_space_file_searches_calibration_and_margin_beside_the_model(tmp_path: Path) -> None:
    path = tmp_path / "space.toml"
    path.write_text(SPACE_FILE, encoding="utf-8")
    space = load_space(path)
    assert space.names() == ("lightgbm.num_leaves",)  # what the model target checks
    EnsembleTarget().check_names(space.names())
    described = space.describe()["params"]
    assert described["calibration"] == {"type": "choice", "choices": ["none", "isotonic", "platt"]}
    assert described["bet_margin"]["low"] == 0.0


@pytest.mark.parametrize(
    ("param", "expected"),
    [
        pytest.param(
            {"calibration": Choice(("none", "sigmoid"))},
            "The 'calibration.choices' field must hold values from ['isotonic', 'none', 'platt']. "
            "Got 'sigmoid' instead.",
            id="unknown-calibration",
        ),
        pytest.param(
            {"calibration": IntRange(0, 1)}, "'calibration' parameter must list choices", id="range"
        ),
        pytest.param(
            {"bet_margin": FloatRange(-0.1, 0.2)},
            "The 'bet_margin.low' field must be a number >= 0",
            id="neg",
        ),
        pytest.param({"bet_margin": Choice((0.0, -1))}, "'bet_margin.choices' field", id="neg-choice"),
        pytest.param({"bet_margin": Choice(("wide",))}, "Got 'wide' instead", id="text-choice"),
        pytest.param({"bet_margin": IntRange(0, 2)}, "Got an int range instead", id="int-margin"),
    ],
)
def test_bad_procedure_entries_are_one_line_errors_naming_the_field(param: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        SearchSpace(param)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=10), min_size=1, max_size=4, unique=True))
def test_calibration_accepts_exactly_the_known_maps(values: list[str]) -> None:
    if set(values) <= set(CALIBRATION_CHOICES):
        assert SearchSpace({"calibration": Choice(tuple(values))}).tunes("calibration")
    else:
        with pytest.raises(ConfigError, match=r"calibration\.choices"):
            SearchSpace({"calibration": Choice(tuple(values))})


@pytest.mark.parametrize("margin", [0.0, 0.1, 0.5])
def test_the_roi_a_trial_maximises_is_the_roi_of_ev_bets_in_the_backtest(
    races: pd.DataFrame, margin: float
) -> None:
    """The search settles bets as ``--bets ev --bet-margin`` does (same stakes, refunds, odds)."""
    rows = EvalRows(
        (races["finish_position"] == 1).to_numpy(dtype=np.float64),
        groups=pd.factorize(races["race_id"])[0],
        odds=races["win_odds"].to_numpy(dtype=np.float64),
        started=~races["status"].isin(["F", "L", "欠"]).to_numpy(),
    )
    noisy = races["true_win_prob"].to_numpy() * np.random.default_rng(0).uniform(0.6, 1.4, len(races))
    frame = races.assign(win_prob=noisy / races.assign(p=noisy).groupby("race_id")["p"].transform("sum"))
    profit, staked = score(noisy, rows, margin)  # normalised within each race, like the backtest's win_prob
    expected = evaluate_race_bets(frame, StakeStrategy("ev", margin=margin), n_resamples=10)["model"]
    assert staked == pytest.approx(expected.total_stake)
    assert profit / staked == pytest.approx(expected.roi)


def _task(features: np.ndarray, labels: np.ndarray, stamps: np.ndarray) -> OuterTask:
    empty = np.empty(0, dtype=np.int64)
    return OuterTask(
        step=0, final=False, study_name="s", storage_url="memory", heartbeat=(10, 30), space=SearchSpace(
            {"max_depth": IntRange(2, 4)}), target=_tree(), features=features, feature_names=("a", "b"),
        rows=EvalRows(labels), train=empty, test=empty, inner=(), inner_keys=(), outer_key=0, n_trials=1,
        seed=0, permute_labels=False, model_threads=1, timestamps=stamps,
    )  # fmt: skip


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_a_calibrated_trial_predicts_what_the_registered_calibrated_flavour_predicts(method: str) -> None:
    rng = np.random.default_rng(1)
    n = 30 * 24
    features = rng.normal(size=(n, 2))
    labels = (rng.random(n) < 1 / (1 + np.exp(-2 * features[:, 0]))).astype(np.float64)
    stamps = pd.date_range("2025-01-01", periods=n, freq="h").to_numpy()
    task = _task(features, labels, stamps)
    train, test = np.arange(0, 20 * 24), np.arange(20 * 24, n)
    proba = fit_predict(_tree().factory({"max_depth": 3}), task, train, test, [0, 1], None, method)
    raw = fit_predict(_tree().factory({"max_depth": 3}), task, train, test, [0, 1], None, None)
    X = pd.DataFrame(features, columns=["a", "b"])
    flavour = CalibratedFlavour(
        SklearnFlavour(_tree().factory({"max_depth": 3})()), method, CALIBRATION_FRACTION
    )
    flavour.fit(X.iloc[train], labels[train].astype(int), timestamps=stamps[train])
    np.testing.assert_allclose(proba, flavour.predict_proba(X.iloc[test])[:, 1])
    assert not np.allclose(proba, raw)  # calibration on is another procedure than off


def test_a_races_search_tunes_the_margin_on_roi_and_registers_the_calibrated_choice(
    races: pd.DataFrame, tmp_path: Path
) -> None:
    space = SearchSpace(
        {
            "max_depth": IntRange(2, 6),
            "calibration": Choice(("none", "isotonic")),
            "bet_margin": FloatRange(0.0, 0.5),
        }
    )
    search = NestedSearch(
        "races", data=races, space=space, target=_tree(), n_trials=3, storage="memory", study_name="money",
        new_study=True, inner_train_days=10, inner_test_days=5, n_candidates=2, cpcv_groups=4,
        cpcv_test_groups=1, html=False,
    )  # fmt: skip
    last = str(pd.Timestamp(races["race_date"].max()).date())
    result = search.run(
        "2025-02-06", last, train_days=21, test_days=5, step_days=5, output_dir=tmp_path / "out"
    )
    assert result["metric"] == "roi_ev_win"
    assert result["config"]["calibration_fraction"] == CALIBRATION_FRACTION
    tested = [s["outer"] for s in result["steps"] if not s["final"]]
    nested = result["nested"]
    assert nested["staked"] == pytest.approx(sum(o["staked"] for o in tested))
    assert nested["score"] == pytest.approx(sum(o["profit"] for o in tested) / nested["staked"])
    assert nested["ci"][0] <= nested["score"] <= nested["ci"][1]
    assert result["chance"]["name"] == "favourite"
    assert set(result["chosen"]["params"]) == {"max_depth", "calibration", "bet_margin"}
    for trial in result["trials"]:
        assert set(trial["params"]) == {"max_depth", "calibration", "bet_margin"}
    registry = tmp_path / "models"
    for calibration, flavour in (("isotonic", CalibratedFlavour), ("none", SklearnFlavour)):
        result["chosen"]["params"]["calibration"] = calibration
        version = register_chosen(result, data=races, registry=registry, target=_tree())
        store = ModelRegistry(registry)
        loaded = store.load(version)
        assert type(loaded) is flavour
        margin = store.info(version)["metadata"]["performance_metrics"]["bet_margin"]
        assert margin == pytest.approx(result["chosen"]["params"]["bet_margin"])


def test_a_margin_needs_races_with_odds(races: pd.DataFrame, tmp_path: Path) -> None:
    space = SearchSpace({"max_depth": IntRange(2, 6), "bet_margin": FloatRange(0.0, 0.5)})
    bars = synthetic_bars(24 * 50, freq="1h", seed=6)
    markets = NestedSearch("markets", data=bars, space=space, target=_tree(), storage="memory")
    with pytest.raises(ConfigError, match="'bet_margin' exists for --domain races only"):
        markets.run(bars.index[24 * 40], bars.index[24 * 45], 21, 10, 10, tmp_path)
    no_odds = NestedSearch(
        "races",
        data=races.drop(columns=["win_odds", "odds_snapshot_min"]),
        space=space,
        target=_tree(),
        storage="memory",
    )
    with pytest.raises(ConfigError, match="needs the data's 'win_odds' column"):
        no_odds.run("2025-02-06", "2025-02-15", 21, 5, 5, tmp_path)


@settings(max_examples=80, deadline=None)
@given(
    st.integers(min_value=1, max_value=8).flatmap(
        lambda races: st.tuples(
            st.lists(st.floats(0.01, 1.0), min_size=6 * races, max_size=6 * races),
            st.lists(st.floats(1.1, 60.0), min_size=6 * races, max_size=6 * races),
            st.floats(0.0, 1.0),
            st.floats(0.0, 1.0),
            st.floats(0.1, 10.0),
        )
    )
)
def test_a_wider_margin_only_drops_bets_and_a_race_scale_changes_nothing(
    drawn: tuple[list[float], list[float], float, float, float],
) -> None:
    raw, odds, low, extra, scale = drawn
    n = len(raw)
    groups = np.repeat(np.arange(n // 6), 6)
    rows = EvalRows(
        (np.arange(n) % 6 == 0).astype(np.float64),
        groups=groups,
        odds=np.array(odds),
        started=np.ones(n, dtype=bool),
    )
    proba = np.array(raw)
    _, narrow = score(proba, rows, low)
    _, wide = score(proba, rows, low + extra)
    assert wide <= narrow  # staked: a wider margin keeps a subset of the bets
    # probabilities are normalised within each race: scaling one race's scores changes no bet
    scaled = proba * np.where(groups == 0, scale, 1.0)
    assert score(scaled, rows, low) == pytest.approx(score(proba, rows, low))
