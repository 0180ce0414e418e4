"""``stagewise search`` and ``stagewise search-register`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stagewise.cli.main import app
from stagewise.data import synthetic_bars
from stagewise.data.markets.summary import write_bars
from stagewise.models import ModelRegistry

runner = CliRunner()
SPACE = """
[params.lightgbm]
num_leaves = { type = "int", low = 4, high = 16 }

[params.random_forest]
max_depth = { type = "int", low = 2, high = 6 }
"""


@pytest.fixture(scope="module")
def bars_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bars")
    return write_bars(synthetic_bars(24 * 60, freq="1h", seed=4), folder / "bars.parquet")


@pytest.fixture
def space_file(tmp_path: Path) -> Path:
    path = tmp_path / "space.toml"
    path.write_text(SPACE, encoding="utf-8")
    return path


def _args(bars_file: Path, space_file: Path, tmp_path: Path, *extra: str) -> list[str]:
    return [
        "search", "--domain", "markets", "--data", str(bars_file), "--space", str(space_file),
        "--start", "2020-02-10", "--end", "2020-02-27", "--train-days", "24", "--test-days", "9",
        "--step-days", "9", "--inner-train-days", "12", "--inner-test-days", "6", "--n-estimators", "5",
        "--storage", f"sqlite:///{tmp_path / 'ledger.db'}", "--output-dir", str(tmp_path / "out"), *extra,
    ]  # fmt: skip


def test_search_then_register_the_chosen_configuration(
    bars_file: Path, space_file: Path, tmp_path: Path
) -> None:
    result = runner.invoke(app, _args(bars_file, space_file, tmp_path, "--trials", "2", "--candidates", "2"))
    assert result.exit_code == 0, result.output
    assert "nested accuracy:" in result.output
    assert "naive best-of-2 accuracy" in result.output
    assert "probability of backtest overfitting:" in result.output
    assert "deflated Sharpe ratio:" in result.output
    results = json.loads((tmp_path / "out" / "search_results.json").read_text(encoding="utf-8"))
    chosen = results["chosen"]["params"]
    assert set(chosen) == {"lightgbm.num_leaves", "random_forest.max_depth"}

    registry = tmp_path / "models"
    reg = runner.invoke(app, ["search-register", "--results", str(tmp_path / "out"), "--data", str(bars_file),
                              "--registry", str(registry), "--alias", "challenger"])  # fmt: skip
    assert reg.exit_code == 0, reg.output
    store = ModelRegistry(registry)
    assert store.aliases()["challenger"] in reg.output
    info = store.info("challenger")
    metrics = info["metadata"]["performance_metrics"]
    assert metrics["nested_accuracy"] == pytest.approx(results["nested"]["score"])
    model = store.load("challenger")
    assert model.lgbm_params["num_leaves"] == chosen["lightgbm.num_leaves"]
    assert model.rf_params["max_depth"] == chosen["random_forest.max_depth"]


BAD_SPACE_NAME = '[params]\n"lightgbm.num_leafs" = { type = "int", low = 4, high = 16 }'
BAD_SPACE_RANGE = '[params]\n"lightgbm.num_leaves" = { type = "int", low = 16, high = 4 }'
UNREACHABLE = ["--storage", "postgresql+psycopg://nobody@127.0.0.1:9/x"]
BAD_CALIBRATION = '[params]\ncalibration = { choices = ["none", "sigmoid"] }\n' + SPACE
MARGIN_ON_MARKETS = '[params]\nbet_margin = { type = "float", low = 0.0, high = 0.2 }\n' + SPACE
MARGIN_IN_A_FAMILY = SPACE + 'bet_margin = { type = "float", low = 0.0, high = 0.2 }\n'


@pytest.mark.parametrize(
    ("extra", "space_text", "expected"),
    [
        pytest.param(
            ["--trials", "0"],
            SPACE,
            "ConfigError: The 'n_trials' parameter (--trials) must be an int >= 1. Got 0",
            id="trials-zero",
        ),
        pytest.param(["--trials", "-3"], SPACE, "Got -3 instead", id="trials-negative"),
        pytest.param([], "[params\n", "ConfigError: The '--space' file", id="unparsable-space"),
        pytest.param([], BAD_SPACE_NAME, "'lightgbm.num_leafs' is unknown", id="unknown-name"),
        pytest.param(
            [], BAD_SPACE_RANGE, "'lightgbm.num_leaves' range must have low < high", id="inverted-range"
        ),
        pytest.param(UNREACHABLE, SPACE, "StorageError: The '--storage' URL", id="unreachable-storage"),
        pytest.param(
            [],
            BAD_CALIBRATION,
            "'calibration.choices' field must hold values from ['isotonic', 'none', 'platt']. Got 'sigmoid'",
            id="unknown-calibration",
        ),
        pytest.param(
            [], MARGIN_ON_MARKETS, "'bet_margin' exists for --domain races only", id="margin-markets"
        ),
        pytest.param(
            [],
            MARGIN_IN_A_FAMILY,
            "'params.random_forest.bet_margin' field: bet_margin belongs",
            id="in-family",
        ),
    ],
)
def test_bad_input_is_one_line_naming_the_field(
    bars_file: Path, tmp_path: Path, extra: list[str], space_text: str, expected: str
) -> None:
    space = tmp_path / "bad.toml"
    space.write_text(space_text, encoding="utf-8")
    result = runner.invoke(app, [*_args(bars_file, space, tmp_path), *extra])
    assert result.exit_code == 1
    assert expected in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_different_space_on_a_stored_study_needs_new_study(
    bars_file: Path, space_file: Path, tmp_path: Path
) -> None:
    quick = ["--trials", "1", "--candidates", "0"]
    assert runner.invoke(app, [*_args(bars_file, space_file, tmp_path), *quick]).exit_code == 0
    other = tmp_path / "other.toml"
    other.write_text(SPACE.replace("high = 16", "high = 20"), encoding="utf-8")
    refused = runner.invoke(app, [*_args(bars_file, other, tmp_path), *quick])
    assert refused.exit_code == 1
    assert "different search space: pass --new-study" in refused.output
    again = runner.invoke(app, [*_args(bars_file, other, tmp_path), *quick, "--new-study"])
    assert again.exit_code == 0, again.output


def test_a_scikit_learn_choice_is_registered_through_its_flavour(tmp_path: Path) -> None:
    from tests.search.search_support import tree_space, tree_target

    from stagewise.search import NestedSearch
    from stagewise.search.register import register_chosen

    bars = synthetic_bars(24 * 50, freq="1h", seed=6)
    search = NestedSearch("markets", data=bars, space=tree_space(), target=tree_target(), n_trials=2,
                          storage="memory", study_name="sk", new_study=True, inner_train_days=10,
                          inner_test_days=5, naive=False, n_candidates=0, html=False)  # fmt: skip
    results = search.run(bars.index[24 * 40], bars.index[24 * 45], 21, 10, 10, tmp_path / "out")
    version = register_chosen(results, data=bars, registry=tmp_path / "models", target=tree_target())
    loaded = ModelRegistry(tmp_path / "models").load(version)
    assert loaded is not None


def test_a_chosen_calibration_is_registered_as_the_calibrated_flavour(
    bars_file: Path, tmp_path: Path
) -> None:
    space = tmp_path / "calibrated.toml"
    space.write_text(SPACE.replace("[params.lightgbm]", '[params]\ncalibration = { choices = ["platt"] }\n\n'
                                   "[params.lightgbm]"), encoding="utf-8")  # fmt: skip
    result = runner.invoke(app, [*_args(bars_file, space, tmp_path), "--trials", "1", "--candidates", "0"])
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "out" / "search_results.json").read_text(encoding="utf-8"))
    assert results["chosen"]["params"]["calibration"] == "platt"
    registry = tmp_path / "models"
    reg = runner.invoke(app, ["search-register", "--results", str(tmp_path / "out"), "--data", str(bars_file),
                              "--registry", str(registry)])  # fmt: skip
    assert reg.exit_code == 0, reg.output
    from stagewise.models import ProductionEnsemble
    from stagewise.models.flavours.calibrated import CalibratedFlavour

    model = ModelRegistry(registry).load(ModelRegistry(registry).list_versions()[-1].version)
    assert isinstance(model, CalibratedFlavour)
    assert model.calibrator_.method == "platt"
    assert isinstance(getattr(model.base_, "model_", model.base_), ProductionEnsemble)
