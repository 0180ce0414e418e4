"""judge_guardrails: verdicts, the action, bad metrics held as insufficient, dry runs that change nothing."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stagewise._exceptions import DataValidationError
from stagewise.rollout.guardrails import ArmUnits, GuardrailMetric, judge_guardrails
from stagewise.rollout.guardrails.units import Columns, UnitFunction

DAYS = np.arange("2026-11-01", "2026-11-29", dtype="datetime64[D]")


def arm(
    seed: int, per_day: int, p_win: float = 0.25, latency: float = 100.0, q_sd: float = 0.15, days: int = 28
) -> ArmUnits:
    """Races with a true win probability each; the champion's predicted probability is logged."""
    rng = np.random.default_rng(seed)
    n = per_day * days
    k = 0.25 * 0.75 / q_sd**2 - 1
    q = rng.beta(0.25 * k, 0.75 * k, n)
    hit = (rng.random(n) < q * p_win / 0.25).astype(float)
    columns = {
        "hit_1st": hit,
        "hit_top3": hit * (rng.random(n) < 0.28),
        "score_accuracy": 0.9 * rng.beta(6, 3, n) + 0.1 * hit,
        "p_pick": np.clip(q + rng.normal(0, 0.05, n), 0.01, 0.99),
        "champion_p_pick": np.clip(q + rng.normal(0, 0.03, n), 0.01, 0.99),
        "latency_ms": rng.gamma(4.0, latency / 4.0, n),
    }
    return ArmUnits(np.repeat(DAYS[:days], per_day), columns)


def win(**kwargs: object) -> GuardrailMetric:
    return GuardrailMetric.model_validate({"name": "win", "metric": "win_hit", **kwargs})


def test_a_clearly_worse_challenger_is_rolled_back_with_a_full_record() -> None:
    j = judge_guardrails(arm(0, 126), arm(1, 14, p_win=0.10), [win()])
    (r,) = j.records
    assert j.action == "rollback"
    assert r.verdict == "harm"
    assert r.p_value < 0.05
    assert r.level == 0.05
    assert r.estimate is not None
    assert r.interval_low is not None
    assert r.interval_high is not None
    assert r.interval_low < r.estimate < r.interval_high < 0
    assert (r.n_control, r.n_challenger, r.looks) == (126 * 28, 14 * 28, 28 - 7)  # 100 units from day 8
    assert r.mean_challenger is not None
    assert r.mean_challenger < 0.15
    assert j.reasons[0].startswith("significant harm on win: challenger − control = -0.")


def test_an_equal_challenger_passes() -> None:
    j = judge_guardrails(arm(2, 70), arm(3, 70), [win(), GuardrailMetric(name="lat", metric="latency")])
    assert j.action == "pass"
    assert [r.verdict for r in j.records] == ["ok", "ok"]
    assert j.reasons == ("no significant harm on 2 active guardrail(s) (family-wise α = 0.05)",)


def test_harm_on_a_lower_is_better_metric_is_an_increase() -> None:
    lat = GuardrailMetric(name="lat", metric="latency", on_fail="hold")
    slower = judge_guardrails(arm(4, 70), arm(5, 70, latency=130.0), [lat])
    faster = judge_guardrails(arm(4, 70), arm(5, 70, latency=70.0), [lat])
    assert (slower.action, slower.records[0].verdict) == ("hold", "harm")  # on_fail=hold
    assert faster.action == "pass"


def test_tolerance_accepts_harm_smaller_than_it() -> None:
    control, slower = arm(4, 70), arm(5, 70, latency=110.0)
    strict = GuardrailMetric(name="lat", metric="latency")
    tolerant = GuardrailMetric(name="lat", metric="latency", tolerance=25.0)
    assert judge_guardrails(control, slower, [strict]).action == "rollback"
    assert judge_guardrails(control, slower, [tolerant]).action == "pass"


def test_the_most_severe_on_fail_wins() -> None:
    control, worse = arm(6, 70), arm(7, 70, p_win=0.10, latency=150.0)
    metrics = [win(on_fail="hold"), GuardrailMetric(name="lat", metric="latency", on_fail="rollback")]
    assert judge_guardrails(control, worse, metrics).action == "rollback"
    only_hold = [win(on_fail="hold"), GuardrailMetric(name="lat", metric="latency", on_fail="hold")]
    assert judge_guardrails(control, worse, only_hold).action == "hold"


