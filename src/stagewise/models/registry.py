"""ModelRegistry: versioned, integrity-checked, pickle-free model storage with the seed's layout."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeAlias

from filelock import FileLock, Timeout

from stagewise._atomic import remove_dir_atomic, write_dir_atomic, write_file_atomic
from stagewise._exceptions import ArtifactError, ConfigError, NotFoundError, StagewiseError, StorageError
from stagewise.models._state import RESERVED_REFS, VERSION_PATTERN, RegistryState, validate_alias
from stagewise.models._temporaries import remove_temporaries
from stagewise.models.ensemble import ProductionEnsemble
from stagewise.models.flavours import EnsembleFlavour, Flavour, InputSignature, as_flavour
from stagewise.models.flavours.calibrated import calibration_method_in
from stagewise.models.flavours.store import (
    audit_version,
    dump_version,
    load_version,
    read_feature_set,
    skops_trust_list,
    version_format,
)
from stagewise.models.manifest import (
    MANIFEST_NAME,
    VerifiedFile,
    build_manifest,
    canonical_json,
    read_verified,
)
from stagewise.models.manifest import verified_files as describe_files
from stagewise.models.metadata import (
    METADATA_FILE,
    build_metadata,
    json_metrics,
    legacy_metadata,
    normalise_data_window,
    production_metadata,
    training_metadata,
)

__all__ = ["LoadedModel", "ModelRegistry", "VersionSummary"]

LoadedModel: TypeAlias = ProductionEnsemble | Flavour
"""What :meth:`ModelRegistry.load` gives back: the ensemble of an ensemble version, else its flavour;
both answer ``predict_proba``."""


@dataclass(frozen=True, slots=True)
class VersionSummary:
    """One saved version, as :meth:`ModelRegistry.list_versions` reports it."""

    version: str
    created_at: str | None
    n_features: int | None
    data_window: dict[str, Any] | None
    performance_metrics: dict[str, Any]
    aliases: tuple[str, ...]
    is_production: bool
    is_previous: bool
    path: Path
    calibration: str | None = None
    """The probability calibrator's method (``"isotonic"``, ``"platt"``) when the model carries one."""


