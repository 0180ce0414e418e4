"""What a domain gives the walk-forward runner: data, causal features, labels, scoring.

A :class:`DomainAdapter` turns its domain's data set into one :class:`Prepared` bundle
(features computed once, over the whole data, by functions that only look backwards) and
then scores each step's test rows, for the model and for the baselines.
:mod:`stagewise.backtest.race_domain` and :mod:`stagewise.backtest.market_domain` implement it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from stagewise._domain import Domain as _Domain  # this module's ``Domain`` is the adapter's old name

__all__ = [
    "DataArg",
    "Domain",
    "DomainAdapter",
    "FeatureFunction",
    "Prepared",
    "StepScore",
    "second_stage_data",
]

DataArg = pd.DataFrame | str | Path | None
#: ``feature_fn(data) -> DataFrame`` with one row per data row (same index), numeric columns.
FeatureFunction = Callable[[pd.DataFrame], pd.DataFrame]


@dataclass(frozen=True)
class Prepared:
    """A data set ready for splitting: timestamps, feature matrix, labels, usable rows."""

    frame: pd.DataFrame
    timestamps: np.ndarray
    features: np.ndarray
    feature_names: tuple[str, ...]
    labels: np.ndarray
    usable: np.ndarray
    label_horizon: int | None
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepScore:
    """The scored test rows of one step.

    ``predictions``: rows for ``walkforward_predictions.parquet``; ``units``: one row per
    evaluated unit (race or bar) for the model and each baseline, named by ``who``.
    """

    predictions: pd.DataFrame
    units: dict[str, pd.DataFrame]


class DomainAdapter(Protocol):
    """What the walk-forward runner asks of one domain (races: ``RaceDomain``, markets: ``MarketDomain``).

    ``name`` is the :class:`stagewise._domain.Domain` it serves; ``unit`` what one scored row is
    (``"races"``, ``"bars"``).
    """

    name: _Domain
    unit: str

    def load(self, data: DataArg) -> pd.DataFrame: ...

    def prepare(self, frame: pd.DataFrame, feature_fn: FeatureFunction | None) -> Prepared: ...

    def scoring_rows(self, prepared: Prepared, train: np.ndarray, test: np.ndarray) -> pd.DataFrame:
        """The few columns of a step's test rows that scoring needs (small enough to ship to a worker)."""
        ...

    def score_rows(self, rows: pd.DataFrame, step: int, proba: np.ndarray) -> StepScore:
        """Predictions table and per-unit scores (model and baselines) of one step."""
        ...

    def metrics(self, units: pd.DataFrame, n_resamples: int, seed: int) -> dict[str, Any]: ...

    def headline(self) -> tuple[str, ...]: ...

    def chance(self, summaries: dict[str, dict[str, Any]]) -> float: ...


Domain = DomainAdapter
"""The adapter's former name, kept importable because it is in this module's ``__all__``; it is not the
domain vocabulary (that is :class:`stagewise._domain.Domain`): use :class:`DomainAdapter`."""


def second_stage_data(
    domain: DomainAdapter, prepared: Prepared, train: np.ndarray
) -> dict[str, np.ndarray] | None:
    """The training data of the domain's second model for these rows, or None if it has none.

    A domain with a second model (races: the place model) also has
    ``fit_second_stage(x_train, data, threads, permute_seed)`` and
    ``apply_second_stage(stage, rows, x_test, proba) -> array``; the worker calls both.
    """
    method = getattr(domain, "second_stage_data", None)
    if method is None:
        return None
    data: dict[str, np.ndarray] | None = method(prepared, train)
    return data
