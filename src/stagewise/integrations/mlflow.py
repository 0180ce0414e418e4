"""MLflow interop without pickle: export a registry version, import an MLflow model, log a backtest.

``pip install 'stagewise[mlflow]'`` adds MLflow; stagewise itself never needs it. Every function
takes the tracking URI explicitly (``sqlite:///mlflow.db``, ``file:./mlruns``, ``http://...``)
and sets it as MLflow's tracking and registry URI. See docs/mlflow.md.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from stagewise._exceptions import ArtifactError, StagewiseError, UnsupportedModelError
from stagewise._version import __version__
from stagewise.models.flavours import Flavour, InputSignature, LightGBMFlavour, SklearnFlavour, XGBoostFlavour
from stagewise.models.flavours.store import load_version, read_feature_set
from stagewise.models.manifest import read_verified
from stagewise.models.registry import ModelRegistry

__all__ = ["ExportedModel", "MlflowMissingError", "export_version", "import_version", "log_walkforward"]

PYFUNC_CODE = Path(__file__).with_name("mlflow_pyfunc.py")
ARTIFACT_KEY = "stagewise_version"
SUPPORTED = (
    "stagewise (a model written by stagewise's export_version)",
    "lightgbm (a Booster in LightGBM's text format, model.lgb)",
    "xgboost (a model in XGBoost's own json/ubj format)",
    "sklearn (serialization_format skops, only trusted types)",
)


class MlflowMissingError(StagewiseError, ImportError):
    """MLflow is not installed."""


def _mlflow(tracking_uri: str) -> ModuleType:
    try:
        import mlflow
    except ImportError:
        raise MlflowMissingError(
            "MLflow is not installed; install the optional extra: pip install 'stagewise[mlflow]'."
        ) from None
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    module: ModuleType = mlflow
    return module


@dataclass(frozen=True)
class ExportedModel:
    """Where an exported version landed in MLflow."""

    name: str
    mlflow_version: str
    stagewise_version: str
    aliases: tuple[str, ...]
    model_uri: str


_MLFLOW_TYPES = {"float64": "double", "int64": "long", "bool": "boolean"}


def _mlflow_signature(signature: InputSignature) -> Any:
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    columns = []
    for spec in signature.features:
        if spec.dtype == "category":
            strings = all(isinstance(c, str) for c in spec.categories or ())
            kind = "string" if strings else "double"
        elif spec.dtype == "int64" and spec.allow_nan:
            kind = "double"  # NaN is a float
        else:
            kind = _MLFLOW_TYPES[spec.dtype]
        columns.append(ColSpec(kind, spec.name))
    return ModelSignature(inputs=Schema(columns))


def export_version(
    registry: ModelRegistry,
    version: str,
    tracking_uri: str,
    name: str,
    alias: str | None = None,
    *,
    experiment: str = "stagewise-models",
) -> ExportedModel:
    """Log ``version`` as a models-from-code pyfunc and register it as ``name`` in MLflow.

    The version's verified files become the model's artifact and ``mlflow_pyfunc.py`` its code,
    so no pickle is written. The MLflow version gets ``alias`` when given, otherwise every alias
    the version has in the stagewise registry (``champion``, ``challenger``, ...).
    ``mlflow.pyfunc.load_model(uri).predict(X)`` returns P(class 1) per row.
    """
    mlflow = _mlflow(tracking_uri)
    version_id = registry.resolve(version)
    directory = registry.training_dir / version_id
    files = read_verified(directory, version_id)
    flavour = load_version(files, trusted_types=registry.trusted_types)  # refuses what would not load
    meta = json.loads(files["metadata.json"].decode("utf-8"))
    aliases = (
        (alias,)
        if alias is not None
        else tuple(sorted(a for a, v in registry.aliases().items() if v == version_id))
    )
    mlflow.set_experiment(experiment)
    with tempfile.TemporaryDirectory(prefix="stagewise-export-") as tmp:
        staged = Path(tmp) / version_id
        staged.mkdir()
        for file_name, data in files.items():
            (staged / file_name).write_bytes(data)
        with mlflow.start_run(run_name=f"export {version_id}"):
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(PYFUNC_CODE),
                artifacts={ARTIFACT_KEY: str(staged)},
                model_config={"trusted_types": list(registry.trusted_types)},
                signature=_mlflow_signature(flavour.signature_),
                registered_model_name=name,
                pip_requirements=[f"stagewise=={__version__}", "mlflow>=3"],
                metadata={
                    "stagewise_version": version_id,
                    "stagewise_flavour": type(flavour).name,
                    "performance_metrics": meta.get("performance_metrics", {}),
                },
            )
    registered = str(info.registered_model_version)
    client = mlflow.MlflowClient()
    for name_ in aliases:
        client.set_registered_model_alias(name, name_, registered)
    return ExportedModel(name, registered, version_id, aliases, f"models:/{name}/{registered}")


def _refuse(model_uri: str, what: str) -> UnsupportedModelError:
    return UnsupportedModelError(
        f"MLflow model {model_uri} is {what}; stagewise imports only: " + "; ".join(SUPPORTED) + "."
    )


def _skops_model(path: Path, trusted_types: tuple[str, ...]) -> Flavour:
    import skops.io as sio

    from stagewise.models.flavours.trust import audit_skops_types, skops_types

    data = path.read_bytes()
    types = skops_types(data, path.name)
    audit_skops_types(data, path.name, listed=types, extra=trusted_types)  # refuses untrusted types
    return SklearnFlavour.from_estimator(sio.loads(data, trusted=sorted(types)))


def _from_mlflow_dir(
    local: Path, model_uri: str, trusted_types: tuple[str, ...]
) -> tuple[Flavour, dict[str, Any]]:
    from mlflow.models import Model

    model = Model.load(str(local))
    flavours = dict(model.flavors)
    metadata = dict(model.metadata or {})
    version_id = metadata.get("stagewise_version")
    if isinstance(version_id, str) and (local / "artifacts" / version_id).is_dir():
        files = read_verified(local / "artifacts" / version_id, version_id)
        meta = json.loads(files["metadata.json"].decode("utf-8"))
        extra = {"feature_set": read_feature_set(files), "metrics": meta.get("performance_metrics") or None}
        extra["data_window"] = meta.get("data_window")
        return load_version(files, trusted_types=trusted_types), extra
    if "lightgbm" in flavours:
        data = str(flavours["lightgbm"].get("data", ""))
        if not data.endswith(".lgb"):
            raise _refuse(model_uri, f"a lightgbm model stored as {data!r} (a pickled scikit-learn wrapper)")
        import lightgbm

        booster = lightgbm.Booster(model_str=(local / data).read_text(encoding="utf-8"))
        return LightGBMFlavour.from_booster(booster), {}
    if "xgboost" in flavours:
        conf = flavours["xgboost"]
        if conf.get("model_format", "xgb") not in ("json", "ubj", "xgb"):
            raise _refuse(model_uri, f"an xgboost model in format {conf.get('model_format')!r}")
        import xgboost

        xgb_booster = xgboost.Booster()
        xgb_booster.load_model(bytearray((local / str(conf["data"])).read_bytes()))
        return XGBoostFlavour.from_booster(xgb_booster), {}
    if "sklearn" in flavours:
        conf = flavours["sklearn"]
        if conf.get("serialization_format") != "skops":
            fmt = conf.get("serialization_format")
            raise _refuse(model_uri, f"of flavour sklearn with serialization_format {fmt!r} (a pickle)")
        return _skops_model(local / str(conf["pickled_model"]), trusted_types), {}
    named = sorted(k for k in flavours if k != "python_function") or ["python_function"]
    raise _refuse(model_uri, "of flavour " + ", ".join(named) + " (not written by stagewise)")


def import_version(
    registry: ModelRegistry,
    model_uri: str,
    tracking_uri: str,
    *,
    alias: str | None = None,
    notes: str | None = None,
) -> str:
    """Save the MLflow model at ``model_uri`` (``models:/name@alias``, ``runs:/...``) as a new version.

    Only flavours stagewise stores without pickle are accepted (see ``SUPPORTED``); anything else
    raises :class:`UnsupportedModelError` naming the model's flavour and the supported ones, and
    nothing is written. A model exported by stagewise keeps its metrics, data window, feature set
    and signature. ``alias`` points a stagewise alias at the new version. Returns its id.
    """
    mlflow = _mlflow(tracking_uri)
    with tempfile.TemporaryDirectory(prefix="stagewise-import-") as tmp:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=tmp))
        if not (local / "MLmodel").is_file():
            raise ArtifactError(f"{model_uri}: no MLmodel file; pass the URI of an MLflow model.")
        flavour, extra = _from_mlflow_dir(local, model_uri, registry.trusted_types)
    version = registry.save(
        flavour,
        metrics=extra.get("metrics"),
        data_window=extra.get("data_window"),
        feature_set=extra.get("feature_set"),
        notes=notes if notes is not None else f"imported from MLflow {model_uri}",
    )
    if alias is not None:
        registry.set_alias(alias, version)
    return version


def _scalars(values: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(float(value)):
            out[f"{prefix}{key}"] = float(value)
    return out


def _params(config: Mapping[str, Any]) -> dict[str, str]:
    return {
        str(k): json.dumps(v, default=str)[:6000] if not isinstance(v, str) else v[:6000]
        for k, v in config.items()
    }


def log_walkforward(
    result: Mapping[str, Any] | str | os.PathLike[str],
    tracking_uri: str,
    experiment: str,
    *,
    run_name: str | None = None,
) -> str:
    """Record a walk-forward run in MLflow; return the run id.

    ``result`` is what ``run_walkforward`` returned, or the path of ``walkforward_results.json``
    (or its directory). Params: the run's ``config``. Metrics: each step's numbers with the step's
    index as MLflow ``step``, and the summary's overall numbers (``overall.*``). Artifacts: the JSON
    results, the text report and the HTML report, under ``walkforward/``.
    """
    from stagewise.backtest.report import RESULTS_FILE, read_results, render_text

    mlflow = _mlflow(tracking_uri)
    if not isinstance(result, Mapping):
        path = Path(result)
        result = read_results(path / RESULTS_FILE if path.is_dir() else path)
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.log_params(_params(result.get("config") or {}))
        for index, step in enumerate(result.get("steps") or []):
            mlflow.log_metrics(_scalars(step), step=index)
        summary = result.get("summary") or {}
        mlflow.log_metrics({**_scalars(summary), **_scalars(summary.get("overall") or {}, "overall.")})
        outputs = {k: Path(v) for k, v in (result.get("outputs") or {}).items() if k != "predictions"}
        present = [p for p in outputs.values() if p.is_file()]
        if present:
            for file in present:
                mlflow.log_artifact(str(file), artifact_path="walkforward")
        else:
            with tempfile.TemporaryDirectory(prefix="stagewise-wf-") as tmp:
                (Path(tmp) / RESULTS_FILE).write_text(
                    json.dumps(result, default=str, indent=2), encoding="utf-8"
                )
                (Path(tmp) / "walkforward_report.txt").write_text(render_text(dict(result)), encoding="utf-8")
                mlflow.log_artifacts(tmp, artifact_path="walkforward")
        return str(run.info.run_id)