def _raises(columns: Columns) -> np.ndarray:
    raise ZeroDivisionError("boom")


def _nan(columns: Columns) -> np.ndarray:
    out = np.asarray(columns["hit_1st"], dtype=float).copy()
    out[:3] = math.nan
    return out


def _scalar(columns: Columns) -> float:
    return 1.0


FN = {"harm": "decrease", "tau": 0.05}
BAD_METRICS = {
    "unknown": ({"metric": "win_hit_v2"}, "unknown metric 'win_hit_v2' (built-ins: win_hit, "),
    "not-logged": ({"metric": "roi"}, "column 'bet_profit' is not logged"),
    "raises": ({"metric": "tests.fn:raises", **FN}, "tests.fn:raises raised ZeroDivisionError: boom"),
    "nan": ({"metric": "tests.fn:nan", **FN}, "returned 3 non-finite value(s) (NaN or inf) of 1960"),
    "shape": ({"metric": "tests.fn:scalar", **FN}, "returned shape (), expected (1960,)"),
    "import": (
        {"metric": "no_such_module_xyz:f", **FN},
        "cannot load no_such_module_xyz:f: ModuleNotFoundError",
    ),
}


@pytest.mark.parametrize(("metric", "reason"), BAD_METRICS.values(), ids=BAD_METRICS.keys())
def test_a_metric_that_cannot_be_computed_is_insufficient_and_holds(
    metric: dict[str, object], reason: str
) -> None:
    functions: dict[str, UnitFunction] = {
        "tests.fn:raises": _raises,
        "tests.fn:nan": _nan,
        "tests.fn:scalar": _scalar,
    }
    bad = GuardrailMetric.model_validate({"name": "bad", **metric})
    j = judge_guardrails(arm(0, 70), arm(1, 70), [win(), bad], functions=functions)
    assert j.action == "hold"
    assert [r.verdict for r in j.records] == ["ok", "insufficient"]
    assert reason in j.records[1].reason
    assert any(text.startswith("bad is insufficient: ") for text in j.reasons)
    assert j.records[1].p_value == 1.0


def test_a_rollback_wins_over_an_insufficient_metric() -> None:
    j = judge_guardrails(
        arm(0, 126), arm(1, 14, p_win=0.10), [win(), GuardrailMetric(name="r", metric="roi")]
    )
    assert j.action == "rollback"


def test_no_data_and_too_few_units_are_insufficient() -> None:
    empty = ArmUnits(np.array([], dtype="datetime64[D]"), {"hit_1st": np.array([])})
    nothing = judge_guardrails(empty, empty, [win()]).records[0]
    assert (nothing.verdict, nothing.reason) == ("insufficient", "control: no units; challenger: no units")
    few = judge_guardrails(arm(0, 70, days=1), arm(1, 7, days=1, p_win=0.0), [win()])
    assert few.action == "hold"
    assert few.records[0].reason == "7 units in the smaller arm (< min_sample 100)"


def test_cuped_reports_the_variance_ratio_and_narrows_the_interval() -> None:
    control, challenger = arm(8, 126, q_sd=0.2), arm(9, 14, q_sd=0.2)
    plain = judge_guardrails(control, challenger, [win()]).records[0]
    cuped = judge_guardrails(control, challenger, [win(covariate="champion_p_pick")]).records[0]
    assert not plain.adjusted
    assert plain.variance_ratio is None
    assert cuped.adjusted
    assert cuped.theta is not None
    assert cuped.theta > 0.5
    assert cuped.variance_ratio is not None
    assert 0.7 < cuped.variance_ratio < 0.9
    widths = [(r.interval_high or math.nan) - (r.interval_low or math.nan) for r in (cuped, plain)]
    assert widths[0] < widths[1]  # NaN (no interval) would fail


