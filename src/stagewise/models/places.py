"""Who fills second and third: a place model that knows where the winner started.

A win model orders the boats by P(win). Kyotei's minor places are not a re-run of the win:
boats inside an outside winner are turned over at the first mark, and second and third are
more open than first. Ordering places 2 and 3 by win probability therefore leaves trifecta
hits on the table; on simulated races it caps the trifecta hit rate at about 96 % of the
oracle's even with the true win probabilities (docs/backtest.md).

:class:`PlaceModel` learns, from training races whose winner is known, the probability that a
non-winning boat finishes second or third, from the boat's own features plus the winner's pit
(``winner_pit``) and whether the boat started inside it (``inside_of_winner``). When ranking,
the predicted winner stands in for the known one, and the other boats are ordered by that
probability (:func:`stagewise.models.races.order_places`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from stagewise._exceptions import DataValidationError, NotFittedError
from stagewise.models._params import FAMILY_DEFAULTS

__all__ = [
    "PLACE_CONTEXT",
    "PlaceModel",
    "place_training_rows",
    "predicted_winner_pits",
    "with_winner_context",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: The columns :func:`with_winner_context` appends to the boat's features.
PLACE_CONTEXT: tuple[str, str] = ("winner_pit", "inside_of_winner")


def with_winner_context(features: Any, pits: Any, winner_pits: Any) -> FloatArray:
    """The boat's features followed by the winner's pit and "started inside the winner" (0/1)."""
    pits = np.asarray(pits, dtype=np.float64)
    winner = np.asarray(winner_pits, dtype=np.float64)
    x = np.asarray(features, dtype=np.float64)
    out: FloatArray = np.column_stack([x, winner, (pits < winner).astype(np.float64)])
    return out


def _winner_pits(race_codes: IntArray, pits: IntArray, is_winner: npt.NDArray[np.bool_]) -> FloatArray:
    """Per row: the pit of its race's winner (NaN when the race has none)."""
    n_races = int(race_codes.max()) + 1 if len(race_codes) else 0
    by_race = np.full(n_races, np.nan)
    by_race[race_codes[is_winner]] = pits[is_winner]
    out: FloatArray = by_race[race_codes]
    return out


def place_training_rows(
    features: Any, race_codes: Any, pits: Any, finish_positions: Any
) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """Training rows of the place model: every non-winning boat of a race that has a winner.

    ``race_codes`` are integer race codes (``pandas.factorize`` of ``race_id``), ``finish_positions``
    floats with NaN for boats that did not finish. The label is 1 for second or third, else 0
    (a non-finisher is 0: it took no place).

    Examples
    --------
    >>> import numpy as np
    >>> x, y = place_training_rows(np.zeros((3, 1)), [0, 0, 0], [1, 2, 3], [2.0, 1.0, np.nan])
    >>> x[:, 1:].tolist(), y.tolist()  # winner_pit, inside_of_winner of pits 1 and 3
    ([[2.0, 1.0], [2.0, 0.0]], [1, 0])
    """
    codes = np.asarray(race_codes, dtype=np.int64)
    pit = np.asarray(pits, dtype=np.int64)
    finish = np.asarray(finish_positions, dtype=np.float64)
    winner = _winner_pits(codes, pit, finish == 1)
    keep = ~np.isnan(winner) & (finish != 1)
    x = with_winner_context(np.asarray(features, dtype=np.float64)[keep], pit[keep], winner[keep])
    y = np.isin(finish[keep], (2.0, 3.0)).astype(np.int64)
    return x, y


def predicted_winner_pits(race_codes: Any, pits: Any, win_scores: Any) -> FloatArray:
    """Per row: the pit with the highest win score in its race (ties go to the lower pit).

    Examples
    --------
    >>> predicted_winner_pits([0, 0, 1, 1], [1, 2, 1, 2], [0.3, 0.7, 0.5, 0.5]).tolist()
    [2.0, 2.0, 1.0, 1.0]
    """
    codes = np.asarray(race_codes, dtype=np.int64)
    pit = np.asarray(pits, dtype=np.int64)
    score = np.asarray(win_scores, dtype=np.float64)
    # sort by race, then score descending, then pit: the first row of each race is its pick
    order = np.lexsort((pit, -score, codes))
    first = np.ones(len(order), dtype=bool)
    first[1:] = codes[order][1:] != codes[order][:-1]
    is_pick = np.zeros(len(codes), dtype=bool)
    is_pick[order[first]] = True
    return _winner_pits(codes, pit, is_pick)


class PlaceModel:
    """P(a non-winning boat finishes second or third | where the winner started).

    A LightGBM classifier with the ensemble's LightGBM settings (``FAMILY_DEFAULTS``) over the
    boat's features plus :data:`PLACE_CONTEXT`. It adds one small fit to each refit of the win
    model (about a tenth of the ensemble's fit time).

    Parameters
    ----------
    params : dict or None
        LightGBM settings merged over the ensemble's LightGBM defaults.
    random_state : int
        Seed of the classifier.
    n_jobs : int
        LightGBM threads.

    Attributes
    ----------
    classifier_ : lightgbm.LGBMClassifier
        The fitted classifier (a :class:`~stagewise.models.LightGBMFlavour` once part of a
        stored :class:`~stagewise.models.RaceFlavour`).

    Examples
    --------
    >>> from stagewise.data.races.simulator import simulate_races
    >>> from stagewise.features.races import race_entry_features
    >>> import pandas as pd
    >>> races = simulate_races("2025-01-01", "2025-01-03", venues=[24])
    >>> codes = pd.factorize(races["race_id"])[0]
    >>> model = PlaceModel(params={"n_estimators": 10}).fit(
    ...     race_entry_features(races), codes, races["pit"], races["finish_position"].astype(float))
    >>> win_scores = races["national_win_rate"]  # stands in for a win model's scores
    >>> scores = model.place_scores(race_entry_features(races), codes, races["pit"], win_scores)
    >>> scores.shape == (len(races),) and bool(((scores > 0) & (scores < 1)).all())
    True
    """

    def __init__(
        self, params: Mapping[str, Any] | None = None, random_state: int = 0, n_jobs: int = 1
    ) -> None:
        self.params = params
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, features: Any, race_codes: Any, pits: Any, finish_positions: Any) -> PlaceModel:
        """Fit on the races of a training window (see :func:`place_training_rows`)."""
        import lightgbm as lgb

        x, y = place_training_rows(features, race_codes, pits, finish_positions)
        if len(np.unique(y)) < 2:
            raise DataValidationError(
                f"The place model needs races with a winner and boats both inside and outside the top "
                f"three; the training window has {len(y)} such boats with label value(s) "
                f"{sorted(set(y.tolist()))}."
            )
        settings = {**FAMILY_DEFAULTS["lightgbm"], **dict(self.params or {})}
        self.classifier_: Any = lgb.LGBMClassifier(
            **settings, random_state=self.random_state, n_jobs=self.n_jobs
        )
        self.classifier_.fit(x, y)
        return self

    def place_scores(self, features: Any, race_codes: Any, pits: Any, win_scores: Any) -> FloatArray:
        """P(second or third) of every boat, given the winner predicted from ``win_scores``.

        The predicted winner's own row gets its score too (it is never used to order it: it
        is first).
        """
        if not hasattr(self, "classifier_"):
            raise NotFittedError("This PlaceModel is not fitted yet; call fit() first.")
        winner = predicted_winner_pits(race_codes, pits, win_scores)
        x = with_winner_context(features, pits, winner)
        out: FloatArray = np.asarray(self.classifier_.predict_proba(x), dtype=np.float64)[:, 1]
        return out
