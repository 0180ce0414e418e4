from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path

import numpy as np
import pytest
from models_support import StepClock, crash_while_saving, save_in_child

from stagewise import _atomic
from stagewise.models import ModelRegistry, ProductionEnsemble


# fork: the children inherit the fitted model; they only serialise and write (no OpenMP work)
def test_two_processes_saving_at_once_both_succeed_with_distinct_versions(
    tmp_path: Path, fitted: ProductionEnsemble
) -> None:
    ctx = mp.get_context("fork")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [
        ctx.Process(target=save_in_child, args=(str(tmp_path), fitted, barrier, results)) for _ in range(2)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0]
    versions = sorted(results.get(timeout=5) for _ in procs)
    assert len(set(versions)) == 2
    assert all(v.startswith("20260122T101500Z-") for v in versions)
    registry = ModelRegistry(tmp_path)
    assert [s.version for s in registry.list_versions()] == versions
    for version in versions:
        registry.verify(version)
        assert registry.load(version).predict_proba(np.zeros((1, 12))).shape == (1, 2)


def test_a_process_killed_mid_save_leaves_no_visible_version(
    tmp_path: Path, fitted: ProductionEnsemble
) -> None:
    ctx = mp.get_context("fork")
    proc = ctx.Process(target=crash_while_saving, args=(str(tmp_path), fitted))
    proc.start()
    proc.join(timeout=120)
    assert proc.exitcode == 3
    leftovers = [p.name for p in (tmp_path / "training").iterdir()]
    assert len(leftovers) == 1
    assert leftovers[0].startswith(".tmp-")  # the half-written directory is hidden ...
    registry = ModelRegistry(tmp_path, clock=StepClock())
    assert registry.list_versions() == []  # ... and never listed or loadable
    version = registry.save(fitted)
    assert [s.version for s in registry.list_versions()] == [version]


def test_a_failed_rename_cleans_up_and_keeps_the_old_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fitted: ProductionEnsemble
) -> None:
    registry = ModelRegistry(tmp_path, clock=StepClock())
    first = registry.save(fitted)
    before = (tmp_path / "training" / "training_metadata.json").read_bytes()

    def broken_rename(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_atomic.os, "rename", broken_rename)
    with pytest.raises(OSError, match="No space left"):
        registry.save(fitted)
    monkeypatch.undo()
    assert [s.version for s in registry.list_versions()] == [first]
    assert sorted(os.listdir(tmp_path / "training")) == sorted([first, "training_metadata.json"])
    assert (tmp_path / "training" / "training_metadata.json").read_bytes() == before