def test_a_covariate_not_logged_is_not_used_and_says_so() -> None:
    r = judge_guardrails(arm(0, 70), arm(1, 70), [win(covariate="champion_p_win")]).records[0]
    assert not r.adjusted
    assert r.verdict == "ok"
    assert r.reason == "covariate 'champion_p_win' missing or not finite for some units: not adjusted"


def test_records_are_flat_rows() -> None:
    rows = judge_guardrails(arm(0, 70), arm(1, 70), [win(covariate="champion_p_pick")]).as_rows()
    assert all(v is None or isinstance(v, str | float | int | bool) for v in rows[0].values())
    assert {"name", "verdict", "estimate", "interval_low", "p_value", "variance_ratio", "n_control"} <= set(
        rows[0]
    )


def test_columns_of_the_wrong_length_are_refused() -> None:
    bad = ArmUnits(DAYS[:3], {"hit_1st": np.ones(2)})
    with pytest.raises(
        DataValidationError, match="The challenger arm has 3 days but columns of other lengths"
    ):
        judge_guardrails(arm(0, 10), bad, [win()])


# --- a dry-run metric never changes a decision ------------------------------------------------

NAMES = [
    "win_hit",
    "trifecta_hit",
    "score_accuracy",
    "brier",
    "log_loss",
    "latency",
    "roi",
    "nope",
    "fn:raises",
]
FUNCTIONS: Mapping[str, UnitFunction] = {"fn:raises": _raises}


@st.composite
def metric_lists(draw: st.DrawFn) -> list[GuardrailMetric]:
    chosen = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5))
    out = []
    for i, name in enumerate(chosen):
        extra = {"harm": "decrease", "tau": 0.05} if ":" in name else {}
        out.append(
            GuardrailMetric.model_validate(
                {
                    "name": f"m{i}", "metric": name, **extra,
                    "tolerance": draw(st.sampled_from([0.0, 0.01, 5.0])),
                    "min_sample": draw(st.sampled_from([1, 50, 300])),
                    "on_fail": draw(st.sampled_from(["rollback", "hold"])),
                    "dry_run": draw(st.booleans()),
                    "covariate": draw(st.sampled_from([None, "champion_p_pick"])),
                }
            )
        )  # fmt: skip
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    metrics=metric_lists(),
    seed=st.integers(0, 1000),
    p_win=st.sampled_from([0.25, 0.15]),
    latency=st.sampled_from([100.0, 140.0]),
    days=st.integers(1, 20),
)
def test_a_dry_run_metric_never_changes_the_decision(
    metrics: list[GuardrailMetric], seed: int, p_win: float, latency: float, days: int
) -> None:
    control = arm(seed, 30, days=days)
    challenger = arm(seed + 1, 10, p_win=p_win, latency=latency, days=days)
    full = judge_guardrails(control, challenger, metrics, functions=FUNCTIONS)
    active = [m for m in metrics if not m.dry_run]
    without = judge_guardrails(control, challenger, active, functions=FUNCTIONS)
    assert (full.action, full.reasons, full.family_size) == (
        without.action,
        without.reasons,
        without.family_size,
    )
    assert [r for r in full.records if not r.dry_run] == list(without.records)


def test_a_market_frame_feeds_direction_hit_and_net_return() -> None:
    import pandas as pd

    from stagewise.rollout.guardrails.frames import arm_units

    rng = np.random.default_rng(3)

    def signals(p_right: float, cost: float) -> pd.DataFrame:
        n = 40 * 28
        right = rng.random(n) < p_right
        return pd.DataFrame({
            "signal_date": np.repeat(DAYS, 40).astype(str), "variant": "on",
            "hit": pd.array(right, dtype="boolean"), "probability": rng.uniform(0.4, 0.6, n),
            "net_return": np.where(right, 0.001, -0.001) - cost, "status": "settled",
        })  # fmt: skip

    control = arm_units(signals(0.52, 0.0), "signal_date")
    worse = arm_units(signals(0.52, 0.0008), "signal_date")
    metrics = [
        GuardrailMetric(name="direction", metric="direction_hit"),
        GuardrailMetric(name="money", metric="net_return", tau=0.001),
    ]
    j = judge_guardrails(control, worse, metrics)
    assert [r.verdict for r in j.records] == ["ok", "harm"]
    assert j.action == "rollback"
