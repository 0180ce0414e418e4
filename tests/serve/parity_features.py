"""A user feature function for the parity test: the built-in race features, every call recorded."""

from __future__ import annotations

import pandas as pd

from stagewise.features.races import race_entry_features

#: (race ids, feature rows) of every call, in call order.
CALLS: list[tuple[pd.Series, pd.DataFrame]] = []


def recording_race_features(races: pd.DataFrame) -> pd.DataFrame:
    rows = race_entry_features(races)
    CALLS.append((races["race_id"].copy(), rows.copy()))
    return rows
