"""`stagewise models ...` through the real CLI on a real registry."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from stagewise.cli.main import app
from stagewise.models import ModelRegistry, ProductionEnsemble

runner = CliRunner()
TINY = {"n_estimators": 3}


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    root = tmp_path_factory.mktemp("cli") / "models"
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 12))
    y = (X[:, 0] > 0).astype(int)
    registry = ModelRegistry(root)
    versions = [
        registry.save(
            ProductionEnsemble(random_state=s, lgbm_params=TINY, xgb_params=TINY, rf_params=TINY).fit(X, y),
            metrics={"ensemble_f1": 0.5 + s / 10},
            data_window=("2025-01-01", "2025-06-30"),
        )
        for s in (1, 2)
    ]
    return root, versions[0], versions[1]


@pytest.fixture
def root(two_versions: tuple[Path, str, str], tmp_path: Path) -> Path:
    target = tmp_path / "models"
    shutil.copytree(two_versions[0], target)
    return target


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["models", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_list_show_and_verify(root: Path, two_versions: tuple[Path, str, str]) -> None:
    _, first, second = two_versions
    code, out = _run("list", "--root", str(root))
    assert code == 0, out
    assert first in out
    assert second in out
    assert "ensemble_f1=0.600" in out
    code, out = _run("list", "--root", str(root), "--json")
    assert [v["version"] for v in json.loads(out)] == [first, second]
    code, out = _run("show", second, "--root", str(root))
    assert code == 0, out
    assert "ProductionEnsemble" in out
    assert "lightgbm_model.txt" in out
    code, out = _run("verify", "latest", "--root", str(root))
    assert code == 0, out
    assert "every file matches its manifest" in out
    assert out.count(" ok") >= 6


def test_promote_alias_rollback_flow(root: Path, two_versions: tuple[Path, str, str]) -> None:
    _, first, second = two_versions
    assert _run("promote", first, "--root", str(root)) == (
        0,
        f"Promoted {first} to production (champion). Previous: none.\n",
    )
    code, out = _run("promote", second, "--root", str(root))
    assert f"Previous: {first}" in out
    code, out = _run("alias", "challenger", first, "--root", str(root))
    assert (code, out.strip()) == (0, f"challenger → {first}")
    code, out = _run("rollback", "--root", str(root))
    assert (code, out.strip()) == (0, f"Rolled back production from {second} to {first} (champion).")
    assert ModelRegistry(root).aliases() == {"champion": first, "challenger": first}
    code, out = _run("alias", "challenger", "--remove", "--root", str(root))
    assert code == 0
    assert ModelRegistry(root).aliases() == {"champion": first}


def test_user_errors_are_one_line_messages(root: Path, two_versions: tuple[Path, str, str]) -> None:
    _, first, _ = two_versions
    code, out = _run("rollback", "--root", str(root))
    assert code == 1
    assert "NotFoundError: Nothing to roll back to" in out
    assert "Traceback" not in out
    code, out = _run("show", "champion", "--root", str(root))
    assert code == 1
    assert "Unknown model reference 'champion'" in out
    path = root / "training" / first / "xgboost_model.ubj"
    path.write_bytes(path.read_bytes()[:-1])
    code, out = _run("verify", first, "--root", str(root))
    assert code == 1
    assert "ArtifactIntegrityError" in out
    assert "xgboost_model.ubj: SHA-256 mismatch" in out
    code, out = _run("alias", "Bad Name", first, "--root", str(root))
    assert code == 1
    assert "ConfigError: Alias names must match" in out


def test_show_prints_the_input_signature_of_any_flavour(tmp_path: Path) -> None:
    import pandas as pd

    from stagewise.models import FeatureSpec, InputSignature, SklearnFlavour

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"pit": rng.integers(1, 7, 200), "rate": rng.normal(5, 1, 200)})
    y = (X["rate"] > 5).astype(int)
    from sklearn.linear_model import LogisticRegression

    signature = InputSignature(
        (FeatureSpec("pit", "int64", minimum=1, maximum=6, allow_nan=False), FeatureSpec("rate"))
    )
    version = ModelRegistry(tmp_path / "models").save(
        SklearnFlavour(LogisticRegression(), signature).fit(X, y)
    )
    code, out = _run("show", version, "--root", str(tmp_path / "models"))
    assert code == 0, out
    assert "input signature" in out
    assert "sklearn" in out
    assert "a whole number in [1, 6], never NaN" in out
    code, out = _run("show", version, "--root", str(tmp_path / "models"), "--json")
    assert json.loads(out)["signature"][0] == {
        "position": 0,
        "name": "pit",
        "dtype": "int64",
        "rule": "a whole number in [1, 6], never NaN",
        "allow_nan": False,
    }
