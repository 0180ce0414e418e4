"""The commands of ``stagewise check``, as lists of checks grouped into the six stages.

========================  ===================================================================
``data_check``            data (race data, bars) and features (both feature sets generated)
``ml_models(dry_run)``    registry, every hash, the production model at work, the 12 features;
                          without ``dry_run`` also train → save → load in a scratch registry
``validate("light")``     fast checks, nothing built: libraries, storage writable, data
                          schemas, features, registry state and hashes, rollout config and
                          audit chain, ledger intact and readable
``validate("full")``      light, plus the production model at work, the training round trip
                          and a tiny walk-forward (both in a scratch directory)
``full_check``            ``validate("full")`` plus health: no critical alert firing
========================  ===================================================================

Every check only reads what it inspects; the training round trip and the walk-forward write
below a scratch directory (a temporary one, removed afterwards, unless ``scratch`` is given).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from stagewise._exceptions import ConfigError
from stagewise.check.data import bars_check, race_data_check
from stagewise.check.environment import library_check, storage_checks
from stagewise.check.features import race_features_check, technical_features_check
from stagewise.check.models import production_model_checks, registry_checks
from stagewise.check.result import CheckResult, in_stage
from stagewise.check.state import ledger_checks, open_alerts_check, rollout_checks
from stagewise.check.targets import CheckTargets
from stagewise.check.training import training_checks, walk_forward_check

__all__ = ["MODES", "data_check", "full_check", "ml_models", "validate"]

MODES: tuple[str, ...] = ("light", "full")

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ConfigError(f"The 'mode' of validate must be one of {list(MODES)}. Got {mode!r}.")
    return mode


def _check_scratch(scratch: str | Path | None, targets: CheckTargets) -> Path | None:
    if scratch is None:
        return None
    path = Path(scratch).absolute()
    registry = targets.models.absolute()
    if path == registry or registry in path.parents:
        raise ConfigError(
            f"The scratch directory must lie outside the model registry {str(targets.models)!r}: the "
            f"check never writes into the user's registry. Got --scratch {str(scratch)!r}."
        )
    return path


@contextmanager
def _scratch(given: Path | None) -> Iterator[Path]:
    if given is not None:
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="stagewise-check-") as tmp:
        yield Path(tmp)


def _data_and_features(targets: CheckTargets, say: Progress) -> list[CheckResult]:
    say("data: reading the race data")
    data, races = race_data_check(targets.data)
    results = in_stage("data", [data] + ([bars_check(targets.bars)] if targets.bars is not None else []))
    say("features: generating both feature sets")
    results += in_stage("features", [technical_features_check(), race_features_check(races)])
    return results


def _heavy(
    scratch: str | Path | None, targets: CheckTargets, domain: str, seed: int, say: Progress
) -> list[CheckResult]:
    given = _check_scratch(scratch, targets)
    try:
        with _scratch(given) as where:
            say(f"models: training a small {domain} ensemble and round-tripping it in {where}")
            results = training_checks(where, domain=domain, seed=seed)
            say("models: a tiny walk-forward")
            results.append(walk_forward_check(where, domain=domain, seed=seed))
    except OSError as exc:  # the temporary directory itself could not be made or removed
        fix = "set TMPDIR to a writable directory, or pass --scratch DIR"
        results = [CheckResult("scratch directory", False, f"{type(exc).__name__}: {exc}", fix)]
    return in_stage("models", results)


def data_check(targets: CheckTargets, *, progress: Progress | None = None) -> list[CheckResult]:
    """The seed's ``data-check``: the data files validate and both feature sets are generated."""
    return _data_and_features(targets, progress or _quiet)


def ml_models(
    targets: CheckTargets,
    *,
    dry_run: bool = False,
    scratch: str | Path | None = None,
    domain: str = "races",
    seed: int = 0,
    progress: Progress | None = None,
) -> list[CheckResult]:
    """The seed's ``ml-models``: registry and production model; without ``dry_run``, a training round trip."""
    say = progress or _quiet
    say("models: reading the registry and verifying every hash")
    results = in_stage("models", registry_checks(targets.models))
    say("models: loading the production model")
    results += in_stage("models", production_model_checks(targets.models, seed=seed))
    results += in_stage("features", [technical_features_check(seed=seed)])
    if not dry_run:
        results += _heavy(scratch, targets, domain, seed, say)
    return results


def validate(
    targets: CheckTargets,
    mode: str = "light",
    *,
    scratch: str | Path | None = None,
    domain: str = "races",
    seed: int = 0,
    progress: Progress | None = None,
) -> list[CheckResult]:
    """``light``: fast checks that build nothing; ``full``: plus the model at work, training, walk-forward."""
    _check_mode(mode)
    _check_scratch(scratch, targets)
    say = progress or _quiet
    say("environment: libraries and storage")
    results = in_stage("environment", [library_check(), *storage_checks(targets)])
    results += _data_and_features(targets, say)
    say("models: reading the registry and verifying every hash")
    results += in_stage("models", registry_checks(targets.models))
    if mode == "full":
        say("models: loading the production model")
        results += in_stage("models", production_model_checks(targets.models, seed=seed))
        results += _heavy(scratch, targets, domain, seed, say)
    say("rollout: config and audit chain")
    results += in_stage("rollout", rollout_checks(targets.config))
    say("monitor: the ledger")
    results += in_stage("monitor", ledger_checks(targets.db))
    return results


def full_check(
    targets: CheckTargets,
    *,
    scratch: str | Path | None = None,
    domain: str = "races",
    seed: int = 0,
    progress: Progress | None = None,
) -> list[CheckResult]:
    """The seed's six-stage ``full-check``: every check of ``validate("full")``, then health (open alerts)."""
    results = validate(targets, "full", scratch=scratch, domain=domain, seed=seed, progress=progress)
    if all(r.ok for r in results if r.stage == "monitor"):  # the ledger was just inspected and read
        results += in_stage("monitor", [open_alerts_check(targets.db, inspected=True)])
    return results
