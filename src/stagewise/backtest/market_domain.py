"""The markets domain: next-bar direction on OHLCV bars.

Features are the 12 technical indicators (computed once over all bars; every indicator only
looks back), the label is :func:`~stagewise.features.labels.next_bar_direction` with horizon
``h``, and training rows whose label period (t, t + h] reaches a test window are purged.
Rows in the indicators' warm-up or without a known future close are not used.

Baselines scored on the same bars: ``majority`` (the most frequent direction of the step's
training labels; a tie counts as up) and ``always_up``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stagewise._domain import Domain
from stagewise._exceptions import ConfigError, DataValidationError
from stagewise.backtest.domains import DataArg, FeatureFunction, Prepared, StepScore
from stagewise.metrics.bootstrap import day_block_bootstrap_mean
from stagewise.metrics.markets import direction_metrics, signal_returns

__all__ = ["MarketDomain"]


class MarketDomain:
    """OHLCV bars (see :mod:`stagewise.data.markets`); ``data=None`` uses the bundled EURUSD hourly bars."""

    name = Domain.MARKETS
    unit = "bars"

    def __init__(self, horizon: int = 1) -> None:
        if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
            raise ConfigError(f"The 'label_horizon' parameter must be an int >= 1. Got {horizon!r} instead.")
        self.horizon = horizon

    def load(self, data: DataArg) -> pd.DataFrame:
        from stagewise.data.markets import bundled_bars, load_bars, validate_bars

        if data is None:
            return bundled_bars("EURUSD")
        if isinstance(data, pd.DataFrame):
            return validate_bars(data, gaps="allow")
        if isinstance(data, str | Path):
            return load_bars(data, gaps="allow")
        raise ConfigError(
            f"The 'data' parameter must be a DataFrame, a path or None. Got {type(data).__name__} instead."
        )

    def prepare(self, frame: pd.DataFrame, feature_fn: FeatureFunction | None) -> Prepared:
        from stagewise.features.labels import next_bar_direction

        if feature_fn is None:
            from stagewise.features.technical import FEATURE_NAMES, TechnicalIndicators

            features = TechnicalIndicators().generate_all_features(frame)[FEATURE_NAMES]
        else:
            features = feature_fn(frame)
        if not features.index.equals(frame.index):
            raise DataValidationError("feature_fn must return one row per bar with the bars' index.")
        matrix = features.to_numpy(dtype=np.float64)
        labels = next_bar_direction(frame, self.horizon).to_numpy(dtype=np.float64)
        close = frame["close"].to_numpy(dtype=np.float64)
        forward = np.full(len(close), np.nan)
        forward[: -self.horizon] = close[self.horizon :] / close[: -self.horizon] - 1.0
        usable = np.isfinite(matrix).all(axis=1) & ~np.isnan(labels)
        return Prepared(
            frame=frame,
            timestamps=pd.DatetimeIndex(frame.index).to_numpy(),
            features=matrix,
            feature_names=tuple(str(c) for c in features.columns),
            labels=labels,
            usable=usable,
            label_horizon=self.horizon,
            extras={"forward_return": forward},
        )

    def scoring_rows(self, prepared: Prepared, train: np.ndarray, test: np.ndarray) -> pd.DataFrame:
        majority = int(prepared.labels[train].mean() >= 0.5) if len(train) else 1
        return pd.DataFrame(
            {
                "timestamp": pd.DatetimeIndex(prepared.timestamps[test]),
                "actual": prepared.labels[test].astype(np.int64),
                "forward_return": prepared.extras["forward_return"][test],
                "majority": np.full(len(test), majority, dtype=np.int64),
            }
        )

    def score_rows(self, rows: pd.DataFrame, step: int, proba: np.ndarray) -> StepScore:
        truth = rows["actual"].to_numpy()
        predicted = (proba >= 0.5).astype(np.int64)
        stamps = pd.DatetimeIndex(rows["timestamp"])
        forward = rows["forward_return"].to_numpy()
        majority = rows["majority"].to_numpy()
        predictions = pd.DataFrame(
            {
                "step": step,
                "timestamp": stamps,
                "proba_up": proba,
                "predicted": predicted,
                "actual": truth,
                "forward_return": forward,
            }
        )
        units = {}
        for who, pred in (
            ("model", predicted),
            ("majority", majority),
            ("always_up", np.ones(len(truth), dtype=np.int64)),
        ):
            units[who] = pd.DataFrame(
                {
                    "step": step,
                    "timestamp": stamps,
                    "actual": truth,
                    "predicted": pred,
                    "forward_return": forward,
                }
            )
        return StepScore(predictions, units)

    def metrics(self, units: pd.DataFrame, n_resamples: int, seed: int) -> dict[str, Any]:
        out = direction_metrics(units["actual"].to_numpy(), units["predicted"].to_numpy())
        out["total_bars"] = out.pop("n")
        position = np.where(units["predicted"].to_numpy() == 1, 1.0, -1.0)
        earned = position * units["forward_return"].to_numpy(dtype=float)
        returns = signal_returns(units["forward_return"].to_numpy(), units["predicted"].to_numpy())
        out["signal_mean_return"] = returns["mean_return"]
        out["signal_total_return"] = returns["total_return"]
        days = pd.DatetimeIndex(units["timestamp"]).normalize().to_numpy()
        out["signal_mean_return_ci"] = list(
            day_block_bootstrap_mean(earned, days, n_resamples=n_resamples, seed=seed)
        )
        return out

    def headline(self) -> tuple[str, ...]:
        return ("accuracy", "precision", "recall", "f1", "mcc", "signal_mean_return")

    def chance(self, summaries: dict[str, dict[str, Any]]) -> float:
        return max(float(summaries["majority"]["accuracy"]), float(summaries["always_up"]["accuracy"]))
