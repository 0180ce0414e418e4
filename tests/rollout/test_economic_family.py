"""The economic guardrail is one more member of the controller's Holm family, not a test of its own.

With ``k`` declared guardrails the family has ``k + 1`` members (the money test is the built-in ``roi``
metric named ``economic``); without declared guardrails it joins the built-in win-hit and score-accuracy
tests (3 members). Every member's verdict and level is Holm's over all of them at the controller's α, so
the family-wise false-rollback rate covers money too. A policy that gives money twice is refused.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from stagewise import ConfigError
from stagewise.rollout.controller import ControllerPolicy, DayCounts, Evidence, decide
from stagewise.rollout.economic import EconomicGuardrail, MoneyEvidence, money_day
from stagewise.rollout.guardrails import ArmUnits, GuardrailMetric, holm_levels, holm_rejections
from stagewise.rollout.health import RACES_POLICY, load_policy
from stagewise.rollout.stages import parse_stage

DAYS = [dt.date(2026, 11, 1) + dt.timedelta(days=k) for k in range(10)]
NOW = dt.datetime(2026, 11, 11, 6, tzinfo=dt.UTC)
ALPHA = 0.05


def _arm(rng: np.random.Generator, p_win: float, per_day: int) -> ArmUnits:
    days = np.repeat(np.array(DAYS, dtype="datetime64[D]"), per_day)
    won = (rng.random(days.size) < p_win).astype(float)
    return ArmUnits(days, {"hit_1st": won, "hit_top3": won * (rng.random(days.size) < 0.3)})


def _money(rng: np.random.Generator, mean: float, per_day: int) -> list:
    return [money_day(d, rng.normal(mean, 1.0, per_day)) for d in DAYS]


def _evidence(seed: int, *, win: tuple[float, float], money: tuple[float, float], declared: bool) -> Evidence:
    rng = np.random.default_rng(seed)
    counts = [
        [DayCounts(d, races=150, hits_1st=round(150 * p), score_n=150, score_sum=105.0) for d in DAYS]
        for p in win
    ]
    first = GuardrailMetric(name="win", metric="win_hit")
    guardrails = (first, GuardrailMetric(name="trifecta", metric="trifecta_hit")) if declared else ()
    guard = EconomicGuardrail(alpha=0.05, tau=0.05, min_units=100)
    return Evidence(
        "kelly", parse_stage("50%"), False, counts[1], counts[0], {d: "HEALTHY" for d in DAYS},
        stage_since=DAYS[0], guardrails=guardrails,
        units=(_arm(rng, win[0], 150), _arm(rng, win[1], 150)),
        money=MoneyEvidence(guard, _money(rng, money[0], 150), _money(rng, money[1], 150)),
    )  # fmt: skip


CASES = {
    "no harm": {"win": (0.27, 0.27), "money": (-0.2, -0.2)},
    "money harm": {"win": (0.27, 0.27), "money": (-0.2, -0.45)},
    "win and money harm": {"win": (0.27, 0.12), "money": (-0.2, -0.4)},
    "borderline money": {"win": (0.27, 0.25), "money": (-0.2, -0.33)},
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_with_k_declared_guardrails_the_family_has_k_plus_one_members_and_holm_decides(case: str) -> None:
    decision = decide(_evidence(3, declared=True, **CASES[case]), ControllerPolicy(alpha=ALPHA), NOW)
    records = {r["name"]: r for r in decision.numbers["guardrails"]["records"]}
    economic = decision.numbers["economic"]
    assert decision.numbers["guardrails"]["family_size"] == 3 == economic["family_size"]
    # the members in name order (equal p-values take their levels in that order)
    p = np.array([economic["test"]["p_value"], records["trifecta"]["p_value"], records["win"]["p_value"]])
    levels, rejected = holm_levels(p, ALPHA), holm_rejections(p, ALPHA)
    got = [economic["test"]["alpha"], records["trifecta"]["level"], records["win"]["level"]]
    assert got == pytest.approx(levels.tolist())
    assert records["win"]["verdict"] == ("harm" if rejected[2] else "ok")
    assert economic["status"] == ("rejected" if rejected[0] else "ok")
    assert (decision.action == "rollback") == bool(rejected[0] or rejected[2])
    if economic["status"] == "rejected":
        assert any(r.startswith("economic guardrail: the challenger earns less") for r in decision.reasons)


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_without_declared_guardrails_money_joins_the_built_in_pair(case: str) -> None:
    decision = decide(_evidence(4, declared=False, **CASES[case]), ControllerPolicy(alpha=ALPHA), NOW)
    sequential, economic = decision.numbers["sequential"], decision.numbers["economic"]
    assert "guardrails" not in decision.numbers
    names = sorted([*sequential, "economic"])  # equal p-values take their levels in name order
    p_values = {**{n: sequential[n]["p_value"] for n in sequential}, "economic": economic["test"]["p_value"]}
    levels = {**{n: sequential[n]["alpha"] for n in sequential}, "economic": economic["test"]["alpha"]}
    p = np.array([p_values[n] for n in names])
    assert economic["family_size"] == 3
    assert [t["family"] for t in sequential.values()] == [3, 3]
    assert [levels[n] for n in names] == pytest.approx(holm_levels(p, ALPHA).tolist())
    rejected = dict(zip(names, holm_rejections(p, ALPHA).tolist(), strict=True))
    assert {n: sequential[n]["rejected"] for n in sequential} == {n: rejected[n] for n in sequential}
    assert (economic["status"] == "rejected") == rejected["economic"]
    assert (decision.action == "rollback") == any(rejected.values())


def test_money_that_the_old_separate_test_would_reject_is_held_to_the_family_level() -> None:
    """The entry used to spend its own α on top of the controller's: p between α/3 and α rolled back."""
    for seed in range(40):
        evidence = _evidence(seed, declared=False, win=(0.27, 0.27), money=(-0.2, -0.31))
        decision = decide(evidence, ControllerPolicy(alpha=ALPHA), NOW)
        economic = decision.numbers["economic"]
        if ALPHA / 3 < economic["test"]["p_value"] < ALPHA:
            assert economic["status"] == "ok"
            assert decision.action == "promote"
            return
    pytest.fail("no seed gave a money p-value between α/3 and α")


def test_a_policy_giving_money_twice_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    body = {
        **RACES_POLICY.model_dump(mode="json"),
        "economic_guardrail": {"alpha": 0.05, "tau": 0.05},
        "guardrails": [{"name": "win", "metric": "win_hit"}, {"name": "profit", "metric": "roi"}],
    }
    path.write_text(json.dumps(body), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_policy(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"Invalid health policy {str(path)!r}: ")
    assert "economic_guardrail and the declared guardrail 'profit' both judge money (metric 'roi')" in message
    body["guardrails"] = [{"name": "win", "metric": "win_hit"}]  # the old entry alone still loads
    path.write_text(json.dumps(body), encoding="utf-8")
    assert load_policy(path).economic_guardrail == EconomicGuardrail(alpha=0.05, tau=0.05)
