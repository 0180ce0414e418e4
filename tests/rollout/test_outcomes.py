"""The controller's seam to the ledger: the in-memory twin drives it, and it reads like the monitor."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from routed_races_support import Clock

from stagewise import ConfigError, DataValidationError
from stagewise.monitor import PerformanceMonitor
from stagewise.notify import AlertMessage, DeliveryResult, Notifier
from stagewise.rollout import GradualRollout, MemoryRolloutStore
from stagewise.rollout.controller_query import ControllerQuery
from stagewise.rollout.controller_runner import run_controller
from stagewise.rollout.outcomes import (
    MARKET_OUTCOME_COLUMNS,
    RACE_OUTCOME_COLUMNS,
    MemoryOutcomes,
    OutcomeSource,
)

FEATURE = "probability_calibration"
START = date(2026, 11, 1)


class RecordingNotifier:
    """A notifier that keeps what it was asked to send (the ``Notifier`` protocol, no network)."""

    channel = "memory"

    def __init__(self) -> None:
        self.sent: list[AlertMessage] = []

    def send(self, message: AlertMessage) -> DeliveryResult:
        self.sent.append(message)
        return DeliveryResult(self.channel, "memory://", ok=True, attempts=1)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 1, 5, 0, tzinfo=UTC))


@pytest.fixture
def rollout(clock: Clock) -> GradualRollout:
    r = GradualRollout(store=MemoryRolloutStore(), now=clock, refresh_interval=0, actor="ops")
    r.add_feature(FEATURE, stage="10%", salt=f"{FEATURE}:twin", reason="start canary")
    return r


def add_days(ledger: MemoryOutcomes, days: int, *, on_hits_per_25: int, control_hits_per_10: int = 3) -> None:
    """50 challenger and 450 control races a day (the 10 % stage's exact shares), hits spread evenly.

    A hit is exact (win and trifecta, score accuracy 1.0); a miss swaps the first two boats (0.97).
    """
    for k in range(days):
        day = START + timedelta(days=k)
        for variant, n, hit in (
            ("on", 50, lambda i: i % 25 < on_hits_per_25),
            ("control", 450, lambda i: i % 10 < control_hits_per_10),
        ):
            for i in range(n):
                won = hit(i)
                ledger.add_race(
                    f"{day:%Y%m%d}-{variant}-{i:03d}", day, variant=variant, model_version=variant,
                    hit_1st=won, hit_top3=won, hit_trio=won, score_accuracy=1.0 if won else 0.97,
                )  # fmt: skip


def test_the_twin_drives_the_controller_to_a_promotion_without_a_database(
    rollout: GradualRollout, clock: Clock
) -> None:
    ledger = MemoryOutcomes()
    add_days(ledger, 9, on_hits_per_25=8)  # challenger 32 %, control 30 %
    clock.now = datetime(2026, 11, 10, 5, 0, tzinfo=UTC)

    decision = run_controller(rollout, ledger, ControllerQuery(FEATURE, now=clock.now))

    assert (decision.action, decision.from_stage, decision.to_stage, decision.applied) == (
        "promote", "10%", "50%", True,
    )  # fmt: skip
    assert rollout.feature(FEATURE).stage.name == "50%"
    assert decision.numbers["srm"]["verdict"] == "ok"
    assert decision.numbers["cumulative"]["challenger"]["hit_rate_1st"] == pytest.approx(0.32)
    # nothing is logged for today yet: the new stage applies to today in full
    assert rollout.audit_log()[-1]["details"]["effective_from"] == "2026-11-10"


def test_the_twin_drives_the_controller_to_a_rollback_and_the_notifier_hears_it(
    rollout: GradualRollout, clock: Clock
) -> None:
    ledger = MemoryOutcomes()
    add_days(ledger, 7, on_hits_per_25=1)  # challenger 4 %: CRITICAL
    clock.now = datetime(2026, 11, 8, 5, 0, tzinfo=UTC)
    notifier = RecordingNotifier()
    channel: Notifier = notifier

    decision = run_controller(rollout, ledger, ControllerQuery(FEATURE, now=clock.now), notifiers=[channel])

    assert (decision.action, decision.to_stage) == ("rollback", "disabled")
    assert rollout.feature(FEATURE).stage.name == "disabled"
    assert [m.title for m in notifier.sent] == [f"Rollout of {FEATURE} rolled back: 10% -> disabled"]
    assert notifier.sent[0].severity == "critical"
    assert decision.numbers["notifications"] == [
        {"channel": "memory", "target": "memory://", "ok": True, "error": None}
    ]


def test_a_pending_day_in_the_twin_is_left_out_like_in_the_ledger(rollout: GradualRollout) -> None:
    ledger = MemoryOutcomes()
    add_days(ledger, 9, on_hits_per_25=8)
    ledger.add_race("20261109-late", date(2026, 11, 9), variant="control", status="pending")
    now = datetime(2026, 11, 10, 5, 0, tzinfo=UTC)

    decision = run_controller(rollout, ledger, ControllerQuery(FEATURE, now=now, dry_run=True))

    assert decision.numbers["pending_days"] == ["2026-11-09"]
    assert decision.numbers["cumulative"]["challenger"]["races"] == 8 * 50


def test_keyword_arguments_ask_the_same_as_a_query(rollout: GradualRollout) -> None:
    ledger = MemoryOutcomes()
    add_days(ledger, 9, on_hits_per_25=8)
    now = datetime(2026, 11, 10, 5, 0, tzinfo=UTC)
    query = ControllerQuery(FEATURE, now=now, dry_run=True, health_window_days=5)

    by_query = run_controller(rollout, ledger, query)
    by_keywords = run_controller(rollout, ledger, FEATURE, now=now, dry_run=True, health_window_days=5)
    overridden = run_controller(rollout, ledger, replace(query, health_window_days=7), health_window_days=5)

    assert by_query.as_dict() == by_keywords.as_dict() == overridden.as_dict()
    assert by_query.numbers["health_window_days"] == 5
    with pytest.raises(TypeError, match="needs now="):
        run_controller(rollout, ledger, FEATURE, dry_run=True)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param(
            {"health_window_days": 0}, "'health_window_days' must be an int >= 1. Got 0", id="window"
        ),
        pytest.param({"health_window_days": True}, "Got True", id="window-bool"),
        pytest.param(
            {"health_window_days": 7, "max_health_window_days": 3},
            "'max_health_window_days' must be an int >= health_window_days (7). Got 3",
            id="widest",
        ),
        pytest.param({"challenger_variant": "control"}, "must differ. Got 'control'", id="same-groups"),
        pytest.param({"shadow": ("v1", "v1")}, "two different model versions", id="shadow"),
    ],
)
def test_a_bad_query_is_refused_when_built_naming_the_field(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        ControllerQuery(FEATURE, now=datetime(2026, 11, 10, tzinfo=UTC), **changes)  # type: ignore[arg-type]
    assert message in str(error.value)


def test_the_query_copies_its_variants() -> None:
    weights = {"a": 0.5, "b": 0.5}
    query = ControllerQuery(FEATURE, now=datetime(2026, 11, 10, tzinfo=UTC), variants=weights)
    weights["c"] = 1.0
    assert query.variants == {"a": 0.5, "b": 0.5}


def test_the_twin_refuses_a_status_or_a_direction_it_cannot_hold() -> None:
    ledger = MemoryOutcomes()
    with pytest.raises(DataValidationError, match=r"'status' .* Got 'done'"):
        ledger.add_race("r", START, status="done")  # type: ignore[arg-type]
    with pytest.raises(DataValidationError, match=r"'signal' of a signal must be 0 or 1\. Got 2"):
        ledger.add_signal("EURUSD", datetime(2026, 11, 1, 9), signal=2, probability=0.6)


# -- the twin and the monitor give the same frames ---------------------------------------------------


@pytest.fixture
def monitor(tmp_path: Path) -> Iterator[PerformanceMonitor]:
    m = PerformanceMonitor(monitor_db=tmp_path / "monitor.db", notifiers=[])
    yield m
    m.close()


def test_the_monitor_is_an_outcome_source(monitor: PerformanceMonitor) -> None:
    source: OutcomeSource = monitor  # mypy checks this at every run_controller call in src
    assert isinstance(source, OutcomeSource)
    assert isinstance(MemoryOutcomes(), OutcomeSource)


HIT_FLAGS = ("hit_1st", "hit_top3", "hit_trio")
MONEY = ("bet_stake", "bet_odds", "bet_profit")


def finish(order: list[int] | None) -> list[dict[str, int]] | None:
    return None if order is None else [{"pit_number": p, "rank": r} for r, p in enumerate(order, 1)]


def test_the_twin_gives_the_monitors_race_frame(monitor: PerformanceMonitor) -> None:
    order = [1, 2, 3, 4, 5, 6]
    swapped = [2, 1, 3, 4, 5, 6]
    rows = []
    for k, (variant, predicted, result) in enumerate(
        [("on", order, order), ("control", swapped, order), ("on", order, None), ("control", order, order)]
    ):
        rows.append({
            "race_id": f"2026110{1 + k % 2}01{k:02d}", "race_date": f"2026-11-0{1 + k % 2}",
            "venue_code": 1 + k, "race_number": 1, "variant": variant, "model_version": f"m-{variant}",
            "predictions": [{"pit_number": p, "total_score": 6 - j} for j, p in enumerate(predicted)],
            "actual_results": finish(result),
            **({"odds": 2.5 + k, "stake": 2.0} if k % 2 == 0 else {}),
            **({"rollout_feature": ("f", "g", None, "f")[k], "covariate": 0.1 * k} if k != 2 else {}),
        })  # fmt: skip
    monitor.log_predictions(rows)
    logged = monitor.race_outcomes(START, date(2026, 11, 30))
    ledger = MemoryOutcomes()
    for row in reversed(logged.to_dict("records")):  # the twin sorts as the ledger does
        ledger.add_race(
            row["race_id"], row["race_date"].date(), variant=row["variant"],
            model_version=row["model_version"], status=row["status"], venue_code=row["venue_code"],
            integration_mode=row["integration_mode"], score_accuracy=row["score_accuracy"],
            **{money: None if pd.isna(row[money]) else row[money] for money in MONEY},
            **{flag: None if pd.isna(row[flag]) else bool(row[flag]) for flag in HIT_FLAGS},
            rollout_feature=row["rollout_feature"],
            covariate=None if pd.isna(row["covariate"]) else row["covariate"],
        )  # fmt: skip

    assert list(logged.columns) == list(RACE_OUTCOME_COLUMNS)
    assert set(logged["status"]) == {"settled", "pending"}
    assert logged["bet_profit"].notna().any()
    assert logged["bet_odds"].isna().any()
    assert logged["rollout_feature"].tolist() == ["f", None, "g", "f"]
    filtering = ({}, {"variant": "on"}, {"model_version": "m-control"}, {"variant": "nobody"})
    for filters in (*filtering, {"rollout_feature": "f"}, {"rollout_feature": "g", "variant": "control"}):
        pd.testing.assert_frame_equal(
            ledger.race_outcomes(START, date(2026, 11, 1), **filters),
            monitor.race_outcomes(START, date(2026, 11, 1), **filters),
        )
    pd.testing.assert_frame_equal(
        ledger.race_outcomes(START, date(2026, 11, 30)), monitor.race_outcomes(START, date(2026, 11, 30))
    )


def test_the_twin_gives_the_monitors_market_frame(monitor: PerformanceMonitor) -> None:
    ledger = MemoryOutcomes()
    signals = [
        ("EURUSD", datetime(2026, 11, 1, 23, 0, tzinfo=UTC), 1, 0.62, 1, "on", 0.004, "f"),
        ("EURUSD", datetime(2026, 11, 1, 9, 0, tzinfo=UTC), 0, 0.41, 1, "control", None, None),
        ("USDJPY", datetime(2026, 11, 2, 0, 30, tzinfo=UTC), 1, 0.55, None, "on", None, "g"),
    ]
    for symbol, ts, signal, probability, outcome, variant, bar_return, feature in signals:
        routing = {} if feature is None else {"rollout_feature": feature, "covariate": probability - 0.01}
        monitor.log_signal(symbol, ts, signal, probability, variant=variant, model_version=variant, **routing)
        if outcome is not None:
            monitor.log_market_outcome(symbol, ts, outcome, bar_return=bar_return, cost=0.001)
        ledger.add_signal(
            symbol, ts, signal=signal, probability=probability, outcome=outcome, variant=variant,
            model_version=variant, net_return=None if bar_return is None else bar_return - 0.001, **routing,
        )  # fmt: skip

    assert list(monitor.market_outcomes(START, date(2026, 11, 30)).columns) == list(MARKET_OUTCOME_COLUMNS)
    for filters in (
        {}, {"variant": "on"}, {"model_version": "control"}, {"variant": "nobody"}, {"rollout_feature": "f"},
    ):  # fmt: skip
        for end in (START, date(2026, 11, 2)):
            pd.testing.assert_frame_equal(
                ledger.market_outcomes(START, end, **filters), monitor.market_outcomes(START, end, **filters)
            )
