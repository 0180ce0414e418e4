"""MLflow interop against a local SQLite store: export, import, no pickle anywhere, walk-forward logging."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

mlflow = pytest.importorskip(
    "mlflow", reason="MLflow is an optional extra; `make test-mlflow` runs these tests in .venv-mlflow"
)

from stagewise._exceptions import UnsupportedModelError  # noqa: E402
from stagewise.integrations.mlflow import export_version, import_version, log_walkforward  # noqa: E402
from stagewise.models import ModelRegistry, ProductionEnsemble  # noqa: E402

# MLflow and its SQLAlchemy store warn about their own internals; those are not stagewise's to fix.
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning:mlflow.*"),
    pytest.mark.filterwarnings("ignore::UserWarning:mlflow.*"),
]

SMALL = {"n_estimators": 5}
PICKLE_SUFFIXES = {".pkl", ".pickle", ".joblib", ".cloudpickle"}


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A SQLite tracking/registry store whose artifacts land under tmp_path (no server)."""
    monkeypatch.chdir(tmp_path)  # MLflow puts artifacts of new experiments under ./mlruns
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


@pytest.fixture
def features() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.normal(size=(300, 12)), columns=[f"f{i}" for i in range(12)])


@pytest.fixture
def registry(tmp_path: Path, features: pd.DataFrame) -> tuple[ModelRegistry, str]:
    y = (features["f0"] + np.random.default_rng(1).normal(size=len(features)) > 0).astype(int)
    model = ProductionEnsemble(lgbm_params=SMALL, xgb_params=SMALL, rf_params=SMALL).fit(features, y)
    reg = ModelRegistry(tmp_path / "models")
    version = reg.save(model, metrics={"ensemble_f1": 0.5}, data_window=("2025-01-01", "2025-06-30"))
    reg.promote(version)  # production and champion
    return reg, version


def _use(store: str) -> None:
    mlflow.set_tracking_uri(store)
    mlflow.set_registry_uri(store)
    mlflow.set_experiment("others")  # the fluent API remembers the last test's experiment id


def _pickles(root: Path) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        head = path.read_bytes()[:2]
        is_magic = len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5
        if path.suffix.lower() in PICKLE_SUFFIXES or is_magic or "cloudpickle" in path.name.lower():
            found.append(str(path))
    return found


def test_round_trip_is_bit_identical_pickle_free_and_keeps_the_alias(
    store: str, tmp_path: Path, registry: tuple[ModelRegistry, str], features: pd.DataFrame
) -> None:
    reg, version = registry
    expected = reg.load_flavour(version).predict_proba(features)[:, 1]

    exported = export_version(reg, "champion", store, "kyotei-win")

    assert exported.stagewise_version == version
    assert exported.aliases == ("champion",)
    client = mlflow.MlflowClient(tracking_uri=store, registry_uri=store)
    assert str(client.get_model_version_by_alias("kyotei-win", "champion").version) == exported.mlflow_version
    served = mlflow.pyfunc.load_model("models:/kyotei-win@champion").predict(features)
    assert np.array_equal(np.asarray(served), expected)

    assert list((tmp_path / "mlruns").rglob("MLmodel")), "the model was not written under tmp_path"
    assert _pickles(tmp_path / "mlruns") == []

    imported = import_version(reg, "models:/kyotei-win@champion", store, alias="challenger")
    assert imported != version
    assert reg.resolve("challenger") == imported
    assert np.array_equal(reg.load_flavour(imported).predict_proba(features)[:, 1], expected)
    meta = reg.info(imported)["metadata"]
    assert meta["performance_metrics"] == {"ensemble_f1": 0.5}
    assert meta["data_window"]["start"] == "2025-01-01"


def test_the_pickle_scan_sees_a_pickled_model(store: str, tmp_path: Path, features: pd.DataFrame) -> None:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(features, (features["f0"] > 0).astype(int))
    _use(store)  # the fluent API remembers the last test's experiment id
    with mlflow.start_run():
        mlflow.sklearn.log_model(
            model, name="model", registered_model_name="pickled", serialization_format="cloudpickle"
        )
    assert _pickles(tmp_path / "mlruns")  # the scan above is able to fail


def test_an_unsupported_flavour_is_refused_naming_it(
    store: str, registry: tuple[ModelRegistry, str], features: pd.DataFrame
) -> None:
    from sklearn.linear_model import LogisticRegression

    reg, _ = registry
    before = [v.version for v in reg.list_versions()]
    model = LogisticRegression().fit(features, (features["f0"] > 0).astype(int))
    _use(store)  # the fluent API remembers the last test's experiment id
    with mlflow.start_run():
        mlflow.sklearn.log_model(
            model, name="model", registered_model_name="logreg", serialization_format="cloudpickle"
        )
    with pytest.raises(
        UnsupportedModelError, match=r"sklearn with serialization_format 'cloudpickle'.*lightgbm"
    ):
        import_version(reg, "models:/logreg/1", store)
    assert [v.version for v in reg.list_versions()] == before


