"""`stagewise check ...` on a real deployment: a healthy one passes, a fresh directory is told what to create,
and the commands that only read write nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from check_deployment import LAST_DAY, build_deployment, snapshot
from typer.testing import CliRunner

from stagewise.cli.main import app
from stagewise.models import ModelRegistry

runner = CliRunner()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("deployment")
    return root, build_deployment(root)


@pytest.fixture
def workdir(built: tuple[Path, dict[str, Any]], tmp_path: Path) -> Path:
    target = tmp_path / "deploy"
    shutil.copytree(built[0], target)
    return target


def check(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["check", *args], env={"COLUMNS": "220"})
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def rows(output: str) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in json.loads(output)["results"]}


def test_validate_light_passes_on_a_healthy_deployment(workdir: Path) -> None:
    code, out = check("validate", "--workdir", str(workdir), "--json")
    assert code == 0, out
    document = json.loads(out)
    assert document["ok"] is True
    assert document["results"][0]["stage"] == "environment"
    assert {r["stage"] for r in document["results"]} == {
        "environment", "data", "features", "models", "rollout", "monitor"
    }  # fmt: skip
    found = rows(out)
    assert "production model" not in found  # light builds no model
    assert f"last race day {LAST_DAY}" in found["monitor ledger"]["detail"]
    assert "challenger_model 10%" in found["rollout config"]["detail"]
    assert "1 version(s)" in found["registry hashes"]["detail"]


def test_the_table_output_ends_with_the_count(workdir: Path) -> None:
    code, out = check("validate", "--workdir", str(workdir))
    assert code == 0, out
    assert "registry hashes" in out
    assert "PASS" in out
    assert "FAIL" not in out
    assert "validate --mode light:" in out
    assert "all passed" in out


def test_status_shows_models_rollouts_and_the_monitor(
    workdir: Path, built: tuple[Path, dict[str, Any]]
) -> None:
    version = built[1]["version"]
    code, out = check("status", "--workdir", str(workdir))
    assert code == 0, out
    assert version in out
    assert "production" in out
    assert "champion" in out
    assert "challenger_model" in out
    assert "10%" in out
    assert "audit chain intact" in out
    assert LAST_DAY in out
    assert "open alerts" in out
    code, out = check("status", "--workdir", str(workdir), "--json")
    document = json.loads(out)
    assert document["ok"] is True
    assert document["models"][0]["version"] == version
    assert document["models"][0]["hashes_ok"] is True
    assert document["models"][0]["flavour"] == "ensemble"
    assert document["models"][0]["serving_path"].startswith("fast (exactness check passed")
    assert document["rollouts"][0]["stage"] == "10%"
    assert document["rollouts"][0]["stage_since"] is not None  # from the audit log
    assert document["monitor"]["date"] == LAST_DAY
    assert document["monitor"]["total_races"] == 12
    assert document["monitor"]["hit_rate_1st"] == pytest.approx(0.5)


def test_status_and_light_checks_write_nothing(workdir: Path) -> None:
    before = snapshot(workdir)
    assert check("status", "--workdir", str(workdir))[0] == 0
    assert check("validate", "--workdir", str(workdir))[0] == 0
    assert check("data-check", "--workdir", str(workdir))[0] == 0
    assert snapshot(workdir) == before


def test_ml_models_dry_run_only_reads(workdir: Path, built: tuple[Path, dict[str, Any]]) -> None:
    before = snapshot(workdir)
    code, out = check("ml-models", "--dry-run", "--workdir", str(workdir), "--json")
    assert code == 0, out
    found = rows(out)
    assert found["production model"]["ok"]
    assert built[1]["version"] in found["production model"]["detail"]
    assert found["model families"]["detail"].startswith("3 families answer")
    assert "reordered or short refused" in found["feature contract"]["detail"]
    assert found["12 technical features"]["ok"]
    assert "training" not in found
    assert snapshot(workdir) == before


def test_ml_models_trains_in_a_scratch_registry_and_leaves_the_users_alone(
    workdir: Path, tmp_path: Path
) -> None:
    before = snapshot(workdir)
    scratch = tmp_path / "scratch"
    code, out = check("ml-models", "--workdir", str(workdir), "--scratch", str(scratch), "--json")
    assert code == 0, out
    found = rows(out)
    assert found["training"]["ok"]
    assert "identical predictions" in found["registry round trip"]["detail"]
    assert len(ModelRegistry(scratch / "models").list_versions()) == 1
    assert snapshot(workdir) == before


def test_a_scratch_directory_inside_the_registry_is_refused(workdir: Path) -> None:
    before = snapshot(workdir)
    code, out = check("ml-models", "--workdir", str(workdir), "--scratch", str(workdir / "models" / "tmp"))
    assert code == 1
    assert "ConfigError" in out
    assert "outside the model registry" in out
    assert snapshot(workdir) == before


def test_data_check_names_the_data_and_both_feature_sets(workdir: Path) -> None:
    code, out = check("data-check", "--workdir", str(workdir), "--json")
    assert code == 0, out
    found = rows(out)
    assert "races on 4 days at 2 venues" in found["race data"]["detail"]
    assert LAST_DAY in found["race features"]["detail"]
    assert found["12 technical features"]["ok"]


def test_a_fresh_directory_is_told_what_to_create_and_nothing_is_created(tmp_path: Path) -> None:
    code, out = check("status", "--workdir", str(tmp_path))
    assert code == 1
    assert "no model registry" in out
    assert "stagewise train --domain races --root" in out
    assert "stagewise rollout add challenger_model --config" in out
    assert "does not exist" in out
    code, out = check("validate", "--workdir", str(tmp_path), "--json")
    assert code == 1
    found = rows(out)
    assert not found["race data"]["ok"]
    assert "stagewise data simulate" in found["race data"]["fix"]
    assert not found["registry state"]["ok"]
    assert "stagewise models promote latest" in found["registry state"]["fix"]
    assert not found["rollout config"]["ok"]
    assert not found["monitor db"]["ok"]
    assert "log predictions first" in found["monitor db"]["fix"]
    assert found["libraries"]["ok"]
    assert found["model registry writable"]["ok"]
    assert list(tmp_path.iterdir()) == []


def test_full_check_passes_on_a_healthy_deployment_and_ends_with_the_six_stages(workdir: Path) -> None:
    before = snapshot(workdir)
    code, out = check("full-check", "--workdir", str(workdir))
    assert code == 0, out
    summary = out[out.index("Summary: the six stages") :]
    for stage in ("environment", "data", "features", "models", "rollout", "monitor"):
        assert stage in summary
    assert "walk-forward" in out
    assert "open alerts" in out
    assert "all passed" in out
    assert snapshot(workdir) == before
