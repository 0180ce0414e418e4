"""The ``calibration`` section of a walk-forward result: the model raw and calibrated, side by side.

Each step's calibrator is fitted in the worker on the training window's last days
(:func:`stagewise.models.calibration.calibration_holdout`); the test predictions of the run are
the calibrated ones. This module scores the same test rows once more with the raw probabilities
and reports, for both: reliability curve, ECE with the interval of its excess over chance, Brier
score and its decomposition, and the log-loss with the paired difference (calibrated − raw) and
its day-block bootstrap interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from stagewise._domain import Domain
from stagewise.backtest.domains import DomainAdapter
from stagewise.backtest.steps import ChunkResult, ChunkTask
from stagewise.metrics.bootstrap import day_block_bootstrap_mean
from stagewise.metrics.calibration import calibration_report

__all__ = ["calibration_section"]


def _raw_predictions(
    domain: DomainAdapter, tasks: Sequence[ChunkTask], results: Sequence[ChunkResult]
) -> pd.DataFrame:
    frames = []
    for task, result in zip(tasks, results, strict=True):
        raws = result.raw_probas or ()
        for rows, step, raw in zip(task.score_rows, task.steps, raws, strict=False):
            frames.append(domain.score_rows(rows, step, raw).predictions)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _per_unit(predictions: pd.DataFrame, races: bool) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Probabilities, outcomes, trial groups and days; per-unit log-loss keyed by unit."""
    if races:
        won = predictions["finish_position"].eq(1).fillna(False).to_numpy(dtype=float)
        frame = pd.DataFrame(
            {
                "p": predictions["win_prob"].to_numpy(dtype=float),
                "y": won,
                "group": predictions["step"].astype(str) + "/" + predictions["race_id"].astype(str),
                "day": pd.to_datetime(predictions["race_date"]).dt.normalize(),
            }
        )
        winners = frame[frame["y"] == 1.0]
        loss = winners.assign(loss=-np.log(np.clip(winners["p"], 1e-15, 1.0)))
        units = loss.set_index("group")[["loss", "day"]]
    else:
        frame = pd.DataFrame(
            {
                "p": predictions["proba_up"].to_numpy(dtype=float),
                "y": predictions["actual"].to_numpy(dtype=float),
                "group": predictions["step"].astype(str) + "/" + predictions["timestamp"].astype(str),
                "day": pd.to_datetime(predictions["timestamp"]).dt.normalize(),
            }
        )
        p = np.clip(frame["p"], 1e-15, 1 - 1e-15)
        units = frame.assign(loss=-(frame["y"] * np.log(p) + (1 - frame["y"]) * np.log(1 - p)))
        units = units.set_index("group")[["loss", "day"]]
    return frame, {"units": units}


def calibration_section(
    domain: DomainAdapter,
    tasks: Sequence[ChunkTask],
    results: Sequence[ChunkResult],
    predictions: pd.DataFrame,
    seed: int,
) -> dict[str, Any]:
    """``{"method", "holdout", "raw", "calibrated", "log_loss_change", "calibrators"}``."""
    races = domain.name == Domain.RACES
    raw_predictions = _raw_predictions(domain, tasks, results)
    out: dict[str, Any] = {"method": tasks[0].calibration if tasks else None}
    losses = {}
    for name, table in (("raw", raw_predictions), ("calibrated", predictions)):
        frame, extra = _per_unit(table, races)
        report = calibration_report(
            frame["p"].to_numpy(),
            frame["y"].to_numpy(),
            frame["group"].to_numpy() if races else None,
            seed=seed,
        ).to_dict()
        report["log_loss"] = float(extra["units"]["loss"].mean())
        out[name] = report
        losses[name] = extra["units"]
    joined = losses["calibrated"].join(losses["raw"]["loss"].rename("raw_loss"), how="inner")
    diff = (joined["loss"] - joined["raw_loss"]).to_numpy()
    low, high = day_block_bootstrap_mean(diff, joined["day"].to_numpy(), seed=seed)
    out["log_loss_change"] = {"value": float(diff.mean()) if len(diff) else float("nan"), "ci": [low, high]}
    out["holdout"] = "the last days of each training window (calibration_fraction); never a test row"
    out["calibrators"] = [r.calibrator for r in results]
    return out
