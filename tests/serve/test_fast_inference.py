"""The compiled single-row path gives the library's probabilities, and refuses bad rows clearly."""

from __future__ import annotations

import json
import math
import shutil
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stagewise import (
    ConfigError,
    DataValidationError,
    FeatureMismatchError,
    NotFittedError,
)
from stagewise.models import ProductionEnsemble
from stagewise.serve._tree_tables import float32_le_bound
from stagewise.serve.fast import SINGLE_ROW_LIMIT, FastEnsemble, compile_ensemble
from stagewise.serve.inference import serving_model

TOLERANCE = 1e-6  # the contract: max |fast - library| on held-out rows
TREES = {"n_estimators": 30}
ONLY = {
    "lightgbm": {"lightgbm": 1, "xgboost": 0, "random_forest": 0},
    "xgboost": {"lightgbm": 0, "xgboost": 1, "random_forest": 0},
    "random_forest": {"lightgbm": 0, "xgboost": 0, "random_forest": 1},
}


def _fit(X: Any, y: Any, weights: dict[str, float] | None = None, **params: Any) -> ProductionEnsemble:
    return ProductionEnsemble(
        weights=weights, lgbm_params=TREES, xgb_params=TREES, rf_params=TREES, **params
    ).fit(X, y)


@pytest.fixture(scope="module")
def races() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """Race entry features: four days to fit on, the fifth held out."""
    from stagewise.data import simulate_races
    from stagewise.features.races import race_entry_features

    frame = simulate_races("2025-01-01", "2025-01-05", seed=3, venues=range(1, 7))
    X = race_entry_features(frame)
    y = (frame["finish_position"] == 1).fillna(False).astype(int)
    train = (frame["race_date"] < pd.Timestamp("2025-01-05")).to_numpy()
    return X[train], y[train], X[~train]


@pytest.fixture(scope="module")
def markets() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """The seed's 12 market features: the first 1,000 bars to fit on, the rest held out."""
    from stagewise.data import synthetic_bars
    from stagewise.features.labels import next_bar_direction
    from stagewise.features.technical import TechnicalIndicators, drop_warmup

    bars = synthetic_bars(1600, seed=5)
    features = drop_warmup(TechnicalIndicators().generate_all_features(bars))
    labels = next_bar_direction(bars).loc[features.index]
    keep = labels.notna()
    X, y = features[keep], labels[keep].astype(int)
    return X.iloc[:1000], y.iloc[:1000], X.iloc[1000:]


@pytest.fixture(scope="module")
def market_model(markets: tuple[pd.DataFrame, pd.Series, pd.DataFrame]) -> ProductionEnsemble:
    X, y, _ = markets
    return _fit(X, y)


@pytest.fixture(scope="module")
def fast_market(market_model: ProductionEnsemble) -> FastEnsemble:
    return compile_ensemble(market_model)


def _max_difference(fast: FastEnsemble, model: ProductionEnsemble, X: Any) -> float:
    return float(np.abs(fast.predict_proba(X) - model.predict_proba(X)).max())


# ----------------------------------------------------------------------------- agreement
WEIGHTS = {
    "seed-weights": None,
    "weights-1-2-3": {"lightgbm": 1, "xgboost": 2, "random_forest": 3},
    "forest-zero": {"lightgbm": 0.5, "xgboost": 0.5, "random_forest": 0},
    "lightgbm-zero": {"lightgbm": 0, "xgboost": 0.3, "random_forest": 0.7},
}


