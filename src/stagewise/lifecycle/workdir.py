"""The demo's work directory: refuse what would damage an earlier run, prove it is writable, lay it out."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from stagewise._exceptions import ConfigError, StorageError

__all__ = ["LAYOUT", "prepare_workdir"]

#: The sub-directories the demo writes, and what goes where.
LAYOUT = {
    "data": "races.parquet and the monitor ledger monitor.db",
    "models": "the pickle-free model registry",
    "config": "rollout_config.json and its audit log",
    "backtest": "one walk-forward report per model",
    "report": "index.html, the monitor report and demo_summary.json",
}

_SQLITE_MAGIC = b"SQLite format 3\x00"


def _ledger_problem(path: Path) -> str | None:
    """Why ``path`` is not a readable SQLite database, or None when it is one."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        return f"it cannot be read ({exc.strerror or exc})"
    if head != _SQLITE_MAGIC:
        return "it is not a SQLite database (corrupt or another kind of file)"
    try:
        conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return f"SQLite cannot open it ({exc})"
    try:
        row = conn.execute("PRAGMA quick_check").fetchone()
    except sqlite3.DatabaseError as exc:
        return f"SQLite cannot read it ({exc})"
    finally:
        conn.close()
    if not row or row[0] != "ok":
        return f"SQLite reports it damaged ({row[0] if row else 'no answer'})"
    return None


def _refuse_earlier_run(root: Path) -> None:
    """Raise when ``root`` holds anything the demo would write into; write nothing."""
    if root.exists() and not root.is_dir():
        raise StorageError(
            f"The demo work directory {str(root)!r} exists and is not a directory; pass --workdir DIR."
        )
    ledger = root / "data" / "monitor.db"
    if ledger.exists():
        problem = _ledger_problem(ledger)
        if problem is not None:
            raise StorageError(
                f"The monitor database {str(ledger)!r} is unusable: {problem}. The demo leaves it untouched; "
                "pass a new --workdir (or move the file away to inspect it)."
            )
    taken = [name for name in LAYOUT if (root / name).exists() and any((root / name).iterdir())]
    if taken:
        raise ConfigError(
            f"The work directory {str(root)!r} already holds files in {taken}; the demo never overwrites "
            "an earlier run: pass a new or empty --workdir."
        )


def prepare_workdir(root: Path) -> None:
    """Check ``root`` (no earlier run, no damaged ledger, writable) and create its sub-directories.

    Raises :class:`~stagewise.StorageError` for a directory that cannot be written or a corrupt
    ledger, :class:`~stagewise.ConfigError` for an earlier run; in both cases nothing stored changes.
    """
    _refuse_earlier_run(root)
    try:
        for sub in LAYOUT:
            (root / sub).mkdir(parents=True, exist_ok=True)
        probe = root / "data" / ".write-probe"
        probe.write_text("ok", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        raise StorageError(
            f"The demo work directory {str(root)!r} is not writable ({exc.strerror or exc}); "
            "pass --workdir with a directory you can write."
        ) from exc


def discard_workdir(root: Path, *, existed: bool) -> None:
    """Undo a failed run: remove the sub-directories it wrote (empty before it, see ``prepare_workdir``).

    ``root`` itself goes too when the run created it and nothing else is in it, so that the same
    ``stagewise demo`` command can simply be run again.
    """
    import shutil

    for sub in LAYOUT:
        shutil.rmtree(root / sub, ignore_errors=True)
    if not existed:
        with contextlib.suppress(OSError):
            root.rmdir()  # only if empty: never anything the user put there
