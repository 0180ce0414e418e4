"""One arm's units summed per day, for judging built-in guardrails without reading every row (pure).

A built-in whose per-unit value is one ledger column (``win_hit`` is ``hit_1st``, ``roi`` is
``bet_profit``, ...) needs only, per day, how many units have the column set and the sums of the
column, its square and (for CUPED) the covariate's sums and cross products: the
:class:`~stagewise.rollout.guardrails.adjusted.Moments` of that day. The database computes them
(:class:`~stagewise.rollout.outcomes.OutcomeSums`); :func:`arm_sums` turns its per-day frame into an
:class:`ArmSums`, which :func:`~stagewise.rollout.guardrails.judge_guardrails` takes wherever it takes
:class:`~stagewise.rollout.guardrails.ArmUnits`, with the same records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from stagewise._exceptions import DataValidationError
from stagewise.rollout.guardrails.adjusted import Moments
from stagewise.rollout.guardrails.spec import GuardrailMetric
from stagewise.rollout.guardrails.units import BUILTINS

__all__ = ["ArmSums", "arm_sums", "cumulate", "sum_request"]

Float = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ArmSums:
    """One arm's settled units per day: ``days`` (one entry per day with settled units), and per day
    the :class:`Moments` of each summed column (``columns``, no covariate) and of each
    ``(column, covariate)`` pair over the units where both are set (``pairs``)."""

    days: npt.ArrayLike
    columns: Mapping[str, Moments]
    pairs: Mapping[tuple[str, str], Moments]

    def checked(self, arm: str) -> npt.NDArray[np.datetime64]:
        days = np.asarray(self.days, dtype="datetime64[D]")
        moments = [*self.columns.values(), *self.pairs.values()]
        if days.ndim != 1 or any(m.n.shape != days.shape for m in moments):
            raise DataValidationError(
                f"The {arm} arm has {days.size} days but sums of other lengths; "
                "every sum needs one value a day."
            )
        return days


def cumulate(daily: Moments, look: npt.NDArray[np.int64], n_looks: int) -> Moments:
    """Cumulative :class:`Moments` over ``n_looks`` looks from per-day ones; day ``i`` is look ``look[i]``.

    Examples
    --------
    >>> day = Moments(*(np.array([2.0, 3.0]) for _ in range(6)))
    >>> cumulate(day, np.array([0, 2]), 3).n.tolist()
    [2.0, 2.0, 5.0]
    """

    def total(per_day: Float) -> Float:
        return np.cumsum(np.bincount(look, weights=per_day, minlength=n_looks)[:n_looks].astype(np.float64))

    return Moments(*(total(getattr(daily, f)) for f in ("n", "sum_y", "sum_yy", "sum_x", "sum_xx", "sum_xy")))


def arm_sums(frame: pd.DataFrame, day_column: str = "race_date") -> ArmSums:
    """The :class:`ArmSums` of one group's rows of an :class:`~stagewise.rollout.outcomes.OutcomeSums` frame.

    Only ``settled`` rows count (a void race is neither hit nor miss, a pending one not judged yet);
    rows of several model versions on one day are added up.

    Examples
    --------
    >>> frame = pd.DataFrame({"race_date": pd.to_datetime(["2026-11-01", "2026-11-01", "2026-11-02"]),
    ...     "status": ["settled", "pending", "settled"], "units": [3, 1, 2],
    ...     "hit_1st:n": [3.0, 0.0, 2.0], "hit_1st:sum": [1.0, 0.0, 2.0], "hit_1st:sum_sq": [1.0, 0.0, 2.0]})
    >>> sums = arm_sums(frame)
    >>> sums.columns["hit_1st"].sum_y.tolist(), sums.days.tolist()
    ([1.0, 2.0], [datetime.date(2026, 11, 1), datetime.date(2026, 11, 2)])
    """
    rows = frame[(frame["status"] == "settled") & (frame["units"] > 0)]
    summed = [c for c in rows.columns if ":" in c]
    per_day = rows.groupby(day_column, sort=True)[summed].sum()
    days = per_day.index.to_numpy(dtype="datetime64[D]")
    zeros = np.zeros(days.size)
    columns: dict[str, Moments] = {}
    pairs: dict[tuple[str, str], Moments] = {}
    for name in dict.fromkeys(c.split(":")[0] for c in summed):

        def col(suffix: str, name: str = name) -> Float:
            return per_day[f"{name}:{suffix}"].to_numpy(dtype=np.float64)

        if "|" in name:
            y, x = name.split("|")
            pairs[(y, x)] = Moments(
                col("n"), col("sum_y"), col("sum_yy"), col("sum_x"), col("sum_xx"), col("sum_xy")
            )
        else:
            columns[name] = Moments(col("n"), col("sum"), col("sum_sq"), zeros, zeros, zeros)
    return ArmSums(days, columns, pairs)


def sum_request(
    metrics: Sequence[GuardrailMetric],
) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]] | None:
    """The columns and ``(column, covariate)`` pairs to sum for ``metrics``, or None when one of them
    needs each unit's row (a user function, a built-in computed from several columns, an unknown name).

    Examples
    --------
    >>> sum_request([GuardrailMetric(name="win", metric="win_hit", covariate="champion_p")])
    (('hit_1st',), (('hit_1st', 'champion_p'),))
    >>> sum_request([GuardrailMetric(name="win", metric="win_hit")])   # "auto": the ledger's covariate
    (('hit_1st',), (('hit_1st', 'covariate'),))
    >>> sum_request([GuardrailMetric(name="b", metric="brier")]) is None
    True
    """
    values: dict[str, None] = {}
    pairs: dict[tuple[str, str], None] = {}
    for metric in metrics:
        builtin = BUILTINS.get(metric.metric)
        if builtin is None or builtin.column is None:
            return None
        values[builtin.column] = None
        if metric.covariate_column is not None:
            pairs[(builtin.column, metric.covariate_column)] = None
    return tuple(values), tuple(pairs)
