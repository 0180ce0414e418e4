"""Pure ASGI middleware: a request-body size limit (413 before parsing) and HTTP metrics."""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.exceptions import HTTPException

from stagewise.serve.metrics import ServeMetrics

__all__ = ["BodySizeLimit", "RequestMetrics"]

Scope = dict[str, Any]
Receive = Any
Send = Any
ASGIApp = Any


async def _send_413(send: Send, limit: int) -> None:
    body = json.dumps(
        {"message": f"request body is larger than the {limit} bytes this server accepts", "limit": limit}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    """Answer 413 to a body over ``limit`` bytes: by ``Content-Length`` before reading anything,
    or while streaming a body sent without one, before it reaches the JSON parser."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.limit + 1
                if declared > self.limit:
                    await _send_413(send, self.limit)
                    return
        seen = 0

        async def limited_receive() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # raised inside the body read, so the framework answers it like any HTTP error
                    raise HTTPException(413, f"request body is larger than the {self.limit} bytes accepted")
            return message

        await self.app(scope, limited_receive, send)


class RequestMetrics:
    """Count requests and time them per route template (never per raw path), model and variant."""

    def __init__(self, app: ASGIApp, metrics: ServeMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def status_send(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, status_send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            state = scope.get("state") or {}
            # set by the prediction routes; "none" for every other route and for refused requests
            version, variant = str(state.get("model_version", "none")), str(state.get("variant", "none"))
            self.metrics.requests.labels(
                route=template, method=method, status=str(status), model_version=version, variant=variant
            ).inc()
            self.metrics.latency.labels(
                route=template, method=method, model_version=version, variant=variant
            ).observe(time.perf_counter() - started)
