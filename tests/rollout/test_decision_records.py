"""The controller's decision record: stored with the decision, read back per metric, by every store.

A rollback on a declared guardrail is recorded with the action, the stages, the reasons and one row
per metric (estimate, interval, p-value, Holm level, units per arm); a dry run records nothing; the
SQL store's tables agree with the hash-chained log they index, commit with the stage change or not
at all, and a store older than the tables gains them (with its earlier decisions) when opened.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from routed_races_support import Clock
from sqlalchemy import MetaData, create_engine, insert, text

from stagewise._exceptions import StorageError
from stagewise.rollout import GradualRollout, MemoryRolloutStore
from stagewise.rollout.controller_query import ControllerQuery
from stagewise.rollout.controller_runner import run_controller
from stagewise.rollout.decisions import DecisionRecord, decision_from_entry, decisions_from_entries
from stagewise.rollout.health import RACES_POLICY, load_policy
from stagewise.rollout.outcomes import MemoryOutcomes
from stagewise.rollout.sql_decisions import DecisionTables
from stagewise.rollout.sql_store import SqlRolloutStore
from stagewise.rollout.store import RolloutStore

FEATURE = "probability_calibration"
START = date(2026, 11, 1)
NOW = datetime(2026, 11, 10, 5, 0, tzinfo=UTC)
GUARDRAILS = [
    {"name": "win", "metric": "win_hit"},
    {"name": "trifecta", "metric": "trifecta_hit", "tau": 0.05},
]


def ledger(challenger_trifecta_per_25: int = 2) -> MemoryOutcomes:
    """Nine days at 10 %: 50 challenger and 450 control races a day; the challenger's trifecta rate as given
    (2 of 25 against control's 5 of 25 is significant harm)."""
    out = MemoryOutcomes()
    for k in range(9):
        day = START + timedelta(days=k)
        for variant, n, trifectas in (("on", 50, challenger_trifecta_per_25), ("control", 450, 5)):
            for i in range(n):
                won = i % 25 < 8
                out.add_race(
                    f"{day:%Y%m%d}-{variant}-{i:03d}", day, variant=variant, model_version=variant,
                    hit_1st=won, hit_top3=won and i % 25 < trifectas, hit_trio=won,
                    score_accuracy=1.0 if won else 0.97,
                )  # fmt: skip
    return out


def started(store: RolloutStore) -> GradualRollout:
    policy = load_policy({**RACES_POLICY.model_dump(), "guardrails": GUARDRAILS})
    clock = Clock(datetime(2026, 11, 1, 5, 0, tzinfo=UTC))
    rollout = GradualRollout(store=store, now=clock, refresh_interval=0, actor="ops", health_policy=policy)
    rollout.add_feature(FEATURE, stage="10%", salt=f"{FEATURE}:twin", reason="start canary")
    clock.now = NOW
    return rollout


def decide(rollout: GradualRollout, *, dry_run: bool = False, trifectas: int = 2) -> None:
    run_controller(rollout, ledger(trifectas), ControllerQuery(FEATURE, now=NOW, dry_run=dry_run))


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RolloutStore]:
    if request.param == "memory":
        yield MemoryRolloutStore()
        return
    if request.param == "sqlite":
        yield SqlRolloutStore(f"sqlite:///{tmp_path / 'monitor.db'}")
        return
    url = request.getfixturevalue("pg_url")
    schema = f"decisions_{uuid.uuid4().hex[:12]}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sql = SqlRolloutStore(url, schema=schema)
    try:
        yield sql
    finally:
        sql.close()
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def test_a_guardrail_rollback_is_recorded_with_each_metric(store: RolloutStore) -> None:
    rollout = started(store)
    decide(rollout)
    (record,) = rollout.decisions(FEATURE)
    assert (record.action, record.stage_before, record.stage_after) == ("rollback", "10%", "disabled")
    assert record.day == "2026-11-09"
    assert record.actor == "stagewise-controller"
    assert not record.dry_run
    assert record.reasons[0].startswith("guardrails: significant harm on trifecta")
    metrics = {m.metric: m for m in record.metrics}
    assert {m.kind for m in record.metrics} == {"declared", "srm"}
    trifecta = metrics["trifecta"]
    assert trifecta.verdict == "harm"
    assert metrics["win"].verdict == "ok"
    assert (trifecta.n_control, trifecta.n_challenger) == (450 * 9, 50 * 9)
    assert trifecta.estimate == pytest.approx(-0.12, abs=1e-9)
    assert trifecta.interval_low is not None
    assert trifecta.interval_high is not None
    assert trifecta.interval_low < trifecta.estimate < trifecta.interval_high < 0
    assert trifecta.p_value is not None
    assert trifecta.level is not None
    assert trifecta.p_value < trifecta.level
    # the stored rows are the audit entry's numbers, and the entry is the one that moved the stage
    (entry,) = [e for e in rollout.audit_log() if e.get("seq") == record.seq]
    assert entry["new_stage"] == "disabled"
    assert decision_from_entry(entry) == record


