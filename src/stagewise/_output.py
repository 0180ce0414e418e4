"""Files and folders a user names as outputs: where stagewise may create directories, and errors.

Missing parent directories of an output are created, except directly under the filesystem
root: ``--output /nonexistent/x.prom`` is much more likely a typo than a wish for a new
top-level directory, and creating one would leave litter where only an administrator should
write. A write that fails (a full disk, ``/dev/full``, no permission) is a
:class:`~stagewise.StorageError` that names the path, not a bare ``OSError``.
"""

from __future__ import annotations

from pathlib import Path

from stagewise._exceptions import StorageError

__all__ = ["make_dirs", "make_parent_dirs", "write_text_output"]


def make_dirs(directory: Path) -> None:
    """Create ``directory`` and its missing parents, never a new directory at the filesystem root."""
    if directory.is_dir():
        return
    missing = directory.absolute()
    for ancestor in directory.absolute().parents:
        if ancestor.exists():
            break
        missing = ancestor
    top = missing.absolute()
    if top.parent == top.parent.parent and not top.exists():  # top's parent is "/" (or a drive root)
        needed = "" if top == directory.absolute() else f" (needed for {str(directory)!r})"
        raise StorageError(
            f"The directory {str(top)!r} does not exist and stagewise creates no directory at the "
            f"filesystem root{needed}; create it first or choose another path."
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(
            f"Cannot create the directory {str(directory)!r}: {exc.strerror or exc}."
        ) from None


def make_parent_dirs(path: Path) -> None:
    """Create the missing parent directories of the file ``path`` (see :func:`make_dirs`)."""
    make_dirs(path.parent)


def write_text_output(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (UTF-8), its parents made; any failure is a StorageError naming it."""
    make_parent_dirs(path)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise StorageError(f"Cannot write {str(path)!r}: {exc.strerror or exc}.") from None
