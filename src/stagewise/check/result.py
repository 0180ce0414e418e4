"""The outcome of one check, and the guard that turns any failure into a failing result.

A check is a small function returning a :class:`CheckResult`. It never raises for a
problem in what it inspects (missing, corrupt, tampered, read-only): that is a failing
result whose ``fix`` says what to do. :func:`guarded` enforces this at the edge, so a
deployment gate built on the checks ends with a table, never with a traceback.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from stagewise._exceptions import StagewiseError

__all__ = ["STAGES", "CheckResult", "all_ok", "guarded", "in_stage"]

#: The six stages of ``stagewise check full-check``, in the order they run.
STAGES: tuple[str, ...] = ("environment", "data", "features", "models", "rollout", "monitor")


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's verdict.

    Parameters
    ----------
    name : str
        Short, stable name of the check (``"registry hashes"``).
    ok : bool
        True when the check passed.
    detail : str
        What was found, in one line (counts, versions, the problem).
    fix : str
        What to do about a failure (a command when there is one); empty when ``ok``.
    stage : str
        One of :data:`STAGES` (set by the stage that runs the check).

    Examples
    --------
    >>> r = CheckResult("monitor db", False, "data/monitor.db does not exist", "run the demo")
    >>> r.ok, r.status
    (False, 'FAIL')
    """

    name: str
    ok: bool
    detail: str
    fix: str = ""
    stage: str = ""

    @property
    def status(self) -> str:
        """``"PASS"`` or ``"FAIL"``."""
        return "PASS" if self.ok else "FAIL"

    def to_dict(self) -> dict[str, object]:
        """The result as JSON-ready values (``--json``)."""
        return {
            "stage": self.stage,
            "name": self.name,
            "status": self.status,
            "ok": self.ok,
            "detail": self.detail,
            "fix": self.fix,
        }


# Errors a check meets in what it inspects; anything else is a bug and still becomes a row.
_EXPECTED: tuple[type[BaseException], ...] = (StagewiseError, OSError, ValueError, LookupError, sqlite3.Error)


def guarded(name: str, fix: str, check: Callable[[], CheckResult]) -> CheckResult:
    """Run ``check``; an exception becomes a failing result named ``name`` with ``fix``.

    Expected errors (a :class:`~stagewise.StagewiseError`, an ``OSError``, a bad value, a
    SQLite error) are reported as ``ErrorType: message``; any other exception too, marked
    *unexpected*, so that a gate built on the checks never dies with a traceback.

    Examples
    --------
    >>> def broken() -> CheckResult:
    ...     raise FileNotFoundError("models/registry.json")
    >>> guarded("model registry", "train one", broken).detail
    'FileNotFoundError: models/registry.json'
    """
    try:
        return check()
    except _EXPECTED as exc:
        return CheckResult(name, False, f"{type(exc).__name__}: {exc}", fix)
    except Exception as exc:
        return CheckResult(name, False, f"unexpected {type(exc).__name__}: {exc}", fix)


def in_stage(stage: str, results: Iterable[CheckResult]) -> list[CheckResult]:
    """``results`` labelled with ``stage``."""
    return [replace(r, stage=stage) for r in results]


def all_ok(results: Sequence[CheckResult]) -> bool:
    """True when every result passed (and there is at least one)."""
    return bool(results) and all(r.ok for r in results)
