"""A race request as rows of the race data schema, for the model's recorded feature set.

The server computes no feature itself: it turns the request into the same columns and dtypes a
race data set has (:data:`stagewise.data.races.schema.DTYPES`, pre-race columns only) and hands
them to the model version's :class:`~stagewise.features.sets.FeatureSet` — the very function that
computed the training rows. ``tests/serve/test_train_serve_parity.py`` proves the rows are
bit-identical to those of ``stagewise train`` for the same race.
"""

from __future__ import annotations

import pandas as pd

from stagewise.serve.schemas import RacePredictRequest

__all__ = ["PRE_RACE_COLUMNS", "request_frame"]

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
