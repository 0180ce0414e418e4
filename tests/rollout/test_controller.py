from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stagewise._exceptions import ConfigError
from stagewise.rollout.controller import ControllerPolicy, DayCounts, Decision, Evidence, PairedDay, decide
from stagewise.rollout.stages import parse_stage

NOW = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
START = date(2026, 11, 1)


def day(i: int, races: int = 40, hits: int = 10, score: float = 0.7) -> DayCounts:
    """Day ``i`` after START with ``races`` races, ``hits`` wins and a constant-ish score accuracy."""
    n = races
    # per-race scores score ± 0.1 alternately: mean `score`, variance 0.01
    total = score * n
    sq = n * (score**2 + 0.01)
    return DayCounts(
        START + timedelta(days=i),
        races,
        hits,
        hits_top3=races // 10,
        score_n=n,
        score_sum=total,
        score_sq_sum=sq,
    )


def evidence(
    verdicts: list[str],
    *,
    stage: str = "10%",
    killed: bool = False,
    challenger: list[DayCounts] | None = None,
    control: list[DayCounts] | None = None,
    stage_since: date | None = START,
    counts: dict[str, int] | None = None,
    shares: dict[str, float] | None = None,
) -> Evidence:
    chall = challenger if challenger is not None else [day(i) for i in range(len(verdicts))]
    ctrl = control if control is not None else [day(i, races=360, hits=90) for i in range(len(chall))]
    health = {d.day: v for d, v in zip(chall, verdicts, strict=False)}
    return Evidence(
        "calib", parse_stage(stage), killed, chall, ctrl, health, stage_since,
        counts or {}, shares, {d.day: [f"reason for {v}"] for d, v in zip(chall, verdicts, strict=False)},
    )  # fmt: skip


def run(ev: Evidence, **policy: object) -> Decision:
    return decide(ev, ControllerPolicy(**policy), NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("stage", "verdicts", "action", "to"),
    [
        ("10%", ["HEALTHY"] * 3, "promote", "50%"),
        ("50%", ["HEALTHY"] * 3, "promote", "100%"),
        ("12.5%", ["HEALTHY"] * 3, "promote", "50%"),
        ("10%", ["HEALTHY"] * 2, "hold", "10%"),
        ("10%", ["HEALTHY", "HEALTHY", "WARNING"], "hold", "10%"),
        ("10%", ["HEALTHY", "WARNING", "HEALTHY", "HEALTHY"], "hold", "10%"),
        ("10%", ["WARNING", "HEALTHY", "HEALTHY", "HEALTHY"], "promote", "50%"),
        ("10%", ["HEALTHY", "HEALTHY", "CRITICAL"], "rollback", "disabled"),
        ("50%", ["CRITICAL"], "rollback", "disabled"),
        ("100%", ["CRITICAL"], "rollback", "disabled"),
        ("100%", ["HEALTHY"] * 5, "hold", "100%"),
        ("10%", ["HEALTHY", "HEALTHY", "INSUFFICIENT_DATA"], "hold", "10%"),
        ("10%", [], "hold", "10%"),
    ],
    ids=[
        "3-healthy-10-to-50", "3-healthy-50-to-100", "custom-stage-to-next", "2-healthy-waits",
        "warning-holds", "warning-breaks-streak", "old-warning-then-3-healthy", "critical-rolls-back",
        "critical-at-50", "critical-at-100", "full-rollout-holds", "insufficient-latest-holds", "no-data",
    ],
)  # fmt: skip
def test_decision_table(stage: str, verdicts: list[str], action: str, to: str) -> None:
    d = run(evidence(verdicts, stage=stage))
    assert (d.action, d.from_stage, d.to_stage) == (action, parse_stage(stage).name, to)
    assert d.reasons
    assert d.decided_at == NOW.isoformat()


def test_days_healthy_is_configurable() -> None:
    assert run(evidence(["HEALTHY"] * 3), days_healthy=5).action == "hold"
    assert run(evidence(["HEALTHY"] * 5), days_healthy=5).action == "promote"
    assert run(evidence(["HEALTHY"]), days_healthy=1).action == "promote"


def test_kill_switch_wins_over_everything() -> None:
    d = run(evidence(["CRITICAL"], killed=True))
    assert d.action == "none"
    assert "kill switch" in d.reasons[0]


def test_disabled_feature_is_left_alone() -> None:
    d = run(evidence(["HEALTHY"] * 3, stage="disabled"))
    assert (d.action, d.to_stage) == ("none", "disabled")


