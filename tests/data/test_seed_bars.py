"""``validate_bars`` takes the common CSV header Open/High/Low/Close/Volume, as the seed's data had it."""

from __future__ import annotations

import pandas as pd
import pytest

from stagewise import DataValidationError
from stagewise.data import validate_bars


def _bars() -> pd.DataFrame:
    idx = pd.date_range("2024-01-01", periods=4, freq="1h", name="timestamp")
    return pd.DataFrame(
        {"open": [1.0, 1.1, 1.2, 1.1], "high": [1.2, 1.3, 1.4, 1.2], "low": [0.9, 1.0, 1.1, 1.0],
         "close": [1.1, 1.2, 1.3, 1.1], "volume": [10, 12, 9, 11]},
        index=idx,
    )  # fmt: skip


@pytest.mark.parametrize(
    "rename", [str.capitalize, str.upper, lambda c: f" {c.title()} "], ids=["Open", "OPEN", "padded"]
)
def test_capitalised_ohlcv_columns_are_mapped(rename: object) -> None:
    canonical = validate_bars(_bars())
    mapped = validate_bars(_bars().rename(columns=rename))  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(mapped, canonical)


def test_two_spellings_of_one_column_are_refused_by_name() -> None:
    bars = _bars()
    bars["Close"] = bars["close"] + 1
    with pytest.raises(DataValidationError, match=r"'Close'.*'close'|'close'.*'Close'"):
        validate_bars(bars)
