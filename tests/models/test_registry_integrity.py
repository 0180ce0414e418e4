from __future__ import annotations

import ast
import json
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

import stagewise.models
from stagewise import ArtifactError, ArtifactIntegrityError, UnsupportedFormatError
from stagewise.models import ModelRegistry
from stagewise.models.manifest import MANIFEST_NAME, build_manifest, canonical_json, read_verified, sha256_hex

FILES = [
    "lightgbm_model.txt",
    "xgboost_model.ubj",
    "random_forest_model.skops",
    "ensemble.json",
    "flavour.json",
    "metadata.json",
    "manifest.json",
]


def _vdir(registry: ModelRegistry, version: str) -> Path:
    return registry.root / "training" / version


def _remanifest(vdir: Path, version: str) -> None:
    """Rewrite the manifest after a deliberate change, as a careless tool would."""
    files = {p.name: p.read_bytes() for p in vdir.iterdir() if p.name != MANIFEST_NAME}
    (vdir / MANIFEST_NAME).write_bytes(build_manifest(version, files))


def test_the_saved_copy_verifies(registry_copy: tuple[ModelRegistry, str]) -> None:
    registry, version = registry_copy
    verified = registry.verify(version)
    assert sorted(f.name for f in verified) == sorted(FILES)
    for f in verified:
        assert f.sha256 == sha256_hex((_vdir(registry, version) / f.name).read_bytes())


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_a_one_byte_change_to_any_file_is_refused(
    registry_copy: tuple[ModelRegistry, str], name: str, where: str
) -> None:
    registry, version = registry_copy
    path = _vdir(registry, version) / name
    data = bytearray(path.read_bytes())
    index = {"start": 0, "middle": len(data) // 2, "end": len(data) - 1}[where]
    data[index] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactIntegrityError) as info:
        registry.load(version)
    message = str(info.value)
    assert name in message
    if name != MANIFEST_NAME:
        assert sha256_hex(bytes(data)) in message  # the file's actual hash ...
        manifest = json.loads((path.parent / MANIFEST_NAME).read_text())
        assert manifest["files"][name]["sha256"] in message  # ... and the recorded one
    with pytest.raises(ArtifactIntegrityError):
        registry.verify(version)


@pytest.mark.parametrize("name", FILES)
def test_a_truncated_file_is_refused(registry_copy: tuple[ModelRegistry, str], name: str) -> None:
    registry, version = registry_copy
    path = _vdir(registry, version) / name
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ArtifactIntegrityError, match=name):
        registry.load(version)


def test_a_missing_file_is_refused(registry_copy: tuple[ModelRegistry, str]) -> None:
    registry, version = registry_copy
    (_vdir(registry, version) / "xgboost_model.ubj").unlink()
    with pytest.raises(
        ArtifactIntegrityError, match=r"xgboost_model.ubj: listed in the manifest .* but missing"
    ):
        registry.load(version)


def test_an_unlisted_file_is_refused(registry_copy: tuple[ModelRegistry, str]) -> None:
    registry, version = registry_copy
    (_vdir(registry, version) / "production_ensemble.pkl").write_bytes(b"\x80\x04N.")
    with pytest.raises(
        ArtifactIntegrityError, match=r"\['production_ensemble.pkl'\] are not in the manifest"
    ):
        registry.load(version)


def test_a_tampered_production_copy_is_refused(registry_copy: tuple[ModelRegistry, str]) -> None:
    registry, version = registry_copy
    registry.promote(version)
    path = registry.root / "production" / version / "lightgbm_model.txt"
    path.write_bytes(path.read_bytes().replace(b"tree", b"tref", 1))
    registry.load(version)  # the training copy is intact
    with pytest.raises(ArtifactIntegrityError, match="production"):
        registry.load("production")
    with pytest.raises(ArtifactIntegrityError):
        registry.verify(version)  # verify checks every copy


def test_a_newer_format_is_refused(registry_copy: tuple[ModelRegistry, str]) -> None:
    registry, version = registry_copy
    vdir = _vdir(registry, version)
    description = json.loads((vdir / "ensemble.json").read_text())
    description["format_version"] = 99
    (vdir / "ensemble.json").write_bytes(canonical_json(description))
    _remanifest(vdir, version)
    with pytest.raises(UnsupportedFormatError, match="format_version 99 is newer than this stagewise reads"):
        registry.load(version)


