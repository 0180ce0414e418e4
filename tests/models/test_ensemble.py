from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from models_support import TINY, make_xy
from sklearn.base import clone
from sklearn.metrics import accuracy_score

from stagewise import ConfigError, DataValidationError, FeatureMismatchError, NotFittedError
from stagewise.models import ProductionEnsemble
from stagewise.models._features import SEED_FEATURE_NAMES
from stagewise.models._params import validate_weights


def test_seed_feature_names_are_the_seed_list() -> None:
    assert list(SEED_FEATURE_NAMES) == [
        "close", "volume", "returns_1", "rsi_14", "macd", "macd_signal",
        "atr_14", "bb_position", "ema_20", "ema_50", "zscore", "volume_ratio",
    ]  # fmt: skip


def test_model_info_has_the_seed_keys(fitted: ProductionEnsemble) -> None:
    info = fitted.get_model_info()
    assert info["type"] == "ProductionEnsemble"
    assert info["is_fitted"] is True
    assert info["n_features"] == 12
    assert info["feature_names"] == list(SEED_FEATURE_NAMES)
    assert info["individual_models"] == ["lightgbm", "xgboost", "random_forest"]
    assert info["weights"] == pytest.approx({"lightgbm": 0.4, "xgboost": 0.4, "random_forest": 0.2})
    assert info["classes"] == [0, 1]