def test_a_native_lightgbm_booster_is_imported(
    store: str, registry: tuple[ModelRegistry, str], features: pd.DataFrame
) -> None:
    import lightgbm

    reg, _ = registry
    data = lightgbm.Dataset(features, (features["f0"] > 0).astype(int))
    booster = lightgbm.train({"objective": "binary", "verbose": -1, "num_leaves": 4}, data, num_boost_round=5)
    _use(store)  # the fluent API remembers the last test's experiment id
    with mlflow.start_run():
        mlflow.lightgbm.log_model(booster, name="model", registered_model_name="lgb")
    version = import_version(reg, "models:/lgb/1", store)
    assert np.array_equal(reg.load_flavour(version).predict_proba(features)[:, 1], booster.predict(features))


def test_log_walkforward_records_params_step_metrics_and_reports(store: str, tmp_path: Path) -> None:
    from stagewise.backtest import WalkForwardBacktest
    from stagewise.data import synthetic_bars

    bars = synthetic_bars(24 * 40, freq="1h", seed=1)
    small = {
        "lgbm_params": {"n_estimators": 10},
        "xgb_params": {"n_estimators": 10},
        "rf_params": {"n_estimators": 10},
    }
    bt = WalkForwardBacktest("markets", data=bars, n_workers=1, model_params=small)
    result = bt.run_walkforward(bars.index[24 * 20], bars.index[24 * 30], 14, 5, 5, tmp_path / "wf")

    run_id = log_walkforward(result, store, "walkforward")

    client = mlflow.MlflowClient(tracking_uri=store)
    run = client.get_run(run_id)
    assert run.data.params["train_days"] == "14"
    metric = next(k for k, v in result["steps"][0].items() if isinstance(v, float))
    history = client.get_metric_history(run_id, metric)
    assert sorted(m.step for m in history) == list(range(len(result["steps"])))
    assert [m.value for m in sorted(history, key=lambda m: m.step)] == pytest.approx(
        [s[metric] for s in result["steps"]], nan_ok=True
    )
    names = {Path(a.path).name for a in client.list_artifacts(run_id, "walkforward")}
    assert names == {"walkforward_results.json", "walkforward_report.txt", "walkforward_report.html"}


def test_a_skops_sklearn_model_is_imported(
    store: str, registry: tuple[ModelRegistry, str], features: pd.DataFrame
) -> None:
    from sklearn.linear_model import LogisticRegression

    reg, _ = registry
    model = LogisticRegression().fit(features, (features["f0"] > 0).astype(int))
    _use(store)
    with mlflow.start_run():
        mlflow.sklearn.log_model(
            model, name="model", registered_model_name="skops", serialization_format="skops"
        )
    version = import_version(reg, "models:/skops/1", store)
    assert np.array_equal(reg.load_flavour(version).predict_proba(features), model.predict_proba(features))


def test_a_native_xgboost_model_is_imported(
    store: str, registry: tuple[ModelRegistry, str], features: pd.DataFrame
) -> None:
    import xgboost

    reg, _ = registry
    data = xgboost.DMatrix(features, label=(features["f0"] > 0).astype(int))
    booster = xgboost.train({"objective": "binary:logistic", "max_depth": 2}, data, num_boost_round=5)
    _use(store)
    with mlflow.start_run():
        mlflow.xgboost.log_model(booster, name="model", registered_model_name="xgb", model_format="ubj")
    version = import_version(reg, "models:/xgb/1", store)
    expected = booster.predict(xgboost.DMatrix(features))
    assert np.array_equal(reg.load_flavour(version).predict_proba(features)[:, 1], expected)


def test_the_cli_exports_and_imports(
    store: str, tmp_path: Path, registry: tuple[ModelRegistry, str], features: pd.DataFrame
) -> None:
    from typer.testing import CliRunner

    from stagewise.cli.main import app

    reg, version = registry
    root = str(reg.root)
    runner = CliRunner()
    out = runner.invoke(
        app, ["mlflow", "export", "champion", "--name", "cli", "--tracking-uri", store, "--root", root]
    )
    assert out.exit_code == 0, out.output
    assert f"Exported {version} as models:/cli/1 (aliases: champion)" in out.output
    args = [
        "mlflow",
        "import",
        "models:/cli@champion",
        "--tracking-uri",
        store,
        "--root",
        root,
        "--alias",
        "mlflow",
    ]
    out = runner.invoke(app, args)
    assert out.exit_code == 0, out.output
    expected = reg.load_flavour(version).predict_proba(features)
    assert np.array_equal(reg.load_flavour("mlflow").predict_proba(features), expected)