@pytest.mark.parametrize("domain", ["races", "markets"])
@pytest.mark.parametrize("weights", list(WEIGHTS.values()), ids=list(WEIGHTS))
def test_fast_path_matches_library_on_held_out_rows(
    domain: str, weights: dict[str, float] | None, request: pytest.FixtureRequest
) -> None:
    X, y, held_out = request.getfixturevalue(domain)
    model = _fit(X, y, weights)
    fast = compile_ensemble(model)
    assert fast.weights_ == model.weights_
    assert _max_difference(fast, model, held_out) <= TOLERANCE
    assert len(held_out) > SINGLE_ROW_LIMIT  # the batch call was exercised, and below:
    assert _max_difference(fast, model, held_out.iloc[:5]) <= TOLERANCE  # the single-row loop
    # the probabilities are not all alike, so agreement means something
    assert np.ptp(model.predict_proba(held_out)[:, 1]) > 0.1


@pytest.mark.parametrize("family", list(ONLY))
def test_lightgbm_and_forest_are_reproduced_to_the_last_bits(
    family: str, markets: tuple[pd.DataFrame, pd.Series, pd.DataFrame]
) -> None:
    """One family alone: LightGBM and the forest exactly, XGBoost within its own float32 rounding."""
    X, y, held_out = markets
    model = _fit(X, y, ONLY[family])
    fast = compile_ensemble(model)
    bound = 1e-6 if family == "xgboost" else 1e-12
    assert _max_difference(fast, model, held_out) <= bound


def _split_points(model: ProductionEnsemble) -> dict[int, np.ndarray]:
    """Per feature, the float64 values at which some tree of the forest or XGBoost changes side."""
    points: dict[int, list[float]] = {}
    for estimator in model.random_forest_.estimators_[:10]:
        tree = estimator.tree_
        for feature, t in zip(tree.feature, tree.threshold, strict=True):
            if feature >= 0:
                f32 = np.float32(t)
                points.setdefault(int(feature), []).extend(
                    [
                        t,
                        float(f32),
                        float(np.nextafter(f32, np.float32(-np.inf))),
                        float(np.nextafter(f32, np.float32(np.inf))),
                    ]
                )
    trees = json.loads(bytes(model.xgboost_.save_raw(raw_format="json")))["learner"]["gradient_booster"]
    for tree in trees["model"]["trees"][:10]:
        for left, feature, s in zip(
            tree["left_children"], tree["split_indices"], tree["split_conditions"], strict=True
        ):
            if left != -1:
                s32 = np.float32(s)
                below = np.nextafter(s32, np.float32(-np.inf))
                middle = (float(s32) + float(below)) / 2  # rounds to s32 or below: the tie case
                points.setdefault(int(feature), []).extend([float(s32), float(below), middle])
    out = {}
    for feature, values in points.items():
        base = np.asarray(values, dtype=np.float64)
        out[feature] = np.unique(
            np.concatenate([base, np.nextafter(base, np.inf), np.nextafter(base, -np.inf)])
        )
    return out


@pytest.mark.parametrize("family", ["xgboost", "random_forest"])
def test_values_on_and_next_to_every_split_go_the_libraries_way(
    family: str, markets: tuple[pd.DataFrame, pd.Series, pd.DataFrame]
) -> None:
    """Rows whose value sits exactly on a split, a float64 step either side, or on a float32 tie."""
    X, y, held_out = markets
    model = _fit(X, y, ONLY[family])
    fast = compile_ensemble(model)
    base = held_out.to_numpy()[:1]
    rows = []
    for feature, values in _split_points(model).items():
        block = np.repeat(base, values.size, axis=0)
        block[:, feature] = values
        rows.append(block)
    grid = np.concatenate(rows)
    assert grid.shape[0] > 1000
    bound = 1e-6 if family == "xgboost" else 1e-12
    assert _max_difference(fast, model, grid) <= bound


def test_missing_values_follow_each_familys_default_direction(
    markets: tuple[pd.DataFrame, pd.Series, pd.DataFrame],
) -> None:
    """NaN at training (learned directions) and at prediction (every family's own rule)."""
    X, y, held_out = markets
    rng = np.random.default_rng(0)
    X_missing = X.mask(rng.random(X.shape) < 0.1)
    model = _fit(X_missing, y)
    fast = compile_ensemble(model)
    probe = held_out.mask(np.random.default_rng(1).random(held_out.shape) < 0.3)
    probe.iloc[0] = np.nan  # a row with nothing known
    assert _max_difference(fast, model, probe) <= TOLERANCE
    # and a model that never saw NaN still sends it where the library does
    plain = _fit(X, y)
    assert _max_difference(compile_ensemble(plain), plain, probe) <= TOLERANCE


