"""Every ``Examples`` block in ``src/stagewise`` runs and shows what it says (docstrings are documentation).

One test per module that holds examples, so a failure names the module and prints doctest's report.
Each module's examples run in a fresh temporary working directory (an example that writes a file
leaves nothing behind) under the suite's ``filterwarnings = error``. Examples that need a service the
fast suite does not have (PostgreSQL, a browser) are not written as doctests.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules_with_examples() -> list[str]:
    """Dotted names of the modules whose source holds a ``>>>`` prompt (read as text: nothing imported)."""
    names = []
    for path in sorted((SRC / "stagewise").rglob("*.py")):
        if ">>> " not in path.read_text(encoding="utf-8"):
            continue
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


MODULES = _modules_with_examples()
#: Modules whose examples take over a second of real work (measured on 2 cores): they run with the slow
#: suites (``make test-all``, CI) so the fast suite's doctests stay a few seconds.
SLOW = {
    "stagewise.rollout.experiments.aa": "simulate_health_gate's upper-bound example, ~10 s of Wilson bounds",
    "stagewise.models.registry": "fits and saves a real ensemble (~2 s)",
    "stagewise.backtest.runner": "a real walk-forward backtest (~1.5 s)",
    "stagewise.data.markets.loaders": "reads the bundled EURUSD bars (~2 s)",
    "stagewise.data.markets.summary": "reads the bundled EURUSD bars (~2 s)",
}


def test_the_examples_are_found() -> None:
    """The walk finds the package's examples (a broken walk would pass every test below vacuously)."""
    assert len(MODULES) > 50
    assert "stagewise.lifecycle.progress" in MODULES
    assert set(SLOW) <= set(MODULES)


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in MODULES]
)
def test_examples_run(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    tests = [t for t in doctest.DocTestFinder(exclude_empty=True).find(module, name) if t.examples]
    assert tests, f"{name} has a '>>> ' in its source but no docstring example doctest can find"
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    for test in tests:
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
