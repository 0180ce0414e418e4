"""The JSON file store under concurrent writers and writers killed with SIGKILL mid-update."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import random
import signal
import time
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from stagewise.rollout import GradualRollout

FORK = mp.get_context("fork")


def _writer(path: str, prefix: str, count: int) -> None:
    rollout = GradualRollout(path, refresh_interval=0, actor=prefix)
    for i in range(count):
        name = f"{prefix}_{i}"
        rollout.add_feature(name, "10%", salt=name)
        rollout.update_rollout_stage(name, "50%", reason=f"step {i}")


def test_concurrent_writers_in_several_processes_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "rollout_config.json"
    writers = [FORK.Process(target=_writer, args=(str(path), f"w{p}", 10)) for p in range(4)]
    for proc in writers:
        proc.start()
    for proc in writers:
        proc.join(timeout=120)
        assert proc.exitcode == 0
    rollout = GradualRollout(path)
    features = rollout.get_rollout_status()["feature_rollouts"]
    assert len(features) == 40
    assert {f["stage"] for f in features.values()} == {"50%"}
    report = rollout.verify_audit()
    assert report.ok, report.problems
    assert report.entries == 80  # one add and one stage change per feature, none lost or duplicated


def _kill_rounds(tmp_path: Path, rounds: int, seed: int) -> None:
    rng = random.Random(seed)
    path = tmp_path / "rollout_config.json"
    acked: set[int] = set()
    start = 0
    for _ in range(rounds):
        receive, send = FORK.Pipe(duplex=False)
        proc = FORK.Process(target=_acking_writer_from, args=(str(path), send, start))
        proc.start()
        send.close()
        deadline = time.monotonic() + rng.uniform(0.02, 0.25)
        while time.monotonic() < deadline:
            if receive.poll(0.005):
                acked.add(receive.recv())
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
        while receive.poll():
            try:
                acked.add(receive.recv())
            except EOFError:
                break
        receive.close()
        # after every kill: the config parses, every acknowledged update is there, the log verifies
        document = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"feature_rollouts": {}}
        present = {int(name[1:]) for name in document["feature_rollouts"]}
        assert acked <= present
        report = GradualRollout(path).verify_audit()
        assert report.ok, report.problems
        start = max(present, default=-1) + 1
    survivor = GradualRollout(path, refresh_interval=0)
    survivor.add_feature("after_the_storm", "10%")
    report = survivor.verify_audit()
    assert report.ok, report.problems
    assert report.notes == []
    assert report.entries == len(survivor.get_rollout_status()["feature_rollouts"])
    assert not list(path.parent.glob(".*.tmp"))


def _acking_writer_from(path: str, acks: Connection, start: int) -> None:
    rollout = GradualRollout(path, refresh_interval=0, actor="victim")
    i = start
    while True:
        rollout.add_feature(f"f{i}", "10%", salt=f"f{i}")
        acks.send(i)
        i += 1


def test_sigkill_mid_update_never_breaks_the_config_or_loses_an_acknowledged_update(tmp_path: Path) -> None:
    _kill_rounds(tmp_path, rounds=12, seed=1)


@pytest.mark.slow
def test_sigkill_many_times(tmp_path: Path) -> None:
    _kill_rounds(tmp_path, rounds=150, seed=2)


def test_a_half_written_audit_line_is_dropped_and_pending_entries_are_completed(tmp_path: Path) -> None:
    path = tmp_path / "rollout_config.json"
    rollout = GradualRollout(path, refresh_interval=0, actor="t")
    rollout.add_feature("a", "10%")
    rollout.update_rollout_stage("a", "50%")
    log = tmp_path / "rollout_audit.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    # as if the writer died after the config rename, halfway through appending the last entry
    log.write_text(lines[0] + lines[1][:40])
    report = rollout.verify_audit()
    assert report.ok, report.problems
    assert any("interrupted write" in note for note in report.notes)
    assert any("half-written" in note for note in report.notes)
    rollout.update_rollout_stage("a", "100%")
    report = rollout.verify_audit()
    assert report.ok, report.problems
    assert report.entries == 3
    assert report.notes == []
