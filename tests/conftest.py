"""Fixtures shared by every suite."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def pg_url() -> str:
    """URL of the real PostgreSQL used by the `postgres` suites; skips with the reason when unset."""
    url = os.environ.get("STAGEWISE_TEST_PG_URL")
    if not url:
        pytest.skip(
            "STAGEWISE_TEST_PG_URL is not set; .ci/run sets it to "
            "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        )
    return url
