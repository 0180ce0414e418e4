"""A demo that fails or is interrupted part-way leaves nothing that blocks a rerun (issue 11, item 18)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stagewise.lifecycle import TextProgress, run_demo
from stagewise.lifecycle.workdir import LAYOUT, prepare_workdir


class _Interrupted(TextProgress):
    """Progress that stops the demo at its third step, as Ctrl-C or a crash would."""

    def step(self, number: int, total: int, title: str, why: str) -> None:
        if number == 3:
            raise KeyboardInterrupt
        super().step(number, total, title, why)


@pytest.mark.slow  # the demo's data and first steps: minutes under load
@pytest.mark.parametrize("existed", [False, True], ids=["new-workdir", "existing-empty-workdir"])
def test_an_interrupted_demo_can_be_run_again_in_the_same_workdir(tmp_path: Path, existed: bool) -> None:
    workdir = tmp_path / "demo"
    if existed:
        workdir.mkdir()
        (workdir / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt):
        run_demo(workdir, days=7, progress=_Interrupted(lambda _line: None))
    assert not any((workdir / sub).exists() for sub in LAYOUT)
    assert workdir.exists() == existed
    if existed:
        assert (workdir / "notes.txt").read_text(encoding="utf-8") == "mine"
    prepare_workdir(workdir)  # what refused the retry before: "already holds files in [...]"
