"""Which model answers a race, and keeping the served models in step with the registry.

* :class:`ModelWatcher` loads the champion, the challenger and the market model from a
  :class:`~stagewise.models.ModelRegistry` by alias, verifying every file's SHA-256 first.
  :meth:`ModelWatcher.maybe_reload` re-reads the aliases when ``registry.json`` changed
  (checked by size and mtime at most every ``reload_interval_s``) and swaps the new
  :class:`ModelSet` in atomically; an alias that now fails to load keeps the last good model
  and is reported by ``/readyz``.
* :class:`RaceRouter` asks the rollout ``should_enable_feature(feature, race_id)``: enabled means
  the challenger answers. The bucket depends only on the feature's salt and the race id, both
  stored in the shared rollout config, so the same race gets the same model on every worker
  and host. :class:`~stagewise.rollout.GradualRollout` re-reads its config by version token
  every ``reload_interval_s`` (``refresh_interval``), so stage changes and the kill switch need
  no restart.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from stagewise._exceptions import NotFoundError, StagewiseError
from stagewise.features.sets import FeatureSet
from stagewise.models.flavours import InputSignature
from stagewise.models.flavours.composite import RaceFlavour
from stagewise.rollout.gradual import CONTROL_VARIANT
from stagewise.serve.inference import ProbaModel

if TYPE_CHECKING:
    from stagewise.rollout.config import FeatureRollout

__all__ = ["LoadedModel", "ModelSet", "ModelWatcher", "RaceRouter", "RolloutRouting"]

_LOG = logging.getLogger("stagewise.serve")


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """One verified model ready to score.

    ``scorer`` reads a matrix already checked against ``signature``; ``path`` says whether it is
    the compiled fast path or the library (``path_reason`` why); ``place`` is the race model's
    place model ordering places 2-6, when the version is a race model.
    """

    role: str
    ref: str
    version: str
    scorer: ProbaModel
    feature_names: tuple[str, ...]
    verified_files: int
    flavour: str = "ensemble"
    signature: InputSignature | None = None
    path: str = "library"
    path_reason: str = ""
    place: RaceFlavour | None = None
    feature_set: FeatureSet | None = None

    def check(self, X: np.ndarray | pd.DataFrame) -> np.ndarray | pd.DataFrame:
        """``X`` checked against the model's signature (``SignatureError`` names feature, value and rule):
        a float64 matrix for numeric signatures, a DataFrame when a feature is categorical."""
        checked: np.ndarray | pd.DataFrame = X if self.signature is None else self.signature.check(X)
        return checked


@dataclass(frozen=True, slots=True)
class ModelSet:
    """The models being served and why any of them is missing."""

    models: Mapping[str, LoadedModel] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)
    loaded_at: float = 0.0

    def get(self, role: str) -> LoadedModel | None:
        return self.models.get(role)


class ModelWatcher:
    """Loads models by reference and reloads them when the registry's aliases change.

    Parameters
    ----------
    root : path
        The registry root (``--models``).
    refs : mapping role -> ref or None
        e.g. ``{"champion": "champion", "challenger": "challenger", "market": "market"}``;
        ``None`` skips the role.
    domains : mapping role -> "races" or "markets", optional
        A model whose feature set is of another domain is refused for that role (a market
        model cannot answer races). A version that records no feature set is taken as the
        built-in race or technical set when its features are exactly those, and refused otherwise.
    reload_interval_s : float
        Least time between two checks of ``registry.json``.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        refs: Mapping[str, str | None],
        *,
        domains: Mapping[str, str] | None = None,
        reload_interval_s: float = 5.0,
        on_reload: Callable[[ModelSet, str], None] | None = None,
    ) -> None:
        from stagewise.models import ModelRegistry

        self.registry = ModelRegistry(root)
        self.refs = dict(refs)
        self.domains = dict(domains or {})
        self.reload_interval_s = reload_interval_s
        self.on_reload = on_reload
        self._lock = threading.Lock()
        self._token: object = None
        self._next_check = 0.0
        self.current = ModelSet()

    def _state_token(self) -> object:
        try:
            st = (Path(self.registry.root) / "registry.json").stat()
        except FileNotFoundError:
            return None
        return (st.st_size, st.st_mtime_ns, st.st_ino)

    def _load_role(self, role: str, ref: str, previous: LoadedModel | None) -> LoadedModel:
        version = self.registry.resolve(ref)
        if previous is not None and previous.version == version:
            return previous
        from stagewise.serve.paths import choose_path

        files = self.registry.verify(version)
        flavour = self.registry.load_flavour(version, n_jobs=1)
        names = tuple(flavour.signature_.names)
        feature_set = _feature_set(self.registry.feature_set(version), list(names))
        domain = self.domains.get(role)
        if domain is not None and (feature_set is None or feature_set.domain != domain):
            raise StagewiseError(
                f"version {version} ({ref!r}) was trained on {len(names)} features {list(names)[:4]}... "
                f"({'no recorded feature set' if feature_set is None else feature_set.kind + ' features'}); "
                f"the {role} role needs a {domain} model: the built-in {domain} features or a recorded "
                f"{domain} feature set (ModelRegistry.save(..., feature_set=...))"
            )
        plan = choose_path(flavour)
        race_flavour = flavour if isinstance(flavour, RaceFlavour) else None
        if race_flavour is not None:  # the place model gets its own compiled path, under the same check
            place = race_flavour.place_
            place.classifier_ = _Checked(place.classifier_.signature_, choose_path(place.classifier_).scorer)
        _LOG.info(
            "%s %s (%s flavour) served by the %s path: %s",
            role,
            version,
            flavour.name,
            plan.path,
            plan.reason,
        )
        return LoadedModel(
            role,
            ref,
            version,
            plan.scorer,
            names,
            len(files),
            flavour=flavour.name,
            signature=flavour.signature_,
            path=plan.path,
            path_reason=plan.reason,
            place=race_flavour,
            feature_set=feature_set,
        )

    def load(self) -> ModelSet:
        """(Re)load every role now; keeps the last good model of a role that fails."""
        with self._lock:
            self._token = self._state_token()
            old = self.current
            models: dict[str, LoadedModel] = {}
            errors: dict[str, str] = {}
            for role, ref in self.refs.items():
                if ref is None:
                    continue
                try:
                    models[role] = self._load_role(role, ref, old.get(role))
                except NotFoundError as exc:
                    errors[role] = f"{type(exc).__name__}: {exc}"
                    # an alias that was removed on purpose stops being served
                except StagewiseError as exc:
                    errors[role] = f"{type(exc).__name__}: {exc}"
                    kept = old.get(role)
                    if kept is not None:
                        models[role] = kept
                        errors[role] += f" (still serving {kept.version})"
            self.current = ModelSet(models, errors, time.time())
            self._next_check = time.monotonic() + self.reload_interval_s
        changed = {r: m.version for r, m in models.items()} != {r: m.version for r, m in old.models.items()}
        if changed or errors != dict(old.errors):
            _LOG.info(
                "serving models: %s%s",
                ", ".join(f"{r}={m.version}" for r, m in sorted(models.items())) or "none",
                f"; problems: {errors}" if errors else "",
            )
        if self.on_reload is not None:
            self.on_reload(self.current, "changed" if changed else "unchanged")
        return self.current

    def maybe_reload(self) -> ModelSet:
        """Reload when ``registry.json`` changed since the last load (checked every interval)."""
        if time.monotonic() < self._next_check:
            return self.current
        self._next_check = time.monotonic() + self.reload_interval_s
        if self._state_token() != self._token:
            return self.load()
        return self.current


