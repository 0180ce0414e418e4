"""A/B/n: the controller judges every variant of a split against control, as one Holm family.

The harmful variant is rolled back (retired: its races go to control, every other race keeps its
variant), at most one healthy variant is promoted (the best on the primary metric; a tie holds),
and each judged variant gets its own decision record.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from routed_races_support import Clock
from typer.testing import CliRunner

from stagewise._exceptions import ConfigError
from stagewise.cli.main import app
from stagewise.rollout import GradualRollout, MemoryRolloutStore
from stagewise.rollout.abn import decide_variants
from stagewise.rollout.controller import ControllerPolicy, Evidence
from stagewise.rollout.controller_query import ControllerQuery
from stagewise.rollout.controller_runner import run_controller, variant_split
from stagewise.rollout.experiments.variants import VariantSplit
from stagewise.rollout.harm import DayCounts
from stagewise.rollout.outcomes import MemoryOutcomes
from stagewise.rollout.stages import parse_stage

FEATURE = "race_model"
START = date(2026, 11, 2)
SPLIT = {"harmful": 1 / 3, "equal": 1 / 3, "better": 1 / 3}
WIN = {"control": 0.40, "equal": 0.40, "better": 0.60, "harmful": 0.12}


def _play_day(rollout: GradualRollout, ledger: MemoryOutcomes, day: date, rng: np.random.Generator,
              win: dict[str, float] = WIN) -> dict[str, str]:  # fmt: skip
    """One day of races routed by the rollout as it stands, logged and settled; race id -> variant."""
    served: dict[str, str] = {}
    for i in range(240):
        race_id = f"{day:%Y%m%d}{i:04d}"
        variant = rollout.variant(FEATURE, race_id)
        won = bool(rng.random() < win[variant])
        ledger.add_race(
            race_id, day, variant=variant, model_version=variant, hit_1st=won,
            hit_top3=won and bool(rng.random() < 0.3), score_accuracy=0.9 if won else 0.75,
        )  # fmt: skip
        served[race_id] = variant
    return served


def _rollout(clock: Clock, store: object | None = None, db_url: str | None = None) -> GradualRollout:
    rollout = GradualRollout(
        store=store if db_url is None else None, db_url=db_url, now=clock, refresh_interval=0, actor="ops"
    )  # type: ignore[arg-type]
    rollout.add_feature(FEATURE, stage="50%", salt=f"{FEATURE}:abn", reason="A/B/n")
    rollout.set_variants(FEATURE, SPLIT, reason="three candidates")
    return rollout


def test_the_harmful_variant_is_rolled_back_the_better_promoted_and_each_is_recorded(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 11, 2, 5, tzinfo=UTC))
    url = str(tmp_path / "monitor.db")
    rollout = _rollout(clock, db_url=url)
    ledger = MemoryOutcomes()
    rng = np.random.default_rng(7)
    actions: list[dict[str, str]] = []
    history: dict[str, str] = {}
    retired_on: date | None = None
    checked = False
    for k in range(14):
        day = START + timedelta(days=k)
        served = _play_day(rollout, ledger, day, rng)
        for race_id, variant in served.items():  # what was logged is what the rollout said then
            assert variant == rollout.variant(FEATURE, race_id)
        if retired_on is not None and day >= retired_on:
            # after the rollback: no race is the harmful variant's, and the survivors kept every race
            assert "harmful" not in served.values()
            for race_id, variant in history.items():
                now_variant = rollout.variant(FEATURE, race_id)
                assert now_variant == (variant if variant != "harmful" else "control")
            retired_on, checked = None, True
        elif not history:
            history = served
        clock.now = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC) + timedelta(hours=5)
        decision = run_controller(rollout, ledger, ControllerQuery(FEATURE, now=clock.now))
        variants = decision.numbers.get("variants")
        if variants is None:  # the split is one variant now: the single-challenger run
            actions.append({decision.variant or "?": decision.action})
            continue
        actions.append({v: d["action"] for v, d in variants.items()})
        if "harmful" in decision.numbers["rolled_back"]:
            retired_on = day + timedelta(days=1)
            assert rollout.feature(FEATURE).extra["retired_variants"] == ["harmful"]
        if decision.numbers["promoted"]:
            break
    rolled = [i for i, a in enumerate(actions) if a.get("harmful") == "rollback"]
    promoted = [i for i, a in enumerate(actions) if a.get("better") == "promote"]
    assert rolled, actions
    assert promoted, actions
    assert rolled[0] < promoted[0]
    assert checked
    assert not any(a.get("equal") == "promote" or a.get("harmful") == "promote" for a in actions)
    state = rollout.feature(FEATURE)
    assert state.stage.name == "100%"
    assert state.extra["variants"] == {"better": 1.0}
    assert "retired_variants" not in state.extra

    records = rollout.decisions(FEATURE)
    assert {r.variant for r in records} == {"harmful", "equal", "better"}
    rollback = next(r for r in records if r.action == "rollback")
    assert (rollback.variant, rollback.stage_after) == ("harmful", "disabled")
    harm = [m for m in rollback.metrics if m.verdict == "harm"]
    assert harm
    assert all(m.level is not None and m.p_value < m.level for m in harm)
    # each level is Holm's over the whole family: at most α / (variants × metrics) for the first
    assert min(m.level for m in harm if m.level) <= 0.05 / 2
    rollout.close()
    cli = CliRunner(env={"COLUMNS": "200"})
    out = cli.invoke(app, ["rollout", "decisions", FEATURE, "--db", url, "--limit", "50"])
    assert out.exit_code == 0, out.output
    for name in ("harmful", "equal", "better"):
        assert f"of variant {name}" in out.output
    assert "ROLLBACK of variant harmful at 50% -> disabled" in out.output
    assert "PROMOTE of variant better at 50% -> 100%" in out.output


def _days(hits: int, races: int = 200, n: int = 7) -> list[DayCounts]:
    return [DayCounts(START + timedelta(days=d), races=races, hits_1st=hits) for d in range(n)]


def _evidence(hits: int) -> Evidence:
    healthy = {START + timedelta(days=d): "HEALTHY" for d in range(7)}
    return Evidence(FEATURE, parse_stage("50%"), False, _days(hits), _days(80), healthy, stage_since=START)


NOW = datetime(2026, 11, 10, 5, tzinfo=UTC)


def test_two_equally_good_variants_tie_and_hold() -> None:
    out = decide_variants({"a": _evidence(100), "b": _evidence(100)}, ControllerPolicy(), NOW)
    assert out.promoted is None
    assert out.summary.action == "hold"
    assert all(d.action == "hold" and "tie for best" in d.reasons[0] for d in out.variants.values())


def test_every_variant_harmful_disables_the_feature() -> None:
    out = decide_variants({"a": _evidence(20), "b": _evidence(30)}, ControllerPolicy(), NOW)
    assert out.disable
    assert out.rolled_back == ("a", "b")
    assert (out.summary.action, out.summary.to_stage) == ("rollback", "disabled")


def test_holm_over_the_variants_is_what_keeps_a_borderline_variant() -> None:
    """A variant harmful at α on its own but not at its share of α among three variants is kept."""
    policy = ControllerPolicy()
    alone = decide_variants({"x": _evidence(68)}, policy, NOW).variants["x"]
    p = alone.numbers["sequential"]["hit_rate_1st"]["p_value"]
    assert 0.05 / 6 < p < 0.05 / 2, p  # fires alone (α/2), not among 3 variants × 2 metrics (α/6)
    assert alone.action == "rollback"
    three = decide_variants({"x": _evidence(68), "y": _evidence(80), "z": _evidence(80)}, policy, NOW)
    assert three.variants["x"].action != "rollback"
    assert three.family["size"] == 6


def test_the_feature_is_disabled_when_every_variant_is_harmful_in_a_run(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 11, 2, 5, tzinfo=UTC))
    rollout = _rollout(clock, store=MemoryRolloutStore())
    rollout.set_variants(FEATURE, {"harmful": 0.5, "also": 0.5}, reason="two bad ones")
    ledger = MemoryOutcomes()
    rng = np.random.default_rng(3)
    for k in range(10):
        day = START + timedelta(days=k)
        _play_day(rollout, ledger, day, rng, {**WIN, "also": 0.12})
        clock.now = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC) + timedelta(hours=5)
        decision = run_controller(rollout, ledger, ControllerQuery(FEATURE, now=clock.now))
        if decision.action == "rollback":
            break
    assert rollout.feature(FEATURE).stage.is_disabled, decision.reasons
    assert set(decision.numbers["rolled_back"]) <= {"harmful", "also"}


@settings(max_examples=60, deadline=None)
@given(
    weights=st.lists(st.integers(1, 9), min_size=2, max_size=5),
    retire=st.sets(st.integers(0, 4), min_size=1, max_size=3),
    percent=st.sampled_from([1, 10, 50, 100]),
)
def test_retiring_variants_moves_no_unit_of_a_surviving_variant(
    weights: list[int], retire: set[int], percent: int
) -> None:
    names = [f"v{i}" for i in range(len(weights))]
    gone = [names[i] for i in retire if i < len(names)][: len(names) - 1]
    total = sum(weights)
    split = {n: w / total for n, w in zip(names, weights, strict=True)}
    before = VariantSplit(split)
    after = VariantSplit(split, retired=gone)
    for unit in range(400):
        old = before.variant_of("salt", unit, percent)
        new = after.variant_of("salt", unit, percent)
        assert new == ("control" if old in gone else old)
    counts = after.expected_shares(percent)
    assert set(counts) == {"control", *[n for n in names if n not in gone]}
    assert sum(counts.values()) == pytest.approx(1.0)


def test_bad_input_is_one_line_naming_field_value_and_accepted() -> None:
    clock = Clock(datetime(2026, 11, 2, 5, tzinfo=UTC))
    rollout = _rollout(clock, store=MemoryRolloutStore())
    with pytest.raises(ConfigError, match=r"'variants' names 'nope', which is not in .*accepted: \["):
        rollout.retire_variants(FEATURE, ["nope"], reason="x")
    rollout.retire_variants(FEATURE, ["harmful", "equal"], reason="by hand")
    with pytest.raises(ConfigError, match=r"no active variant .*accepted: at most 0 of \['better'\]"):
        rollout.retire_variants(FEATURE, ["better"], reason="x")
    query = ControllerQuery(FEATURE, now=NOW, dry_run=True, challenger_variant="harmful")
    with pytest.raises(ConfigError, match=r"'harmful' .* rolled back .*accepted: an active variant"):
        run_controller(rollout, MemoryOutcomes(), query)
    with pytest.raises(ConfigError, match=r"'nope' is not one of the feature's variants"):
        run_controller(rollout, MemoryOutcomes(), replace(query, challenger_variant="nope"))
    # a hand-edited config whose split has every variant retired: refused, never judged
    state = rollout.feature(FEATURE)
    edited = replace(state, extra={**state.extra, "retired_variants": list(SPLIT)})
    with pytest.raises(ConfigError, match=r"no active variant: every variant .* accepted: a split"):
        variant_split(edited, None, None, "control")
    # one active variant left: the single-challenger run, its record names the variant
    decision = run_controller(rollout, MemoryOutcomes(), replace(query, challenger_variant=None))
    assert decision.variant == "better"
    assert decision.action == "hold"
    with pytest.raises(ConfigError, match=r"variant 'harmful' is not an active variant .*\['better'\]"):
        rollout.promote_variant(FEATURE, "harmful", "100%", reason="x")


def test_the_economic_guardrail_is_one_member_per_variant_of_the_family() -> None:
    """A variant that loses money (same hits) is rolled back; the family holds its money test too."""
    from stagewise.rollout.economic import EconomicGuardrail, MoneyDay, MoneyEvidence, money_day

    rng = np.random.default_rng(5)
    days = [START + timedelta(days=d) for d in range(7)]

    def money(mean: float) -> list[MoneyDay]:
        return [money_day(d, rng.normal(mean, 1.0, 200)) for d in days]

    control = money(-0.2)
    evidences = {
        name: replace(_evidence(80), money=MoneyEvidence(EconomicGuardrail(), control, money(mean)))
        for name, mean in (("losing", -0.9), ("same", -0.2))
    }
    out = decide_variants(evidences, ControllerPolicy(), NOW)
    assert out.family["size"] == 6  # 2 variants x (2 built-in tests + money)
    kinds = {(h["variant"], h["kind"]) for h in out.family["hypotheses"]}
    assert ("losing", "economic") in kinds
    assert out.rolled_back == ("losing",)
    losing = out.variants["losing"]
    assert losing.numbers["economic"]["status"] == "rejected"
    assert out.variants["same"].action != "rollback"
