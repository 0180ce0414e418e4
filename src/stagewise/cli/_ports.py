"""Refuse a port that cannot be listened on before a server starts (one clear line, not a server log)."""

from __future__ import annotations

import socket

__all__ = ["check_port"]


def check_port(host: str, port: int) -> None:
    """Raise ConfigError for a port outside 1-65535 and StorageError when it is already in use."""
    from stagewise._exceptions import ConfigError, StorageError

    if isinstance(port, bool) or not 1 <= port <= 65535:
        raise ConfigError(f"--port must be an int in 1-65535. Got {port!r}.")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise StorageError(
                f"Cannot listen on {host}:{port} ({exc.strerror}); the port is in use or the address "
                "is not local. Pick another with --port."
            ) from None
