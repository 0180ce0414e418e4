"""The seed's walk-forward script runs with only its import changed (seed 000 §1, test_walkforward.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from backtest_setup import SEED_WINDOWS, SMALL_MODEL

from stagewise import ConfigError, WalkForwardBacktest
from stagewise.data import save_races

# The seed's test script: the call of seed 000 §1 and the figures of its "expected output", then the
# per-step lines and the output directory. Only the first line changes (below).
SEED_SCRIPT = """\
from src.evaluation.walkforward_backtest import WalkForwardBacktest

backtest = WalkForwardBacktest()

result = backtest.run_walkforward(
    start_date='2025-11-01',
    end_date='2025-11-17',
    train_days=14,      # 訓練期間
    test_days=3,        # テスト期間
    step_days=3,        # ステップ間隔
    output_dir='temp/walkforward/test'
)

summary = result['summary']
print(f"総ステップ数: {summary['total_steps']}")
print(f"総評価レース数: {summary['total_races']}")
print()
print("【全体統計】")
print(f"  1着的中率: {summary['overall_hit_rate_1st']:.2%}")
print(f"  3連単的中率: {summary['overall_hit_rate_top3']:.2%}")
print(f"  平均スコア精度: {summary['overall_score_accuracy']:.4f}")
print()
print("【ステップ平均】")
print(f"  平均1着的中率: {summary['step_stats']['avg_hit_rate_1st']:.2%}")
print(f"  平均3連単的中率: {summary['step_stats']['avg_hit_rate_top3']:.2%}")
print(f"  平均スコア精度: {summary['step_stats']['avg_score_accuracy']:.4f}")
print()
for step in result['steps']:
    print(f"ステップ{step['step']}: 訓練 {step['train_period']} / テスト {step['test_period']} / "
          f"{step['evaluated_races']}/{step['races']}レース / 1着的中率 {step['hit_rate_1st']:.2%}")
print(f"結果保存先: {result['output_dir']}")
"""
SEED_IMPORT = "from src.evaluation.walkforward_backtest import WalkForwardBacktest"


def _seed_data(directory: Path) -> None:
    from stagewise.data import simulate_races

    races = simulate_races("2025-10-18", "2025-11-17", seed=0, venues=[1, 12])
    save_races(races, directory / "data" / "races.parquet")


@pytest.mark.slow
def test_the_seeds_walkforward_script_runs_with_only_its_import_changed(tmp_path: Path) -> None:
    _seed_data(tmp_path)
    script = tmp_path / "test_walkforward.py"
    script.write_text(SEED_SCRIPT.replace(SEED_IMPORT, "from stagewise import WalkForwardBacktest"), "utf-8")
    assert script.read_text("utf-8").splitlines()[1:] == SEED_SCRIPT.splitlines()[1:]
    # The script has no `if __name__ == "__main__":` guard, so `python test_walkforward.py` makes the
    # process pool re-run it in every worker: issue 11 item 18 (a separate fix). Until then it runs as
    # the body of a module that workers do not re-import; the script text is the same.
    runner = f"import runpy; runpy.run_path({str(script)!r}, run_name='seed_script')"
    done = subprocess.run(
        [sys.executable, "-c", runner],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        env=os.environ,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0] == "総ステップ数: 6"
    assert "【全体統計】" in lines
    assert "【ステップ平均】" in lines
    assert lines[-1] == "結果保存先: temp/walkforward/test"
    step_lines = [line for line in lines if line.startswith("ステップ")]
    assert len(step_lines) == 6
    assert step_lines[0].startswith(
        "ステップ0: 訓練 2025-10-18 ~ 2025-10-31 / テスト 2025-11-01 ~ 2025-11-03 / "
    )
    assert (tmp_path / "temp/walkforward/test/walkforward_results.json").is_file()


def _run(output: Path, **kwargs: Any) -> dict[str, Any]:
    backtest = WalkForwardBacktest(
        n_workers=1, model_params=SMALL_MODEL, n_resamples=50, html=False, **kwargs
    )
    return backtest.run_walkforward(**SEED_WINDOWS, output_dir=output)


def test_the_result_has_the_seeds_output_dir_and_step_keys(small_races: pd.DataFrame, tmp_path: Path) -> None:
    result = _run(tmp_path / "out", data=small_races)
    assert result["output_dir"] == str(tmp_path / "out")
    saved = json.loads((tmp_path / "out" / "walkforward_results.json").read_text("utf-8"))
    assert saved["output_dir"] == result["output_dir"]
    for step in result["steps"]:
        assert step["train_period"] == f"{step['train_start']} ~ {step['train_end']}"
        assert step["test_period"] == f"{step['test_start']} ~ {step['test_end']}"
        assert step["races"] == step["num_races"]  # every test race, void ones included
        assert step["evaluated_races"] == step["races"] - step["metrics"]["n_void"]
        assert {"hit_rate_1st", "hit_rate_top3", "avg_score_accuracy"} <= set(step)
    assert result["steps"][-1]["test_period"] == "2025-11-16 ~ 2025-11-17"  # the partial last window
    assert sum(s["races"] for s in result["steps"]) == result["summary"]["total_races"]


def test_no_data_argument_loads_data_races_parquet(
    small_races: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"data/races\.parquet") as info:
        _run(tmp_path / "out")
    assert "does not exist" in str(info.value)
    assert not (tmp_path / "out").exists()
    save_races(small_races, tmp_path / "data" / "races.parquet")
    from_file = _run(tmp_path / "out")  # the seed's WalkForwardBacktest(): no data argument
    given = _run(tmp_path / "given", data=small_races)
    assert from_file["summary"]["total_races"] == given["summary"]["total_races"]
    assert from_file["summary"]["overall_hit_rate_1st"] == given["summary"]["overall_hit_rate_1st"]
