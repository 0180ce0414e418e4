"""One race's feature matrix (the server's path) is race_entry_features' rows, bit for bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from stagewise.data.races.validation import FLOAT_RANGES
from stagewise.features.races import CLASS_CODES, race_entry_features, race_feature_matrix


def _value(name: str, missing: bool) -> st.SearchStrategy[float]:
    low, high = FLOAT_RANGES[name]
    # shared values make ties (ranks share the mean rank); -0.0 checks the sums keep their sign
    options = [st.floats(low, high, allow_nan=False), st.sampled_from([low, high, (low + high) / 2])]
    if low == 0.0:
        options.append(st.just(-0.0))
    if missing:
        options.append(st.just(float("nan")))
    return st.one_of(*options)


@st.composite
def races(draw: st.DrawFn, missing: bool = False) -> pd.DataFrame:
    pits = draw(st.permutations([1, 2, 3, 4, 5, 6]))
    return pd.DataFrame(
        {
            "race_id": "R1",
            "pit": pits,
            "venue_code": draw(st.integers(1, 24)),
            "racer_class": [draw(st.sampled_from(sorted(CLASS_CODES))) for _ in pits],
            **{name: [draw(_value(name, missing)) for _ in pits] for name in FLOAT_RANGES},
        }
    )


def _matrix(race: pd.DataFrame) -> np.ndarray:
    inputs = {n: race[n].to_numpy(dtype=np.float64) for n in ("pit", "venue_code", *FLOAT_RANGES)}
    return race_feature_matrix(inputs, race["racer_class"].to_numpy(dtype=object))


@settings(max_examples=300, deadline=None)
@given(race=races())
def test_a_complete_race_is_bit_identical_to_the_training_rows(race: pd.DataFrame) -> None:
    rows = race_entry_features(race).to_numpy(dtype=np.float64)
    assert _matrix(race).tobytes() == np.ascontiguousarray(rows).tobytes()


@settings(max_examples=100, deadline=None)
@given(race=races(missing=True))
def test_a_race_with_missing_values_gives_the_training_rows_too(race: pd.DataFrame) -> None:
    rows = race_entry_features(race).to_numpy(dtype=np.float64)
    np.testing.assert_array_equal(_matrix(race), rows)  # NaN where the training rows have NaN
