"""The controller's decision with declared guardrails (pure ``decide``): rollback / hold per ``on_fail``,
insufficient evidence holds, dry-run metrics change nothing, the built-in harm test steps aside."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stagewise.rollout.controller import ControllerPolicy, DayCounts, Evidence, decide
from stagewise.rollout.guardrails import ArmUnits, GuardrailMetric
from stagewise.rollout.stages import parse_stage

START = date(2026, 11, 1)
DAYS = 12
NOW = datetime(2026, 11, 13, 6, tzinfo=UTC)


def _units(seed: int, per_day: int, p_win: float, latency: float) -> ArmUnits:
    rng = np.random.default_rng(seed)
    days = np.repeat(np.datetime64(START) + np.arange(DAYS), per_day)
    return ArmUnits(
        days,
        {
            "hit_1st": (rng.random(days.size) < p_win).astype(float),
            "latency_ms": rng.gamma(4.0, latency / 4.0, days.size),
        },
    )


def _evidence(p_win: float = 0.25, latency: float = 100.0, **kwargs: Any) -> Evidence:
    """Twelve HEALTHY days at 50 %: without guardrails the controller promotes."""
    control = _units(0, 70, 0.25, 100.0)
    challenger = _units(1, 70, p_win, latency)
    days = [START + timedelta(days=i) for i in range(DAYS)]
    counts = [DayCounts(d, 70, 18, score_n=70, score_sum=49.0, score_sq_sum=35.0) for d in days]
    return Evidence(
        "calib", parse_stage("50%"), False, counts, counts, dict.fromkeys(days, "HEALTHY"),
        stage_since=START, units=(control, challenger), **kwargs,
    )  # fmt: skip


def _metric(**kwargs: Any) -> GuardrailMetric:
    return GuardrailMetric.model_validate(kwargs)


WIN = _metric(name="win", metric="win_hit")
LATENCY = _metric(name="latency", metric="latency", on_fail="hold")


def test_without_guardrails_the_healthy_challenger_is_promoted() -> None:
    d = decide(_evidence(p_win=0.10), ControllerPolicy(), NOW)
    # the built-in harm test reads the daily counts (equal here), not the units
    assert d.action == "promote"
    assert "guardrails" not in d.numbers


def test_significant_harm_on_a_declared_metric_rolls_back() -> None:
    d = decide(_evidence(p_win=0.10, guardrails=(WIN, LATENCY)), ControllerPolicy(), NOW)
    assert (d.action, d.to_stage) == ("rollback", "disabled")
    assert d.reasons[0].startswith("guardrails: significant harm on win: challenger − control = -0.1")
    records = {r["name"]: r for r in d.numbers["guardrails"]["records"]}
    assert records["win"]["verdict"] == "harm"
    assert d.numbers["guardrails"]["family_size"] == 2
    assert "sequential" not in d.numbers  # the declared family replaces the built-in harm test


def test_harm_on_a_hold_metric_holds() -> None:
    d = decide(_evidence(latency=140.0, guardrails=(WIN, LATENCY)), ControllerPolicy(), NOW)
    assert (d.action, d.to_stage) == ("hold", "50%")
    assert d.reasons[0].startswith("guardrails: significant harm on latency")


def test_rollback_wins_over_hold() -> None:
    d = decide(_evidence(p_win=0.10, latency=140.0, guardrails=(WIN, LATENCY)), ControllerPolicy(), NOW)
    assert d.action == "rollback"


@pytest.mark.parametrize(
    "metric",
    [
        _metric(name="roi", metric="roi"),
        _metric(name="nope", metric="no_such_metric"),
        _metric(name="fn", metric="no_such_pkg.mod:f", harm="decrease", tau=0.1),
    ],
    ids=["not-logged", "unknown", "unimportable"],
)
def test_a_metric_without_evidence_holds_a_healthy_challenger(metric: GuardrailMetric) -> None:
    d = decide(_evidence(guardrails=(WIN, metric)), ControllerPolicy(), NOW)
    assert (d.action, d.to_stage) == ("hold", "50%")
    assert any(r.startswith(f"guardrails: {metric.name} is insufficient: ") for r in d.reasons)


def test_declared_guardrails_without_units_hold() -> None:
    evidence = _evidence(guardrails=(WIN,))
    evidence = Evidence(**{**evidence.__dict__, "units": None})
    d = decide(evidence, ControllerPolicy(), NOW)
    assert d.action == "hold"
    assert d.reasons == ("guardrails: win is insufficient: control: no units; challenger: no units; holding",)


def test_a_dry_run_metric_never_changes_the_decision() -> None:
    broken = _metric(name="roi", metric="roi", dry_run=True)
    harmed = _metric(name="latency", metric="latency", dry_run=True)
    plain = decide(_evidence(latency=140.0, guardrails=(WIN,)), ControllerPolicy(), NOW)
    with_dry = decide(_evidence(latency=140.0, guardrails=(WIN, broken, harmed)), ControllerPolicy(), NOW)
    assert plain.action == with_dry.action == "promote"
    assert plain.reasons == with_dry.reasons
    records = {r["name"]: r for r in with_dry.numbers["guardrails"]["records"]}
    assert (records["latency"]["verdict"], records["latency"]["dry_run"]) == ("harm", True)
    assert records["roi"]["verdict"] == "insufficient"


def test_an_equal_challenger_passes_and_is_promoted() -> None:
    d = decide(_evidence(guardrails=(WIN, LATENCY)), ControllerPolicy(), NOW)
    assert d.action == "promote"
    assert d.numbers["guardrails"]["action"] == "pass"


DRY = st.lists(
    st.builds(
        lambda i, metric, on_fail, tolerance: _metric(
            name=f"dry{i}", metric=metric, on_fail=on_fail, tolerance=tolerance, dry_run=True
        ),
        st.integers(0, 10**6),
        st.sampled_from(["win_hit", "latency", "roi", "unknown_metric", "brier"]),
        st.sampled_from(["rollback", "hold"]),
        st.sampled_from([0.0, 0.02, 20.0]),
    ),
    max_size=3,
    unique_by=lambda m: m.name,
)


@settings(max_examples=25, deadline=None)
@given(
    dry=DRY,
    active=st.sampled_from([(WIN,), (LATENCY,), (WIN, LATENCY)]),
    p_win=st.sampled_from([0.25, 0.10]),
    latency=st.sampled_from([100.0, 140.0]),
)
def test_property_dry_run_metrics_never_change_the_controllers_decision(
    dry: list[GuardrailMetric], active: tuple[GuardrailMetric, ...], p_win: float, latency: float
) -> None:
    without = decide(_evidence(p_win, latency, guardrails=active), ControllerPolicy(), NOW)
    with_dry = decide(_evidence(p_win, latency, guardrails=(*active, *dry)), ControllerPolicy(), NOW)
    assert (with_dry.action, with_dry.to_stage, with_dry.reasons) == (
        without.action,
        without.to_stage,
        without.reasons,
    )
