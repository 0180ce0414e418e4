"""Item 8, the library rule: what a finished promotion leaves, read the same by every part."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from stagewise import ConfigError
from stagewise.rollout import GradualRollout
from stagewise.rollout.controller import ControllerPolicy, DayCounts, Evidence, decide
from stagewise.rollout.controller_runner import gather_evidence
from stagewise.rollout.promotion import finish_promotion

NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


class Registry:
    """An in-memory registry that records the rollout's stage at each of its calls."""

    def __init__(self, rollout: GradualRollout) -> None:
        self.rollout = rollout
        self.aliases_ = {"champion": "v1", "challenger": "v2"}
        self.production = "v1"
        self.calls: list[tuple[str, str]] = []

    def _seen(self, call: str) -> None:
        self.calls.append((call, self.rollout.feature("challenger_model").stage.name))

    def resolve(self, ref: str) -> str:
        return self.production if ref == "production" else self.aliases_.get(ref, ref)

    def promote(self, ref: str) -> str:
        self._seen("promote")
        self.production = self.aliases_["champion"] = self.resolve(ref)
        return self.production

    def aliases(self) -> dict[str, str]:
        return dict(self.aliases_)

    def remove_alias(self, alias: str) -> None:
        self._seen("remove_alias")
        del self.aliases_[alias]


def _rollout(tmp_path: Path) -> GradualRollout:
    rollout = GradualRollout(tmp_path / "rollout_config.json", now=lambda: NOW, actor="ops")
    rollout.add_feature("challenger_model", "100%", reason="ramped")
    return rollout


def test_a_finished_promotion_completes_the_rollout_first_then_promotes(tmp_path: Path) -> None:
    rollout = _rollout(tmp_path)
    registry = Registry(rollout)
    assert finish_promotion(registry, rollout, "challenger_model", reason="won") == "v2"
    # every intermediate state serves: the rollout routes nothing to the challenger before it moves
    assert registry.calls == [("promote", "disabled"), ("remove_alias", "disabled")]
    assert registry.aliases() == {"champion": "v2"}
    state = rollout.feature("challenger_model")
    assert state.is_completed
    assert state.completed is not None
    assert (state.completed["version"], state.completed["previous_stage"]) == ("v2", "100%")
    assert not any(rollout.should_enable_feature("challenger_model", f"r{i}") for i in range(200))
    assert rollout.audit_log()[-1]["action"] == "complete"
    assert rollout.verify_audit().ok


def test_the_controller_has_nothing_to_decide_on_a_completed_rollout(tmp_path: Path) -> None:
    rollout = _rollout(tmp_path)
    finish_promotion(Registry(rollout), rollout, "challenger_model", reason="won")

    class NoLedger:
        def race_outcomes(self, *args: object, **kwargs: object) -> object:
            raise AssertionError("a completed rollout reads no ledger")

    evidence = gather_evidence(rollout, NoLedger(), "challenger_model", now=NOW)
    decision = decide(evidence, ControllerPolicy(), NOW)
    assert decision.action == "none"
    assert "rollout completed: version v2 was promoted on 2026-12-01" in decision.reasons[0]
    day = DayCounts(date(2026, 11, 30), races=40, hits_1st=9)
    plain = Evidence("f", evidence.stage, False, [day], [], {})
    assert "feature is disabled" in decide(plain, ControllerPolicy(), NOW).reasons[0]


def test_a_new_stage_starts_a_new_rollout_and_clears_the_mark(tmp_path: Path) -> None:
    rollout = _rollout(tmp_path)
    finish_promotion(Registry(rollout), rollout, "challenger_model", reason="won")
    rollout.update_rollout_stage("challenger_model", "10%", reason="next challenger")
    state = rollout.feature("challenger_model")
    assert not state.is_completed
    assert state.completed is None


def test_completing_needs_a_reason_and_writes_nothing_without(tmp_path: Path) -> None:
    rollout = _rollout(tmp_path)
    registry = Registry(rollout)
    with pytest.raises(ConfigError, match="non-empty 'reason'"):
        finish_promotion(registry, rollout, "challenger_model", reason=" ")
    assert registry.calls == []
    assert rollout.feature("challenger_model").stage.name == "100%"


def test_the_completion_survives_the_sql_store(tmp_path: Path) -> None:
    rollout = GradualRollout(f"sqlite:///{tmp_path / 'r.db'}", now=lambda: NOW, actor="ops")
    rollout.add_feature("challenger_model", "100%", reason="ramped")
    finish_promotion(Registry(rollout), rollout, "challenger_model", reason="won")
    rollout.close()
    again = GradualRollout(f"sqlite:///{tmp_path / 'r.db'}")
    assert again.feature("challenger_model").is_completed
    assert again.verify_audit().ok
    again.close()
