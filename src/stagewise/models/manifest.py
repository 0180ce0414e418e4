"""The SHA-256 manifest of a model version directory.

``manifest.json`` lists every other file of a version with its size and SHA-256. It is
written in one canonical JSON form (sorted keys, two-space indent, trailing newline) and
carries a digest of its own content, so a change to *any* byte of *any* file of the
version, the manifest included, is detected::

    {
      "algorithm": "sha256",
      "files": {"ensemble.json": {"sha256": "…", "size": 1234}, …},
      "format_version": 1,
      "trusted_types": {"model.skops": ["numpy.ndarray", "sklearn.pipeline.Pipeline", …]},
      "manifest_sha256": "<sha256 of this object without this key, canonical form>",
      "version": "20260122T101500Z-a1b2c3"
    }

:func:`read_verified` reads every file into memory and checks it *before* anything is
parsed or constructed from it; callers then build objects from the verified bytes, so
a file swapped after the check is never used.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stagewise._exceptions import ArtifactIntegrityError, UnsupportedFormatError

__all__ = [
    "MANIFEST_FORMAT_VERSION",
    "MANIFEST_NAME",
    "VerifiedFile",
    "build_manifest",
    "canonical_json",
    "read_verified",
    "sha256_hex",
    "verified_files",
]

MANIFEST_NAME = "manifest.json"

MANIFEST_FORMAT_VERSION = 1
"""Version of the manifest layout. Bump it only if the keys above change; keep a reader for 1."""

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True, slots=True)
class VerifiedFile:
    """One file whose size and SHA-256 matched the manifest."""

    name: str
    size: int
    sha256: str


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def canonical_json(obj: Any) -> bytes:
    """The one byte form stagewise writes JSON in: sorted keys, indent 2, UTF-8, final newline."""
    return (json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode()


def build_manifest(
    version: str, files: Mapping[str, bytes], trusted_types: Mapping[str, list[str]] | None = None
) -> bytes:
    """The manifest bytes for ``files`` (name → content) of ``version``.

    ``trusted_types`` (skops file → the types it holds) is recorded when given: loading audits
    each skops file against it before anything is built.
    """
    body: dict[str, Any] = {
        "algorithm": "sha256",
        "files": {
            name: {"sha256": sha256_hex(data), "size": len(data)} for name, data in sorted(files.items())
        },
        "format_version": MANIFEST_FORMAT_VERSION,
        "version": version,
    }
    if trusted_types:
        body["trusted_types"] = {name: sorted(types) for name, types in sorted(trusted_types.items())}
    body["manifest_sha256"] = sha256_hex(canonical_json(body))
    return canonical_json(body)


def _parse_manifest(directory: Path, raw: bytes) -> dict[str, Any]:
    where = directory / MANIFEST_NAME
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactIntegrityError(
            f"{where}: not valid JSON ({exc}); the manifest was damaged or truncated. "
            f"File SHA-256 {sha256_hex(raw)}."
        ) from None
    if not isinstance(body, dict):
        raise ArtifactIntegrityError(f"{where}: expected a JSON object; got {type(body).__name__}.")
    fmt = body.get("format_version")
    if not isinstance(fmt, int) or isinstance(fmt, bool):
        raise ArtifactIntegrityError(f"{where}: 'format_version' must be an int; got {fmt!r}.")
    if fmt > MANIFEST_FORMAT_VERSION:
        raise UnsupportedFormatError(
            f"{where}: manifest format_version {fmt} is newer than this stagewise reads "
            f"(<= {MANIFEST_FORMAT_VERSION}); upgrade stagewise to load it."
        )
    canonical = canonical_json(body)
    if canonical != raw:
        raise ArtifactIntegrityError(
            f"{where}: the manifest was edited: its SHA-256 {sha256_hex(raw)} differs from that of its "
            f"canonical form {sha256_hex(canonical)}."
        )
    claimed = body.pop("manifest_sha256", None)
    actual = sha256_hex(canonical_json(body))
    if claimed != actual:
        raise ArtifactIntegrityError(
            f"{where}: SHA-256 mismatch of the manifest content: recorded {claimed}, actual {actual}."
        )
    files = body.get("files")
    if not isinstance(files, dict) or not files:
        raise ArtifactIntegrityError(f"{where}: 'files' must be a non-empty object; got {files!r}.")
    for name, entry in files.items():
        if not _SAFE_NAME.match(name) or name == MANIFEST_NAME:
            raise ArtifactIntegrityError(f"{where}: refusing file name {name!r} (must be a plain file name).")
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            raise ArtifactIntegrityError(f"{where}: entry for {name!r} has no 'sha256'.")
    return body


def read_verified(directory: Path, expected_version: str | None = None) -> dict[str, bytes]:
    """Read every file of a version directory, check it against the manifest, return the bytes.

    The result maps each file name, ``manifest.json`` included, to its verified content.

    Raises
    ------
    ArtifactIntegrityError
        The manifest is damaged or edited, a listed file is missing, changed or truncated
        (the message names the file and both hashes), an unlisted file is present, or the
        manifest belongs to another version.
    UnsupportedFormatError
        The manifest was written by a newer stagewise.
    """
    raw = _read(directory / MANIFEST_NAME)
    body = _parse_manifest(directory, raw)
    if expected_version is not None and body.get("version") != expected_version:
        raise ArtifactIntegrityError(
            f"{directory / MANIFEST_NAME}: belongs to version {body.get('version')!r}, "
            f"but the directory is {expected_version!r}; it was copied or renamed."
        )
    listed: dict[str, dict[str, Any]] = body["files"]
    present = {p.name for p in directory.iterdir() if not p.name.startswith(".")} - {MANIFEST_NAME}
    unlisted = sorted(present - set(listed))
    if unlisted:
        raise ArtifactIntegrityError(
            f"{directory}: file(s) {unlisted} are not in the manifest; refusing a version with unknown files."
        )
    out: dict[str, bytes] = {MANIFEST_NAME: raw}
    for name, entry in listed.items():
        path = directory / name
        if not path.is_file():
            raise ArtifactIntegrityError(
                f"{path}: listed in the manifest (SHA-256 {entry['sha256']}) but missing."
            )
        data = _read(path)
        actual = sha256_hex(data)
        if actual != entry["sha256"]:
            raise ArtifactIntegrityError(
                f"{path}: SHA-256 mismatch: manifest {entry['sha256']}, file {actual} "
                f"({len(data)} bytes, manifest says {entry.get('size')}); the file was changed or truncated."
            )
        out[name] = data
    return out


def verified_files(files: Mapping[str, bytes]) -> list[VerifiedFile]:
    """Describe already-verified file contents."""
    return [VerifiedFile(name, len(data), sha256_hex(data)) for name, data in sorted(files.items())]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ArtifactIntegrityError(f"{path}: missing; the version is incomplete.") from None
