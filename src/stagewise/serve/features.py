"""A race request as rows of the race data schema, for the model's recorded feature set.

The server computes no feature itself: it turns the request into the same columns and dtypes a
race data set has (:data:`stagewise.data.races.schema.DTYPES`, pre-race columns only) and hands
them to the model version's :class:`~stagewise.features.sets.FeatureSet` — the very function that
computed the training rows. ``tests/serve/test_train_serve_parity.py`` proves the rows are
bit-identical to those of ``stagewise train`` for the same race.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stagewise.features.races import RACE_FEATURE_NAMES, race_feature_matrix
from stagewise.features.sets import FeatureSet
from stagewise.serve.schemas import RacePredictRequest

__all__ = ["PRE_RACE_COLUMNS", "builtin_race_matrix", "request_frame", "uses_builtin_race_features"]

#: The race data schema's columns known before the race (no finish position or status).
PRE_RACE_COLUMNS: tuple[str, ...] = (
    "race_id",
    "race_date",
    "venue_code",
    "race_number",
    "pit",
    "racer_id",
    "racer_class",
    "national_win_rate",
    "local_win_rate",
    "motor_2rate",
    "boat_2rate",
    "exhibition_time",
    "avg_start_timing",
)


def request_frame(req: RacePredictRequest) -> pd.DataFrame:
    """One row per entry, in request order, with the race data schema's pre-race columns and dtypes.

    Examples
    --------
    >>> example = RacePredictRequest.model_config["json_schema_extra"]["example"]
    >>> frame = request_frame(RacePredictRequest.model_validate(example))
    >>> frame.shape, str(frame["race_date"].dtype), str(frame["pit"].dtype)
    ((6, 13), 'datetime64[ns]', 'int64')
    """
    from stagewise.data.races.schema import DTYPES

    rows = [
        {
            "race_id": req.race_id,
            "race_date": req.race_date,
            "venue_code": req.venue_code,
            "race_number": req.race_number,
            **entry.model_dump(),
        }
        for entry in req.entries
    ]
    frame = pd.DataFrame(rows, columns=list(PRE_RACE_COLUMNS))
    return frame.astype({c: DTYPES[c] for c in PRE_RACE_COLUMNS if c != "race_date"}).assign(
        race_date=pd.to_datetime(frame["race_date"]).astype("datetime64[ns]")
    )


_NUMERIC_INPUTS = (
    "national_win_rate",
    "local_win_rate",
    "motor_2rate",
    "boat_2rate",
    "exhibition_time",
    "avg_start_timing",
)
_BUILTIN = FeatureSet.races()


def uses_builtin_race_features(feature_set: FeatureSet | None, names: tuple[str, ...]) -> bool:
    """Whether a model reads the built-in race features in their own order (the server's fast path)."""
    return (feature_set is None or feature_set == _BUILTIN) and list(names) == RACE_FEATURE_NAMES


def builtin_race_matrix(req: RacePredictRequest) -> np.ndarray:
    """The built-in race features of the request as a float64 matrix, without a DataFrame.

    The same numbers as ``FeatureSet.races().compute(request_frame(req))``: both call the numpy core
    of :func:`~stagewise.features.races.race_entry_features` (``tests/serve/test_train_serve_parity.py``).

    Examples
    --------
    >>> example = RacePredictRequest.model_config["json_schema_extra"]["example"]
    >>> req = RacePredictRequest.model_validate(example)
    >>> bool((builtin_race_matrix(req) == FeatureSet.races().compute(request_frame(req)).to_numpy()).all())
    True
    """
    entries = req.entries
    inputs = {
        "pit": np.array([float(e.pit) for e in entries]),
        "venue_code": np.full(len(entries), float(req.venue_code)),
    }
    for name in _NUMERIC_INPUTS:
        inputs[name] = np.array([getattr(e, name) for e in entries], dtype=np.float64)
    return race_feature_matrix(inputs, np.array([e.racer_class for e in entries], dtype=object))
