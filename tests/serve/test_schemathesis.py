"""Schemathesis generates requests from the OpenAPI spec (valid and invalid): no answer is a 500."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from serve_support import TestClient

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import schemathesis
    from schemathesis.checks import not_a_server_error

from stagewise.serve import ServeSettings, create_app


@pytest.fixture(scope="module")
def api_schema(
    built_registry: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("schemathesis")
    app_settings = ServeSettings(
        models_dir=str(built_registry[0]),
        db_url=f"sqlite:///{root / 'monitor.db'}",
        rollout_config=str(root / "rollout_config.json"),
    )
    app = create_app(app_settings, admin_token="token-for-schemathesis")
    with TestClient(app):  # runs the lifespan: ledger writer and reloader are live
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


def test_no_generated_request_gets_a_500(api_schema: Any) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= {
        "POST /v1/races/predict",
        "POST /v1/markets/predict",
        "POST /v1/results",
        "GET /readyz",
        "POST /admin/stage",
    }
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_500(case: Any) -> None:
            case.call_and_validate(checks=[not_a_server_error])

        no_500()