def test_a_dry_run_records_nothing(store: RolloutStore) -> None:
    rollout = started(store)
    decide(rollout, dry_run=True)
    assert rollout.decisions(FEATURE) == []
    decide(rollout, trifectas=5)  # a healthy challenger is promoted: that one is recorded
    assert [d.action for d in rollout.decisions(FEATURE)] == ["promote"]


def test_newest_first_and_limit(store: RolloutStore) -> None:
    rollout = started(store)
    decide(rollout, trifectas=5)
    rollout.update_rollout_stage(FEATURE, "10%", reason="back to 10 % by hand")
    decide(rollout)
    records = rollout.decisions(FEATURE)
    assert [d.action for d in records] == ["rollback", "promote"]
    assert records[0].seq > records[1].seq
    assert rollout.decisions(FEATURE, limit=1) == records[:1]
    assert rollout.decisions("unknown_feature") == []


def test_the_sql_tables_agree_with_the_log_they_index(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    rollout = started(SqlRolloutStore(url))
    decide(rollout, trifectas=5)
    decide(rollout)
    stored = rollout.decisions(FEATURE)
    assert stored == decisions_from_entries(rollout.audit_log(), FEATURE)
    with create_engine(url).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM rollout_decisions")).scalar() == 2
        kinds = conn.execute(text("SELECT DISTINCT kind FROM rollout_decision_metrics")).scalars().all()
    assert set(kinds) == {"declared", "srm"}


def test_a_failing_record_write_leaves_the_stage_unchanged(tmp_path: Path) -> None:
    """The decision rows commit with the stage change: when they cannot be written, nothing is."""
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    store = SqlRolloutStore(url)
    rollout = started(store)
    head = len(rollout.audit_log())
    with store.engine.begin() as conn:  # occupy the row the rollback's record will need
        conn.execute(
            insert(store.decision_tables.decisions).values(
                seq=head + 1, feature="x", decided_at="-", stage_before="-", stage_after="-", action="-",
                reasons="[]", dry_run=False,
            )
        )  # fmt: skip
    with pytest.raises(StorageError):
        decide(rollout)
    assert rollout.feature(FEATURE).stage.name == "10%"
    assert len(rollout.audit_log()) == head


def test_a_store_older_than_the_tables_gains_them_with_its_decisions(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    rollout = started(SqlRolloutStore(url))
    decide(rollout)
    before = rollout.decisions(FEATURE)
    engine = create_engine(url)
    with engine.begin() as conn:  # what a store written by an earlier version looks like
        conn.execute(text("DROP TABLE rollout_decision_metrics"))
        conn.execute(text("DROP TABLE rollout_decisions"))
        conn.execute(text("DROP TABLE rollout_decisions_backfill"))
    engine.dispose()
    reopened = GradualRollout(store=SqlRolloutStore(url), refresh_interval=0)
    assert reopened.feature(FEATURE).stage.name == "disabled"
    assert reopened.verify_audit().ok
    assert reopened.decisions(FEATURE) == before
    assert len(before) == 1
    assert before[0].metrics


def test_a_covariate_is_shown_only_when_the_metric_was_adjusted() -> None:
    row = {"name": "win", "verdict": "ok", "covariate": "champion_p_pick", "variance_ratio": 0.62}
    numbers = {
        "guardrails": {"records": [{**row, "adjusted": True}, {**row, "name": "w2", "adjusted": False}]}
    }
    entry = {"seq": 3, "feature": "f", "details": {"controller": {"action": "hold", "numbers": numbers}}}
    record = decision_from_entry(entry)
    assert isinstance(record, DecisionRecord)
    adjusted, plain = record.metrics
    assert (adjusted.covariate, adjusted.variance_ratio) == ("champion_p_pick", 0.62)
    assert plain.covariate is None
    assert json.loads(json.dumps(record.as_dict()))["metrics"][0]["covariate"] == "champion_p_pick"


def test_entries_that_are_not_controller_decisions_are_skipped() -> None:
    entries = [
        {"seq": 1, "feature": "f", "action": "set_stage", "details": {"effective_from": "2026-11-01"}},
        {"seq": 2, "feature": "f", "action": "kill"},
        {"feature": "f", "details": {"controller": {"action": "hold"}}},  # unsealed: no seq
    ]
    assert decisions_from_entries(entries) == []


_number = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5))
_test = st.fixed_dictionaries(
    {"estimate": _number, "p_value": _number, "alpha": _number, "rejected": st.booleans()}
)
_guardrail = st.fixed_dictionaries(
    {
        "name": st.text(min_size=1, max_size=12), "verdict": st.sampled_from(["harm", "ok", "insufficient"]),
        "estimate": _number, "interval_low": _number, "interval_high": _number, "p_value": _number,
        "level": _number, "n_control": st.one_of(st.none(), st.integers(0, 10**6)),
        "n_challenger": st.one_of(st.none(), st.integers(0, 10**6)),
        "covariate": st.none() | st.text(max_size=8),
        "adjusted": st.booleans(), "variance_ratio": _number, "reason": st.text(max_size=20),
    }
)  # fmt: skip
_numbers = st.fixed_dictionaries(
    {},
    optional={
        "sequential": st.dictionaries(st.sampled_from(["hit_rate_1st", "avg_score_accuracy"]), _test),
        "guardrails": st.fixed_dictionaries({"records": st.lists(_guardrail, max_size=4)}),
        "srm": st.fixed_dictionaries(
            {"p_value": _number, "threshold": _number, "verdict": st.sampled_from(["ok", "hold"])}
        ),
    },
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["promote", "hold", "rollback", "none"]), st.text(max_size=30), _numbers),
        max_size=5,
    )
)
def test_the_sql_tables_read_back_what_the_log_says(decisions: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Whatever numbers a decision carries (NaN, infinities, missing keys, any text), the SQL index reads
    back exactly the record derived from its audit entry: non-finite numbers become None in both."""
    tables = DecisionTables(MetaData(), "rollout_")
    engine = create_engine("sqlite://")
    tables.decisions.metadata.create_all(engine)
    entries = [
        {
            "seq": seq, "feature": "f", "at": "2026-11-10T05:00:00+00:00", "actor": "stagewise-controller",
            "details": {"controller": {"action": action, "from_stage": "10%", "to_stage": "10%",
                                       "reasons": [reason], "numbers": numbers}},
        }
        for seq, (action, reason, numbers) in enumerate(decisions, 1)
    ]  # fmt: skip
    with engine.begin() as conn:
        tables.write(conn, entries)
        stored = tables.read(conn, "f", None)
    assert stored == decisions_from_entries(entries, "f")
    engine.dispose()


def test_every_features_decisions_newest_first_in_one_read(store: RolloutStore) -> None:
    """``decisions(None)`` (the dashboard's read) merges the features' records, newest first, limited."""
    rollout = started(store)
    rollout.add_feature("second", stage="10%", salt="second:twin", reason="second canary")
    decide(rollout, trifectas=5)
    run_controller(rollout, ledger(2), ControllerQuery("second", now=NOW))
    both = rollout.decisions(None)
    assert [(d.feature, d.action) for d in both] == [("second", "hold"), (FEATURE, "promote")]
    assert both == sorted(rollout.decisions(FEATURE) + rollout.decisions("second"), key=lambda d: -d.seq)
    assert rollout.decisions(None, limit=1) == both[:1]
