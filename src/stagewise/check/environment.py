"""Stage 1, the environment: the libraries the models need import, and the storage can be written.

Writability is asked of the operating system (``os.access``), never probed by writing: a
check only reads. A directory that does not exist yet counts as writable when its nearest
existing parent is, because stagewise creates it on the first write.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from stagewise.check.result import CheckResult, guarded
from stagewise.check.targets import CheckTargets

__all__ = ["REQUIRED_LIBRARIES", "library_check", "storage_checks"]

#: Import name → what it is needed for.
REQUIRED_LIBRARIES: dict[str, str] = {
    "numpy": "arrays",
    "pandas": "data",
    "sklearn": "RandomForest",
    "lightgbm": "LightGBM",
    "xgboost": "XGBoost",
    "skops": "pickle-free RandomForest files",
    "talib": "the 12 technical features",
    "sqlalchemy": "the monitor ledger",
}


def library_check() -> CheckResult:
    """Every library a saved model or the ledger needs imports; report their versions."""

    def run() -> CheckResult:
        found, missing = [], []
        for module, purpose in REQUIRED_LIBRARIES.items():
            try:
                imported = importlib.import_module(module)
            except ImportError as exc:
                missing.append(f"{module} ({purpose}): {exc}")
                continue
            found.append(f"{module} {getattr(imported, '__version__', '?')}")
        if missing:
            return CheckResult("libraries", False, "cannot import " + "; ".join(missing), _INSTALL_FIX)
        return CheckResult("libraries", True, ", ".join(found))

    return guarded("libraries", _INSTALL_FIX, run)


_INSTALL_FIX = "reinstall stagewise in this environment: `pip install -e .` (TA-Lib needs its C library)"


def _nearest_existing(path: Path) -> Path:
    current = path
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def storage_checks(targets: CheckTargets) -> list[CheckResult]:
    """One row per place stagewise writes: the registry, the ledger's folder, the rollout config's folder."""
    results = []
    for what, place in targets.writable_places().items():
        name = f"{what} writable"

        def run(place: Path = place, name: str = name, what: str = what) -> CheckResult:
            existing = _nearest_existing(place.absolute())
            if not existing.is_dir():
                return CheckResult(
                    name,
                    False,
                    f"{place} lies below {existing}, which is a file, not a directory",
                    f"move {existing} aside or point the {what} elsewhere",
                )
            if not os.access(existing, os.W_OK | os.X_OK):
                return CheckResult(
                    name,
                    False,
                    f"{existing} is read-only: stagewise cannot write the {what} there",
                    f"make {existing} writable (`chmod u+w {existing}`, or remount it read-write), "
                    f"or point the {what} at a writable place",
                )
            state = "exists" if existing == place.absolute() else f"will be created in {existing}"
            return CheckResult(name, True, f"{place} {state}, writable")

        results.append(guarded(name, f"check the permissions of {place}", run))
    return results
