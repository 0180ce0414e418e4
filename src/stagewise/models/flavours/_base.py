"""The model-flavour contract and the one description file, ``flavour.json``, that names it.

A *flavour* is a small class that knows how to fit, score, write and read one kind of model
without pickle. Every flavour satisfies :class:`Flavour`: ``fit`` / ``predict_proba`` like a
scikit-learn classifier, an :class:`~stagewise.models.flavours.InputSignature` in
``signature_`` (checked by ``predict_proba``), ``to_files()`` → file contents in memory, and
``from_files()`` to rebuild it from contents that were already verified.

``flavour.json`` (format :data:`FORMAT_VERSION`) holds the flavour's name, its signature, its own
details and its files; composite flavours (a race model, a blend) nest their members' entries
with a file-name prefix each, so one version directory holds everything.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from stagewise._exceptions import ArtifactError, UnsupportedFormatError
from stagewise.models.flavours.signature import InputSignature

__all__ = [
    "FLAVOUR_FILE",
    "FORMAT_VERSION",
    "Flavour",
    "FlavourFiles",
    "load_entry",
    "pack_entry",
    "read_description",
    "register_flavour",
]

FORMAT_VERSION = 2
"""Format of a saved model version.

1. ``ensemble.json`` and the ensemble's three model files (no ``flavour.json``): a
   :class:`~stagewise.models.ProductionEnsemble`, read unchanged.
2. ``flavour.json`` names the flavour, its input signature and its files; any flavour.

How to bump it: increase this constant and write the new layout in :func:`pack_entry`; keep the
reader of every older format (``_READERS`` in :mod:`stagewise.models.flavours.store`); save a
fixture with ``python tests/models/fixtures/make_fixture.py`` (it writes ``format_vN/``) and keep
every older fixture: the test suite loads each one and checks its stored probabilities.
"""

FLAVOUR_FILE = "flavour.json"


@dataclass(frozen=True, slots=True)
class FlavourFiles:
    """What a flavour writes: file name → bytes, and JSON details to rebuild it."""

    files: dict[str, bytes]
    details: dict[str, Any]


@runtime_checkable
class Flavour(Protocol):
    """A model stagewise can store, load, check and serve.

    ``name`` is the flavour's key in ``flavour.json``; ``signature_`` the declared input.
    """

    name: ClassVar[str]
    signature_: InputSignature

    def predict_proba(self, X: Any) -> np.ndarray:
        """``(n, 2)`` probabilities after checking ``X`` against ``signature_``."""
        ...

    def to_files(self) -> FlavourFiles:
        """The model's files and details, in memory (no pickle)."""
        ...

    @classmethod
    def from_files(cls, files: Mapping[str, bytes], details: Mapping[str, Any]) -> Flavour:
        """Rebuild from verified (and, for skops, audited) contents."""
        ...


_FLAVOURS: dict[str, type[Flavour]] = {}


def register_flavour(cls: type[Flavour]) -> type[Flavour]:
    """Class decorator: make ``cls`` loadable under ``cls.name``."""
    _FLAVOURS[cls.name] = cls
    return cls


def flavour_names() -> list[str]:
    """Names of every registered flavour."""
    return sorted(_FLAVOURS)


def pack_entry(flavour: Flavour, prefix: str = "") -> tuple[dict[str, bytes], dict[str, Any]]:
    """Files (names with ``prefix``) and the JSON entry describing ``flavour``."""
    written = flavour.to_files()
    files = {prefix + name: data for name, data in written.files.items()}
    entry = {
        "flavour": flavour.name,
        "signature": flavour.signature_.to_json(),
        "details": written.details,
        "files": sorted(files),
    }
    return files, entry


def load_entry(entry: Mapping[str, Any], files: Mapping[str, bytes], prefix: str = "") -> Flavour:
    """Rebuild the flavour an entry of ``flavour.json`` describes from ``files``."""
    name = entry.get("flavour")
    cls = _FLAVOURS.get(str(name))
    if cls is None:
        raise UnsupportedFormatError(
            f"{FLAVOUR_FILE}: unknown flavour {name!r}; this stagewise reads {flavour_names()} "
            "(a newer stagewise may have written it: upgrade to load it)."
        )
    listed = [str(n) for n in entry.get("files", [])]
    missing = [n for n in listed if n not in files]
    if missing:
        raise ArtifactError(f"{FLAVOUR_FILE}: the {name} model's file(s) {missing} are not in the version.")
    own = {n[len(prefix) :]: files[n] for n in listed if n.startswith(prefix)}
    model = cls.from_files(own, entry.get("details") or {})
    model.signature_ = InputSignature.from_json(entry["signature"])
    return model


def read_description(files: Mapping[str, bytes]) -> dict[str, Any]:
    """``flavour.json`` of verified contents, its format checked."""
    try:
        body = json.loads(files[FLAVOUR_FILE].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{FLAVOUR_FILE}: not valid JSON ({exc}).") from None
    if not isinstance(body, dict):
        raise ArtifactError(f"{FLAVOUR_FILE}: expected a JSON object.")
    fmt = body.get("format_version")
    if isinstance(fmt, bool) or not isinstance(fmt, int):
        raise UnsupportedFormatError(f"{FLAVOUR_FILE}: 'format_version' must be an int; got {fmt!r}.")
    if fmt > FORMAT_VERSION or fmt < 2:
        newer = fmt > FORMAT_VERSION
        raise UnsupportedFormatError(
            f"{FLAVOUR_FILE}: format_version {fmt} is "
            + ("newer than this stagewise reads" if newer else "unknown")
            + f" (this stagewise reads format_version 1 to {FORMAT_VERSION}); "
            + ("upgrade stagewise to load it." if newer else "the file is not a stagewise model.")
        )
    return body
