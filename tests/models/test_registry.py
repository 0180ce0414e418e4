from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from models_support import TINY, StepClock, make_xy

from stagewise import ConfigError, NotFittedError, NotFoundError
from stagewise.models import ModelRegistry, ProductionEnsemble
from stagewise.models._features import SEED_FEATURE_NAMES

SEED_METADATA_KEYS = {
    "created_at",
    "model_type",
    "n_features",
    "feature_names",
    "individual_models",
    "model_weights",
    "performance_metrics",
}


def _fit(seed: int, **kwargs: object) -> ProductionEnsemble:
    X, y = make_xy(n=300, seed=seed)
    return ProductionEnsemble(random_state=seed, **{**TINY, **kwargs}).fit(X, y)  # type: ignore[arg-type]


def test_save_then_load_predicts_identically_for_every_family(
    saved_root: tuple[Path, str], fitted: ProductionEnsemble
) -> None:
    root, version = saved_root
    loaded = ModelRegistry(root).load(version)
    X, _ = make_xy(n=200, seed=5)
    X.iloc[::11, 4] = np.nan  # missing values take the same branch after reload
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    original, reloaded = fitted.predict_proba_by_model(X), loaded.predict_proba_by_model(X)
    for family in ("lightgbm", "xgboost", "random_forest"):
        np.testing.assert_array_equal(reloaded[family], original[family], err_msg=family)
    assert loaded.get_params() == fitted.get_params()
    assert list(loaded.feature_names_in_) == list(SEED_FEATURE_NAMES)
    assert loaded.get_model_info() == fitted.get_model_info()


def test_string_labels_and_custom_weights_survive(tmp_path: Path) -> None:
    X, y = make_xy(n=300, n_features=4)
    weights = {"lightgbm": 1, "xgboost": 0, "random_forest": 3}
    model = ProductionEnsemble(weights=weights, **TINY).fit(X, np.where(y == 1, "win", "lose"))
    registry = ModelRegistry(tmp_path)
    loaded = registry.load(registry.save(model))
    assert loaded.classes_.tolist() == ["lose", "win"]
    assert loaded.weights == weights
    assert loaded.weights_ == {"lightgbm": 0.25, "xgboost": 0.0, "random_forest": 0.75}
    assert (loaded.predict(X) == model.predict(X)).all()
    assert list(loaded.feature_names_in_) == ["f0", "f1", "f2", "f3"]


def test_load_can_override_threads(saved_root: tuple[Path, str]) -> None:
    root, version = saved_root
    loaded = ModelRegistry(root).load(version, n_jobs=2)
    assert loaded.n_jobs == 2
    with pytest.raises(ConfigError, match=r"'n_jobs'.*Got 0"):
        ModelRegistry(root).load(version, n_jobs=0)


def test_layout_and_metadata_follow_the_seed(registry_copy: tuple[ModelRegistry, str]) -> None:
    registry, version = registry_copy
    vdir = registry.root / "training" / version
    assert sorted(p.name for p in vdir.iterdir()) == [
        "ensemble.json", "flavour.json", "lightgbm_model.txt", "manifest.json", "metadata.json",
        "random_forest_model.skops", "xgboost_model.ubj",
    ]  # fmt: skip
    assert (vdir / "lightgbm_model.txt").read_text().startswith("tree\n")
    meta = json.loads((vdir / "metadata.json").read_text())
    assert meta.keys() >= SEED_METADATA_KEYS | {"version", "data_window", "random_seed", "library_versions"}
    assert meta["model_type"] == "ProductionEnsemble"
    assert meta["created_at"] == "2026-01-22T10:15:00+00:00"
    assert meta["individual_models"] == ["lightgbm", "xgboost", "random_forest"]
    assert meta["model_weights"] == pytest.approx({"lightgbm": 0.4, "xgboost": 0.4, "random_forest": 0.2})
    assert meta["data_window"] == {"start": "2025-01-01", "end": "2025-06-30"}
    assert {"lightgbm", "xgboost", "scikit-learn", "skops", "numpy"} <= meta["library_versions"].keys()
    assert "not installed" not in meta["library_versions"].values()
    assert meta["library_versions"]["xgboost"][0].isdigit()

    training = json.loads((registry.root / "training" / "training_metadata.json").read_text())
    assert training["individual_models"]["lightgbm"] == {
        "f1_score": 0.61,
        "file": f"{version}/lightgbm_model.txt",
    }
    assert training["individual_models"]["xgboost"]["f1_score"] is None
    assert training["ensemble_config"] == {"weights": meta["model_weights"], "production_file": None}
    assert not (registry.root / "production" / "production_model_metadata.json").exists()

    registry.promote(version)
    production = json.loads((registry.root / "production" / "production_model_metadata.json").read_text())
    assert production.keys() >= SEED_METADATA_KEYS
    assert production["status"] == "production_ready"
    assert production["version"] == version
    assert production["performance_metrics"] == {"lightgbm_f1": 0.61, "ensemble_f1": 0.63}
    legacy = json.loads((registry.root / "production" / "model_metadata.json").read_text())
    assert legacy["model_type"] == "ProductionEnsemble"
    assert legacy["n_features"] == 12
    training = json.loads((registry.root / "training" / "training_metadata.json").read_text())
    assert training["ensemble_config"]["production_file"] == f"../production/{version}/"