def test_a_model_loaded_from_the_registry_compiles_to_the_same_probabilities(
    tmp_path: Any, market_model: ProductionEnsemble, markets: tuple[pd.DataFrame, pd.Series, pd.DataFrame]
) -> None:
    from stagewise.models import ModelRegistry

    registry = ModelRegistry(tmp_path / "models")
    loaded = registry.load(registry.save(market_model), n_jobs=1)
    held_out = markets[2]
    assert _max_difference(compile_ensemble(loaded), market_model, held_out) <= TOLERANCE


# ----------------------------------------------------------------------------- one row vs batch
def test_one_row_equals_its_row_of_the_batch(
    fast_market: FastEnsemble, markets: tuple[pd.DataFrame, pd.Series, pd.DataFrame]
) -> None:
    held_out = markets[2]
    batch = fast_market.predict_proba(held_out)
    matrix = held_out.to_numpy()
    singles = np.array([fast_market.predict_proba_one(row) for row in matrix])
    assert np.abs(singles - batch).max() <= 1e-12
    mapping = dict(zip(held_out.columns, matrix[7].tolist(), strict=True))
    assert np.abs(fast_market.predict_proba_one(mapping) - batch[7]).max() <= 1e-12
    assert np.abs(fast_market.predict_proba_one(matrix[7].tolist()) - batch[7]).max() <= 1e-12
    assert fast_market.predict_proba(matrix[:0]).shape == (0, 2)
    assert np.allclose(singles.sum(axis=1), 1.0)


def test_concurrent_single_rows_get_their_own_answers(
    fast_market: FastEnsemble, markets: tuple[pd.DataFrame, pd.Series, pd.DataFrame]
) -> None:
    matrix = markets[2].to_numpy()[:200]
    expected = np.array([fast_market.predict_proba_one(row) for row in matrix])
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = np.array(list(pool.map(fast_market.predict_proba_one, list(matrix) * 5)))
    assert np.array_equal(got, np.tile(expected, (5, 1)))


def test_serving_model_is_the_compiled_path(market_model: ProductionEnsemble) -> None:
    assert isinstance(serving_model(market_model), FastEnsemble)


# ----------------------------------------------------------------------------- bad input
def test_wrong_length_and_shape_are_refused(fast_market: FastEnsemble) -> None:
    with pytest.raises(FeatureMismatchError, match=r"feature count mismatch: 11 != 12"):
        fast_market.predict_proba_one(np.zeros(11))
    with pytest.raises(DataValidationError, match=r"row must be 1-D .*predict_proba"):
        fast_market.predict_proba_one(np.zeros((1, 12)))
    with pytest.raises(FeatureMismatchError, match=r"feature count mismatch: 11 != 12"):
        fast_market.predict_proba(np.zeros((3, 11)))
    with pytest.raises(DataValidationError, match="must be 2-D"):
        fast_market.predict_proba(np.zeros(12))
    with pytest.raises(DataValidationError, match="must be 2-D"):
        fast_market.predict_proba(np.zeros((2, 3, 12)))
    rows = np.zeros((3, 12))
    rows[2, 1] = -math.inf
    with pytest.raises(DataValidationError, match=r"infinite values in \['volume'\]"):
        fast_market.predict_proba(rows)


