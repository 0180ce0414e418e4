"""The stagewise calls on docs/migration.md run as printed, in order, in an empty directory."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[1] / "docs" / "migration.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _blocks() -> list[str]:
    return [b for b in _BLOCK.findall(PAGE.read_text(encoding="utf-8")) if not b.startswith("# seed system")]


def test_page_shows_the_seed_and_the_stagewise_calls() -> None:
    text = PAGE.read_text(encoding="utf-8")
    assert text.count("```python\n# seed system") == 4  # backtest, monitor, rollout, models
    assert len(_blocks()) == 4


def test_stagewise_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("STAGEWISE_")]:
        monkeypatch.delenv(name)
    namespace: dict[str, object] = {"__name__": "migration_page"}
    for index, block in enumerate(_blocks()):
        exec(compile(block, f"docs/migration.md block {index + 1}", "exec"), namespace)
    assert (tmp_path / "temp/walkforward/test/walkforward_results.json").is_file()
    assert (tmp_path / "temp/monitor/report.txt").is_file()
    assert (tmp_path / "config/rollout_audit.jsonl").is_file()
    assert (tmp_path / "models/production/production_model_metadata.json").is_file()
    assert not list(tmp_path.rglob("*.pkl"))
