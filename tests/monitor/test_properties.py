"""Hypothesis: any sequence of repeated logs gives the same stats as logging each race once."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stagewise.monitor import PerformanceMonitor

DAY = "2025-11-17"
orders = st.permutations([1, 2, 3, 4, 5, 6])
finishes = st.one_of(
    st.permutations([1, 2, 3, 4, 5, 6]).map(lambda f: {p: r for r, p in enumerate(f, 1)}),
    # a boat that did not start, one that did not finish
    st.permutations([1, 2, 3, 4, 5, 6]).map(
        lambda f: {f[0]: "F", f[1]: "転", **{p: r for r, p in enumerate(f[2:], 1)}}
    ),
)
races = st.lists(st.tuples(orders, finishes), min_size=1, max_size=6)


def _log(m: PerformanceMonitor, prefix: str, i: int, order: Any, finish: Any, with_result: bool) -> None:
    m.log_prediction(
        f"{prefix}-{i}", DAY, 1 + i, 1 + i, list(order), finish if with_result else None, "DYNAMIC",
        model_version=prefix,
    )  # fmt: skip


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=races, data=st.data())
def test_repeated_logging_equals_logging_once(
    monitor: PerformanceMonitor, specs: list[Any], data: st.DataObject
) -> None:
    # One ledger for every example; each example writes under its own model versions and race ids.
    ops = data.draw(
        st.lists(
            st.tuples(st.integers(0, len(specs) - 1), st.booleans()),
            min_size=len(specs),
            max_size=4 * len(specs),
        )
    )
    ops += [(i, False) for i in range(len(specs))]  # every race is logged at least once
    uid = uuid.uuid4().hex[:8]
    once, repeated = f"{uid}-once", f"{uid}-rep"
    for i, (order, finish) in enumerate(specs):
        _log(monitor, once, i, order, finish, any(w for j, w in ops if j == i))
    for i, with_result in ops:
        order, finish = specs[i]
        _log(monitor, repeated, i, order, finish, with_result)
    a = monitor.calculate_daily_stats(DAY, model_version=once)
    b = monitor.calculate_daily_stats(DAY, model_version=repeated)
    assert a is not None
    assert b is not None
    a.pop("segment")
    b.pop("segment")
    # sums of floats may come back in another order: equal up to rounding, NaN where undefined
    assert a.keys() == b.keys()
    for key, value in a.items():
        if isinstance(value, float):
            assert b[key] == pytest.approx(value, rel=1e-12, abs=1e-12, nan_ok=True), key
        else:
            assert b[key] == value, key
    assert a["total_races"] + a["pending_races"] + a["void_races"] == len(specs)
    monitor.close()


def _same_with_nan(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(
        x == y or (x != x and y != y) for x, y in zip(a.values(), b.values(), strict=True)
    )