def test_days_with_too_few_races_neither_count_nor_break_the_streak() -> None:
    chall = [day(0), day(1), day(2, races=4, hits=1), day(3)]
    d = run(evidence(["HEALTHY", "HEALTHY", "CRITICAL", "HEALTHY"], challenger=chall))
    assert d.action == "promote"  # the 4-race CRITICAL day is not evaluated
    assert [r["evaluated"] for r in d.numbers["days"]] == [True, True, False, True]
    assert run(evidence(["HEALTHY"] * 4, challenger=chall)).numbers["healthy_streak"] == 3
    assert (
        run(evidence(["HEALTHY"] * 4, challenger=chall), min_races_per_day=2).numbers["healthy_streak"] == 4
    )


def test_only_days_at_the_current_stage_count() -> None:
    ev = evidence(["HEALTHY"] * 5, stage="50%", stage_since=START + timedelta(days=3))
    d = run(ev)
    assert d.action == "hold"
    assert d.numbers["healthy_streak"] == 2
    assert d.numbers["stage_since"] == "2026-11-04"
    assert [r["at_stage"] for r in d.numbers["days"]] == [False, False, False, True, True]
    assert [r["evaluated"] for r in d.numbers["days"]] == [False, False, False, True, True]


def test_significant_harm_on_win_hit_rate_rolls_back_even_when_every_day_is_healthy() -> None:
    # challenger wins 20 % of 200 races a day, control 30 % of 200: clear harm within days
    chall = [day(i, races=200, hits=40) for i in range(5)]
    ctrl = [day(i, races=200, hits=60) for i in range(5)]
    d = run(evidence(["HEALTHY"] * 5, challenger=chall, control=ctrl))
    assert (d.action, d.to_stage) == ("rollback", "disabled")
    assert "significant harm on hit_rate_1st" in d.reasons[0]
    seq = d.numbers["sequential"]["hit_rate_1st"]
    assert seq["rejected"] is True
    assert seq["alpha"] == 0.025  # two harm tests share α = 0.05 (Bonferroni)
    assert seq["p_value"] < 0.025
    assert d.numbers["cumulative"]["challenger"]["hit_rate_1st"] == 0.2


def test_significant_harm_on_score_accuracy_rolls_back() -> None:
    chall = [day(i, races=200, hits=50, score=0.62) for i in range(5)]
    ctrl = [day(i, races=200, hits=50, score=0.72) for i in range(5)]
    d = run(evidence(["HEALTHY"] * 5, challenger=chall, control=ctrl))
    assert d.action == "rollback"
    assert any("avg_score_accuracy" in r for r in d.reasons)


def test_a_better_challenger_is_not_harm() -> None:
    chall = [day(i, races=200, hits=70) for i in range(5)]
    ctrl = [day(i, races=200, hits=50) for i in range(5)]
    assert run(evidence(["HEALTHY"] * 5, challenger=chall, control=ctrl)).action == "promote"


def test_sample_ratio_mismatch_holds_by_default_and_can_roll_back() -> None:
    counts = {"control": 9_000, "challenger": 1_400}
    shares = {"control": 0.9, "challenger": 0.1}
    ev = evidence(["HEALTHY"] * 3, counts=counts, shares=shares)
    d = run(ev)
    assert d.action == "hold"
    assert "sample-ratio mismatch" in d.reasons[0]
    assert d.numbers["srm"]["verdict"] == "hold"
    assert run(ev, srm_action="rollback").action == "rollback"
    ok = run(evidence(["HEALTHY"] * 3, counts={"control": 9_020, "challenger": 980}, shares=shares))
    assert ok.action == "promote"
    assert ok.numbers["srm"]["verdict"] == "ok"


def test_critical_is_reported_with_the_health_reasons() -> None:
    d = run(evidence(["HEALTHY", "CRITICAL"]))
    assert "CRITICAL (reason for CRITICAL)" in d.reasons[0]


