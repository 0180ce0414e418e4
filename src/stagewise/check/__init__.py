"""The integrated check (the seed's ``dev_check.py``): is a deployment valid, and healthy?

Six stages, in order: environment, data, features, models, rollout, monitor. Each check
returns a :class:`CheckResult` (pass or fail, what was found, how to fix a failure) and only
reads what it inspects; the training round trip and the tiny walk-forward write below a
scratch directory, never into the user's registry. See ``docs/check.md``.
"""

from __future__ import annotations

from stagewise.check.result import STAGES, CheckResult, all_ok, guarded
from stagewise.check.status import Problem, Status, collect_status
from stagewise.check.suite import MODES, data_check, full_check, ml_models, validate
from stagewise.check.targets import DEFAULT_LAYOUT, CheckTargets
from stagewise.check.training import SMALL_MODEL

__all__ = [
    "DEFAULT_LAYOUT",
    "MODES",
    "SMALL_MODEL",
    "STAGES",
    "CheckResult",
    "CheckTargets",
    "Problem",
    "Status",
    "all_ok",
    "collect_status",
    "data_check",
    "full_check",
    "guarded",
    "ml_models",
    "validate",
]
