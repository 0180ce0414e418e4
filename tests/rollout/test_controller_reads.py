"""The controller's daily run reads each ledger range once, however many groups and guardrails it judges.

Before, the runner queried the ledger once for the pending days and once more per group (control, the
challenger, every other variant of an A/B/n split, each shadow model version). Now the first read of a
range returns every group's rows and each group is taken from them in memory: the number of ledger
reads does not grow with the groups or the declared metrics, and the decision is the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from routed_races_support import Clock
from sqlalchemy import event

from stagewise.monitor import PerformanceMonitor
from stagewise.rollout import GradualRollout, MemoryRolloutStore
from stagewise.rollout.controller import Decision
from stagewise.rollout.controller_days import CompleteDays
from stagewise.rollout.controller_query import ControllerQuery
from stagewise.rollout.controller_runner import run_controller
from stagewise.rollout.health import RACES_POLICY, load_policy
from stagewise.rollout.outcomes import MemoryOutcomes, OutcomeSource

FEATURE = "probability_calibration"
START = date(2026, 11, 1)
NOW = datetime(2026, 11, 10, 5, 0, tzinfo=UTC)
GUARDRAILS = [
    {"name": "win", "metric": "win_hit"},
    {"name": "trifecta", "metric": "trifecta_hit"},
    {"name": "score", "metric": "score_accuracy"},
]
SPLIT = {"a": 0.5, "b": 0.25, "c": 0.25}
ORDERS = ((1, 2, 3, 4, 5, 6), (2, 1, 3, 4, 5, 6))  # the pick wins, the pick is second


class CountingOutcomes:
    """An :class:`OutcomeSource` that counts the reads passed to the ledger under it."""

    def __init__(self, source: OutcomeSource) -> None:
        self.source = source
        self.reads: list[tuple[str, date, date, str | None, str | None]] = []

    def _count(self, kind: str, start: date, end: date, filters: dict[str, str | None]) -> None:
        self.reads.append((kind, start, end, filters.get("model_version"), filters.get("variant")))

    def race_outcomes(self, start_date: date, end_date: date, **filters: str | None) -> pd.DataFrame:
        self._count("races", start_date, end_date, filters)
        return self.source.race_outcomes(start_date, end_date, **filters)

    def market_outcomes(self, start_date: date, end_date: date, **filters: str | None) -> pd.DataFrame:
        self._count("markets", start_date, end_date, filters)
        return self.source.market_outcomes(start_date, end_date, **filters)


def _ledger(variants: dict[str, int], *, pending_last_day: bool = False) -> MemoryOutcomes:
    """Nine days; ``variants`` maps each ledger variant to its races a day (control included)."""
    ledger = MemoryOutcomes()
    for k in range(9):
        day = START + timedelta(days=k)
        for variant, n in variants.items():
            for i in range(n):
                won = i % 25 < 8
                pending = pending_last_day and k == 8 and i == 0
                ledger.add_race(
                    f"{day:%Y%m%d}-{variant}-{i:03d}", day, variant=variant, model_version=variant,
                    hit_1st=won, hit_top3=won and i % 25 < 3, hit_trio=won,
                    score_accuracy=1.0 if won else 0.97, status="pending" if pending else "settled",
                )  # fmt: skip
    return ledger


def _run(
    ledger: OutcomeSource, guardrails: list[dict[str, Any]], stage: str = "10%", **query: Any
) -> Decision:
    policy = load_policy({**RACES_POLICY.model_dump(), "guardrails": guardrails})
    clock = Clock(datetime(2026, 11, 1, 5, 0, tzinfo=UTC))
    rollout = GradualRollout(
        store=MemoryRolloutStore(), now=clock, refresh_interval=0, actor="ops", health_policy=policy
    )
    rollout.add_feature(FEATURE, stage=stage, salt=f"{FEATURE}:reads", reason="start canary")
    clock.now = NOW
    return run_controller(rollout, ledger, ControllerQuery(FEATURE, now=NOW, dry_run=True, **query))


@pytest.mark.parametrize("guardrails", [[], GUARDRAILS], ids=["built-in harm test", "3 guardrails"])
@pytest.mark.parametrize(
    ("variants", "query"),
    [
        ({"on": 50, "control": 450}, {}),
        (
            {"a": 24, "b": 12, "c": 12, "control": 452},
            {"variants": SPLIT, "challenger_variant": "b"},
        ),
        ({"on": 60, "control": 60}, {"shadow": ("control", "on")}),
    ],
    ids=["two groups", "A/B/n with 3 variants", "shadow"],
)
def test_one_daily_run_reads_the_ledger_once(
    variants: dict[str, int], query: dict[str, Any], guardrails: list[dict[str, Any]]
) -> None:
    ledger = _ledger(variants, pending_last_day=True)
    counting = CountingOutcomes(ledger)
    decision = _run(counting, guardrails, **query)
    assert len(counting.reads) == 1, counting.reads
    assert counting.reads[0][3:] == (None, None)  # every group's rows in the one read
    # the decision is the one the uncounted ledger gives, on complete days only
    again = _run(ledger, guardrails, **query)
    assert (decision.action, decision.reasons) == (again.action, again.reasons)
    assert decision.numbers["pending_days"] == ["2026-11-09"]
    assert decision.numbers["days_total"] == 8


def test_groups_read_from_the_one_read_are_the_groups_the_ledger_holds() -> None:
    """The in-memory split gives each group exactly its own rows: the SRM counts match the ledger."""
    variants = {"a": 24, "b": 12, "c": 12, "control": 452}
    ledger = _ledger(variants)
    decision = _run(ledger, GUARDRAILS, variants=SPLIT, challenger_variant="b")
    assert decision.numbers["srm"]["counts"] == {name: n * 9 for name, n in variants.items()}
    records = {r["name"]: r for r in decision.numbers["guardrails"]["records"]}
    assert (records["win"]["n_control"], records["win"]["n_challenger"]) == (452 * 9, 12 * 9)


@pytest.fixture
def monitor(tmp_path: Path) -> Iterator[PerformanceMonitor]:
    m = PerformanceMonitor(monitor_db=tmp_path / "monitor.db", notifiers=[])
    yield m
    m.close()


def test_a_daily_run_on_the_monitor_sends_one_query_to_the_predictions_table(
    monitor: PerformanceMonitor,
) -> None:
    rows = [
        {
            "race_id": f"{START + timedelta(days=k):%Y%m%d}{variant}{i:03d}",
            "race_date": START + timedelta(days=k), "venue_code": 1, "race_number": 1 + i % 12,
            "predictions": [{"pit_number": p, "total_score": 1.0 / p} for p in range(1, 7)],
            "actual_results": [
                {"pit_number": p, "rank": r} for r, p in enumerate(ORDERS[i % 4 == 0], 1)
            ],
            "variant": variant, "model_version": variant,
        }
        for k in range(9)
        for variant, n in (("a", 20), ("b", 10), ("c", 10), ("control", 360))
        for i in range(n)
    ]  # fmt: skip
    monitor.log_predictions(rows)
    statements: list[str] = []
    event.listen(monitor.store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    decision = _run(monitor, GUARDRAILS, variants=SPLIT, challenger_variant="a")
    assert sum("race_predictions" in s for s in statements) == 1, statements
    records = {r["name"]: r for r in decision.numbers["guardrails"]["records"]}
    assert records["win"]["n_control"] == 360 * 9
    assert decision.numbers["srm"]["counts"] == {"a": 180, "b": 90, "c": 90, "control": 3240}


_RACE = st.tuples(
    st.integers(0, 4),  # day
    st.sampled_from(["on", "control", "a"]),
    st.sampled_from(["v1", "v2"]),
    st.sampled_from(["settled", "settled", "void", "pending"]),
    st.booleans(),
)


@settings(max_examples=60, deadline=None)
@given(races=st.lists(_RACE, max_size=40), variant=st.sampled_from([None, "on", "control", "a", "b"]))
def test_a_group_taken_from_the_one_read_equals_the_ledgers_own_filtered_read(
    races: list[tuple[int, str, str, str, bool]], variant: str | None
) -> None:
    ledger = MemoryOutcomes()
    for i, (day, var, version, status, won) in enumerate(races):
        ledger.add_race(
            f"r{i:03d}", START + timedelta(days=day), variant=var, model_version=version,
            status=status, hit_1st=won, hit_top3=False, score_accuracy=0.9 if won else 0.5,
        )  # fmt: skip
    end = START + timedelta(days=4)
    pending = {START + timedelta(days=d) for d, _, _, status, _ in races if status == "pending"}
    complete = CompleteDays(ledger)
    for version in (None, "v1", "v2"):
        got = complete.race_outcomes(START, end, model_version=version, variant=variant)
        direct = ledger.race_outcomes(START, end, model_version=version, variant=variant)
        expected = direct[~pd.to_datetime(direct["race_date"]).dt.date.isin(pending)].reset_index(drop=True)
        if expected.empty:  # an empty frame's string columns may be object or str: no rows either way
            assert got.empty
            assert list(got.columns) == list(expected.columns)
        else:
            pd.testing.assert_frame_equal(got, expected)
    assert complete.pending_days == pending
