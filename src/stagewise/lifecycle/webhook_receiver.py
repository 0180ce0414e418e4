"""A tiny webhook receiver on 127.0.0.1: the demo's stand-in for Slack, Discord or an incident tool.

The demo points the monitor's :class:`~stagewise.notify.WebhookNotifier` at it, so the
rollback notification travels over real HTTP and the demo can show what arrived.
"""

from __future__ import annotations

import errno
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from stagewise._exceptions import ConfigError, StorageError

__all__ = ["WebhookReceiver"]


class _Handler(BaseHTTPRequestHandler):
    receiver: WebhookReceiver

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            body: Any = json.loads(raw or b"null")
        except ValueError:
            body = raw.decode("utf-8", "replace")
        headers = {k: v for k, v in self.headers.items() if k.lower().startswith(("content-type", "x-"))}
        signed: bool | None = None
        if self.receiver.secret is not None:
            from stagewise.notify import verify_signature

            signed = verify_signature(
                self.receiver.secret,
                raw,
                self.headers.get("X-Stagewise-Timestamp", ""),
                self.headers.get("X-Stagewise-Signature", ""),
            )
        self.receiver._record({"path": self.path, "headers": headers, "body": body, "signature_ok": signed})
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


class WebhookReceiver:
    """An HTTP server on ``host:port`` keeping every JSON body POSTed to it.

    Parameters
    ----------
    port : int
        0 (default) picks a free port; another value must be free, else :class:`StorageError`.
    host : str
        The address to listen on (loopback by default; nothing leaves the machine).
    secret : str, optional
        The :class:`~stagewise.notify.WebhookNotifier` secret: each delivery's HMAC
        signature is checked and recorded as ``signature_ok``.

    Examples
    --------
    >>> import httpx
    >>> with WebhookReceiver() as receiver:
    ...     _ = httpx.post(receiver.url, json={"title": "hello"})
    ...     receiver.wait_for(1, timeout=5.0)
    ...     receiver.bodies()
    True
    [{'title': 'hello'}]
    """

    def __init__(self, port: int = 0, *, host: str = "127.0.0.1", secret: str | None = None) -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ConfigError(
                f"The webhook 'port' must be an int in [0, 65535] (0: any free port). Got {port!r}."
            )
        self.host = host
        self.secret = secret
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Condition()
        handler = type("DemoWebhookHandler", (_Handler,), {"receiver": self})
        try:
            self._server = ThreadingHTTPServer((host, port), handler)
        except OSError as exc:
            in_use = exc.errno == errno.EADDRINUSE
            raise StorageError(
                f"Cannot start the webhook receiver on {host}:{port} "
                f"({'the port is in use' if in_use else exc.strerror or exc}); "
                "pass another --webhook-port, or 0 for any free port."
            ) from exc
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="demo-webhook", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Where to POST (``http://127.0.0.1:PORT/hook``)."""
        return f"http://{self.host}:{self.port}/hook"

    def _record(self, item: dict[str, Any]) -> None:
        with self._lock:
            self.received.append(item)
            self._lock.notify_all()

    def bodies(self) -> list[Any]:
        """The JSON bodies received so far, oldest first."""
        with self._lock:
            return [item["body"] for item in self.received]

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until ``count`` requests arrived (True) or ``timeout`` seconds passed (False)."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self.received) >= count, timeout=timeout)

    def close(self) -> None:
        """Stop the server and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5.0)

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
