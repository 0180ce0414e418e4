"""Stage 3, the features: both feature sets are generated with the names, order and values a model expects.

* the seed's 12 technical features (TA-Lib) on synthetic bars: the seed's names in the
  seed's order, no missing value after the indicator warm-up;
* the race entry features on the last day of the race data (or one simulated day when
  there is none): :data:`~stagewise.features.RACE_FEATURE_NAMES` in order, no infinity.

That a model *refuses* a table in another order is checked on the production model itself
(:func:`stagewise.check.models.production_model_checks`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from stagewise.check.result import CheckResult, guarded

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["race_features_check", "technical_features_check"]

_FEATURE_FIX = "reinstall stagewise and TA-Lib (`pip install -e .`); feature code must not be edited in place"


def technical_features_check(n_bars: int = 300, seed: int = 0) -> CheckResult:
    """The 12 technical features come out in the seed's order, complete after the warm-up."""

    def run() -> CheckResult:
        from stagewise.data import synthetic_bars
        from stagewise.features import FEATURE_NAMES, WARMUP_BARS, TechnicalIndicators

        features = TechnicalIndicators().generate_all_features(synthetic_bars(n_bars, seed=seed))
        columns = [str(c) for c in features.columns]
        if columns != list(FEATURE_NAMES):
            detail = f"generated columns {columns}, expected {list(FEATURE_NAMES)}"
            return CheckResult("12 technical features", False, detail, _FEATURE_FIX)
        after_warmup = features.iloc[WARMUP_BARS:]
        incomplete = [c for c in columns if after_warmup[c].isna().any()]
        if incomplete:
            detail = f"missing values after the {WARMUP_BARS}-bar warm-up in {incomplete}"
            return CheckResult("12 technical features", False, detail, _FEATURE_FIX)
        detail = (
            f"generated in the seed's order on {n_bars} bars, complete after the {WARMUP_BARS}-bar warm-up"
        )
        return CheckResult("12 technical features", True, detail)

    return guarded("12 technical features", _FEATURE_FIX, run)


def race_features_check(races: pd.DataFrame | None, seed: int = 0) -> CheckResult:
    """The race entry features of the data's last day (or a simulated day) have the expected columns."""

    def run() -> CheckResult:
        from stagewise.data import simulate_races
        from stagewise.features import RACE_FEATURE_NAMES, race_entry_features

        if races is None or races.empty:
            day = simulate_races("2025-01-01", "2025-01-01", seed=seed, venues=[24])
            source = "one simulated day (no race data loaded)"
        else:
            last = races["race_date"].max()
            day = races.loc[races["race_date"] == last]
            source = f"the data's last day, {last.date()}"
        features = race_entry_features(day)
        columns = [str(c) for c in features.columns]
        if columns != list(RACE_FEATURE_NAMES):
            detail = f"generated columns {columns}, expected {list(RACE_FEATURE_NAMES)}"
            return CheckResult("race features", False, detail, _FEATURE_FIX)
        infinite = [c for c in columns if np.isinf(features[c].to_numpy(dtype=float)).any()]
        if infinite:
            detail = f"infinite values in {infinite} on {source}"
            fix = "repair the rows of that day (`stagewise data check FILE`): a model cannot use infinity"
            return CheckResult("race features", False, detail, fix)
        detail = f"{len(columns)} features for {len(features):,} boats of {source}"
        return CheckResult("race features", True, detail)

    return guarded("race features", _FEATURE_FIX, run)
