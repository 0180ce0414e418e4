"""Every Python block on docs/money.md runs as printed, as a script (``__name__ == "__main__"``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[1] / "docs" / "money.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
BLOCKS = _BLOCK.findall(PAGE.read_text(encoding="utf-8"))


def test_every_block_is_guarded_for_scripts() -> None:
    assert len(BLOCKS) >= 2
    for block in BLOCKS:
        assert 'if __name__ == "__main__":' in block


@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=lambda i: f"block-{i + 1}")
def test_block_runs(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(BLOCKS[index], f"docs/money.md block {index + 1}", "exec"), {"__name__": "__main__"})
    assert capsys.readouterr().out.strip()  # every block prints what it shows