def test_predicts_better_than_chance_and_probabilities_are_valid(fitted: ProductionEnsemble) -> None:
    X, y = make_xy(n=400, seed=1)
    proba = fitted.predict_proba(X)
    assert proba.shape == (400, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert ((proba >= 0) & (proba <= 1)).all()
    assert accuracy_score(y, fitted.predict(X)) > 0.7


def test_ensemble_is_the_weighted_average_of_its_families(fitted: ProductionEnsemble) -> None:
    X, _ = make_xy(n=50, seed=2)
    parts = fitted.predict_proba_by_model(X)
    expected = 0.4 * parts["lightgbm"] + 0.4 * parts["xgboost"] + 0.2 * parts["random_forest"]
    np.testing.assert_allclose(fitted.predict_proba(X), expected, rtol=1e-12)


def test_zero_weight_family_has_no_say(market_xy: tuple[pd.DataFrame, np.ndarray]) -> None:
    X, y = market_xy
    model = ProductionEnsemble(weights={"lightgbm": 0, "xgboost": 0, "random_forest": 3}, **TINY).fit(X, y)
    np.testing.assert_allclose(model.predict_proba(X), model.predict_proba_by_model(X)["random_forest"])
    assert model.weights_ == {"lightgbm": 0.0, "xgboost": 0.0, "random_forest": 1.0}


def test_same_seed_same_model_and_other_seed_differs(market_xy: tuple[pd.DataFrame, np.ndarray]) -> None:
    X, y = market_xy
    a = ProductionEnsemble(random_state=7, **TINY).fit(X, y).predict_proba(X)
    b = ProductionEnsemble(random_state=7, **TINY).fit(X, y).predict_proba(X)
    c = ProductionEnsemble(random_state=8, **TINY).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_string_labels_round_trip(market_xy: tuple[pd.DataFrame, np.ndarray]) -> None:
    X, y = market_xy
    labels = np.where(y == 1, "up", "down")
    model = ProductionEnsemble(**TINY).fit(X, labels)
    assert list(model.classes_) == ["down", "up"]
    assert set(model.predict(X)) <= {"down", "up"}
    assert (model.predict(X) == "up").mean() == pytest.approx((model.predict_proba(X)[:, 1] > 0.5).mean())


def test_nan_features_are_accepted_but_infinity_is_named(market_xy: tuple[pd.DataFrame, np.ndarray]) -> None:
    X, y = market_xy
    X = X.copy()
    X.iloc[::7, 3] = np.nan
    model = ProductionEnsemble(**TINY).fit(X, y)
    assert np.isfinite(model.predict_proba(X)).all()
    X.iloc[5, 4] = np.inf
    with pytest.raises(DataValidationError, match=r"infinite values in \['macd'\]"):
        model.predict_proba(X)


# --------------------------------------------------------------------------- estimator contract
def test_unfitted_model_raises_our_not_fitted_error() -> None:
    model = ProductionEnsemble()
    with pytest.raises(NotFittedError, match="not fitted yet"):
        model.predict_proba(np.zeros((1, 12)))
    with pytest.raises(NotFittedError):
        model.predict(np.zeros((1, 12)))
    assert model.get_model_info()["is_fitted"] is False


def test_init_only_stores_even_bad_values() -> None:
    model = ProductionEnsemble(weights={"bogus": 1}, n_jobs=0)
    assert model.weights == {"bogus": 1}
    with pytest.raises(ConfigError):
        model.fit(np.zeros((4, 2)), [0, 1, 0, 1])


def test_clone_and_params_round_trip(fitted: ProductionEnsemble) -> None:
    params = fitted.get_params()
    assert params == {
        "weights": None, "random_state": 0, "n_jobs": 1,
        "lgbm_params": TINY["lgbm_params"], "xgb_params": TINY["xgb_params"], "rf_params": TINY["rf_params"],
    }  # fmt: skip
    twin = clone(fitted)
    assert twin.get_params() == params
    assert not hasattr(twin, "classes_")
    twin.set_params(random_state=3, weights={"lightgbm": 1, "xgboost": 1, "random_forest": 0})
    assert twin.get_params()["random_state"] == 3
    assert ProductionEnsemble(**twin.get_params()).get_params() == twin.get_params()


def test_fit_returns_self_and_sets_learned_attributes(market_xy: tuple[pd.DataFrame, np.ndarray]) -> None:
    X, y = market_xy
    model = ProductionEnsemble(**TINY)
    assert model.fit(X, y) is model
    assert model.n_features_in_ == 12
    assert list(model.feature_names_in_) == list(X.columns)
    assert {"lightgbm_", "xgboost_", "random_forest_", "weights_", "classes_"} <= set(vars(model))


# --------------------------------------------------------------------------- weights
@pytest.mark.parametrize(
    ("weights", "message"),
    [
        pytest.param({"lightgbm": 1, "xgboost": 1}, r"missing \['random_forest'\]", id="missing-key"),
        pytest.param(
            {"lightgbm": 1, "xgboost": 1, "random_forest": 1, "catboost": 1}, "unknown", id="extra-key"
        ),
        pytest.param(
            {"lightgbm": -0.1, "xgboost": 1, "random_forest": 1}, r"weights\['lightgbm'\].*-0.1", id="neg"
        ),
        pytest.param({"lightgbm": math.nan, "xgboost": 1, "random_forest": 1}, "finite.*nan", id="nan"),
        pytest.param({"lightgbm": math.inf, "xgboost": 1, "random_forest": 1}, "finite.*inf", id="inf"),
        pytest.param(
            {"lightgbm": "0.4", "xgboost": 1, "random_forest": 1}, "real number.*'0.4'", id="string"
        ),
        pytest.param({"lightgbm": True, "xgboost": 1, "random_forest": 1}, "real number.*True", id="bool"),
        pytest.param(
            {"lightgbm": 0, "xgboost": 0, "random_forest": 0}, "must not all be zero", id="all-zero"
        ),
        pytest.param([0.4, 0.4, 0.2], "must be a mapping", id="list"),
    ],
)
def test_bad_weights_are_refused_with_the_value(weights: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ProductionEnsemble(weights=weights).fit(np.zeros((4, 2)), [0, 1, 0, 1])


@given(
    st.fixed_dictionaries(
        {k: st.floats(0, 1e6, allow_nan=False) for k in ("lightgbm", "xgboost", "random_forest")}
    ).filter(lambda w: sum(w.values()) > 0)
)
@settings(max_examples=100, deadline=None)
def test_normalised_weights_sum_to_one_and_keep_ratios(weights: dict[str, float]) -> None:
    out = validate_weights(weights)
    assert math.isclose(sum(out.values()), 1.0, rel_tol=1e-12)
    total = sum(weights.values())
    for name, value in weights.items():
        assert math.isclose(out[name], value / total, rel_tol=1e-9, abs_tol=1e-300)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"n_jobs": 0}, "'n_jobs'.*Got 0", id="n_jobs-0"),
        pytest.param({"n_jobs": -2}, "'n_jobs'.*Got -2", id="n_jobs-neg"),
        pytest.param({"random_state": -1}, "'random_state'.*Got -1", id="seed-neg"),
        pytest.param({"random_state": 1.5}, "'random_state'.*Got 1.5", id="seed-float"),
        pytest.param(
            {"lgbm_params": {"random_state": 3}}, r"lgbm_params\['random_state'\] cannot be set", id="seed"
        ),
        pytest.param({"xgb_params": {"objective": "reg:squarederror"}}, "objective", id="objective"),
        pytest.param({"rf_params": {"n_jobs": 0}}, r"rf_params\['n_jobs'\]", id="rf-n_jobs"),
        pytest.param({"rf_params": {"criterion": object()}}, "JSON value", id="not-json"),
    ],
)
def test_bad_parameters_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ProductionEnsemble(**kwargs).fit(np.zeros((4, 2)), [0, 1, 0, 1])


