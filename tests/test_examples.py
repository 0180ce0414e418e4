"""Every script in examples/ runs, writes only where it is told, and produces what its docstring says."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run(script: str, workdir: Path, cwd: Path) -> str:
    env = {**os.environ, "COLUMNS": "120"}
    for name in [n for n in env if n.startswith("STAGEWISE_")]:  # no notifier from the caller's shell
        del env[name]
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), str(workdir)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{script} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _simulate_and_backtest(out: str, workdir: Path) -> None:
    folder = workdir / "walkforward"
    for name in ("results.json", "report.txt", "report.html", "predictions.parquet"):
        assert (folder / f"walkforward_{name}").is_file(), name
    result = json.loads((folder / "walkforward_results.json").read_text(encoding="utf-8"))
    assert result["summary"]["total_steps"] == 6  # the seed's example call
    assert "steps: 6," in out
    assert "baseline lane_order" in out
    assert "of the oracle's win hit rate" in out


def _register_and_load(out: str, workdir: Path) -> None:
    versions = [p for p in (workdir / "models" / "training").iterdir() if p.is_dir()]
    assert len(versions) == 2
    assert (workdir / "models" / "production" / "production_model_metadata.json").is_file()
    assert not list(workdir.rglob("*.pkl"))
    assert "loaded predictions identical: True" in out
    assert "FeatureMismatchError: feature count mismatch: 10 != 12" in out
    assert "rolled back: production is" in out
    assert "ArtifactIntegrityError:" in out


def _monitor_a_day(out: str, workdir: Path) -> None:
    assert (workdir / "data" / "monitor.db").is_file()
    assert (workdir / "temp" / "monitor" / "report.txt").is_file()
    assert (workdir / "temp" / "monitor" / "report.html").is_file()
    pending = int(out.split("before the races: ")[1].split(" pending")[0])
    settled = int(out.split("評価レース数: ")[1].split()[0])
    assert pending == settled > 100  # a national day of races, all settled after their results
    assert "1着的中率:" in out


def _rollout_and_decide(out: str, workdir: Path) -> None:
    assert "probability_calibration at 10%: 13/100 races enabled" in out  # the seed's own test output
    assert "probability_calibration at 50%: 52/100 races enabled" in out
    assert "health: HEALTHY -> PROCEED_TO_NEXT_STAGE" in out
    assert ": rollback (50% -> disabled)" in out
    config = json.loads((workdir / "config" / "rollout_config.json").read_text(encoding="utf-8"))
    assert config["feature_rollouts"]["random_order"]["stage"] == "disabled"
    assert (workdir / "config" / "rollout_audit.jsonl").is_file()
    assert "last audit entry by stagewise-controller: set_stage" in out
    assert "audit chain verified: True" in out


def _serve_in_process(out: str, workdir: Path) -> None:
    assert "/readyz: ready=True, champion " in out
    assert "ledger: 12 races served and settled" in out  # one venue-day
    assert (workdir / "data" / "monitor.db").is_file()


def _bring_your_own_model(out: str, workdir: Path) -> None:
    assert "each step's model: sklearn flavour, 20 features" in out
    steps = json.loads((workdir / "walkforward" / "walkforward_results.json").read_text(encoding="utf-8"))[
        "steps"
    ]
    assert {s["model"]["flavour"] for s in steps} == {"sklearn"}
    assert "/readyz: challenger = sklearn flavour on the library path" in out
    assert "/readyz: champion = race flavour on the fast path" in out
    assert "a bad request: HTTP 422" in out
    served = dict(part.split() for part in out.split("races: ", 1)[1].splitlines()[0].split(", "))
    share = int(served["challenger"]) / (int(served["challenger"]) + int(served["champion"]))
    assert 0.05 < share < 0.16  # the rollout's 10 %
    import sqlite3

    with sqlite3.connect(workdir / "data" / "monitor.db") as db:
        variants = dict(
            db.execute("SELECT variant, count(*) FROM race_predictions GROUP BY variant").fetchall()
        )
    assert variants == {"control": int(served["champion"]), "on": int(served["challenger"])}
    assert "controller decision: " in out
    versions = [p for p in (workdir / "models" / "training").iterdir() if p.is_dir()]
    flavours = sorted(
        json.loads((v / "flavour.json").read_text(encoding="utf-8"))["flavour"] for v in versions
    )
    assert flavours == ["race", "sklearn"]
    assert not list(workdir.rglob("*.pkl"))


CHECKS: dict[str, Callable[[str, Path], None]] = {
    "01_simulate_and_backtest.py": _simulate_and_backtest,
    "02_register_and_load.py": _register_and_load,
    "03_monitor_a_day.py": _monitor_a_day,
    "04_rollout_and_decide.py": _rollout_and_decide,
    "05_serve_in_process.py": _serve_in_process,
    "06_bring_your_own_model.py": _bring_your_own_model,
}


def test_every_example_is_checked() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(CHECKS)


@pytest.mark.slow  # five fresh interpreters, each importing the model libraries: about 40 s on two cores
@pytest.mark.parametrize("script", sorted(CHECKS), ids=lambda s: s.removesuffix(".py"))
def test_example_teaches_and_runs(script: str, tmp_path: Path) -> None:
    docstring = ast.get_docstring(ast.parse((EXAMPLES / script).read_text(encoding="utf-8")))
    assert docstring is not None
    assert "What it teaches" in docstring
    assert f"examples/{script}" in docstring
    workdir, cwd = tmp_path / "work", tmp_path / "cwd"
    cwd.mkdir()
    out = _run(script, workdir, cwd)
    CHECKS[script](out, workdir)
    assert not list(cwd.iterdir()), "an example wrote outside the directory it was given"
