"""The seed's metadata keys (seed 004): ``phase`` everywhere, ``feature_optimization`` in training."""

from __future__ import annotations

import json

from stagewise import __version__
from stagewise.models import ModelRegistry


def test_metadata_files_carry_the_seeds_phase_and_feature_optimization(
    registry_copy: tuple[ModelRegistry, str],
) -> None:
    registry, version = registry_copy
    registry.promote(version)
    training = json.loads((registry.root / "training" / "training_metadata.json").read_text("utf-8"))
    production = json.loads(
        (registry.root / "production" / "production_model_metadata.json").read_text("utf-8")
    )
    legacy = json.loads((registry.root / "production" / "model_metadata.json").read_text("utf-8"))
    for document in (training, production, legacy):
        assert document["phase"] == f"stagewise {__version__}"
    assert training["feature_optimization"] == "12 features in a fixed order (no automatic selection)"