# --------------------------------------------------------------------------- labels
@pytest.mark.parametrize(
    ("y", "message"),
    [
        pytest.param([1, 1, 1, 1], "exactly 2 distinct labels; got 1", id="one-class"),
        pytest.param([0, 1, 2, 1], "exactly 2 distinct labels; got 3", id="three-classes"),
        pytest.param([0, 1, None, 1], "1 missing label", id="missing"),
        pytest.param([0, 1, 0], "same number of rows; got 4 and 3", id="length"),
    ],
)
def test_bad_labels_are_refused(y: list[Any], message: str) -> None:
    with pytest.raises(DataValidationError, match=message):
        ProductionEnsemble(**TINY).fit(np.zeros((4, 2)), y)


# --------------------------------------------------------------------------- feature contract
def test_wrong_feature_count_states_both_counts(fitted: ProductionEnsemble) -> None:
    with pytest.raises(
        FeatureMismatchError, match=r"feature count mismatch: 10 != 12 \(expected features: \['close'"
    ):
        fitted.predict_proba(np.zeros((3, 10)))
    X, _ = make_xy(n=3)
    with pytest.raises(FeatureMismatchError, match="feature count mismatch: 11 != 12"):
        fitted.predict(X.drop(columns=["zscore"]))


def test_right_names_in_wrong_order_lists_both_orders(fitted: ProductionEnsemble) -> None:
    X, _ = make_xy(n=3)
    swapped = X[["volume", "close", *X.columns[2:]]]
    with pytest.raises(FeatureMismatchError) as info:
        fitted.predict_proba(swapped)
    message = str(info.value)
    assert "feature order mismatch: first difference at position 0 ('volume' != 'close')" in message
    assert "got order ['volume', 'close', 'returns_1'" in message
    assert "expected order ['close', 'volume', 'returns_1'" in message


def test_unknown_names_are_listed(fitted: ProductionEnsemble) -> None:
    X, _ = make_xy(n=3)
    with pytest.raises(FeatureMismatchError, match=r"missing \['zscore'\], unexpected \['z'\]"):
        fitted.predict_proba(X.rename(columns={"zscore": "z"}))


def test_ndarray_with_the_right_count_is_accepted(fitted: ProductionEnsemble) -> None:
    X, _ = make_xy(n=5, seed=3)
    np.testing.assert_array_equal(fitted.predict_proba(X.to_numpy()), fitted.predict_proba(X))


def test_one_dimensional_input_gets_a_reshape_hint(fitted: ProductionEnsemble) -> None:
    with pytest.raises(DataValidationError, match=r"reshape\(1, -1\)"):
        fitted.predict_proba(np.zeros(12))


def test_array_fitted_names_default_to_x_columns() -> None:
    X, y = make_xy(n=200, n_features=5)
    model = ProductionEnsemble(**TINY).fit(X.to_numpy(), y)
    assert list(model.feature_names_in_) == ["x0", "x1", "x2", "x3", "x4"]
    assert model.predict_proba(np.zeros((0, 5))).shape == (0, 2)


def test_non_numeric_column_is_named(market_xy: tuple[pd.DataFrame, np.ndarray]) -> None:
    X, y = market_xy
    X = X.assign(volume=X["volume"].astype(str))
    with pytest.raises(DataValidationError, match=r"column\(s\) \['volume'\] are not"):
        ProductionEnsemble(**TINY).fit(X, y)