class ModelRegistry:
    """Versioned model store: ``training/`` → ``production/``, aliases, one-step rollback.

    Layout under ``root`` (the seed's ``models/``)::

        models/
          registry.json                     production, previous production, aliases, history
          training/
            training_metadata.json          seed shape, newest version
            20260122T101500Z-a1b2c3/        one directory per saved version, never modified
              lightgbm_model.txt  xgboost_model.ubj  random_forest_model.skops
              ensemble.json  metadata.json  manifest.json (SHA-256 of every other file)
          production/
            production_model_metadata.json  seed shape
            model_metadata.json             the seed's legacy file
            <version>/                      copy of the production version (and of the previous one)

    Every file is written atomically and every load verifies every hash before any
    model object is constructed. No pickle is ever written or read.

    Parameters
    ----------
    root : str or path
        The registry directory (created on first save).
    clock : callable returning a datetime, optional
        Source of "now" for version ids and timestamps (UTC); for tests.
    lock_timeout : float
        Seconds to wait for another process holding the registry lock.
    trusted_types : sequence of str
        skops types to trust besides scikit-learn and NumPy classes, NumPy ufuncs and builtins
        (e.g. ``["mypackage.features.MyTransformer"]``), at save and at load.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from stagewise.models import ProductionEnsemble, ModelRegistry
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(200, 12)), rng.integers(0, 2, 200)
    >>> small = {"n_estimators": 5}
    >>> model = ProductionEnsemble(lgbm_params=small, xgb_params=small, rf_params=small).fit(X, y)
    >>> registry = ModelRegistry(tempfile.mkdtemp())
    >>> window = ("2025-01-01", "2025-06-30")
    >>> version = registry.save(model, metrics={"ensemble_f1": 0.51}, data_window=window)
    >>> registry.promote(version) == version
    True
    >>> loaded = registry.load("production")
    >>> bool(np.array_equal(loaded.predict_proba(X), model.predict_proba(X)))
    True
    >>> registry.resolve("champion") == version
    True
    """

    def __init__(
        self,
        root: str | os.PathLike[str] = "models",
        *,
        clock: Callable[[], datetime] | None = None,
        lock_timeout: float = 60.0,
        trusted_types: Sequence[str] = (),
    ) -> None:
        self.root = Path(root)
        self.trusted_types = tuple(trusted_types)
        self.training_dir = self.root / "training"
        self.production_dir = self.root / "production"
        self._clock = clock
        self._lock_timeout = lock_timeout
        self._filelock: FileLock | None = None

    def __repr__(self) -> str:
        return f"ModelRegistry(root={str(self.root)!r})"

    # ------------------------------------------------------------------ plumbing
    def _now(self) -> datetime:
        now = self._clock() if self._clock is not None else datetime.now(UTC)
        return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)

    @contextmanager
    def _locked(self) -> Iterator[RegistryState]:
        self.root.mkdir(parents=True, exist_ok=True)
        if self._filelock is None:
            self._filelock = FileLock(self.root / ".registry.lock", timeout=self._lock_timeout)
        try:
            with self._filelock:
                remove_temporaries(self.root)  # left by a killed write: no write runs while we hold the lock
                yield RegistryState.read(self.root)
        except Timeout:
            raise StorageError(
                f"Another process has held {self.root / '.registry.lock'} "
                f"for more than {self._lock_timeout}s."
            ) from None

    def remove_stale_temporaries(self, *, wait: float = 0.0) -> list[Path] | None:
        """Delete the ``.tmp-*``/``.trash-*`` directories killed writes left; return what was removed.

        Every write does this too. Returns None, touching nothing, when another process holds
        the registry lock for more than ``wait`` seconds: its write is in progress, and the
        directory it is building is not stale (see :mod:`stagewise.models._temporaries`).
        """
        if not self.root.is_dir():
            return []
        lock = FileLock(self.root / ".registry.lock", timeout=wait)
        try:
            with lock:
                return remove_temporaries(self.root)
        except Timeout:
            return None

    def _versions(self) -> list[str]:
        found: set[str] = set()
        for parent in (self.training_dir, self.production_dir):
            if parent.is_dir():
                found.update(p.name for p in parent.iterdir() if p.is_dir() and VERSION_PATTERN.match(p.name))
        return sorted(found)

    def _copies(self, version: str) -> list[Path]:
        return [d / version for d in (self.training_dir, self.production_dir) if (d / version).is_dir()]

    def _unknown(self, ref: str, state: RegistryState) -> NotFoundError:
        versions = self._versions()
        shown = ", ".join(reversed(versions[-10:])) or "none"
        more = f" (newest 10 of {len(versions)})" if len(versions) > 10 else ""
        aliases = ", ".join(f"{a} → {v}" for a, v in sorted(state.aliases.items())) or "none"
        return NotFoundError(
            f"Unknown model reference {ref!r}. Accepted: a version id, "
            f"{', '.join(map(repr, RESERVED_REFS))} or an alias. Production: {state.production or 'none'}; "
            f"aliases: {aliases}; versions{more}: {shown}."
        )

    def _resolve(self, ref: str, state: RegistryState) -> str:
        if not isinstance(ref, str) or not ref:
            raise ConfigError(f"A model reference must be a non-empty string; got {ref!r}.")
        version: str | None
        if ref == "production":
            version = state.production
            if version is None:
                raise NotFoundError(f"No production model yet in {self.root}; promote a version first.")
        elif ref == "previous":
            version = state.previous_production
            if version is None:
                raise NotFoundError(f"No previous production version in {self.root}.")
        elif ref == "latest":
            versions = self._versions()
            if not versions:
                raise NotFoundError(f"No saved versions in {self.root}.")
            version = versions[-1]
        else:
            version = state.aliases.get(ref, ref)
        if not VERSION_PATTERN.match(version) or not self._copies(version):
            raise self._unknown(ref, state)
        return version

    def _read_checked(self, directory: Path, version: str) -> dict[str, bytes]:
        files = read_verified(directory, version)
        version_format(files)
        manifest = json.loads(files[MANIFEST_NAME].decode("utf-8"))
        try:
            audit_version(files, manifest.get("trusted_types"), self.trusted_types)
        except ArtifactError as exc:
            raise type(exc)(f"{directory}/{exc}") from None
        return files

    def _metadata(self, version: str) -> dict[str, Any]:
        directory = self._copies(version)[0]
        try:
            meta = json.loads((directory / METADATA_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"{directory / METADATA_FILE}: unreadable ({exc}); run verify.") from None
        if not isinstance(meta, dict):
            raise ArtifactError(f"{directory / METADATA_FILE}: expected a JSON object.")
        return meta

    def _write_views(self, state: RegistryState) -> None:
        """Rewrite the seed's summary files from the current state."""
        training = [v for v in self._versions() if (self.training_dir / v).is_dir()]
        if training:
            view = training_metadata(self._metadata(training[-1]), state.production)
            write_file_atomic(self.training_dir / "training_metadata.json", canonical_json(view))
        production_files = ("production_model_metadata.json", "model_metadata.json")
        if state.production is None:
            for name in production_files:
                (self.production_dir / name).unlink(missing_ok=True)
            return
        meta = self._metadata(state.production)
        promoted_at = state.promoted_at(state.production) or meta["created_at"]
        view = production_metadata(
            meta, promoted_at=promoted_at, previous_version=state.previous_production, aliases=state.aliases
        )
        write_file_atomic(self.production_dir / production_files[0], canonical_json(view))
        write_file_atomic(self.production_dir / production_files[1], canonical_json(legacy_metadata(meta)))

    def _commit(self, state: RegistryState, event: dict[str, Any]) -> None:
        state.history.append({"at": self._now().isoformat(timespec="seconds"), **event})
        state.write(self.root)
        keep = {state.production, state.previous_production}
        if self.production_dir.is_dir():
            for path in self.production_dir.iterdir():
                if path.is_dir() and VERSION_PATTERN.match(path.name) and path.name not in keep:
                    remove_dir_atomic(path)  # still in training/: only production keeps a copy for rollback
        self._write_views(state)

    def _next_version(self, now: datetime) -> str:
        """A new id that sorts after every existing one of the same second (call under the lock)."""
        prefix = f"{now:%Y%m%dT%H%M%SZ}-"
        same_second = [int(v[-6:], 16) for v in self._versions() if v.startswith(prefix)]
        low = max(same_second) + 1 if same_second else 0
        if low > 0xFFFFFF:
            raise StorageError(
                f"More than 16 million versions saved in the second {prefix[:-1]}; wait a second."
            )
        return f"{prefix}{low + secrets.randbelow(min(0x1000, 0x1000000 - low)):06x}"

    def _ensure_production_copy(self, version: str) -> None:
        target = self.production_dir / version
        source = self.training_dir / version
        if target.is_dir():
            self._read_checked(target, version)
            return
        if not source.is_dir():
            raise NotFoundError(
                f"Version {version} has no copy in {self.training_dir} or {self.production_dir}."
            )
        write_dir_atomic(target, self._read_checked(source, version))

    # ------------------------------------------------------------------ public API
    def save(
        self,
        model: object,
        *,
        metrics: Mapping[str, Any] | None = None,
        data_window: object = None,
        notes: str | None = None,
        signature: InputSignature | None = None,
        feature_set: Mapping[str, Any] | None = None,
    ) -> str:
        """Store a fitted model as a new version under ``training/`` and return its id.

        Parameters
        ----------
        model : ProductionEnsemble, a flavour, or a fitted model a flavour stores
            A ``ProductionEnsemble``, any flavour object (``SklearnFlavour``, ``RaceFlavour``,
            ...), a fitted scikit-learn classifier or ``Pipeline``, a LightGBM or XGBoost
            ``Booster`` / classifier (see docs/flavours.md).
        metrics : dict, optional
            ``performance_metrics`` such as ``{"lightgbm_f1": 0.52, ..., "ensemble_f1": 0.53}``;
            JSON values (NaN is stored as null).
        data_window : (start, end) or dict with 'start' and 'end', optional
            The period the model was trained on (dates become ISO strings).
        notes : str, optional
        signature : InputSignature, optional
            The declared input; by default the flavour's (the names the model was fitted on).
            Refused when it disagrees with the model.
        feature_set : dict, optional
            How the features are computed (``FeatureSet.to_json()``), recorded with the version.

        Raises
        ------
        UnsupportedModelError
            ``model`` is of a type no flavour stores (the message names its type and the flavours).
        ArtifactError
            A skops file would hold a type that is not trusted; nothing is written.
        """
        if notes is not None and not isinstance(notes, str):
            raise ConfigError(f"notes must be a string or None; got {type(notes).__name__}.")
        flavour = as_flavour(model, signature)
        metrics_json = json_metrics(metrics)
        window = normalise_data_window(data_window)
        files = dump_version(flavour, feature_set=feature_set)  # the slow part, outside the lock
        trusted = skops_trust_list(files, self.trusted_types)
        with self._locked() as state:
            now = self._now()
            version = self._next_version(now)
            meta = build_metadata(
                flavour,
                version=version,
                created_at=now,
                metrics=metrics_json,
                data_window=window,
                notes=notes,
                files=list(files),
            )
            contents = {**files, METADATA_FILE: canonical_json(meta)}
            contents[MANIFEST_NAME] = build_manifest(version, contents, trusted)
            write_dir_atomic(self.training_dir / version, contents)
            self._write_views(state)
        return version

    def load(self, ref: str = "production", *, n_jobs: int | None = None) -> LoadedModel:
        """Verify every file of ``ref`` and rebuild the model.

        ``ref`` is a version id, ``"production"``, ``"previous"``, ``"latest"`` or an alias
        (``"champion"``, ``"challenger"``). ``n_jobs`` overrides the stored thread count.
        An ensemble version gives the :class:`ProductionEnsemble` (as before flavours); any
        other version its flavour object (see :meth:`load_flavour`).

        Raises
        ------
        NotFoundError
            Unknown ref (the message lists what exists).
        ArtifactIntegrityError
            A file is changed, truncated, missing or unlisted (names the file and both hashes).
        UnsupportedFormatError
            The version was written by a newer stagewise.
        """
        flavour = self.load_flavour(ref, n_jobs=n_jobs)
        return flavour.model_ if isinstance(flavour, EnsembleFlavour) else flavour

    def load_flavour(self, ref: str = "production", *, n_jobs: int | None = None) -> Flavour:
        """Verify every file of ``ref`` and rebuild it as a flavour (an ensemble too).

        Its ``predict_proba`` enforces the version's input signature (``signature_``).
        """
        return load_version(self._files(ref), trusted_types=self.trusted_types, n_jobs=n_jobs)

    def _files(self, ref: str) -> dict[str, bytes]:
        state = RegistryState.read(self.root)
        version = self._resolve(ref, state)
        copies = self._copies(version)
        if ref in ("production", "previous"):
            copies.reverse()  # the production copy first
        return self._read_checked(copies[0], version)

    def signature(self, ref: str) -> InputSignature:
        """The declared input signature of ``ref`` (verified; no model is built)."""
        from stagewise.models.flavours._base import FLAVOUR_FILE, read_description

        files = self._files(ref)
        if FLAVOUR_FILE in files:
            return InputSignature.from_json(read_description(files)["signature"])
        ensemble = json.loads(files["ensemble.json"].decode("utf-8"))
        return InputSignature.from_names([str(n) for n in ensemble["feature_names"]])

    def feature_set(self, ref: str) -> dict[str, Any] | None:
        """The feature set recorded with ``ref`` (``None`` when none was recorded)."""
        return read_feature_set(self._files(ref))

    def resolve(self, ref: str) -> str:
        """The version id ``ref`` points to."""
        return self._resolve(ref, RegistryState.read(self.root))

    def verify(self, ref: str) -> list[VerifiedFile]:
        """Check every copy of ``ref`` against its manifest; return the verified files.

        Raises the same errors as :meth:`load`, without constructing any model.
        """
        version = self._resolve(ref, RegistryState.read(self.root))
        checked = [self._read_checked(d, version) for d in self._copies(version)]
        return describe_files(checked[0])

    def promote(self, ref: str) -> str:
        """Make ``ref`` the production model (and the ``champion``); return its version.

        The version is verified and copied to ``production/<version>/``; the model it
        replaces stays available for one-step :meth:`rollback`. Promoting the current
        production version changes nothing.
        """
        with self._locked() as state:
            version = self._resolve(ref, state)
            self._ensure_production_copy(version)
            if state.production == version:
                return version
            event = {"action": "promote", "version": version, "from": state.production}
            state.previous_production, state.production = state.production, version
            state.aliases["champion"] = version
            self._commit(state, event)
        return version

    def rollback(self) -> str:
        """Put the previous production version back (one step); return its version.

        It becomes production and ``champion`` again; a second rollback needs another promote.
        """
        with self._locked() as state:
            target = state.previous_production
            if target is None:
                raise NotFoundError(
                    f"Nothing to roll back to in {self.root}: production is "
                    f"{state.production or 'empty'} and there is no previous production version "
                    "(rollback is one step after a promote)."
                )
            self._ensure_production_copy(target)
            event = {"action": "rollback", "version": target, "from": state.production}
            state.production, state.previous_production = target, None
            state.aliases["champion"] = target
            self._commit(state, event)
        return target

    def set_alias(self, alias: str, ref: str) -> str:
        """Point ``alias`` (e.g. ``"challenger"``) at the version ``ref`` resolves to; return it."""
        validate_alias(alias)
        with self._locked() as state:
            version = self._resolve(ref, state)
            previous = state.aliases.get(alias)
            state.aliases[alias] = version
            self._commit(state, {"action": "alias", "alias": alias, "version": version, "from": previous})
        return version

    def remove_alias(self, alias: str) -> None:
        """Delete ``alias``; the version it pointed to is kept."""
        with self._locked() as state:
            if alias not in state.aliases:
                known = sorted(state.aliases) or "none"
                raise NotFoundError(f"Unknown alias {alias!r}; aliases: {known}.")
            previous = state.aliases.pop(alias)
            self._commit(state, {"action": "unalias", "alias": alias, "version": None, "from": previous})

    def aliases(self) -> dict[str, str]:
        """Alias → version."""
        return dict(RegistryState.read(self.root).aliases)

    def list_versions(self) -> list[VersionSummary]:
        """Every saved version, oldest first (ids sort by time)."""
        state = RegistryState.read(self.root)
        out = []
        for version in self._versions():
            try:
                meta = self._metadata(version)
            except ArtifactError:
                meta = {}
            out.append(
                VersionSummary(
                    version=version,
                    created_at=meta.get("created_at"),
                    n_features=meta.get("n_features"),
                    data_window=meta.get("data_window"),
                    performance_metrics=dict(meta.get("performance_metrics") or {}),
                    aliases=tuple(sorted(a for a, v in state.aliases.items() if v == version)),
                    is_production=state.production == version,
                    is_previous=state.previous_production == version,
                    path=self._copies(version)[0],
                    calibration=self._calibration(version),
                )
            )
        return out

    def _calibration(self, version: str) -> str | None:
        """The calibration method in a version's ``flavour.json``; None without one (or unreadable)."""
        try:
            flavour = json.loads((self._copies(version)[0] / "flavour.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return calibration_method_in(flavour)

    def info(self, ref: str) -> dict[str, Any]:
        """Metadata, manifest and registry role of ``ref`` (read only, not verified: see :meth:`verify`)."""
        state = RegistryState.read(self.root)
        version = self._resolve(ref, state)
        directory = self._copies(version)[0]
        try:
            manifest = json.loads((directory / MANIFEST_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            manifest = {}
        try:
            flavour = json.loads((directory / "flavour.json").read_text(encoding="utf-8"))
            signature = InputSignature.from_json(flavour["signature"])
            name, feature_set = str(flavour["flavour"]), flavour.get("feature_set")
            calibration = calibration_method_in(flavour)
        except FileNotFoundError:  # format 1: a ProductionEnsemble, every feature a number, NaN allowed
            meta = self._metadata(version)
            signature = InputSignature.from_names([str(n) for n in meta.get("feature_names", [])] or ["?"])
            name, feature_set, calibration = "ensemble", None, None
        except (OSError, ValueError, KeyError, TypeError, StagewiseError) as exc:
            raise ArtifactError(f"{directory / 'flavour.json'}: unreadable ({exc}); run verify.") from None
        return {
            "version": version,
            "flavour": name,
            "calibration": calibration,
            "signature": signature.describe(),
            "feature_set": feature_set,
            "metadata": self._metadata(version),
            "files": manifest.get("files", {}),
            "aliases": sorted(a for a, v in state.aliases.items() if v == version),
            "is_production": state.production == version,
            "is_previous": state.previous_production == version,
            "promoted_at": state.promoted_at(version),
            "locations": [str(p) for p in self._copies(version)],
        }

    def history(self) -> list[dict[str, Any]]:
        """Every promote, rollback and alias change, oldest first."""
        return list(RegistryState.read(self.root).history)
