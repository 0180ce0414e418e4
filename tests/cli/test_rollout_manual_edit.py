"""Item 12 in the CLI: ``rollout status`` and ``check status`` name a hand edit; writes need
``--accept-manual-edit --reason``, which is audited."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from stagewise.cli.main import app
from stagewise.rollout import GradualRollout

runner = CliRunner(env={"COLUMNS": "200"})


def _edited(tmp_path: Path) -> Path:
    config = tmp_path / "config" / "rollout_config.json"
    GradualRollout(config, actor="ops").add_feature("challenger_model", "10%", reason="canary")
    document = json.loads(config.read_text(encoding="utf-8"))
    document["feature_rollouts"]["sneaky"] = {"stage": "100%", "enabled_at": "2026-12-01"}
    config.write_text(json.dumps(document), encoding="utf-8")
    return config


def test_rollout_status_warns_about_a_hand_edit(tmp_path: Path) -> None:
    config = _edited(tmp_path)
    result = runner.invoke(app, ["rollout", "status", "--config", str(config)])
    assert result.exit_code == 0
    assert "WARNING" in result.output
    assert "no longer matches its audit chain" in result.output
    assert "--accept-manual-edit" in result.output
    as_json = runner.invoke(app, ["rollout", "status", "--json", "--config", str(config)])
    assert json.loads(as_json.stdout)["manual_edit"]["seq"] == 1


def test_check_status_reports_the_hand_edit_and_fails(tmp_path: Path) -> None:
    config = _edited(tmp_path)
    result = runner.invoke(app, ["check", "status", "--workdir", str(tmp_path), "--json"])
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["manual_edit"]["seq"] == 1
    assert "edited outside stagewise" in document["problems"]["rollouts"]["what"]
    assert "--accept-manual-edit" in document["problems"]["rollouts"]["fix"]
    assert str(config) in document["problems"]["rollouts"]["what"]


def test_a_write_refuses_until_acknowledged_with_a_reason(tmp_path: Path) -> None:
    config = _edited(tmp_path)
    before = config.read_bytes()
    refused = runner.invoke(app, ["rollout", "set", "challenger_model", "50%", "--reason", "healthy",
                                  "--config", str(config)])  # fmt: skip
    assert refused.exit_code == 1
    assert "ConfigError" in refused.output
    assert "--accept-manual-edit" in refused.output
    assert "Traceback" not in refused.output
    assert config.read_bytes() == before
    blank = runner.invoke(app, ["rollout", "set", "challenger_model", "50%", "--reason", " ",
                                "--accept-manual-edit", "--config", str(config)])  # fmt: skip
    assert blank.exit_code == 2  # a blank --reason is refused by the CLI before the library is called
    assert "--reason" in blank.output
    assert "must not be blank" in blank.output
    assert config.read_bytes() == before
    why = "sneaky was added by the on-call"
    accepted = runner.invoke(app, ["rollout", "set", "challenger_model", "50%", "--accept-manual-edit",
                                   "--reason", why, "--config", str(config)])  # fmt: skip
    assert accepted.exit_code == 0, accepted.output
    verify = runner.invoke(app, ["rollout", "audit", "--verify", "--config", str(config)])
    assert verify.exit_code == 0, verify.output
    log = runner.invoke(app, ["rollout", "audit", "--config", str(config)])
    assert "accept_manual_edit * None -> None  (sneaky was added by the on-call)" in log.output