class _Checked:
    """A scorer behind its signature check (the served race model's place model)."""

    def __init__(self, signature: InputSignature, scorer: ProbaModel) -> None:
        self.signature_ = signature
        self._scorer = scorer

    def predict_proba(self, X: Any) -> Any:
        return self._scorer.predict_proba(self.signature_.check(X))


def _feature_set(recorded: Mapping[str, Any] | None, names: list[str]) -> FeatureSet | None:
    """The version's feature set, or the built-in one its feature names are exactly."""
    from stagewise.features.races import RACE_FEATURE_NAMES
    from stagewise.features.technical import FEATURE_NAMES

    if recorded:
        return FeatureSet.from_json(recorded)
    if names == list(RACE_FEATURE_NAMES):
        return FeatureSet.races()
    if names == list(FEATURE_NAMES):
        return FeatureSet.technical()
    return None


class RolloutRouting(Protocol):
    """What the server needs of the rollout to route a race (:class:`~stagewise.rollout.GradualRollout`)."""

    def should_enable_feature(self, feature_name: str, race_id: str | int) -> bool: ...

    def variant(self, feature_name: str, race_id: str | int) -> str: ...

    def feature(self, feature_name: str) -> FeatureRollout: ...


class RaceRouter:
    """Routes a race to ``"challenger"`` when the rollout enables the feature for it.

    Parameters
    ----------
    rollout : GradualRollout or None
        None routes every race to the champion.
    feature : str
        The rollout feature that stands for "the challenger answers".

    Examples
    --------
    >>> from stagewise.rollout import GradualRollout, MemoryRolloutStore
    >>> rollout = GradualRollout(store=MemoryRolloutStore(), actor="docs")
    >>> _ = rollout.add_feature("challenger_model", stage="50%", salt="docs")
    >>> router = RaceRouter(rollout, "challenger_model")
    >>> roles = [router.role("2025-01-01-01-%02d" % i) for i in range(1, 13)]
    >>> sorted(set(roles)), roles == [router.role("2025-01-01-01-%02d" % i) for i in range(1, 13)]
    (['challenger', 'champion'], True)
    """

    def __init__(self, rollout: RolloutRouting | None, feature: str) -> None:
        self.rollout = rollout
        self.feature = feature
        self.unknown_feature = False

    def role(self, race_id: str) -> str:
        if self.rollout is None:
            return "champion"
        try:
            enabled = self.rollout.should_enable_feature(self.feature, race_id)
        except NotFoundError:
            self.unknown_feature = True  # no such feature yet: nobody is in the rollout
            return "champion"
        self.unknown_feature = False
        return "challenger" if enabled else "champion"

    def group(self, race_id: str) -> str:
        """The race's ledger group, exactly ``GradualRollout.variant(feature, race_id)``: ``"control"``
        when the feature is off for it (or unknown, or no rollout), else its variant under a split, else
        ``"on"``. Only enabled races pay for the variant lookup."""
        if self.role(race_id) == "champion":
            return CONTROL_VARIANT
        assert self.rollout is not None  # role() is "champion" without a rollout
        try:
            return self.rollout.variant(self.feature, race_id)
        except NotFoundError:  # the feature was removed from the config a moment ago
            return CONTROL_VARIANT

    def split(self) -> tuple[str, ...] | None:
        """The variant names of the feature's A/B/n split, or None (no split, or no such feature)."""
        if self.rollout is None:
            return None
        try:
            weights = self.rollout.feature(self.feature).extra.get("variants")
        except NotFoundError:
            return None
        return None if not weights else tuple(str(name) for name in weights)

    def completed(self) -> dict[str, Any] | None:
        """The completion record when a promotion finished the feature's rollout (no challenger is
        needed then: every race goes to the champion, the promoted model), else None."""
        if self.rollout is None:
            return None
        try:
            state = self.rollout.feature(self.feature)
        except NotFoundError:
            return None
        return dict(state.completed) if state.is_completed and state.completed is not None else None

    def stage(self) -> str | None:
        """The feature's stage name, or None when the config has no such feature."""
        if self.rollout is None:
            return None
        try:
            return self.rollout.feature(self.feature).stage.name
        except NotFoundError:
            return None
