"""Per-unit values of a guardrail metric: the built-ins and user functions (pure).

A guardrail is judged on one number per unit (a race, a signal, a request) in each arm. The arm's
units come as a table of columns (``Mapping[str, numpy array]``, one entry per unit); a built-in
names the columns it reads, a user function (``"pkg.module:function"``) receives the whole table
and returns one finite float per unit.

==================  =======================  =========  ===============================================
built-in            columns                  harm       per-unit value
==================  =======================  =========  ===============================================
``win_hit``         ``hit_1st``              decrease   1 when the top pick won, else 0
``trifecta_hit``    ``hit_top3``             decrease   1 when the predicted top three finished in order
``score_accuracy``  ``score_accuracy``       decrease   the ledger's score accuracy of the race
``log_loss``        ``p_pick``, ``hit_1st``  increase   binary log-loss of "the pick wins" at ``p_pick``
``brier``           ``p_pick``, ``hit_1st``  increase   ``(p_pick − hit_1st)²``
``roi``             ``bet_profit``           decrease   a race bet's profit per unit staked (where logged)
``net_return``      ``net_return``           decrease   a market signal's return after costs
``direction_hit``   ``hit``                  decrease   1 when a market signal's direction was right
``error_rate``      ``error``                increase   1 when the server answered with an error
``latency``         ``latency_ms``           increase   the server's response time in milliseconds
==================  =======================  =========  ===============================================

A unit whose built-in column is NaN (a void race, an undefined score) is left out of that metric;
a missing column, or a user function that raises or returns anything but finite floats, makes the
metric *insufficient* (the judge holds) with the reason.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "BUILTINS",
    "NOT_PER_UNIT",
    "OUTCOME_COLUMNS",
    "Builtin",
    "Columns",
    "MetricValues",
    "UnitFunction",
    "resolve_function",
]

Float = npt.NDArray[np.float64]
Columns = Mapping[str, npt.NDArray[np.generic]]
UnitFunction = Callable[[Columns], npt.ArrayLike]
Harm = Literal["decrease", "increase"]


@dataclass(frozen=True)
class Builtin:
    """A built-in guardrail: the columns it reads, its direction of harm and its default τ."""

    columns: tuple[str, ...]
    harm: Harm
    tau: float
    compute: Callable[[Mapping[str, Float]], Float]
    label: str
    column: str | None = None
    """The one column the per-unit value *is* (so a database can sum it), None when computed from several."""


def _log_loss(c: Mapping[str, Float]) -> Float:
    p = np.clip(c["p_pick"], 1e-6, 1.0 - 1e-6)
    y = c["hit_1st"]
    return np.asarray(-(y * np.log(p) + (1.0 - y) * np.log1p(-p)), dtype=np.float64)


def _one(column: str, harm: Harm, tau: float, label: str) -> Builtin:
    """A built-in whose per-unit value is the column itself."""
    return Builtin((column,), harm, tau, lambda c: c[column], label, column)


BUILTINS: dict[str, Builtin] = {
    "win_hit": _one("hit_1st", "decrease", 0.05, "win hit rate"),
    "trifecta_hit": _one("hit_top3", "decrease", 0.02, "trifecta hit rate"),
    "score_accuracy": _one("score_accuracy", "decrease", 0.02, "score accuracy"),
    "log_loss": Builtin(("p_pick", "hit_1st"), "increase", 0.05, _log_loss, "log-loss of the pick"),
    "brier": Builtin(
        ("p_pick", "hit_1st"), "increase", 0.02, lambda c: (c["p_pick"] - c["hit_1st"]) ** 2, "Brier score"
    ),
    "roi": _one("bet_profit", "decrease", 0.05, "profit per unit staked"),
    "net_return": _one("net_return", "decrease", 0.05, "net return"),
    "direction_hit": _one("hit", "decrease", 0.05, "direction accuracy"),
    "error_rate": _one("error", "increase", 0.02, "server error rate"),
    "latency": _one("latency_ms", "increase", 20.0, "latency (ms)"),
}
"""The built-in per-unit metrics by name (see the module docstring)."""

NOT_PER_UNIT = {
    "ece": "ECE is not a mean over units: its bias grows as an arm shrinks (a 10 % arm looks worse "
    "calibrated by noise alone), so arms of different sizes cannot be compared; use 'brier' or "
    "'log_loss' (proper scores whose per-unit means are unbiased), or the monitor's calibration_ece alert",
}
"""Metric names that are refused, and why."""

OUTCOME_COLUMNS = frozenset(
    {"hit_1st", "hit_top3", "hit_trio", "score_accuracy", "net_return", "bet_profit", "payout", "error",
     "latency_ms", "finish_rank", "result", "outcome", "hit", "status"}
)  # fmt: skip
"""Columns known only after the outcome: never a CUPED covariate (that would adjust the effect away)."""


@dataclass(frozen=True)
class MetricValues:
    """One arm's per-unit values of one metric (units with an undefined value dropped), or why not."""

    values: Float
    kept: npt.NDArray[np.bool_]
    reason: str | None = None


def resolve_function(path: str) -> UnitFunction:
    """Import ``"pkg.module:function"``; raises ``ImportError``/``AttributeError`` as Python does."""
    module_name, _, attribute = path.partition(":")
    target: object = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    if not callable(target):
        raise TypeError(f"{path!r} is not callable")
    return target


def builtin_values(name: str, columns: Columns) -> MetricValues:
    """Per-unit values of built-in ``name`` from an arm's columns."""
    spec = BUILTINS[name]
    size = _size(columns)
    missing = [c for c in spec.columns if c not in columns]
    if missing:
        return _none(size, f"column {', '.join(map(repr, missing))} is not logged")
    try:
        data = {c: np.asarray(columns[c], dtype=np.float64) for c in spec.columns}
    except (TypeError, ValueError) as exc:
        return _none(size, f"a column of {name!r} is not numeric ({exc})")
    values = np.asarray(spec.compute(data), dtype=np.float64)
    kept = np.isfinite(values)
    return MetricValues(values[kept], kept)


def function_values(path: str, fn: UnitFunction, columns: Columns) -> MetricValues:
    """Per-unit values from a user function; any exception or non-finite value is a reason, not a crash."""
    size = _size(columns)
    try:
        values = np.asarray(fn(columns), dtype=np.float64)
    except Exception as exc:  # a user's code: whatever it raises, the metric is insufficient
        return _none(size, f"{path} raised {type(exc).__name__}: {exc}")
    if values.shape != (size,):
        return _none(size, f"{path} returned shape {values.shape}, expected ({size},): one value per unit")
    bad = int((~np.isfinite(values)).sum())
    if bad:
        return _none(size, f"{path} returned {bad} non-finite value(s) (NaN or inf) of {size}")
    return MetricValues(values, np.ones(size, dtype=bool))


def _size(columns: Columns) -> int:
    sizes = {len(v) for v in columns.values()}
    return sizes.pop() if len(sizes) == 1 else 0


def _none(size: int, reason: str) -> MetricValues:
    return MetricValues(np.empty(0), np.zeros(size, dtype=bool), reason)
