"""The controller's two ways of reading the ledger give the same decision.

On a :class:`PerformanceMonitor` the database sums each day's outcomes per group (``race_outcome_sums``)
and the built-in guardrails are judged on those sums; any other ledger (or a user function) is judged on
every row. Here the same ledger is read both ways, on SQLite and on PostgreSQL, for every race built-in,
with and without a CUPED covariate (the ledger's ``covariate`` column, used by default, and the pick's
logged odds; logged for every race, for some or for none), with
void races, refunded picks, races without a score accuracy, a day still pending and races whose result
is not in: the action, the reasons and every number of the decision agree.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from routed_races_support import Clock
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from stagewise.monitor import PerformanceMonitor
from stagewise.rollout import GradualRollout, MemoryRolloutStore
from stagewise.rollout.controller import Decision
from stagewise.rollout.controller_query import ControllerQuery
from stagewise.rollout.controller_runner import run_controller
from stagewise.rollout.health import RACES_POLICY, load_policy
from stagewise.rollout.outcomes import OutcomeSource, OutcomeSums

FEATURE = "probability_calibration"
START = date(2026, 11, 1)
DAYS = 9
NOW = datetime(2026, 11, 11, 5, 0, tzinfo=UTC)
GUARDRAILS = [
    {"name": "win", "metric": "win_hit", "min_sample": 30},
    {"name": "trifecta", "metric": "trifecta_hit", "min_sample": 30, "on_fail": "hold"},
    {"name": "score", "metric": "score_accuracy", "min_sample": 30, "tolerance": 0.01},
    {"name": "money", "metric": "roi", "min_sample": 30},
    {"name": "win_cuped", "metric": "win_hit", "covariate": "bet_odds", "min_sample": 30, "dry_run": True},
    {"name": "money_cuped", "metric": "roi", "covariate": "bet_odds", "min_sample": 30, "dry_run": True},
]


class RowsOnly:
    """The same ledger without ``race_outcome_sums``: the controller reads its rows."""

    def __init__(self, source: PerformanceMonitor) -> None:
        self.source = source

    def race_outcomes(self, start_date: date, end_date: date, **filters: Any) -> pd.DataFrame:
        return self.source.race_outcomes(start_date, end_date, **filters)

    def market_outcomes(self, start_date: date, end_date: date, **filters: Any) -> pd.DataFrame:
        return self.source.market_outcomes(start_date, end_date, **filters)


def _result(rng: np.random.Generator, won: bool) -> tuple[list[int], dict[int, int | str] | None]:
    """A prediction (best first) and its result: a normal race, void, a refunded pick or few finishers."""
    order = [int(p) for p in rng.permutation(6) + 1]
    predicted = order if won else [order[1], order[0], *order[2:]]
    if rng.random() < 0.25:
        predicted = [predicted[0], *rng.permutation(predicted[1:]).tolist()]
    kind = rng.random()
    if kind < 0.04:  # void: nobody finished
        return predicted, dict.fromkeys(range(1, 7), "欠")
    if kind < 0.08:  # the pick did not start: its ticket is refunded
        rest = [p for p in order if p != predicted[0]]
        return predicted, {predicted[0]: "F", **{p: r for r, p in enumerate(rest, 1)}}
    if kind < 0.12:  # one finisher: no finishing order to compare
        return predicted, {order[0]: 1, **{p: "転" for p in order[1:]}}
    return predicted, {p: r for r, p in enumerate(order, 1)}


def fill(monitor: PerformanceMonitor, seed: int, *, odds_share: float) -> None:
    """Nine days at 50 %: the challenger (``on``) wins less often (6 points a seed) at worse odds."""
    rng = np.random.default_rng(seed)
    pending_day = int(rng.integers(DAYS))
    rows = []
    for k in range(DAYS):
        day = START + timedelta(days=k)
        for i in range(100):
            variant = "on" if rng.random() < 0.5 else "control"
            p_win = 0.30 - (0.06 * (seed % 4) if variant == "on" else 0.0)  # seed 3: 12 % against 30 %
            predicted, result = _result(rng, bool(rng.random() < p_win))
            row: dict[str, Any] = {
                "race_id": f"{day:%Y%m%d}{i:03d}", "race_date": day, "venue_code": 1 + i % 24,
                "race_number": 1 + i % 12, "variant": variant, "model_version": variant,
                "predictions": [{"pit_number": p} for p in predicted],
                "actual_results": None if (k == pending_day and i % 9 == 0) else result,
            }  # fmt: skip
            if rng.random() < odds_share:  # logged before the race: covariates, never an outcome
                row["odds"] = round(float(rng.uniform(1.5, 6.0)) * (0.9 if variant == "on" else 1.0), 1)
                row["covariate"] = round(1.0 / row["odds"], 4)  # the ledger's own column: used by default
            rows.append(row)
    monitor.log_predictions(rows)


def decide(ledger: OutcomeSource, guardrails: list[dict[str, Any]]) -> Decision:
    policy = load_policy({**RACES_POLICY.model_dump(), "guardrails": guardrails})
    clock = Clock(datetime(2026, 11, 1, 5, 0, tzinfo=UTC))
    rollout = GradualRollout(
        store=MemoryRolloutStore(), now=clock, refresh_interval=0, actor="ops", health_policy=policy
    )
    rollout.add_feature(FEATURE, stage="50%", salt=f"{FEATURE}:sums", reason="canary")
    clock.now = NOW
    return run_controller(rollout, ledger, ControllerQuery(FEATURE, now=NOW, dry_run=True))


def assert_same(a: Any, b: Any, where: str = "numbers") -> None:
    """Equal structure and values; floats equal up to the rounding of summing in another order."""
    if isinstance(a, dict):
        assert isinstance(b, dict), where
        assert sorted(a) == sorted(b), where
        for key in a:
            assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple), where
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and not isinstance(b, bool) and isinstance(b, int | float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b)), where
    else:
        assert a == b, where


def both_ways(monitor: PerformanceMonitor, guardrails: list[dict[str, Any]]) -> tuple[Decision, Decision]:
    assert isinstance(monitor, OutcomeSums)
    assert not isinstance(RowsOnly(monitor), OutcomeSums)
    return decide(monitor, guardrails), decide(RowsOnly(monitor), guardrails)


def check(summed: Decision, rows: Decision) -> None:
    assert (summed.action, summed.to_stage) == (rows.action, rows.to_stage)
    assert summed.reasons == rows.reasons
    assert_same(summed.numbers, rows.numbers)


@pytest.fixture
def sqlite_monitor(tmp_path: Path) -> Iterator[PerformanceMonitor]:
    m = PerformanceMonitor(monitor_db=tmp_path / "monitor.db", notifiers=[])
    yield m
    m.close()


@pytest.mark.parametrize(
    "odds_share", [1.0, 0.7, 0.0], ids=["covariate-everywhere", "covariate-70%", "no-odds"]
)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_summed_and_row_reads_give_the_same_decision_on_sqlite(
    sqlite_monitor: PerformanceMonitor, seed: int, odds_share: float
) -> None:
    fill(sqlite_monitor, seed, odds_share=odds_share)
    summed, rows = both_ways(sqlite_monitor, GUARDRAILS)
    check(summed, rows)
    records = {r["name"]: r for r in summed.numbers["guardrails"]["records"]}
    assert summed.numbers["pending_days"]  # one day held back while a result is missing
    assert records["win"]["n_control"] > 100
    if seed == 3:  # 12 % against 30 %: a harm both reads see
        assert (summed.action, records["win"]["verdict"]) == ("rollback", "harm")
    if odds_share == 1.0:  # the odds are logged for every race: CUPED applies on both reads
        assert records["money_cuped"]["adjusted"]
        assert records["win_cuped"]["adjusted"]
        assert all(records[n]["covariate"] == "covariate" for n in ("win", "trifecta", "score", "money"))
        assert records["win_cuped"]["variance_ratio"] > 0.0  # measured (odds barely predict a win)
    else:  # some races lack the covariate: no adjustment, except of money, logged only where they have it
        assert not any(records[n]["adjusted"] for n in ("win", "trifecta", "score", "win_cuped"))
        assert "not adjusted" in records["win_cuped"]["reason"] or odds_share == 0.0
    if odds_share == 0.0:
        assert (records["money"]["verdict"], records["money"]["n_control"]) == ("insufficient", 0)


def test_without_guardrails_both_reads_give_the_built_in_harm_test_the_same_counts(
    sqlite_monitor: PerformanceMonitor,
) -> None:
    fill(sqlite_monitor, 4, odds_share=0.5)
    summed, rows = both_ways(sqlite_monitor, [])
    check(summed, rows)
    assert "sequential" in summed.numbers


def test_a_user_function_reads_the_rows_once(sqlite_monitor: PerformanceMonitor) -> None:
    """A metric the database cannot sum sends the whole run to the rows, in one query, same decision."""
    fill(sqlite_monitor, 5, odds_share=1.0)
    statements: list[str] = []
    event.listen(sqlite_monitor.store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    margin = {"name": "margin", "metric": "math:fabs", "harm": "decrease", "tau": 0.1, "dry_run": True}
    with_function = decide(sqlite_monitor, [*GUARDRAILS[:4], margin])
    reads = [s for s in statements if "race_predictions" in s]
    assert len(reads) == 1
    assert "GROUP BY" not in reads[0].upper()
    statements.clear()
    summed = decide(sqlite_monitor, GUARDRAILS[:4])
    reads = [s for s in statements if "race_predictions" in s]
    assert len(reads) == 1
    assert "GROUP BY" in reads[0].upper()
    assert (with_function.action, with_function.reasons) == (summed.action, summed.reasons)


@pytest.fixture
def pg_monitor(pg_url: str) -> Iterator[PerformanceMonitor]:
    schema = f"sums_{uuid.uuid4().hex[:12]}"
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
    m = PerformanceMonitor(url.render_as_string(hide_password=False), notifiers=[])
    try:
        yield m
    finally:
        m.close()
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("odds_share", [1.0, 0.7], ids=["covariate-everywhere", "covariate-70%"])
def test_summed_and_row_reads_give_the_same_decision_on_postgresql_and_sqlite(
    pg_monitor: PerformanceMonitor, sqlite_monitor: PerformanceMonitor, odds_share: float
) -> None:
    fill(pg_monitor, 6, odds_share=odds_share)
    fill(sqlite_monitor, 6, odds_share=odds_share)
    pg_summed, pg_rows = both_ways(pg_monitor, GUARDRAILS)
    check(pg_summed, pg_rows)
    sqlite_summed, _ = both_ways(sqlite_monitor, GUARDRAILS)
    check(pg_summed, sqlite_summed)
