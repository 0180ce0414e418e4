"""A killed save leaves a hidden .tmp-* directory; the next save or `check` removes it, never a live one.

Issue 11, item 22. "Stale" means: seen while holding the registry lock (every write holds it
while its temporary directory exists, and the kernel drops the lock of a killed process).
"""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path
from typing import Any

from filelock import FileLock
from models_support import StepClock, crash_while_saving

from stagewise.check.models import registry_checks
from stagewise.models import ModelRegistry, ProductionEnsemble


def _killed_save(root: Path, fitted: ProductionEnsemble) -> Path:
    proc = mp.get_context("fork").Process(target=crash_while_saving, args=(str(root), fitted))
    proc.start()
    proc.join(timeout=120)
    assert proc.exitcode == 3
    (left,) = (root / "training").iterdir()
    assert left.name.startswith(".tmp-")
    return left


def _save_in_progress(root: str, started: Any, finish: Any) -> None:
    """Process body: hold the registry lock with a half-built version, as a running save does."""
    with FileLock(Path(root) / ".registry.lock"):
        building = Path(root) / "training" / ".tmp-20260101T000000Z-0000-live"
        building.mkdir(parents=True)
        (building / "model.json").write_text("{}", encoding="utf-8")
        started.set()
        finish.wait(60)


def test_the_next_save_removes_what_a_killed_save_left(tmp_path: Path, fitted: ProductionEnsemble) -> None:
    left = _killed_save(tmp_path, fitted)
    version = ModelRegistry(tmp_path, clock=StepClock()).save(fitted)
    assert not left.exists()
    assert [p.name for p in (tmp_path / "training").iterdir() if p.is_dir()] == [version]


def test_check_removes_what_a_killed_save_left(tmp_path: Path, fitted: ProductionEnsemble) -> None:
    left = _killed_save(tmp_path, fitted)
    rows = {r.name: r for r in registry_checks(tmp_path)}
    assert rows["registry temporaries"].ok
    assert f"removed 1 left by killed saves: {left.name}" in rows["registry temporaries"].detail
    assert not left.exists()
    again = {r.name: r for r in registry_checks(tmp_path)}
    assert again["registry temporaries"].detail == "none left by killed saves"


def test_a_save_in_progress_is_never_touched(tmp_path: Path, fitted: ProductionEnsemble) -> None:
    ModelRegistry(tmp_path, clock=StepClock()).save(fitted)
    ctx = mp.get_context("fork")
    started, finish = ctx.Event(), ctx.Event()
    writer = ctx.Process(target=_save_in_progress, args=(str(tmp_path), started, finish))
    writer.start()
    try:
        assert started.wait(30)
        building = tmp_path / "training" / ".tmp-20260101T000000Z-0000-live"
        assert ModelRegistry(tmp_path).remove_stale_temporaries(wait=0.2) is None
        rows = {r.name: r for r in registry_checks(tmp_path)}
        assert "a save in progress" in rows["registry temporaries"].detail
        assert (building / "model.json").is_file()
    finally:
        finish.set()
        writer.join(timeout=30)
    assert writer.exitcode == 0
    # the writer is gone without finishing: now its directory is stale
    assert ModelRegistry(tmp_path).remove_stale_temporaries() == [building]
    assert not building.exists()
