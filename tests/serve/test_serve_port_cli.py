"""`stagewise serve` on a port that is taken: one line and exit 1, before any model or ledger is opened."""

from __future__ import annotations

import socket
from pathlib import Path

from serve_support import build_registry
from typer.testing import CliRunner

from stagewise.cli.main import app


def test_a_port_in_use_is_a_storage_error_and_no_ledger_is_created(tmp_path: Path) -> None:
    build_registry(tmp_path / "models")
    db = tmp_path / "serve.db"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        args = ["serve", "--port", str(port), "--models", str(tmp_path / "models"), "--db", f"sqlite:///{db}"]
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert f"StorageError: Cannot listen on 127.0.0.1:{port}" in result.output.replace("\n", " ")
    assert "Traceback" not in result.output
    assert not db.exists()
