"""The controller's decision as a success / failure / inconclusive verdict, case by case."""

from __future__ import annotations

from typing import Any

import pytest

from stagewise.rollout.controller import Decision
from stagewise.rollout.verdict import last_stage_move, verdict_of


def _decision(action: str, stage: str = "10%", **numbers: Any) -> Decision:
    to = {"promote": "50%", "rollback": "disabled"}.get(action, stage)
    return Decision("calib", action, stage, to, (f"because {action}",), numbers, "2026-11-04T06:00")  # type: ignore[arg-type]


ROLLBACK_MOVE = {
    "feature": "calib",
    "old_stage": "10%",
    "new_stage": "disabled",
    "actor": "stagewise-controller",
    "at": "2026-11-03T06:00:00",
    "details": {"controller": {"action": "rollback", "reasons": ["2026-11-02 is CRITICAL (win hit 3%)"]}},
}


@pytest.mark.parametrize(
    ("decision", "kwargs", "expected"),
    [
        pytest.param(_decision("promote"), {}, "success", id="promote"),
        pytest.param(_decision("rollback"), {}, "failure", id="rollback"),
        pytest.param(_decision("hold"), {}, "inconclusive", id="hold-waiting"),
        pytest.param(_decision("none", "disabled"), {"killed": True}, "failure", id="killed"),
        pytest.param(_decision("none", "disabled"), {}, "inconclusive", id="disabled-never-started"),
        pytest.param(
            _decision("none", "disabled"),
            {"last_move": ROLLBACK_MOVE},
            "failure",
            id="disabled-by-a-rollback",
        ),
        pytest.param(
            _decision("none", "disabled"),
            {"last_move": {**ROLLBACK_MOVE, "actor": "alice", "details": {}}},
            "inconclusive",
            id="disabled-by-a-person",
        ),
        pytest.param(
            _decision("hold", "100%", days=[{"evaluated": True, "health": "HEALTHY"}]),
            {},
            "success",
            id="fully-rolled-out-healthy",
        ),
        pytest.param(
            _decision("hold", "100%", days=[{"evaluated": True, "health": "WARNING"}]),
            {},
            "inconclusive",
            id="fully-rolled-out-warning",
        ),
        pytest.param(
            _decision(
                "hold", "100%", days=[{"evaluated": True, "health": "HEALTHY"}], srm={"verdict": "hold"}
            ),
            {},
            "inconclusive",
            id="fully-rolled-out-sample-ratio-mismatch",
        ),
        pytest.param(_decision("hold", "100%", days=[]), {}, "inconclusive", id="fully-rolled-out-no-days"),
    ],
)
def test_each_decision_maps_to_its_verdict(decision: Decision, kwargs: dict[str, Any], expected: str) -> None:
    verdict = verdict_of(decision, **kwargs)
    assert verdict.verdict == expected
    assert verdict.reasons[-1] == decision.reasons[-1]  # the controller's own words are kept


def test_a_rollback_verdict_says_when_and_why_the_controller_rolled_back() -> None:
    verdict = verdict_of(_decision("none", "disabled"), last_move=ROLLBACK_MOVE)
    assert verdict.reasons[:2] == (
        "rolled back by the controller on 2026-11-03",
        "2026-11-02 is CRITICAL (win hit 3%)",
    )


def test_the_last_stage_move_skips_holds_and_other_features() -> None:
    audit = [
        {"feature": "calib", "old_stage": "disabled", "new_stage": "10%", "actor": "alice"},
        {"feature": "other", "old_stage": "10%", "new_stage": "disabled", "actor": "bob"},
        {"feature": "calib", "old_stage": "10%", "new_stage": "10%", "action": "controller_hold"},
    ]
    assert last_stage_move(audit, "calib") == audit[0]
    assert last_stage_move(audit, "missing") is None
