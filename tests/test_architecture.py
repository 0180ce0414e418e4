"""The house drawn from the code: which package may import which (read with ``ast``, nothing imported)."""

from __future__ import annotations

import ast
from pathlib import Path

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
