"""Helpers of the analysis-endpoint tests: the app on a real uvicorn thread, and Argo's condition shape."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import httpx
from serve_support import free_port

__all__ = ["argo_condition", "threaded_server"]


@contextmanager
def threaded_server(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn on 127.0.0.1 in a thread (so the test can set the app's clock)."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        with suppress(httpx.HTTPError):
            httpx.get(base, timeout=0.2)


_TERM = re.compile(
    r"""^\s*result((?:\.[A-Za-z_][A-Za-z0-9_]*)+)\s*(==|!=)\s*("[^"]*"|'[^']*'|true|false|-?\d+(?:\.\d+)?)\s*$"""
)


def argo_condition(expression: str, result: Any) -> bool:
    """Evaluate an Argo Rollouts condition of the documented shape over ``result`` (the JSON body).

    The Argo docs' web-provider examples compare a field of ``result`` with a literal
    (``result.data.ok == true``, ``result == 'true'``) and join terms with ``&&`` / ``||``.
    This covers that shape: ``result.a.b == "x"`` / ``!=`` against a string, a boolean or a
    number, joined by ``&&`` and ``||`` (``&&`` binds tighter). A field that is missing is an
    error, as it is for Argo's evaluator (the measurement errors, it is not a silent False).
    """

    def term(text: str) -> bool:
        match = _TERM.match(text)
        if match is None:
            raise ValueError(f"not a supported condition term: {text!r}")
        path, op, literal = match.groups()
        value: Any = result
        for part in path.strip(".").split("."):
            if not isinstance(value, dict) or part not in value:
                raise KeyError(f"result has no field {path!r}")
            value = value[part]
        if literal[0] in "\"'":
            expected: Any = literal[1:-1]
        elif literal in ("true", "false"):
            expected = literal == "true"
        else:
            expected = float(literal)
        if isinstance(expected, bool):
            equal = value is expected
        elif isinstance(expected, str):
            equal = isinstance(value, str) and value == expected
        else:
            number = isinstance(value, int | float) and not isinstance(value, bool)
            equal = number and float(value) == expected
        return equal if op == "==" else not equal

    return any(all(term(t) for t in conj.split("&&")) for conj in expression.split("||"))