def test_a_newer_manifest_format_is_refused(registry_copy: tuple[ModelRegistry, str]) -> None:
    registry, version = registry_copy
    path = _vdir(registry, version) / MANIFEST_NAME
    body = json.loads(path.read_text())
    body["format_version"] = 2
    path.write_bytes(canonical_json(body))
    with pytest.raises(UnsupportedFormatError, match="manifest format_version 2"):
        registry.load(version)


def test_a_version_copied_under_another_name_is_refused(registry_copy: tuple[ModelRegistry, str]) -> None:
    registry, version = registry_copy
    other = "20300101T000000Z-000000"
    _vdir(registry, version).rename(_vdir(registry, other))
    with pytest.raises(ArtifactIntegrityError, match=f"belongs to version '{version}'"):
        registry.load(other)


def test_an_untrusted_type_in_the_forest_file_is_refused(registry_copy: tuple[ModelRegistry, str]) -> None:
    registry, version = registry_copy
    vdir = _vdir(registry, version)
    X = np.random.default_rng(0).normal(size=(50, 12))
    (vdir / "random_forest_model.skops").write_bytes(
        sio.dumps(LogisticRegression().fit(X, (X[:, 0] > 0).astype(int)))
    )
    _remanifest(vdir, version)
    with pytest.raises(
        ArtifactError, match=r"untrusted type\(s\) \['sklearn.linear_model._logistic.LogisticRegression'\]"
    ):
        registry.load(version)


def test_the_forest_file_is_a_skops_zip_without_pickle(registry_copy: tuple[ModelRegistry, str]) -> None:
    registry, version = registry_copy
    with zipfile.ZipFile(_vdir(registry, version) / "random_forest_model.skops") as archive:
        assert "schema.json" in archive.namelist()
        assert all(n == "schema.json" or n.endswith(".npy") for n in archive.namelist())


def test_no_pickle_anywhere(registry_copy: tuple[ModelRegistry, str]) -> None:
    registry, version = registry_copy
    registry.promote(version)
    for path in registry.root.rglob("*"):
        assert path.suffix not in {".pkl", ".pickle", ".joblib"}, path
        if path.is_file() and path.suffix != ".skops":
            assert not path.read_bytes().startswith(b"\x80"), f"{path} starts like a pickle"
    package = Path(stagewise.models.__file__).parent
    for source in package.rglob("*.py"):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                root = name.split(".")[0]
                assert root not in {"pickle", "cloudpickle", "dill", "joblib", "_pickle"}, (
                    f"{source} imports {name}"
                )


def test_a_consistent_but_malformed_description_is_an_artifact_error(
    registry_copy: tuple[ModelRegistry, str],
) -> None:
    registry, version = registry_copy
    vdir = _vdir(registry, version)
    description = json.loads((vdir / "ensemble.json").read_text())
    del description["params"]
    (vdir / "ensemble.json").write_bytes(canonical_json(description))
    _remanifest(vdir, version)
    with pytest.raises(
        ArtifactError, match=r"ensemble.json: missing or malformed field \(KeyError: 'params'\)"
    ):
        registry.load(version)


FIXTURE_VERSION_DIR = next(
    (Path(__file__).parent / "fixtures" / "format_v1" / "models" / "training").glob("2*")
)


@given(data=st.data())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_flipped_byte_in_any_file_is_caught(tmp_path: Path, data: st.DataObject) -> None:
    names = sorted(p.name for p in FIXTURE_VERSION_DIR.iterdir())
    name = data.draw(st.sampled_from(names), label="file")
    original = (FIXTURE_VERSION_DIR / name).read_bytes()
    position = data.draw(st.integers(0, len(original) - 1), label="position")
    flip = data.draw(st.integers(1, 255), label="xor")
    target = Path(tempfile.mkdtemp(dir=tmp_path)) / FIXTURE_VERSION_DIR.name
    shutil.copytree(FIXTURE_VERSION_DIR, target)
    changed = bytearray(original)
    changed[position] ^= flip
    (target / name).write_bytes(bytes(changed))
    with pytest.raises(ArtifactIntegrityError):
        read_verified(target, FIXTURE_VERSION_DIR.name)
