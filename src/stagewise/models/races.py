"""Rank the boats of each race by a binary "won the race" model.

A race model is an ordinary binary classifier fitted on one row per boat (label: the
boat won). :func:`rank_races` scores every boat, normalises the scores within each
race into win probabilities and orders the boats, so that the output feeds
:func:`stagewise.metrics.races.score_race` directly through :func:`predicted_orders`.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeAlias

import numpy as np
import pandas as pd

from stagewise._exceptions import DataValidationError

__all__ = ["FeatureMatrix", "ProbabilityModel", "order_places", "predicted_orders", "rank_races"]

FeatureMatrix: TypeAlias = pd.DataFrame | np.ndarray
"""A model's input rows: a DataFrame with the model's columns, or an array in their order."""


class ProbabilityModel(Protocol):
    """A fitted binary classifier: ``predict_proba(X)`` gives ``(n, 2)``, column 1 the positive class.

    A :class:`~stagewise.models.ProductionEnsemble`, every flavour and any scikit-learn classifier
    are one.
    """

    def predict_proba(self, X: FeatureMatrix) -> np.ndarray: ...


_COLUMNS = ["race_id", "pit", "score", "win_prob", "predicted_rank"]


def rank_races(model: ProbabilityModel, entries: pd.DataFrame, features: FeatureMatrix) -> pd.DataFrame:
    """Score every boat and rank the boats within each race.

    Parameters
    ----------
    model : fitted binary classifier
        Anything with ``predict_proba`` whose second column is P(boat wins), such as a
        :class:`~stagewise.models.ProductionEnsemble` fitted on "won the race" labels.
    entries : DataFrame
        One row per boat with at least ``race_id`` and ``pit``.
    features : DataFrame or array
        The model's features for the same rows, in the same order (a DataFrame must
        also have the same index as ``entries``).

    Returns
    -------
    DataFrame
        Columns ``race_id, pit, score, win_prob, predicted_rank``, one row per boat,
        indexed like ``entries``, races in order of first appearance and boats by
        ``predicted_rank``. ``score`` is the model's probability, ``win_prob`` the score
        divided by the race's total (a race whose scores are all 0 gets equal shares),
        and ``predicted_rank`` 1 is the predicted winner; equal scores go to the lower pit.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> class Fixed:  # stands in for a fitted model
    ...     def predict_proba(self, X):
    ...         p = np.asarray(X, dtype=float)[:, 0]
    ...         return np.column_stack([1 - p, p])
    >>> entries = pd.DataFrame({"race_id": ["r1"] * 3, "pit": [1, 2, 3]})
    >>> ranked = rank_races(Fixed(), entries, np.array([[0.2], [0.6], [0.2]]))
    >>> ranked[["pit", "win_prob", "predicted_rank"]].to_dict("list")
    {'pit': [2, 1, 3], 'win_prob': [0.6, 0.2, 0.2], 'predicted_rank': [1, 2, 3]}
    """
    _validate_entries(entries)
    if isinstance(features, pd.DataFrame) and not features.index.equals(entries.index):
        raise DataValidationError(
            "features must have the same index as entries (one row per boat, same order); "
            f"got {len(features)} feature rows for {len(entries)} entries with a different index."
        )
    if len(features) != len(entries):
        raise DataValidationError(
            f"features must have one row per entry; got {len(features)} feature rows "
            f"for {len(entries)} entries."
        )
    out = pd.DataFrame(
        {"race_id": entries["race_id"].to_numpy(), "pit": entries["pit"].to_numpy().astype(np.int64)},
        index=entries.index,
    )
    if len(entries) == 0:
        return out.assign(score=np.float64(), win_prob=np.float64(), predicted_rank=np.int64())[_COLUMNS]
    proba = np.asarray(model.predict_proba(features), dtype=np.float64)
    if proba.ndim != 2 or proba.shape != (len(entries), 2):
        raise DataValidationError(
            f"model.predict_proba must return shape ({len(entries)}, 2) for a binary model; "
            f"got {proba.shape}."
        )
    out["score"] = proba[:, 1]
    groups = out.groupby("race_id", sort=False)["score"]
    total = groups.transform("sum")
    size = groups.transform("size")
    out["win_prob"] = np.where(total > 0, out["score"] / total.where(total > 0, 1.0), 1.0 / size)
    order = pd.Categorical(out["race_id"], categories=pd.unique(out["race_id"]), ordered=True)
    out = (
        out.assign(_race=order, _neg=-out["score"])
        .sort_values(["_race", "_neg", "pit"], kind="mergesort")
        .drop(columns=["_race", "_neg"])
    )
    out["predicted_rank"] = out.groupby("race_id", sort=False).cumcount().astype(np.int64) + 1
    return out[_COLUMNS]


def order_places(ranking: pd.DataFrame, place_score: Any) -> pd.DataFrame:
    """Keep each race's predicted winner first; order the other boats by ``place_score``.

    ``ranking`` is :func:`rank_races` output and ``place_score`` one value per row of it, in
    its row order (e.g. :meth:`stagewise.models.places.PlaceModel.place_scores`: P(second or
    third) given the predicted winner). Equal place scores go to the lower pit. ``score`` and
    ``win_prob`` are unchanged: only ``predicted_rank`` 2 and below move.

    Examples
    --------
    >>> import pandas as pd
    >>> ranking = pd.DataFrame({"race_id": ["r1"] * 3, "pit": [2, 1, 3], "score": [0.6, 0.3, 0.1],
    ...                         "win_prob": [0.6, 0.3, 0.1], "predicted_rank": [1, 2, 3]})
    >>> order_places(ranking, [0.1, 0.2, 0.9])[["pit", "predicted_rank"]].to_dict("list")
    {'pit': [2, 3, 1], 'predicted_rank': [1, 2, 3]}
    """
    place = np.asarray(place_score, dtype=np.float64)
    if place.shape != (len(ranking),):
        raise DataValidationError(
            f"place_score must have one value per ranked boat ({len(ranking)}); got shape {place.shape}."
        )
    order = pd.Categorical(ranking["race_id"], categories=pd.unique(ranking["race_id"]), ordered=True)
    key = np.where(ranking["predicted_rank"].to_numpy() == 1, np.inf, place)
    out = (
        ranking.assign(_race=order, _neg=-key)
        .sort_values(["_race", "_neg", "pit"], kind="mergesort")
        .drop(columns=["_race", "_neg"])
    )
    out["predicted_rank"] = out.groupby("race_id", sort=False).cumcount().astype(np.int64) + 1
    return out


def predicted_orders(ranking: pd.DataFrame) -> dict[Any, list[int]]:
    """``{race_id: [pit of predicted 1st, 2nd, ...]}`` from :func:`rank_races` output.

    Examples
    --------
    >>> import pandas as pd
    >>> ranking = pd.DataFrame({"race_id": ["r1", "r1"], "pit": [2, 1], "predicted_rank": [1, 2]})
    >>> predicted_orders(ranking)
    {'r1': [2, 1]}
    """
    ordered = ranking.sort_values(["predicted_rank"], kind="mergesort")
    return {race: [int(p) for p in group["pit"]] for race, group in ordered.groupby("race_id", sort=False)}


def _validate_entries(entries: pd.DataFrame) -> None:
    if not isinstance(entries, pd.DataFrame):
        raise DataValidationError(
            f"entries must be a DataFrame with race_id and pit; got {type(entries).__name__}."
        )
    missing = [c for c in ("race_id", "pit") if c not in entries.columns]
    if missing:
        raise DataValidationError(
            f"entries is missing column(s) {missing}; it needs race_id and pit (one row per boat)."
        )
    if entries["race_id"].isna().any() or entries["pit"].isna().any():
        raise DataValidationError("entries.race_id and entries.pit must not be missing.")
    duplicated = entries.duplicated(["race_id", "pit"], keep=False)
    if duplicated.any():
        first = entries.loc[duplicated, ["race_id", "pit"]].iloc[0]
        raise DataValidationError(
            f"race {first['race_id']!r} lists pit {first['pit']} more than once; each boat must appear once."
        )
