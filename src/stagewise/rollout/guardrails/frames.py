"""One arm's units for :func:`~stagewise.rollout.guardrails.judge_guardrails` from a ledger frame (pure).

The controller already reads one row per logged prediction (``race_outcomes``: ``race_date``,
``hit_1st``, ``hit_top3``, ``score_accuracy``, ``status``, ...). :func:`arm_units` keeps the settled
rows (a void race is neither hit nor miss; a pending one is not judged yet) and turns every numeric or
boolean column into a float array with NaN where the value is missing, so the built-ins and user
functions see the same columns the ledger has, plus any a newer ledger logs (``p_pick``, a covariate).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from stagewise.rollout.guardrails.judge import ArmUnits

__all__ = ["arm_units"]


def arm_units(outcomes: pd.DataFrame, day_column: str = "race_date") -> ArmUnits:
    """The settled units of one group, with their day and every numeric column as floats.

    Examples
    --------
    >>> frame = pd.DataFrame({"race_date": ["2026-11-01", "2026-11-01", "2026-11-02"],
    ...                       "hit_1st": pd.array([True, None, False], dtype="boolean"),
    ...                       "status": ["settled", "pending", "settled"], "variant": "on"})
    >>> units = arm_units(frame)
    >>> units.columns["hit_1st"].tolist(), sorted(units.columns)
    ([1.0, 0.0], ['hit_1st'])
    """
    if day_column not in outcomes:  # nothing was read (a disabled or killed feature): no units
        return ArmUnits(np.array([], dtype="datetime64[D]"), {})
    rows = outcomes[outcomes["status"] == "settled"] if "status" in outcomes else outcomes
    days = pd.to_datetime(rows[day_column]).to_numpy(dtype="datetime64[D]")
    columns: dict[str, npt.NDArray[np.generic]] = {}
    for name in rows.columns:
        if name == day_column:
            continue
        column = rows[name]
        if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
            columns[str(name)] = column.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    return ArmUnits(days, columns)