def test_numbers_are_plain_json() -> None:
    import json

    d = run(evidence(["HEALTHY"] * 3, counts={"control": 900, "challenger": 100}, shares={"control": 0.9,
            "challenger": 0.1}))  # fmt: skip
    text = json.dumps(d.as_dict(), allow_nan=False)
    assert '"action": "promote"' in text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"days_healthy": 0}, "'days_healthy' must be an int >= 1. Got 0"),
        ({"min_races_per_day": -3}, "'min_races_per_day'"),
        ({"alpha": 0.0}, "'alpha'"),
        ({"srm_action": "panic"}, "'srm_action'"),
    ],
    ids=["days", "races", "alpha", "srm"],
)
def test_bad_policy(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ControllerPolicy(**kwargs)  # type: ignore[arg-type]


VERDICTS = st.sampled_from(["HEALTHY", "WARNING", "CRITICAL", "INSUFFICIENT_DATA"])
STAGES = st.sampled_from(["disabled", "10%", "12.5%", "50%", "100%"])


@settings(max_examples=200, deadline=None)
@given(
    verdicts=st.lists(VERDICTS, max_size=12),
    races=st.lists(st.integers(min_value=0, max_value=60), min_size=12, max_size=12),
    stage=STAGES,
    killed=st.booleans(),
    days_healthy=st.integers(min_value=1, max_value=5),
)
def test_decision_invariants(
    verdicts: list[str], races: list[int], stage: str, killed: bool, days_healthy: int
) -> None:
    chall = [day(i, races=races[i], hits=races[i] // 4) for i in range(len(verdicts))]
    ev = evidence(verdicts, stage=stage, killed=killed, challenger=chall)
    d = run(ev, days_healthy=days_healthy)
    evaluated = [v for v, c in zip(verdicts, chall, strict=True) if c.races >= 10]
    if killed or stage == "disabled":
        assert (d.action, d.to_stage) == ("none", d.from_stage)
    if d.action == "rollback":
        assert d.to_stage == "disabled"
        assert evaluated[-1] == "CRITICAL" or "sequential" in d.numbers
    if d.action == "promote":
        assert not killed
        assert evaluated[-days_healthy:] == ["HEALTHY"] * days_healthy
        assert len(evaluated) >= days_healthy
        assert d.to_stage == {"10%": "50%", "12.5%": "50%", "50%": "100%"}[d.from_stage]
    if evaluated and evaluated[-1] == "CRITICAL" and not killed and stage != "disabled":
        assert d.action == "rollback"
    if d.action == "hold":
        assert d.to_stage == d.from_stage
    assert d.reasons


def test_paired_evidence_uses_the_paired_test() -> None:
    from dataclasses import replace

    # 100 races a day; the challenger alone wins 2 and the champion alone wins 8: a 6-point drop
    pairs = [PairedDay(START + timedelta(days=i), 100, 8, 2, 100, -1.0, 0.1) for i in range(5)]
    ev = replace(evidence(["HEALTHY"] * 5), paired=pairs)
    d = run(ev)
    assert d.numbers["design"] == "paired (shadow mode)"
    assert d.action == "rollback"
    assert d.numbers["sequential"]["hit_rate_1st"]["estimate"] == -0.06
    same = [PairedDay(START + timedelta(days=i), 100, 5, 5, 100, 0.0, 0.1) for i in range(5)]
    assert run(replace(evidence(["HEALTHY"] * 5), paired=same)).action == "promote"


def test_numbers_keep_the_last_month_of_days() -> None:
    chall = [day(i) for i in range(45)]
    d = run(evidence(["HEALTHY"] * 45, challenger=chall))
    assert d.numbers["days_total"] == 45
    assert len(d.numbers["days"]) == 31
    assert d.numbers["days"][-1]["date"] == chall[-1].day.isoformat()
    assert d.numbers["cumulative"]["challenger"]["races"] == 45 * 40


def test_harm_rule_false_rollback_rate_over_a_month_of_aa_days_is_within_alpha() -> None:
    """Both harm tests together (win hit rate and score accuracy, α/2 each) on A/A data, 30 daily looks.

    800 simulated months: the Monte-Carlo standard error at 0.05 is 0.0077; the bound allows 3 of them.
    """
    from stagewise.rollout.harm import harm_tests

    rng = np.random.default_rng(21)
    sims, days, fired = 800, 30, 0
    for _ in range(sims):
        groups = []
        for n in (70, 70):
            hits = rng.binomial(n, 0.25, size=days)
            scores = rng.beta(6.0, 3.0, size=(days, n))
            groups.append([
                DayCounts(START + timedelta(days=d), n, int(hits[d]), 0, n, float(scores[d].sum()),
                          float((scores[d] ** 2).sum()))
                for d in range(days)
            ])  # fmt: skip
        tests = harm_tests(groups[0], groups[1], alpha=0.025)
        assert tests is not None
        fired += any(t.rejected for t in tests.values())
    assert fired / sims <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / sims)
