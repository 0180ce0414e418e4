"""Fixtures of the serve suites: a trained registry (built once), a copy per test, app factories."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from serve_support import TOKEN, TestClient, build_registry

from stagewise.serve import ServeSettings, create_app


@pytest.fixture(scope="session")
def built_registry(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("registry") / "models"
    versions = build_registry(root)
    return root, versions


@pytest.fixture
def models_dir(built_registry: tuple[Path, dict[str, str]], tmp_path: Path) -> Path:
    """A private copy of the registry (tests may move its aliases)."""
    target = tmp_path / "models"
    shutil.copytree(built_registry[0], target)
    return target


@pytest.fixture
def versions(built_registry: tuple[Path, dict[str, str]]) -> dict[str, str]:
    return built_registry[1]


@pytest.fixture
def make_settings(models_dir: Path, tmp_path: Path) -> Callable[..., ServeSettings]:
    def make(**overrides: Any) -> ServeSettings:
        values: dict[str, Any] = {
            "models_dir": str(models_dir),
            "db_url": f"sqlite:///{tmp_path / 'monitor.db'}",
            "rollout_config": str(tmp_path / "config" / "rollout_config.json"),
            "reload_interval_s": 0.2,
            "flush_interval_s": 0.01,
        }
        values.update(overrides)
        return ServeSettings(**values)

    return make


@pytest.fixture
def client(make_settings: Callable[..., ServeSettings]) -> Iterator[TestClient]:
    app = create_app(make_settings(), admin_token=TOKEN)
    with TestClient(app) as c:
        yield c
