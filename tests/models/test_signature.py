"""The input signature refuses every broken row with the feature, the value and the rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from models_support import make_xy

from stagewise import FeatureMismatchError, SignatureError
from stagewise.models import FeatureSpec, InputSignature, LightGBMFlavour, SklearnFlavour

SIG = InputSignature(
    (
        FeatureSpec("pit", "int64", minimum=1, maximum=6, allow_nan=False),
        FeatureSpec("is_local", "bool", allow_nan=False),
        FeatureSpec("class_code", "category", categories=(0, 1, 2, 3)),
        FeatureSpec("rate", "float64", minimum=0.0, maximum=10.0),
    )
)

VALID = st.tuples(
    st.integers(1, 6).map(float),
    st.sampled_from([0.0, 1.0]),
    st.sampled_from([0.0, 1.0, 2.0, 3.0, np.nan]),
    st.one_of(st.floats(0.0, 10.0), st.just(np.nan)),
)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(VALID, min_size=1, max_size=6))
def test_rows_inside_the_signature_pass_unchanged(rows: list[tuple[float, ...]]) -> None:
    matrix = np.array(rows, dtype=np.float64)
    np.testing.assert_array_equal(SIG.check(matrix), matrix)


BREAKS = [
    (0, 7.0, "pit", "a whole number in [1, 6]"),
    (0, 2.5, "pit", "a whole number in [1, 6]"),
    (0, np.nan, "pit", "never NaN"),
    (1, 2.0, "is_local", "0 or 1"),
    (2, 4.0, "class_code", "one of [0, 1, 2, 3]"),
    (3, -0.5, "rate", "a number in [0, 10]"),
    (3, np.inf, "rate", "a number in [0, 10]"),
]


@pytest.mark.parametrize(
    ("column", "value", "feature", "rule"), BREAKS, ids=[f"{b[2]}={b[1]}" for b in BREAKS]
)
@settings(max_examples=15, deadline=None)
@given(rows=st.lists(VALID, min_size=1, max_size=6), data=st.data())
def test_one_broken_value_is_named_with_its_rule(
    column: int, value: float, feature: str, rule: str, rows: list[tuple[float, ...]], data: st.DataObject
) -> None:
    matrix = np.array(rows, dtype=np.float64)
    row = data.draw(st.integers(0, len(rows) - 1), label="row")
    matrix[row, column] = value
    with pytest.raises(SignatureError) as info:
        SIG.check(matrix)
    message = str(info.value)
    assert f"Feature {feature!r} (row {row})" in message
    assert repr(float(value)) in message
    assert rule in message


def test_missing_unexpected_and_string_columns_are_refused() -> None:
    frame = pd.DataFrame({"pit": [1], "is_local": [0], "class_code": [2], "rate": [5.0]})
    assert SIG.check(frame).shape == (1, 4)
    assert SIG.check(frame[["rate", "pit", "class_code", "is_local"]]).tolist() == [[1.0, 0.0, 2.0, 5.0]]
    with pytest.raises(FeatureMismatchError, match=r"missing \['rate'\], unexpected \['speed'\]"):
        SIG.check(frame.rename(columns={"rate": "speed"}))
    with pytest.raises(SignatureError, match=r"Feature 'rate' has value 'fast'"):
        SIG.check(frame.assign(rate=["fast"]))
    with pytest.raises(FeatureMismatchError, match="feature count mismatch: 3 != 4"):
        SIG.check(np.zeros((1, 3)))


def test_string_categories_reach_a_pipeline_as_a_frame() -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(1)
    X = pd.DataFrame({"rate": rng.normal(size=120), "racer_class": rng.choice(["A1", "B1"], 120)})
    y = (X["rate"] > 0).astype(int)
    columns = ColumnTransformer(
        [("num", StandardScaler(), ["rate"]), ("cat", OneHotEncoder(), ["racer_class"])]
    )
    model = SklearnFlavour(Pipeline([("columns", columns), ("lr", LogisticRegression())])).fit(X, y)
    assert model.signature_.features[1] == FeatureSpec(
        "racer_class", "category", categories=("A1", "B1"), allow_nan=False
    )
    assert model.predict_proba(X.iloc[:3]).shape == (3, 2)
    with pytest.raises(
        SignatureError, match=r"Feature 'racer_class' \(row 0\) has value 'Z9'.*one of \['A1', 'B1'\]"
    ):
        model.predict_proba(X.iloc[:1].assign(racer_class="Z9"))


def test_library_predict_enforces_the_inferred_nan_policy() -> None:
    X, y = make_xy()
    model = LightGBMFlavour({"n_estimators": 5}).fit(X, y)
    assert not model.signature_.features[0].allow_nan  # the training data had no NaN
    broken = X.iloc[:2].copy()
    broken.iloc[1, 0] = np.nan
    with pytest.raises(SignatureError, match=r"Feature 'close' \(row 1\) has value nan.*never NaN"):
        model.predict_proba(broken)


def test_a_signature_round_trips_through_json() -> None:
    assert InputSignature.from_json(SIG.to_json()) == SIG
