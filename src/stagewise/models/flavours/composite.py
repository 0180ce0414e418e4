"""Flavours built from other flavours: the race win + place model, and a blend."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from stagewise._exceptions import ArtifactError, ConfigError
from stagewise.models.flavours._base import Flavour, FlavourFiles, load_entry, pack_entry, register_flavour
from stagewise.models.flavours._common import check_fitted
from stagewise.models.flavours.boosters import LightGBMFlavour
from stagewise.models.flavours.signature import FeatureSpec, InputSignature
from stagewise.models.flavours.store import as_flavour
from stagewise.models.places import PLACE_CONTEXT, PlaceModel

__all__ = ["BlendFlavour", "RaceFlavour"]


def place_signature(win: InputSignature) -> InputSignature:
    """The place model's input: the win model's features, then the winner context."""
    return InputSignature(
        (
            *win.features,
            FeatureSpec(PLACE_CONTEXT[0], "int64", minimum=1, maximum=6),
            FeatureSpec(PLACE_CONTEXT[1], "bool"),
        )
    )


@register_flavour
class RaceFlavour:
    """A race model as one version: a win model and the place model that orders places 2-6.

    ``predict_proba`` gives P(boat wins) from the win model; :meth:`rank` orders each race's
    boats by it and then the non-winners by the place model, exactly as the backtest scores them.

    Parameters
    ----------
    win : Flavour
        An unfitted flavour (fitted by :meth:`fit`) for the win model, e.g. ``EnsembleFlavour()``.
    place_params : dict, optional
        LightGBM settings of the :class:`~stagewise.models.places.PlaceModel`.

    Attributes
    ----------
    win_ : Flavour
    place_ : PlaceModel
    signature_ : InputSignature (the win model's)
    """

    name: ClassVar[str] = "race"
    signature_: InputSignature

    def __init__(self, win: Any = None, place_params: Mapping[str, Any] | None = None) -> None:
        self.win = win
        self.place_params = place_params

    def fit(self, X: Any, y: Any, *, race_ids: Any, pits: Any, finish_positions: Any) -> RaceFlavour:
        if self.win is None:
            raise ConfigError("RaceFlavour needs a win model flavour (e.g. RaceFlavour(EnsembleFlavour())).")
        win = copy.deepcopy(self.win).fit(X, y)
        codes = pd.factorize(pd.Series(np.asarray(race_ids)))[0]
        matrix = np.asarray(as_flavour(win).signature_.check(X), dtype=np.float64)
        place = PlaceModel(params=self.place_params).fit(matrix, codes, pits, finish_positions)
        return self._set(as_flavour(win), place)

    @classmethod
    def from_parts(cls, win: Any, place: PlaceModel) -> RaceFlavour:
        """A fitted win model (any storable model) and a fitted place model as one race model."""
        check_fitted(place, "classifier_")
        return cls()._set(as_flavour(win), place)

    def _set(self, win: Flavour, place: PlaceModel) -> RaceFlavour:
        classifier = place.classifier_
        if not isinstance(classifier, LightGBMFlavour):
            classifier = LightGBMFlavour.from_booster(classifier, place_signature(win.signature_))
        expected = len(win.signature_.features) + len(PLACE_CONTEXT)
        if len(classifier.signature_.features) != expected:
            raise ConfigError(
                f"The place model reads {len(classifier.signature_.features)} features; a win model of "
                f"{len(win.signature_.features)} features needs {expected} "
                f"(its features + {list(PLACE_CONTEXT)})."
            )
        place.classifier_ = classifier
        self.win_ = win
        self.place_ = place
        self.signature_ = win.signature_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        check_fitted(self, "win_")
        return self.win_.predict_proba(X)

    def rank(self, entries: pd.DataFrame, X: Any) -> pd.DataFrame:
        """:func:`~stagewise.models.races.rank_races` with places 2-6 ordered by the place model."""
        from stagewise.models.races import order_places, rank_races

        check_fitted(self, "win_")
        matrix = np.asarray(self.signature_.check(X), dtype=np.float64)
        ranking = rank_races(self.win_, entries, X)
        codes = pd.factorize(entries["race_id"])[0]
        place = self.place_.place_scores(
            matrix, codes, entries["pit"].to_numpy(), ranking.loc[entries.index, "score"]
        )
        return order_places(ranking, pd.Series(place, index=entries.index).loc[ranking.index].to_numpy())

    def place_order(self, X: Any, pits: np.ndarray, win_scores: np.ndarray) -> np.ndarray:
        """Positions of one race's boats, best first: the predicted winner, then by place score."""
        check_fitted(self, "win_")
        matrix = np.asarray(X, dtype=np.float64)
        codes = np.zeros(len(pits), dtype=np.int64)
        place = self.place_.place_scores(matrix, codes, pits, win_scores)
        winner = int(np.lexsort((pits, -win_scores))[0])
        key = place.copy()
        key[winner] = np.inf
        return np.lexsort((pits, -key))

    def to_files(self) -> FlavourFiles:
        check_fitted(self, "win_")
        files_win, win = pack_entry(self.win_, "win.")
        files_place, place = pack_entry(self.place_.classifier_, "place.")
        return FlavourFiles(
            {**files_win, **files_place}, {"win": win, "place": place, "place_params": self.place_params}
        )

    @classmethod
    def from_files(cls, files: Mapping[str, bytes], details: Mapping[str, Any]) -> RaceFlavour:
        try:
            win = load_entry(details["win"], files, "win.")
            classifier = load_entry(details["place"], files, "place.")
        except KeyError as exc:
            raise ArtifactError(f"flavour.json: the race model has no {exc} entry.") from None
        place = PlaceModel(params=details.get("place_params"))
        place.classifier_ = classifier
        return cls()._set(win, place)


@register_flavour
class BlendFlavour:
    """A weighted average of other flavours' P(positive), e.g. a user's model beside the ensemble.

    Every member must read the same features in the same order.

    Parameters
    ----------
    members : sequence of Flavour
        Fitted (use :meth:`from_members`) or unfitted (fitted by :meth:`fit`).
    weights : sequence of float, optional
        One finite weight >= 0 per member, not all 0; normalised to sum 1. Equal by default.
    """

    name: ClassVar[str] = "blend"
    signature_: InputSignature

    def __init__(self, members: Sequence[Any] = (), weights: Sequence[float] | None = None) -> None:
        self.members = members
        self.weights = weights

    def fit(self, X: Any, y: Any) -> BlendFlavour:
        fitted = [copy.deepcopy(m).fit(X, y) for m in self.members]
        return self._set(fitted)

    @classmethod
    def from_members(cls, members: Sequence[Any], weights: Sequence[float] | None = None) -> BlendFlavour:
        return cls(members, weights)._set([as_flavour(m) for m in members])

    def _set(self, members: list[Any]) -> BlendFlavour:
        if not members:
            raise ConfigError("A blend needs at least one member.")
        weights = _blend_weights(self.weights, len(members))
        names = members[0].signature_.names
        for i, member in enumerate(members[1:], start=1):
            if member.signature_.names != names:
                raise ConfigError(
                    f"Blend members must read the same features; member 0 reads {names}, "
                    f"member {i} ({member.name}) reads {member.signature_.names}."
                )
        self.members_ = members
        self.weights_ = weights
        self.signature_ = members[0].signature_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        check_fitted(self, "members_")
        positive = sum(
            w * m.predict_proba(X)[:, 1] for w, m in zip(self.weights_, self.members_, strict=True)
        )
        positive = np.clip(np.asarray(positive, dtype=np.float64), 0.0, 1.0)
        return np.column_stack([1.0 - positive, positive])

    def to_files(self) -> FlavourFiles:
        check_fitted(self, "members_")
        files: dict[str, bytes] = {}
        entries = []
        for i, member in enumerate(self.members_):
            member_files, entry = pack_entry(member, f"m{i}.")
            files.update(member_files)
            entries.append({**entry, "prefix": f"m{i}.", "weight": self.weights_[i]})
        return FlavourFiles(files, {"members": entries})

    @classmethod
    def from_files(cls, files: Mapping[str, bytes], details: Mapping[str, Any]) -> BlendFlavour:
        entries = details.get("members") or []
        members = [load_entry(e, files, str(e["prefix"])) for e in entries]
        return cls(members, [float(e["weight"]) for e in entries])._set(members)


def _blend_weights(weights: Sequence[float] | None, n: int) -> list[float]:
    if weights is None:
        return [1.0 / n] * n
    values = list(weights)
    if len(values) != n:
        raise ConfigError(f"The blend's 'weights' must have one value per member ({n}); got {len(values)}.")
    for value in values:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            raise ConfigError(f"Blend weights must be finite numbers >= 0; got {value!r} in {values}.")
    total = math.fsum(values)
    if total <= 0:
        raise ConfigError(f"Blend weights must not all be zero; got {values}.")
    return [v / total for v in values]