def test_a_mapping_names_the_missing_and_unknown_features(
    fast_market: FastEnsemble, markets: tuple[pd.DataFrame, pd.Series, pd.DataFrame]
) -> None:
    row = markets[2].iloc[0].to_dict()
    del row["rsi_14"]
    with pytest.raises(FeatureMismatchError, match=r"missing \['rsi_14'\], unexpected \[\]"):
        fast_market.predict_proba_one(row)
    row["rsi"] = 50.0
    with pytest.raises(FeatureMismatchError, match=r"missing \['rsi_14'\], unexpected \['rsi'\]"):
        fast_market.predict_proba_one(row)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1.5", r"Feature 'volume' must be a number .* got '1.5'"),
        (None, r"Feature 'volume' must be a number .* got None"),
        (math.inf, r"infinite values in \['volume'\]"),
        (1e39, r"Features \['volume'\] hold values beyond .*float32"),
    ],
    ids=["string", "none", "infinity", "beyond-float32"],
)
def test_a_bad_value_is_refused_naming_the_feature(
    fast_market: FastEnsemble, markets: tuple[pd.DataFrame, pd.Series, pd.DataFrame], value: Any, message: str
) -> None:
    row = markets[2].iloc[0].to_dict()
    row["volume"] = value
    with pytest.raises(DataValidationError, match=message):
        fast_market.predict_proba_one(row)


def test_an_integer_too_large_for_a_float_is_refused_not_a_traceback(
    fast_market: FastEnsemble, markets: tuple[pd.DataFrame, pd.Series, pd.DataFrame]
) -> None:
    row = markets[2].iloc[0].to_dict()
    row["volume"] = 10**400
    with pytest.raises(DataValidationError, match="too large for a float"):
        fast_market.predict_proba_one(row)
    with pytest.raises(DataValidationError, match="numbers"):
        fast_market.predict_proba_one([10**400] * 12)
    with pytest.raises(DataValidationError, match="numeric 2-D array"):
        fast_market.predict_proba([[10**400] * 12])


def test_a_labelled_series_is_matched_by_name_not_position(
    fast_market: FastEnsemble, markets: tuple[pd.DataFrame, pd.Series, pd.DataFrame]
) -> None:
    row = markets[2].iloc[0]
    shuffled = row[row.index[::-1]]
    assert fast_market.predict_proba_one(shuffled)[1] == fast_market.predict_proba_one(row.to_numpy())[1]
    with pytest.raises(FeatureMismatchError, match=r"missing \['rsi_14'\]"):
        fast_market.predict_proba_one(row.drop("rsi_14"))


def test_the_library_also_refuses_what_the_fast_path_refuses(
    market_model: ProductionEnsemble, markets: tuple[pd.DataFrame, pd.Series, pd.DataFrame]
) -> None:
    """Infinity and float32 overflow: the library refuses too (the forest reads float32)."""
    row = markets[2].iloc[:1].copy()
    row["volume"] = 1e39
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's cast warning, before sklearn's error
        with pytest.raises(ValueError, match="too large"):
            market_model.predict_proba(row)
    row["volume"] = math.inf
    with pytest.raises(DataValidationError, match="infinite"):
        market_model.predict_proba(row)


def test_a_lightgbm_only_model_accepts_what_lightgbm_accepts(
    markets: tuple[pd.DataFrame, pd.Series, pd.DataFrame],
) -> None:
    X, y, held_out = markets
    model = _fit(X, y, ONLY["lightgbm"])
    row = held_out.iloc[:1].copy()
    row["volume"] = 1e39
    assert _max_difference(compile_ensemble(model), model, row) <= 1e-12


def test_dataframe_columns_are_checked_like_the_library(
    fast_market: FastEnsemble, markets: tuple[pd.DataFrame, pd.Series, pd.DataFrame]
) -> None:
    held_out = markets[2]
    swapped = held_out[[held_out.columns[1], held_out.columns[0], *held_out.columns[2:]]]
    with pytest.raises(FeatureMismatchError, match="feature order mismatch"):
        fast_market.predict_proba(swapped)


