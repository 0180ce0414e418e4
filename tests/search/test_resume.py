"""A search killed with SIGKILL in the middle of a study continues where it stopped when restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from stagewise.search.storage import close_storage, open_storage

ROOT = Path(__file__).resolve().parents[2]
N_TRIALS = 8


def _start(storage: str, out: Path) -> subprocess.Popen[bytes]:
    code = (
        "from tests.search.search_support import resumable_search_main; "
        f"resumable_search_main({storage!r}, {str(out)!r}, {N_TRIALS})"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stderr=subprocess.PIPE)


def _trials(storage: str, name: str) -> list[optuna.trial.FrozenTrial]:
    opened = open_storage(storage)
    try:
        return optuna.load_study(study_name=name, storage=opened).get_trials(deepcopy=False)
    finally:
        close_storage(opened)


@pytest.mark.slow  # two processes and a kill: about 35 s on a busy 2-core machine
def test_a_killed_search_restarts_and_continues_the_same_study(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'ledger.db'}"
    first = _start(storage, tmp_path / "out")
    deadline = time.monotonic() + 120
    done: list[optuna.trial.FrozenTrial] = []
    while time.monotonic() < deadline and first.poll() is None:
        try:
            done = [t for t in _trials(storage, "resume:outer-000") if t.state.name == "COMPLETE"]
        except KeyError:
            done = []
        if len(done) >= 3:
            break
        time.sleep(0.2)
    assert first.poll() is None, f"the search ended before it could be killed: {first.stderr.read()!r}"  # type: ignore[union-attr]
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    first.stderr.close()  # type: ignore[union-attr]
    before = {t.number: t for t in _trials(storage, "resume:outer-000")}
    finished_before = {n: t for n, t in before.items() if t.state.name in ("COMPLETE", "PRUNED")}
    assert 3 <= len(finished_before) < N_TRIALS
    time.sleep(2.5)  # past the heartbeat's grace period: a trial that was running is now known dead

    second = _start(storage, tmp_path / "out")
    _, err = second.communicate(timeout=300)
    assert second.returncode == 0, err.decode()
    after = _trials(storage, "resume:outer-000")
    states = [t.state.name for t in after]
    assert "RUNNING" not in states
    # the trials finished before the kill are kept as they were, never run again
    for number, trial in finished_before.items():
        assert after[number].state == trial.state
        assert after[number].params == trial.params
        assert after[number].value == trial.value
    # the count adds up: finished before + the one killed mid-trial (now FAIL) + the rest == n_trials
    killed = [t for t in after if t.number in before and before[t.number].state.name == "RUNNING"]
    assert all(t.state.name == "FAIL" for t in killed)
    assert len(after) == N_TRIALS
    configurations = [
        tuple(sorted(t.params.items())) for t in after if t.state.name in ("COMPLETE", "PRUNED")
    ]
    assert len(configurations) == len(set(configurations)), "a finished configuration was drawn again"
    final = _trials(storage, "resume:final")
    assert sum(t.state.name in ("COMPLETE", "PRUNED", "FAIL") for t in final) == N_TRIALS
    assert (tmp_path / "out" / "search_results.json").exists()


@pytest.mark.postgres
@pytest.mark.slow
def test_two_processes_share_one_study_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    storage = pg_url
    optuna_storage = open_storage(storage)
    for study in optuna_storage.get_all_studies():
        if study.study_name == "resume" or study.study_name.startswith("resume:"):
            optuna.delete_study(study_name=study.study_name, storage=optuna_storage)
    close_storage(optuna_storage)
    one, two = _start(storage, tmp_path / "a"), _start(storage, tmp_path / "b")
    for process in (one, two):
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err.decode()
    trials = _trials(storage, "resume:outer-000")
    finished = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED", "FAIL")]
    # both processes worked on the same study and stopped together at n_trials (one may overshoot by one)
    assert N_TRIALS <= len(finished) <= N_TRIALS + 1


def test_without_a_storage_the_study_lives_in_the_ledgers_default_database() -> None:
    from stagewise.monitor.store import DEFAULT_URL
    from stagewise.search.storage import resolve_storage

    assert resolve_storage(None) == resolve_storage("") == DEFAULT_URL
