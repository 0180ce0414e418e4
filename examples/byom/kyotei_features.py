"""A user's own kyotei features and model, as a small importable module (used by example 06).

``kyotei_features`` is the kind of function a user registers as a feature set by dotted path
(``byom.kyotei_features:kyotei_features``): one row per boat in, one row per boat out, same index,
from pre-race information of the same race only. ``make_pipeline`` builds their model.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from stagewise.features.races import race_entry_features


def kyotei_features(races: pd.DataFrame) -> pd.DataFrame:
    """The built-in entry features plus two of the user's own, per race."""
    rows = race_entry_features(races)
    by_race = races.groupby("race_id", sort=False)
    rows["exhibition_gap"] = races["exhibition_time"] - by_race["exhibition_time"].transform("min")
    rows["inside_strength"] = (7 - races["pit"]) * races["national_win_rate"]
    return rows


def make_pipeline() -> Any:
    """The user's scikit-learn Pipeline: scale, then a regularised logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(C=0.5, max_iter=500))])
