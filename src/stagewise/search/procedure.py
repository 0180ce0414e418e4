"""The procedure around the model that a search can tune: calibration on/off and the bet margin.

These names in a search space are not the model's (a model target never sees them):

* ``calibration`` (choices among ``"none"``, ``"isotonic"``, ``"platt"``): the model fitted on a
  training window's earlier days and a probability calibrator on its last days, as
  ``WalkForwardBacktest(calibration=...)`` does; :func:`stagewise.search.study.fit_predict` applies it
  and ``search-register`` stores the calibrated flavour;
* ``bet_margin`` (races; numbers ``>= 0``): EV bets on the win odds when ``p x odds > 1 + margin``,
  as ``--bets ev --bet-margin``. A margin never changes which boat is ranked first, so a space that
  tunes it makes the trials maximise the bets' ROI (:data:`stagewise.search.scoring.ROI_METRIC`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from stagewise._exceptions import ConfigError

if TYPE_CHECKING:
    from stagewise.search.scoring import EvalRows
    from stagewise.search.space import Parameter

__all__ = [
    "BET_MARGIN",
    "CALIBRATION",
    "CALIBRATION_CHOICES",
    "PROCEDURE",
    "Procedure",
    "check_procedure",
    "procedure",
    "with_bets",
]

#: Calibration on/off (and which map): a procedure parameter, searched with choices only.
CALIBRATION = "calibration"
CALIBRATION_CHOICES = ("none", "isotonic", "platt")
#: The EV betting margin (races): bet a boat when ``p x odds > 1 + margin``.
BET_MARGIN = "bet_margin"
#: Parameters of the procedure around the model; every other name is the model target's.
PROCEDURE = (CALIBRATION, BET_MARGIN)


class Procedure(NamedTuple):
    """The procedure settings of a configuration: calibration map and bet margin (None: not searched)."""

    calibration: str | None
    margin: float | None


def procedure(config: Mapping[str, Any]) -> Procedure:
    """The configuration's calibration (``"none"`` is None) and bet margin.

    Examples
    --------
    >>> procedure({"lightgbm.num_leaves": 8, "calibration": "platt", "bet_margin": 0.1})
    Procedure(calibration='platt', margin=0.1)
    >>> procedure({"calibration": "none"})
    Procedure(calibration=None, margin=None)
    """
    calibration = config.get(CALIBRATION)
    margin = config.get(BET_MARGIN)
    return Procedure(
        None if calibration in (None, "none") else str(calibration),
        None if margin is None else float(margin),
    )


def check_procedure(name: str, param: Parameter) -> None:
    """``calibration``: choices among CALIBRATION_CHOICES; ``bet_margin``: numbers >= 0.

    Reads the parameter through its ``describe()`` (the space module imports this one, not the
    other way round).
    """
    described = param.describe()
    kind = described["type"]
    if name == CALIBRATION:
        accepted = sorted(CALIBRATION_CHOICES)
        if kind != "choice":
            raise ConfigError(
                f"The '{CALIBRATION}' parameter must list choices from {accepted}, e.g. "
                f'{{ choices = ["none", "isotonic"] }}. Got a {kind} range instead.'
            )
        for value in described["choices"]:
            if value not in CALIBRATION_CHOICES:
                raise ConfigError(
                    f"The '{CALIBRATION}.choices' field must hold values from {accepted}. "
                    f"Got {value!r} instead."
                )
        return
    if kind == "int":
        raise ConfigError(
            f"The '{BET_MARGIN}' parameter must be a float range or choices (a margin such as 0.05). "
            "Got an int range instead."
        )
    key = "choices" if kind == "choice" else "low"
    values = described["choices"] if kind == "choice" else [described["low"]]
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise ConfigError(
                f"The '{BET_MARGIN}.{key}' field must be a number >= 0 (bet when p x odds > 1 + margin). "
                f"Got {value!r} instead."
            )


def with_bets(rows: EvalRows, frame: pd.DataFrame) -> EvalRows:
    """Race rows with what settling bets needs: each boat's win odds, whether it started, its day."""
    from stagewise.metrics.races import DID_NOT_START

    if "win_odds" not in frame.columns:
        raise ConfigError(
            f"The search space parameter '{BET_MARGIN}' needs the data's 'win_odds' column (the odds the "
            "bets are settled at); simulated races have it, your own data must add it."
        )
    return dataclasses.replace(
        rows,
        odds=frame["win_odds"].to_numpy(dtype=np.float64),
        started=~frame["status"].astype(str).isin(DID_NOT_START).to_numpy(),
        days=pd.to_datetime(frame["race_date"]).to_numpy().astype("datetime64[D]"),
    )