def test_version_ids_sort_by_time_and_are_distinct_under_a_frozen_clock(tmp_path: Path) -> None:
    frozen = datetime(2026, 1, 22, 10, 15, tzinfo=UTC)
    registry = ModelRegistry(tmp_path, clock=lambda: frozen)
    model = _fit(1)
    versions = [registry.save(model) for _ in range(3)]
    assert len(set(versions)) == 3
    assert all(v.startswith("20260122T101500Z-") for v in versions)
    assert versions == sorted(versions)  # later saves sort later, even within one second
    assert registry.resolve("latest") == versions[-1]
    later = ModelRegistry(tmp_path, clock=StepClock(datetime(2026, 1, 23, tzinfo=UTC))).save(model)
    assert [s.version for s in registry.list_versions()][-1] == later
    assert registry.resolve("latest") == later


def test_promote_rollback_and_aliases(registry_copy: tuple[ModelRegistry, str]) -> None:
    registry, first = registry_copy
    second = registry.save(_fit(2), metrics={"ensemble_f1": 0.7})
    X, _ = make_xy(n=20, seed=9)

    assert registry.promote(first) == first
    assert registry.resolve("production") == registry.resolve("champion") == first
    assert registry.promote(second) == second
    assert registry.resolve("champion") == second
    assert registry.resolve("previous") == first
    assert sorted(p.name for p in (registry.root / "production").iterdir() if p.is_dir()) == sorted(
        [first, second]
    )
    np.testing.assert_array_equal(
        registry.load("production").predict_proba(X), registry.load(second).predict_proba(X)
    )

    assert registry.rollback() == first
    assert registry.resolve("production") == registry.resolve("champion") == first
    np.testing.assert_array_equal(
        registry.load("production").predict_proba(X), registry.load(first).predict_proba(X)
    )
    with pytest.raises(NotFoundError, match=r"Nothing to roll back to.*one step"):
        registry.rollback()
    # the rolled-back version is no longer in production/ but still in training/
    assert not (registry.root / "production" / second).exists()
    assert registry.load(second).n_features_in_ == 12

    registry.set_alias("challenger", second)
    assert registry.aliases() == {"champion": first, "challenger": second}
    summary = {s.version: s for s in registry.list_versions()}
    assert summary[first].is_production
    assert summary[first].aliases == ("champion",)
    assert summary[second].aliases == ("challenger",)
    assert [e["action"] for e in registry.history()] == ["promote", "promote", "rollback", "alias"]
    info = registry.info("challenger")
    assert info["version"] == second
    assert info["metadata"]["performance_metrics"] == {"ensemble_f1": 0.7}
    registry.remove_alias("challenger")
    with pytest.raises(NotFoundError, match="Unknown model reference 'challenger'"):
        registry.load("challenger")


def test_promoting_the_production_version_again_changes_nothing(
    registry_copy: tuple[ModelRegistry, str],
) -> None:
    registry, version = registry_copy
    registry.promote(version)
    registry.promote(version)
    assert len(registry.history()) == 1
    with pytest.raises(NotFoundError, match="Nothing to roll back to"):
        registry.rollback()


@pytest.mark.parametrize(
    "ref", ["champion", "challenger", "20990101T000000Z-abcdef", "v1", "production", "previous"]
)
def test_unknown_refs_list_what_exists(registry_copy: tuple[ModelRegistry, str], ref: str) -> None:
    registry, version = registry_copy
    with pytest.raises(NotFoundError) as info:
        registry.load(ref)
    message = str(info.value)
    if ref in ("production", "previous"):
        assert "No " in message
    else:
        assert f"Unknown model reference {ref!r}" in message
        assert version in message
        assert "'production', 'previous', 'latest'" in message


@pytest.mark.parametrize("alias", ["Champion", "production", "latest", "", "a b", "x" * 65, "1st"])
def test_bad_alias_names_are_refused(registry_copy: tuple[ModelRegistry, str], alias: str) -> None:
    registry, version = registry_copy
    with pytest.raises(ConfigError, match="Alias names must match"):
        registry.set_alias(alias, version)


def test_alias_to_missing_version_is_refused(registry_copy: tuple[ModelRegistry, str]) -> None:
    registry, _ = registry_copy
    with pytest.raises(NotFoundError, match="Unknown model reference"):
        registry.set_alias("challenger", "20990101T000000Z-abcdef")
    assert registry.aliases() == {}


def test_save_refuses_what_it_cannot_store(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    with pytest.raises(NotFittedError):
        registry.save(ProductionEnsemble())
    with pytest.raises(ConfigError, match=r"Cannot store a builtins.dict: .* Flavours: sklearn"):
        registry.save({})  # type: ignore[arg-type]
    model = _fit(3)
    with pytest.raises(ConfigError, match=r"metrics\['f1'\] must hold JSON values"):
        registry.save(model, metrics={"f1": object()})
    with pytest.raises(ConfigError, match="data_window must be"):
        registry.save(model, data_window=("2025-01-01",))
    assert registry.list_versions() == []


def test_metrics_and_windows_are_made_json(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    version = registry.save(
        _fit(4),
        metrics={"f1": np.float64(0.5), "n": np.int64(3), "auc": float("nan")},
        data_window={"start": pd.Timestamp("2025-01-01"), "end": datetime(2025, 2, 1), "test_days": 30},
        notes="first try",
    )
    meta = registry.info(version)["metadata"]
    assert meta["performance_metrics"] == {"f1": 0.5, "n": 3, "auc": None}
    assert meta["data_window"] == {
        "start": "2025-01-01T00:00:00",
        "end": "2025-02-01T00:00:00",
        "test_days": 30,
    }
    assert meta["notes"] == "first try"
