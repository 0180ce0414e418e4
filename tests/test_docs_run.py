"""Every code block in README.md and docs/*.md runs as a user would run it (issue 11, items 18 and 19).

A ```python block is saved as ``block.py`` in a fresh directory and run with ``python block.py``;
a ```bash / ```sh / ```console block is run with ``bash -euo pipefail`` in a fresh directory with
the virtualenv's ``bin`` first on ``PATH`` (``console`` blocks: the ``$ `` lines only). Both must
exit 0 without a traceback. A block that cannot run alone carries a marker on the line before it:

    <!-- docs-test: continues -->          run after the page's earlier blocks of its kind, as one file
    <!-- docs-test: slow -->               a slow test (CI=true runs it)
    <!-- docs-test: after-demo -->         shell only: run in a copy of one shared demo's directory (slow)
    <!-- docs-test: postgres -->           run only when STAGEWISE_TEST_PG_URL is set
    <!-- docs-test: server -->             starts or needs a running server: not run, said so
    <!-- docs-test: skip reason="..." -->  not run, for the reason given

Words combine (``<!-- docs-test: continues slow -->``). ``test_every_block_is_run_or_says_why``
keeps the list honest: an unknown word, a skip without a reason, or a marker that is not right
before a block fails it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)
MARKER = re.compile(r"<!--\s*docs-test:\s*(.*?)\s*-->")
MARKER_BEFORE = re.compile(r"<!--\s*docs-test:\s*(.*?)\s*-->\s*\Z")
REASON = re.compile(r'reason="([^"]+)"')
WORDS = {"continues", "slow", "after-demo", "postgres", "server", "skip"}
SHELLS = ("bash", "sh", "shell", "console")
KINDS = {"python": "python", **dict.fromkeys(SHELLS, "shell")}
SERVER = "starts or talks to a long-running server (the serving and lifecycle tests run one)"


@dataclass(frozen=True)
class Block:
    page: str
    number: int  # the block's place among all fenced blocks of its page, from 1
    kind: str  # "python" or "shell"
    code: str
    words: frozenset[str]
    reason: str
    earlier: tuple[str, ...]  # the page's earlier blocks of the same kind, in order

    @property
    def name(self) -> str:
        return f"{self.page}#{self.number}"

    def script(self) -> str:
        own = _console_commands(self.code) if self.code.startswith("$ ") else self.code
        parts = [*self.earlier, own] if "continues" in self.words else [own]
        return "\n".join(parts)


def _console_commands(code: str) -> str:
    return "\n".join(line[2:] for line in code.splitlines() if line.startswith("$ "))


def _parse(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    blocks: list[Block] = []
    seen: dict[str, list[str]] = {"python": [], "shell": []}
    for number, match in enumerate(FENCE.finditer(text), start=1):
        kind = KINDS.get(match.group(1))
        if kind is None:
            continue
        marker = MARKER_BEFORE.search(text, 0, match.start())
        spec = marker.group(1) if marker else ""
        reason_match = REASON.search(spec)
        words = frozenset(REASON.sub("", spec).split())
        code = match.group(2)
        blocks.append(
            Block(page.name, number, kind, code, words, reason_match.group(1) if reason_match else "",
                  tuple(seen[kind]))
        )  # fmt: skip
        seen[kind].append(_console_commands(code) if code.startswith("$ ") else code)
    return blocks


BLOCKS = [block for page in PAGES for block in _parse(page)]


def _param(block: Block) -> object:
    marks: list[pytest.MarkDecorator] = []
    if "skip" in block.words:
        marks.append(pytest.mark.skip(reason=f"{block.name}: {block.reason}"))
    elif "server" in block.words:
        marks.append(pytest.mark.skip(reason=f"{block.name}: {block.reason or SERVER}"))
    if {"slow", "after-demo"} & block.words:
        marks.append(pytest.mark.slow)
    if "postgres" in block.words:
        marks.append(pytest.mark.postgres)
    return pytest.param(block, id=block.name, marks=marks)


def _run(argv: list[str], cwd: Path, env: dict[str, str], block: Block) -> None:
    timeout = 900 if {"slow", "after-demo"} & block.words else 180
    done = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    marked = " ".join(sorted(block.words)) or "unmarked"
    shown = f"{block.name} ({marked}) in {cwd}:\n{done.stdout}\n{done.stderr}"
    assert done.returncode == 0, shown
    assert "Traceback (most recent call last)" not in done.stdout + done.stderr, shown


def _env(pg_url: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    if pg_url is not None:
        env["STAGEWISE_TEST_PG_URL"] = pg_url
    return env


def _pg(block: Block, request: pytest.FixtureRequest) -> str | None:
    return str(request.getfixturevalue("pg_url")) if "postgres" in block.words else None


@pytest.mark.parametrize("block", [_param(b) for b in BLOCKS if b.kind == "python"])
def test_python_block_runs(block: Block, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    (tmp_path / "block.py").write_text(block.script(), encoding="utf-8")
    _run([sys.executable, "block.py"], tmp_path, _env(_pg(block, request)), block)


@pytest.mark.parametrize("block", [_param(b) for b in BLOCKS if b.kind == "shell"])
def test_shell_block_runs(block: Block, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    cwd = tmp_path / "work"
    if "after-demo" in block.words:
        demo = request.getfixturevalue("docs_demo_dir")
        shutil.copytree(demo, cwd, symlinks=True)
    else:
        cwd.mkdir()
    (tmp_path / "block.sh").write_text(block.script(), encoding="utf-8")
    _run(["bash", "-euo", "pipefail", str(tmp_path / "block.sh")], cwd, _env(_pg(block, request)), block)


@pytest.fixture(scope="session")
def docs_demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ``stagewise demo`` run (small models, as tests/lifecycle/conftest.py runs it), shared."""
    from stagewise.lifecycle import TextProgress, run_demo

    tiny = {k: {"n_estimators": 8} for k in ("lgbm_params", "xgb_params", "rf_params")}
    root = tmp_path_factory.mktemp("docs-demo") / "run"
    run_demo(root, days=12, progress=TextProgress(lambda _line: None), model_params=tiny)
    return root


def test_every_block_is_run_or_says_why() -> None:
    """No silent skip: every marker is known, right before a block, and a skip names its reason."""
    problems = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        attached = {m.start() for m in FENCE.finditer(text) if MARKER_BEFORE.search(text, 0, m.start())}
        starts = [m.start() for m in FENCE.finditer(text)]
        for marker in MARKER.finditer(text):
            following = [s for s in starts if s > marker.start()]
            if not following or following[0] not in attached or text[marker.end() : following[0]].strip():
                problems.append(f"{page.name}: marker {marker.group(0)!r} is not right before a block")
    for block in BLOCKS:
        unknown = block.words - WORDS
        if unknown:
            problems.append(
                f"{block.name}: unknown docs-test word(s) {sorted(unknown)}; known: {sorted(WORDS)}"
            )
        if "skip" in block.words and not block.reason:
            problems.append(f'{block.name}: skip needs reason="..."')
        if "after-demo" in block.words and block.kind != "shell":
            problems.append(f"{block.name}: after-demo is for shell blocks")
        if "continues" in block.words and not block.earlier:
            problems.append(f"{block.name}: continues, but no earlier block of its kind on the page")
    assert not problems, "\n".join(problems)
    assert len([b for b in BLOCKS if b.kind == "python"]) >= 40
    assert len([b for b in BLOCKS if b.kind == "shell"]) >= 15
