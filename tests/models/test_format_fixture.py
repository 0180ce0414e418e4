"""Every saved format this release claims to read still loads and predicts what it did when written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stagewise.models import FORMAT_VERSION, ModelRegistry

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FORMATS = sorted(int(p.name.removeprefix("format_v")) for p in FIXTURES.glob("format_v*"))


def test_there_is_a_fixture_for_every_format_up_to_the_current_one() -> None:
    assert list(range(1, FORMAT_VERSION + 1)) == FORMATS


@pytest.mark.parametrize("fmt", FORMATS, ids=[f"format_v{f}" for f in FORMATS])
def test_old_format_loads_and_predicts_the_stored_probabilities(fmt: int) -> None:
    base = FIXTURES / f"format_v{fmt}"
    expected = json.loads((base / "expected.json").read_text(encoding="utf-8"))
    registry = ModelRegistry(base / "models")
    assert registry.resolve("challenger") == expected["version"]
    registry.verify(expected["version"])
    model = registry.load("challenger")
    X = pd.DataFrame(np.array(expected["X"], dtype=float), columns=expected["feature_names"])
    np.testing.assert_allclose(model.predict_proba(X), np.array(expected["proba"]), rtol=1e-9, atol=1e-12)
    info = model.get_model_info()
    assert info["type"] == "ProductionEnsemble"
    assert info["feature_names"] == expected["feature_names"]


FLAVOUR_CASES = [
    (fmt, alias)
    for fmt in FORMATS
    for alias in json.loads((FIXTURES / f"format_v{fmt}" / "expected.json").read_text(encoding="utf-8")).get(
        "flavours", {}
    )
]


@pytest.mark.parametrize(("fmt", "alias"), FLAVOUR_CASES, ids=[f"format_v{f}-{a}" for f, a in FLAVOUR_CASES])
def test_every_stored_flavour_loads_and_predicts_the_stored_probabilities(fmt: int, alias: str) -> None:
    base = FIXTURES / f"format_v{fmt}"
    expected = json.loads((base / "expected.json").read_text(encoding="utf-8"))
    registry = ModelRegistry(base / "models")
    model = registry.load_flavour(alias)
    assert model.name == alias.removeprefix("flavour-").split("-")[0]
    assert registry.resolve(alias) == expected["flavours"][alias]["version"]
    X = pd.DataFrame(np.array(expected["X"], dtype=float), columns=expected["feature_names"])
    proba = np.array(expected["flavours"][alias]["proba"])
    np.testing.assert_allclose(model.predict_proba(X), proba, rtol=1e-9, atol=1e-12)


def test_format_1_has_no_flavour_file_and_loads_as_the_ensemble_flavour() -> None:
    registry = ModelRegistry(FIXTURES / "format_v1" / "models")
    version = registry.resolve("challenger")
    assert not (registry.training_dir / version / "flavour.json").exists()
    flavour = registry.load_flavour("challenger")
    assert flavour.name == "ensemble"
    assert (
        flavour.signature_.names
        == json.loads((FIXTURES / "format_v1" / "expected.json").read_text())["feature_names"]
    )
    assert registry.info("challenger")["flavour"] == "ensemble"