def test_models_it_cannot_compile_are_refused_and_served_by_the_library(
    markets: tuple[pd.DataFrame, pd.Series, pd.DataFrame],
) -> None:
    X, y, _ = markets
    with pytest.raises(NotFittedError):
        compile_ensemble(ProductionEnsemble())
    with pytest.raises(ConfigError, match="needs a fitted ProductionEnsemble"):
        compile_ensemble(object())
    dart = ProductionEnsemble(
        lgbm_params=TREES, xgb_params={"n_estimators": 5, "booster": "dart"}, rf_params=TREES
    ).fit(X, y)
    with pytest.raises(ConfigError, match=r"booster 'gbtree'.*got booster 'dart'"):
        compile_ensemble(dart)
    assert serving_model(dart) is dart


# ----------------------------------------------------------------------------- the float32 bound
@settings(max_examples=300, deadline=None)
@given(
    f=st.floats(width=32, allow_nan=False, allow_infinity=False),
    steps=st.integers(-3, 3),
)
def test_float32_bound_splits_doubles_exactly_where_float32_rounding_does(f: float, steps: int) -> None:
    f32 = np.array([f], dtype=np.float32)
    bound = float32_le_bound(f32)[0]
    x = bound
    for _ in range(abs(steps)):
        x = float(np.nextafter(x, math.inf if steps > 0 else -math.inf))
    if abs(x) > float(np.finfo(np.float32).max):
        return  # refused before prediction
    assert (np.float32(x) <= f32[0]) == (x <= bound)


def test_values_lightgbm_reads_as_zero_are_scored_like_the_library() -> None:
    """LightGBM reads |x| <= 1e-35 as 0; the forest splits at 0 and sends 1e-36 to the right."""
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.choice([-1.0, 1.0], size=400), rng.normal(size=400)])
    y = (X[:, 0] > 0).astype(int)
    model = _fit(X, y, ONLY["random_forest"])
    fast = compile_ensemble(model)
    rows = np.array([[1e-36, 0.0], [-1e-36, 0.0], [0.0, 0.0], [1.0, 0.0]])
    expected = model.predict_proba(rows)
    assert expected[0, 1] > 0.9 > 0.1 > expected[1, 1]  # the case is real: the sign decides
    assert np.array_equal(fast.predict_proba(rows), expected)
    assert np.array_equal(fast.predict_proba_one(rows[0]), expected[0])


# ----------------------------------------------------------------------------- the forest walker
@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None, reason="no C compiler")
def test_the_forest_is_walked_in_c_when_a_compiler_works(fast_market: FastEnsemble) -> None:
    assert fast_market._forest is not None
    assert "random_forest" not in [f.name for f in fast_market._families]


def test_without_a_compiler_the_forest_goes_to_lightgbm_with_the_same_probabilities(
    monkeypatch: pytest.MonkeyPatch, markets: tuple[pd.DataFrame, pd.Series, pd.DataFrame]
) -> None:
    X, y, held_out = markets
    monkeypatch.setenv("STAGEWISE_FAST_NO_CC", "1")
    forest_only = _fit(X, y, ONLY["random_forest"])
    fast = compile_ensemble(forest_only)
    assert fast._forest is None
    grid = np.concatenate(
        [held_out.to_numpy(), held_out.mask(np.random.default_rng(2).random(held_out.shape) < 0.3).to_numpy()]
    )
    assert _max_difference(fast, forest_only, grid) <= 1e-12
    ensemble = _fit(X, y)
    assert _max_difference(compile_ensemble(ensemble), ensemble, held_out) <= TOLERANCE


def test_a_failing_compiler_is_reported_and_refused(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from stagewise.serve import _forest_walker

    monkeypatch.setenv("CC", "false")  # a "compiler" that always fails
    with caplog.at_level("WARNING", logger="stagewise.serve"):
        assert _forest_walker._compile() is None
    assert "LightGBM scores the forest" in caplog.text
