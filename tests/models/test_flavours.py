"""Every flavour survives the registry bit for bit, and the registry refuses what it must."""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from models_support import TINY, make_xy

from stagewise import (
    ArtifactError,
    ArtifactIntegrityError,
    ConfigError,
    UnsupportedFormatError,
    UnsupportedModelError,
)
from stagewise.models import (
    BlendFlavour,
    CalibratedFlavour,
    EnsembleFlavour,
    InputSignature,
    LightGBMFlavour,
    ModelRegistry,
    ProductionEnsemble,
    RaceFlavour,
    SklearnFlavour,
    XGBoostFlavour,
)
from stagewise.models.calibration import ProbabilityCalibrator
from stagewise.models.manifest import MANIFEST_NAME, build_manifest, canonical_json
from stagewise.models.places import PlaceModel

SMALL = {"n_estimators": 6, "num_leaves": 7, "min_child_samples": 5}


def _pipeline() -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, _ = make_xy()
    return Pipeline(
        [
            ("columns", ColumnTransformer([("scale", StandardScaler(), list(X.columns))])),
            ("lr", LogisticRegression()),
        ]
    )


@functools.cache
def fitted_models() -> dict[str, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = make_xy()
    lightgbm = LightGBMFlavour(SMALL).fit(X, y)
    ensemble = ProductionEnsemble(**TINY).fit(X, y)
    race_ids = np.repeat(np.arange(len(X) // 6 + 1), 6)[: len(X)]
    pits = np.tile(np.arange(1, 7), len(X) // 6 + 1)[: len(X)]
    finish = np.tile(np.arange(1, 7, dtype=float), len(X) // 6 + 1)[: len(X)]
    return {
        "sklearn-pipeline": SklearnFlavour(_pipeline()).fit(X, y),
        "sklearn-hgb": SklearnFlavour(HistGradientBoostingClassifier(max_iter=5)).fit(X.to_numpy(), y),
        "lightgbm": lightgbm,
        "xgboost": XGBoostFlavour({"n_estimators": 6, "max_depth": 3}).fit(X, y),
        "ensemble": EnsembleFlavour.from_model(ensemble),
        "race": RaceFlavour.from_parts(
            ensemble, PlaceModel(params=SMALL).fit(X.to_numpy(), race_ids, pits, finish)
        ),
        "blend": BlendFlavour.from_members([lightgbm, ensemble], [1.0, 3.0]),
        "calibrated": CalibratedFlavour.from_parts(
            lightgbm, ProbabilityCalibrator("isotonic").fit(lightgbm.predict_proba(X)[:, 1], y)
        ),
    }


@functools.cache
def saved(tmp: str) -> dict[str, tuple[ModelRegistry, str]]:
    registry = ModelRegistry(Path(tmp) / "models")
    return {name: (registry, registry.save(model)) for name, model in fitted_models().items()}


@pytest.fixture(scope="module")
def registry_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("flavours"))


NAMES = [
    "sklearn-pipeline",
    "sklearn-hgb",
    "lightgbm",
    "xgboost",
    "ensemble",
    "race",
    "blend",
    "calibrated",
]

ROWS = arrays(
    np.float64,
    st.tuples(st.integers(1, 8), st.just(12)),
    elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=ROWS)
def test_a_loaded_flavour_gives_identical_probabilities(
    registry_dir: str, name: str, rows: np.ndarray
) -> None:
    registry, version = saved(registry_dir)[name]
    original = fitted_models()[name]
    loaded = registry.load_flavour(version)
    assert type(loaded) is type(original)
    assert loaded.signature_ == original.signature_
    np.testing.assert_array_equal(loaded.predict_proba(rows), original.predict_proba(rows))


def test_the_race_flavour_orders_places_with_its_place_model_after_loading(registry_dir: str) -> None:
    registry, version = saved(registry_dir)["race"]
    original = fitted_models()["race"]
    loaded = registry.load_flavour(version)
    X, _ = make_xy(n=60, seed=3)
    entries = pd.DataFrame({"race_id": np.repeat(np.arange(10), 6), "pit": np.tile(np.arange(1, 7), 10)})
    pd.testing.assert_frame_equal(loaded.rank(entries, X), original.rank(entries, X))
    by_win = original.win_.predict_proba(X)[:, 1]
    moved = [
        r
        for r in range(10)
        if loaded.rank(entries, X).query("race_id == @r")["pit"].tolist()
        != (np.lexsort((np.arange(1, 7), -by_win[r * 6 : r * 6 + 6])) + 1).tolist()
    ]
    assert moved, "the place model never changed an order: it is not being used"


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_one_byte_change_to_any_file_is_refused(registry_dir: str, name: str, data: st.DataObject) -> None:
    registry, version = saved(registry_dir)[name]
    directory = registry.training_dir / version
    files = sorted(p.name for p in directory.iterdir())
    target = directory / data.draw(st.sampled_from(files), label="file")
    original = target.read_bytes()
    position = data.draw(st.integers(0, len(original) - 1), label="byte")
    changed = bytearray(original)
    changed[position] ^= data.draw(st.integers(1, 255), label="xor")
    target.write_bytes(bytes(changed))
    try:
        with pytest.raises(ArtifactIntegrityError, match=target.name):
            registry.load_flavour(version)
    finally:
        target.write_bytes(original)
    registry.load_flavour(version)


# --------------------------------------------------------------------------- skops trust
CONSTRUCTED: list[str] = []


class Recorder:
    """A type outside the trust list; records every attempt to build it."""

    def __init__(self) -> None:
        CONSTRUCTED.append("init")

    def __setstate__(self, state: dict[str, Any]) -> None:
        CONSTRUCTED.append("setstate")
        self.__dict__.update(state)

    def fit(self, X: Any, y: Any = None) -> Recorder:
        return self

    def transform(self, X: Any) -> Any:
        return X


def _recorder_pipeline() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    X, y = make_xy()
    return SklearnFlavour(Pipeline([("record", Recorder()), ("lr", LogisticRegression())])).fit(X, y)


RECORDER = f"{__name__}.Recorder"


def test_an_untrusted_type_is_refused_at_save_and_nothing_is_written(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "models")
    with pytest.raises(ArtifactError, match=r"Recorder.*trusted_types="):
        registry.save(_recorder_pipeline())
    assert not registry.training_dir.exists() or not any(registry.training_dir.iterdir())


def test_an_untrusted_type_is_refused_at_load_before_it_is_constructed(tmp_path: Path) -> None:
    writer = ModelRegistry(tmp_path / "models", trusted_types=[RECORDER])
    version = writer.save(_recorder_pipeline())
    manifest = json.loads((writer.training_dir / version / MANIFEST_NAME).read_text())
    assert RECORDER in manifest["trusted_types"]["model.skops"]
    CONSTRUCTED.clear()
    with pytest.raises(ArtifactError, match=rf"refusing to load untrusted type\(s\) \['{RECORDER}'\]"):
        ModelRegistry(tmp_path / "models").load_flavour(version)
    assert CONSTRUCTED == []
    assert isinstance(writer.load_flavour(version), SklearnFlavour)  # trusted explicitly: loads


def test_a_skops_file_holding_a_type_outside_its_manifest_list_is_refused(tmp_path: Path) -> None:
    import skops.io as sio

    registry = ModelRegistry(tmp_path / "models", trusted_types=[RECORDER])
    version = registry.save(fitted_models()["sklearn-pipeline"])
    directory = registry.training_dir / version
    (directory / "model.skops").write_bytes(sio.dumps(_recorder_pipeline().estimator_))
    files = {p.name: p.read_bytes() for p in directory.iterdir() if p.name != MANIFEST_NAME}
    listed = json.loads((directory / MANIFEST_NAME).read_text())["trusted_types"]
    (directory / MANIFEST_NAME).write_bytes(build_manifest(version, files, listed))
    CONSTRUCTED.clear()
    with pytest.raises(ArtifactError, match=r"not in the manifest's trusted list"):
        registry.load_flavour(version)
    assert CONSTRUCTED == []


# --------------------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    ("model", "type_name"),
    [(object(), "builtins.object"), ({"weights": [1, 2]}, "builtins.dict"), (Recorder(), "Recorder")],
    ids=["object", "dict", "user-class"],
)
def test_an_unsupported_model_is_refused_naming_its_type_and_the_flavours(
    tmp_path: Path, model: Any, type_name: str
) -> None:
    registry = ModelRegistry(tmp_path / "models")
    with pytest.raises(UnsupportedModelError) as info:
        registry.save(model)
    message = str(info.value)
    assert type_name in message
    for flavour in ("sklearn", "lightgbm", "xgboost", "ensemble", "race", "blend"):
        assert flavour in message
    assert not (tmp_path / "models" / "training").exists()


def test_a_signature_that_disagrees_with_the_model_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "models")
    X, y = make_xy()
    from sklearn.linear_model import LogisticRegression

    fitted = LogisticRegression().fit(X, y)
    wrong = InputSignature.from_names([*X.columns[:-1], "something_else"])
    with pytest.raises(ConfigError, match="something_else"):
        registry.save(fitted, signature=wrong)
    with pytest.raises(ConfigError, match="declares 11 features"):
        registry.save(
            LightGBMFlavour(SMALL).fit(X, y).booster_, signature=InputSignature.from_names(X.columns[:11])
        )
    assert not (tmp_path / "models" / "training").exists()


def test_a_newer_version_format_is_refused_naming_both_versions(registry_dir: str, tmp_path: Path) -> None:
    registry, version = saved(registry_dir)["lightgbm"]
    root = tmp_path / "models"
    shutil.copytree(registry.root, root)
    directory = root / "training" / version
    body = json.loads((directory / "flavour.json").read_text())
    body["format_version"] = 3
    (directory / "flavour.json").write_bytes(canonical_json(body))
    files = {p.name: p.read_bytes() for p in directory.iterdir() if p.name != MANIFEST_NAME}
    (directory / MANIFEST_NAME).write_bytes(build_manifest(version, files))
    with pytest.raises(UnsupportedFormatError, match=r"format_version 3 is newer .* format_version 1 to 2"):
        ModelRegistry(root).load_flavour(version)


def test_a_sklearn_estimator_passed_raw_is_stored_as_the_sklearn_flavour(tmp_path: Path) -> None:
    X, y = make_xy()
    pipeline = _pipeline().fit(X, y)
    registry = ModelRegistry(tmp_path / "models")
    version = registry.save(pipeline)
    loaded = registry.load(version)
    assert isinstance(loaded, SklearnFlavour)
    np.testing.assert_array_equal(loaded.predict_proba(X), pipeline.predict_proba(X))
    assert registry.info(version)["flavour"] == "sklearn"
    assert [s["name"] for s in registry.info(version)["signature"]] == list(X.columns)
