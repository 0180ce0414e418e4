"""Crash-safe file writes: temp file (or directory) + fsync + rename.

A reader never sees a half-written file or version directory: either the old state
or the complete new one. Temporary names start with a dot (``.<name>.<hex>.tmp``), which
every reader ignores. Used by the model registry and the rollout file store.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
from collections.abc import Mapping
from pathlib import Path

from stagewise._exceptions import StorageError

__all__ = ["fsync_dir", "remove_dir_atomic", "write_dir_atomic", "write_file_atomic"]


def fsync_dir(path: Path) -> None:
    """Make a rename or creation inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _refuse_non_regular(path: Path) -> None:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StorageError(f"Cannot write {str(path)!r}: {exc.strerror or exc}.") from None
    if not stat.S_ISREG(mode):
        raise StorageError(
            f"Cannot write {str(path)!r}: it exists and is not a regular file (a device, pipe or "
            "directory); give the path of a file."
        )


def write_file_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves either the old or the new file.

    Only a regular file is ever replaced: renaming over ``/dev/full``, a pipe or a directory
    would destroy it, so such a path is a StorageError and nothing is written.
    """
    _refuse_non_regular(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        _write_synced(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def write_dir_atomic(target: Path, files: Mapping[str, bytes]) -> None:
    """Create directory ``target`` holding ``files`` in one visible step.

    Raises ``FileExistsError`` (or another ``OSError``) if ``target`` already exists;
    the temporary directory is removed on any failure.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        raise FileExistsError(f"{target} already exists")
    tmp = target.parent / f".tmp-{target.name}-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        for name, data in files.items():
            _write_synced(tmp / name, data)
        fsync_dir(tmp)
        os.rename(tmp, target)  # fails on an existing non-empty target: never merges two versions
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(target.parent)


def remove_dir_atomic(target: Path) -> None:
    """Remove ``target`` so that it disappears in one step (renamed away, then deleted)."""
    if not target.exists():
        return
    trash = target.parent / f".trash-{target.name}-{secrets.token_hex(4)}"
    os.rename(target, trash)
    fsync_dir(target.parent)
    shutil.rmtree(trash, ignore_errors=True)
