"""Train the configuration a search chose and store it in the model registry.

The chosen configuration is the one the inner walk-forward picked on the newest training
window (``results["chosen"]``, the search's ``final`` study): the same procedure whose
accuracy the nested estimate measured. It is fitted on that window and saved with the
nested estimate, its interval and the naive estimate as its performance metrics. A chosen
``calibration`` trains the calibrated flavour (the model on the window's earlier days, the
calibrator on its last days, as each trial did); a chosen ``bet_margin`` is stored with the
version's metrics (``bet_margin``), for the betting code that will use it.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from stagewise._exceptions import ConfigError
from stagewise.backtest.domains import DataArg
from stagewise.search.targets import ModelTarget

__all__ = ["register_chosen", "train_chosen"]


def train_chosen(
    results: dict[str, Any], data: DataArg = None, n_jobs: int = 1, target: ModelTarget | None = None
) -> tuple[Any, tuple[str, str]]:
    """The chosen model fitted on the final window, and that window's first and last day.

    ``target`` is the search's model target; ``None`` rebuilds the ensemble target from the results
    (another target, such as a :class:`~stagewise.search.SklearnTarget`, must be passed again: a
    results file names a class, and stagewise never imports code named by a file).
    """
    from stagewise.search.procedure import procedure
    from stagewise.search.runner import NestedSearch
    from stagewise.search.space import SearchSpace
    from stagewise.search.study import CALIBRATION_FRACTION
    from stagewise.search.targets import EnsembleTarget, split_config

    config = results["config"]
    described = config["target"]
    if target is None:
        if described.get("kind") != "ensemble":
            raise ConfigError(
                f"The search's model target is {described.get('kind')!r}: pass the same target= to "
                "register_chosen (from the command line only the ensemble target can be rebuilt)."
            )
        target = EnsembleTarget(described.get("base", {}), int(described.get("random_state", 0)))
    chosen = results["chosen"]
    params, feature_set = split_config(chosen["params"])
    search = NestedSearch(
        config["domain"],
        data=data,
        space=SearchSpace.from_mapping(_space_mapping(config["space"])),
        label_horizon=config.get("label_horizon") or 1,
    )
    prepared = search._prepare()
    assert search.space is not None
    columns = search.space.columns(feature_set, prepared.feature_names)
    stamps = pd.DatetimeIndex(prepared.timestamps).normalize()
    start, end = pd.Timestamp(chosen["train_start"]), pd.Timestamp(chosen["train_end"])
    rows = np.flatnonzero((stamps >= start) & (stamps <= end) & prepared.usable)
    if len(rows) == 0:
        raise ConfigError(
            f"The data has no rows in the chosen window {start.date()} to {end.date()}: pass the data the "
            "search used."
        )
    names = [prepared.feature_names[c] for c in columns]
    model: Any = target.factory(params)()
    if "n_jobs" in getattr(model, "get_params", dict)():
        model.set_params(n_jobs=n_jobs)
    X = pd.DataFrame(prepared.features[np.ix_(rows, np.asarray(columns, dtype=np.int64))], columns=names)
    y = prepared.labels[rows].astype(np.int64)
    calibration = procedure(chosen["params"]).calibration
    if calibration is not None:
        from stagewise.models.flavours.calibrated import CalibratedFlavour

        calibrated = CalibratedFlavour(model, calibration, CALIBRATION_FRACTION)
        model = calibrated.fit(X, y, timestamps=prepared.timestamps[rows])
    else:
        model.fit(X, y)
    return model, (str(start.date()), str(end.date()))


def _space_mapping(described: dict[str, Any]) -> dict[str, Any]:
    params = {}
    for name, spec in described["params"].items():
        if spec["type"] == "choice":
            params[name] = {"choices": spec["choices"]}
        else:
            params[name] = {k: v for k, v in spec.items() if k != "step" or spec["type"] == "int"}
    sets = {k: ("*" if v is None else v) for k, v in described.get("feature_sets", {}).items()}
    return {"params": params, "feature_sets": sets}


def register_chosen(
    results: dict[str, Any],
    data: DataArg = None,
    registry: str | os.PathLike[str] = "models",
    alias: str | None = None,
    n_jobs: int = 1,
    target: ModelTarget | None = None,
) -> str:
    """Fit the chosen configuration and save it as a new registry version; return the version id.

    The registry stores it through its flavours (the ensemble, a scikit-learn estimator, ...).
    """
    from stagewise.models import ModelRegistry
    from stagewise.search.procedure import procedure

    model, window = train_chosen(results, data, n_jobs, target)
    metric = results["metric"]
    nested = results["nested"]
    metrics: dict[str, Any] = {
        f"nested_{metric}": nested["score"],
        f"nested_{metric}_ci_low": nested["ci"][0],
        f"nested_{metric}_ci_high": nested["ci"][1],
    }
    if "naive" in results:
        metrics[f"naive_best_{metric}"] = results["naive"]["score"]
    margin = procedure(results["chosen"]["params"]).margin
    if margin is not None:
        metrics["bet_margin"] = margin
    store = ModelRegistry(registry)
    version = store.save(
        model,
        metrics=metrics,
        data_window=window,
        notes=f"stagewise search {results['study']['name']}: {results['chosen']['params']}",
    )
    if alias is not None:
        store.set_alias(alias, version)
    return version
