"""A directory made read-only for a block, for the fault tests (imported by name: tests have no package)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def read_only(directory: Path) -> Iterator[bool]:
    """Make ``directory`` read-only for the block: chmod for a user, a read-only bind mount for root.

    Root ignores permission bits, hence the mount (it needs CAP_SYS_ADMIN). Yields False when
    neither works here; the caller skips with that reason.
    """
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [directory, *directory.rglob("*")] if p.is_dir()}
        for p in modes:
            p.chmod(0o555)
        try:
            yield True
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    mounted = subprocess.run(
        ["mount", "--bind", "-o", "ro", str(directory), str(directory)], capture_output=True
    )
    if mounted.returncode != 0:
        yield False
        return
    try:
        remount = subprocess.run(["mount", "-o", "remount,bind,ro", str(directory)], capture_output=True)
        yield remount.returncode == 0 and not os.access(directory, os.W_OK)
    finally:
        subprocess.run(["umount", str(directory)], check=False)


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` with its bytes: equal before and after means nothing changed."""
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()
    }
