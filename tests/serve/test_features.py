"""The server's NumPy features of one race equal the library's race_entry_features."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from stagewise.data.races.validation import FLOAT_RANGES
from stagewise.features.races import race_entry_features
from stagewise.serve.features import one_race_features
from stagewise.serve.schemas import RaceEntryIn


def _value(name: str) -> st.SearchStrategy[float]:
    low, high = FLOAT_RANGES[name]
    # few distinct values, so that ties (shared ranks) are common
    return st.one_of(st.sampled_from([low, high, (low + high) / 2]), st.floats(low, high, allow_nan=False))


_ENTRY = st.fixed_dictionaries(
    {
        "racer_id": st.integers(1, 9999),
        "racer_class": st.sampled_from(["A1", "A2", "B1", "B2"]),
        **{name: _value(name) for name in FLOAT_RANGES},
    }
)


@settings(max_examples=150, deadline=None)
@given(
    entries=st.lists(_ENTRY, min_size=6, max_size=6),
    venue=st.integers(1, 24),
    pits=st.permutations(range(1, 7)),
)
def test_one_race_features_equal_race_entry_features(
    entries: list[dict], venue: int, pits: list[int]
) -> None:
    models = [RaceEntryIn(pit=p, **e) for p, e in zip(pits, entries, strict=True)]
    frame = pd.DataFrame([m.model_dump() for m in models]).assign(race_id="r", venue_code=venue)
    expected = race_entry_features(frame).to_numpy(dtype=np.float64)
    got = one_race_features(models, venue)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
