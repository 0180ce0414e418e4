"""Item 8 at the server: a finished promotion leaves a deployment that is ready and answers with the
promoted model, and the state an older demo left (100 % with no challenger) is repaired in one command."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from serve_support import TestClient, race_payloads, request_body
from typer.testing import CliRunner

from stagewise.cli.main import app as cli_app
from stagewise.models import ModelRegistry
from stagewise.rollout import GradualRollout
from stagewise.rollout.promotion import finish_promotion
from stagewise.serve import ServeSettings, create_app


def _at_full_rollout(settings: ServeSettings) -> GradualRollout:
    rollout = GradualRollout(settings.rollout_config, actor="ops", refresh_interval=0)
    rollout.add_feature("challenger_model", "100%", reason="three healthy weeks")
    return rollout


def test_after_finish_promotion_the_server_is_ready_and_the_promoted_model_answers(
    make_settings: Callable[..., ServeSettings], models_dir: Path, versions: dict[str, str]
) -> None:
    settings = make_settings()
    rollout = _at_full_rollout(settings)
    registry = ModelRegistry(models_dir)
    promoted = finish_promotion(registry, rollout, "challenger_model", reason="won the rollout")
    assert promoted == versions["challenger"]
    assert registry.resolve("production") == promoted
    assert "challenger" not in registry.aliases()
    with TestClient(create_app(settings)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.json()
        completed = ready.json()["rollout"]["completed"]
        assert completed["version"] == promoted
        assert completed["previous_stage"] == "100%"
        for payload in race_payloads(5, prefix="after-"):
            answer = client.post("/v1/races/predict", json=request_body(payload)).json()
            assert answer["model"] == {"role": "champion", "version": promoted, "variant": "control"}


def test_the_state_an_older_promotion_left_is_503_and_rollout_complete_repairs_it(
    make_settings: Callable[..., ServeSettings], models_dir: Path, versions: dict[str, str]
) -> None:
    settings = make_settings()
    _at_full_rollout(settings)
    registry = ModelRegistry(models_dir)
    registry.promote("challenger")  # what the demo did before: promote, then lose the alias
    registry.remove_alias("challenger")
    with TestClient(create_app(settings)) as client:
        stuck = client.get("/readyz")
        assert stuck.status_code == 503
        assert any("rollout complete challenger_model --ref production" in r for r in stuck.json()["reasons"])
    result = CliRunner().invoke(cli_app, [
        "rollout", "complete", "challenger_model", "--ref", "production", "--reason", "promoted last week",
        "--models", str(models_dir), "--config", settings.rollout_config,
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"{versions['challenger']} is production" in result.output
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").status_code == 200
    entry = GradualRollout(settings.rollout_config).audit_log()[-1]
    assert (entry["action"], entry["old_stage"], entry["new_stage"]) == ("complete", "100%", "disabled")
