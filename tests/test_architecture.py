"""The house drawn from the code: which package may import which (read with ``ast``, nothing imported)."""

from __future__ import annotations

import ast
import functools
import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "stagewise"


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function (``import x``, ``from x import y``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def imports_between(package: str, forbidden: str) -> list[str]:
    """``file: module`` for each import of ``stagewise.<forbidden>`` inside ``stagewise.<package>``."""
    hits = []
    for path in sorted((SRC / package).rglob("*.py")):
        for module in sorted(imported_modules(path)):
            if module == f"stagewise.{forbidden}" or module.startswith(f"stagewise.{forbidden}."):
                hits.append(f"{path.relative_to(SRC)}: {module}")
    return hits


def test_the_walk_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from stagewise.monitor.notify import notify_all\n", encoding="utf-8")
    assert "stagewise.monitor.notify" in imported_modules(module)


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        pytest.param("rollout", "monitor", id="rollout-never-imports-monitor"),
        pytest.param("monitor", "rollout", id="monitor-never-imports-rollout"),
        pytest.param("notify", "monitor", id="notify-never-imports-monitor"),
        pytest.param("notify", "rollout", id="notify-never-imports-rollout"),
    ],
)
def test_rollout_monitor_and_notify_are_siblings(package: str, forbidden: str) -> None:
    assert imports_between(package, forbidden) == []


# ------------------------------------------------------------------------------------------ the whole house
@functools.cache
def _code_shape() -> ModuleType:
    """``.ci/code_shape.py``, the script that measures the code (loaded from its file)."""
    path = SRC.parents[1] / ".ci" / "code_shape.py"
    spec = importlib.util.spec_from_file_location("code_shape", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FLOORS = {
    "metrics": 0, "data": 0, "features": 0,
    "models": 1, "backtest": 1, "search": 1,
    "monitor": 2, "notify": 2, "rollout": 2,
    "serve": 3, "dashboard": 3, "check": 3, "lifecycle": 3, "ops": 3, "integrations": 3,
    "cli": 4,
}  # fmt: skip
"""The floors of docs/architecture.md: a package may import its own floor and those below."""


def test_every_package_has_a_floor() -> None:
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(FLOORS), "add the new package to FLOORS and to docs/architecture.md"


def test_no_import_runs_up_a_floor() -> None:
    edges = _code_shape().package_edges(SRC)
    upward = sorted(f"{a} -> {b}" for a, targets in edges.items() for b in targets if FLOORS[b] > FLOORS[a])
    assert upward == []


@pytest.mark.parametrize("module_level", [True, False], ids=["on-import", "counting-imports-in-functions"])
def test_no_two_modules_import_each_other(module_level: bool) -> None:
    assert _code_shape().import_cycles(SRC, module_level=module_level) == []


def test_the_diagram_in_the_docs_is_the_code() -> None:
    page = (SRC.parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    drawn = re.search(r"```mermaid\n(.*?)\n```", page, re.S)
    assert drawn is not None, "docs/architecture.md has no mermaid block"
    generated = _code_shape().mermaid(_code_shape().package_edges(SRC))
    assert drawn.group(1) == generated, "regenerate it: .venv/bin/python .ci/code_shape.py --mermaid"
