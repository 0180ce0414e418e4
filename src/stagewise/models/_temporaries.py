"""Temporary directories a killed registry write leaves behind, and when they are safe to delete.

Every registry write builds a version as ``.tmp-<version>-<hex>`` (then renames it into place)
and removes one as ``.trash-<version>-<hex>`` (after renaming it away), both *while holding
the registry lock* (``.registry.lock``, an OS file lock that the kernel releases when its
process dies). So whoever holds that lock knows that no other write is in progress: every
such directory it sees is *stale*, left by a writer that was killed. A directory of a write
that is still running can never be seen by a lock holder, and nothing else deletes them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["TEMPORARY_PREFIXES", "find_temporaries", "remove_temporaries"]

TEMPORARY_PREFIXES = (".tmp-", ".trash-")
"""Names that :func:`stagewise._atomic.write_dir_atomic` and ``remove_dir_atomic`` give their work."""


def find_temporaries(root: Path) -> list[Path]:
    """The temporary directories under ``root/training`` and ``root/production``, sorted."""
    found: list[Path] = []
    for folder in (root / "training", root / "production"):
        if folder.is_dir():
            found.extend(p for p in folder.iterdir() if p.is_dir() and p.name.startswith(TEMPORARY_PREFIXES))
    return sorted(found)


def remove_temporaries(root: Path) -> list[Path]:
    """Delete every temporary directory under ``root``: call only while holding the registry lock."""
    removed = find_temporaries(root)
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed
