"""Stage 4, the models: the registry's state, every version's hashes, and the production model at work.

Everything here only reads (the seed's ``ml-models --dry-run``): :meth:`ModelRegistry.verify`
and :meth:`ModelRegistry.load` check every SHA-256 before any object is built, so a tampered
or truncated file fails here, naming the file. Training lives in :mod:`stagewise.check.training`.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from stagewise._exceptions import FeatureMismatchError
from stagewise.check.result import CheckResult, guarded

if TYPE_CHECKING:
    from stagewise.models import ProductionEnsemble

__all__ = ["production_model_checks", "registry_checks", "verify_versions"]


def _train_fix(root: Path) -> str:
    return (
        f"train and promote a model: `stagewise train --domain races --root {root}` then "
        f"`stagewise models promote latest --root {root}` (--models points the check elsewhere)"
    )


def _state_fix(root: Path) -> str:
    return (
        f"restore {root / 'registry.json'} from a backup; without one, move it aside and promote again "
        f"(`stagewise models promote VERSION --root {root}`): the saved versions are untouched"
    )


def verify_versions(registry: Any, versions: list[Any]) -> dict[str, int | str]:
    """Each version's verified file count, or why it fails (``Type: message``), by version id."""
    out: dict[str, int | str] = {}
    for summary in versions:
        try:
            out[summary.version] = len(registry.verify(summary.version))
        except Exception as exc:  # a failing version is a row of the report, never a crash of the check
            out[summary.version] = f"{type(exc).__name__}: {exc}"
    return out


def registry_checks(root: str | Path) -> list[CheckResult]:
    """registry.json readable, versions present with one in production, hashes verified, aliases resolve."""
    from stagewise.models import ModelRegistry

    root = Path(root)
    registry = ModelRegistry(root)
    listed = functools.cache(registry.list_versions)  # one read of every version's metadata per run

    def state() -> CheckResult:
        if not root.is_dir():
            return CheckResult("registry state", False, f"{root} does not exist", _train_fix(root))
        if not (root / "registry.json").is_file():
            return CheckResult(
                "registry state", True, f"{root / 'registry.json'} not written yet (nothing promoted)"
            )
        n_aliases, n_events = len(registry.aliases()), len(registry.history())
        return CheckResult(
            "registry state", True, f"{root / 'registry.json'}: {n_aliases} alias(es), {n_events} event(s)"
        )

    def versions() -> CheckResult:
        found = listed()
        if not found:
            where = "does not exist" if not root.exists() else "holds no saved version"
            return CheckResult("model versions", False, f"{root} {where}", _train_fix(root))
        production = next((v.version for v in found if v.is_production), None)
        if production is None:
            return CheckResult(
                "model versions",
                False,
                f"{len(found)} version(s) in {root} but none is in production",
                f"promote one: `stagewise models promote latest --root {root}`",
            )
        return CheckResult("model versions", True, f"{len(found)} version(s); production {production}")

    def hashes() -> CheckResult:
        found = listed()
        if not found:
            return CheckResult("registry hashes", False, f"no version to verify in {root}", _train_fix(root))
        verified = verify_versions(registry, found)
        bad = [f"{version}: {why}" for version, why in verified.items() if isinstance(why, str)]
        n_files = sum(n for n in verified.values() if isinstance(n, int))
        if bad:
            return CheckResult(
                "registry hashes",
                False,
                f"{len(bad)} of {len(found)} version(s) fail verification; " + "; ".join(bad),
                "never serve a changed file: restore the version from a backup or retrain it; "
                f"if it is production, `stagewise models rollback --root {root}` first",
            )
        return CheckResult(
            "registry hashes", True, f"{len(found)} version(s), {n_files} files match their SHA-256 manifest"
        )

    def aliases() -> CheckResult:
        mapping = registry.aliases()
        known = {v.version for v in listed()}
        dangling = {a: v for a, v in mapping.items() if v not in known}
        if dangling:
            return CheckResult(
                "registry aliases",
                False,
                "aliases point at missing versions: " + ", ".join(f"{a} → {v}" for a, v in dangling.items()),
                f"point them at a saved version: `stagewise models alias NAME VERSION --root {root}`",
            )
        text = ", ".join(f"{a} → {v}" for a, v in sorted(mapping.items())) or "none set"
        return CheckResult("registry aliases", True, text)

    def temporaries() -> CheckResult:
        try:
            removed = registry.remove_stale_temporaries()
        except OSError as exc:  # a read-only registry: a check never fails for what it cannot tidy
            return CheckResult("registry temporaries", True, f"not tidied ({exc.strerror or exc})")
        if removed is None:
            text = "not tidied: another process holds the registry lock (a save in progress)"
        elif removed:
            text = f"removed {len(removed)} left by killed saves: " + ", ".join(p.name for p in removed)
        else:
            text = "none left by killed saves"
        return CheckResult("registry temporaries", True, text)

    first = guarded("registry state", _state_fix(root), state)
    if not first.ok:  # every other check would repeat the same error
        return [first]
    return [
        first,
        guarded("registry temporaries", _state_fix(root), temporaries),
        guarded("model versions", _train_fix(root), versions),
        guarded("registry hashes", "restore the registry from a backup or retrain", hashes),
        guarded("registry aliases", _state_fix(root), aliases),
    ]


def production_model_checks(root: str | Path, *, seed: int = 0) -> list[CheckResult]:
    """The seed's ``ml-models --dry-run``: production loads and predicts, 3 families answer, columns kept."""
    from stagewise.models import ModelRegistry

    root = Path(root)
    registry = ModelRegistry(root)
    fix = _train_fix(root)
    loaded: dict[str, Any] = {}

    def ensemble() -> CheckResult:
        version = registry.resolve("production")
        stored = registry.load("production")
        model = _ensemble_inside(stored)
        if model is None:
            loaded["no_ensemble"] = stored
            flavour = str(getattr(stored, "name", type(stored).__name__))
            return CheckResult(
                "production model",
                True,
                f"{version} loads (hashes verified); flavour {flavour!r} holds no built-in ensemble, "
                "so the seed's family and column checks below do not apply",
            )
        loaded["model"] = model
        X = np.random.default_rng(seed).random((5, int(model.n_features_in_)))
        proba = model.predict_proba(X)
        sane = (
            proba.shape == (5, 2)
            and bool(np.isfinite(proba).all())
            and bool(np.allclose(proba.sum(axis=1), 1.0))
        )
        if not sane:
            return CheckResult("production model", False, f"{version}: predict_proba gave {proba!r}", fix)
        return CheckResult(
            "production model", True, f"{version} loads (hashes verified), {model.n_features_in_} features"
        )

    def families() -> CheckResult:
        model = loaded.get("model")
        if model is None:
            return _not_checked("model families", fix)
        X = np.random.default_rng(seed).random((3, int(model.n_features_in_)))
        parts = model.predict_proba_by_model(X)
        weights = ", ".join(f"{name} {weight:.2f}" for name, weight in model.weights_.items())
        if len(parts) != 3:
            return CheckResult("model families", False, f"{len(parts)} of 3 families answer ({weights})", fix)
        return CheckResult("model families", True, f"3 families answer ({weights})")

    def contract() -> CheckResult:
        model = loaded.get("model")
        if model is None:
            return _not_checked("feature contract", fix)
        return _refuses_wrong_columns(model, seed)

    def _not_checked(name: str, fix: str) -> CheckResult:
        if "no_ensemble" in loaded:
            return CheckResult(name, True, "not applicable: the production model holds no built-in ensemble")
        return CheckResult(name, False, "not checked: the production model did not load", fix)

    return [
        guarded("production model", fix, ensemble),
        guarded("model families", fix, families),
        guarded("feature contract", fix, contract),
    ]


def _ensemble_inside(model: object) -> ProductionEnsemble | None:
    """The built-in ensemble a production model is or holds (a race model's win model, a calibrated
    model's base), else None."""
    from stagewise.models import ProductionEnsemble

    for _ in range(4):
        if isinstance(model, ProductionEnsemble):
            return model
        if hasattr(model, "win_"):
            model = model.win_
        elif hasattr(model, "base_"):
            model = model.base_
        elif hasattr(model, "model_"):
            model = model.model_
        else:
            return None
    return model if isinstance(model, ProductionEnsemble) else None


def _refuses_wrong_columns(model: Any, seed: int) -> CheckResult:
    import pandas as pd

    names = [str(n) for n in model.feature_names_in_]
    table = pd.DataFrame(np.random.default_rng(seed).random((3, len(names))), columns=names)
    model.predict_proba(table)  # the right columns are accepted
    accepted = []
    for label, wrong in (("reordered", table[names[::-1]]), ("one column short", table[names[:-1]])):
        try:
            model.predict_proba(wrong)
        except FeatureMismatchError:
            continue
        accepted.append(label)
    if accepted:
        return CheckResult(
            "feature contract",
            False,
            f"the production model accepted a table {' and '.join(accepted)}: predictions would be wrong",
            "reinstall stagewise (`pip install -e .`); the model must refuse columns it was not fitted on",
        )
    return CheckResult(
        "feature contract", True, f"{len(names)} named columns required in order; reordered or short refused"
    )
