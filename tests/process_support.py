"""Run one of stagewise's long-running commands (serve, dashboard) as a real process for a test.

:func:`cli_process` starts ``stagewise ARGS...`` on a free loopback port, waits until a health URL
answers 200 (failing with the process's output if it exits first or the wait runs out), yields the
base URL and the process, and stops it with SIGTERM (then SIGKILL) however the test ends.

A thread reads the process's output as it comes: a server whose access log fills the pipe would
otherwise block on its next write and look hung. :func:`output_of` gives what it printed so far.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

__all__ = ["cli_process", "drained", "free_port", "output_of"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Drain:
    """Reads a process's output pipe to its end on a thread, so the process never blocks on it."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self._chunks: list[bytes] = []
        self._thread = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self._thread.start()

    def _read(self, pipe: IO[bytes]) -> None:
        with pipe:
            for line in pipe:
                self._chunks.append(line)

    def text(self, *, wait: float = 0.0) -> str:
        self._thread.join(timeout=wait)
        return b"".join(self._chunks).decode(errors="replace")


_DRAINS: weakref.WeakKeyDictionary[subprocess.Popen[bytes], _Drain] = weakref.WeakKeyDictionary()


def drained(proc: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
    """``proc`` (started with ``stdout=PIPE``) with a thread reading its output; see :func:`output_of`."""
    _DRAINS[proc] = _Drain(proc)
    return proc


def output_of(proc: subprocess.Popen[bytes]) -> str:
    """What a :func:`cli_process` process printed so far (all of it once the process has exited)."""
    return _DRAINS[proc].text(wait=10.0 if proc.poll() is not None else 0.0)


@contextmanager
def cli_process(
    args: Sequence[str],
    *,
    health: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
    stop_timeout: float = 60.0,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``stagewise ARGS --host 127.0.0.1 --port P``; yields (base URL, process) once ``health`` answers.

    What the process printed, also while it stopped, stays readable after the block with :func:`output_of`.
    """
    port = free_port()
    exe = str(Path(sys.executable).parent / "stagewise")
    proc = drained(subprocess.Popen(
        [exe, *args, "--host", "127.0.0.1", "--port", str(port)],
        cwd=cwd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    ))  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"stagewise {args[0]} exited with {proc.returncode}:\n{output_of(proc)}")
            try:
                if httpx.get(f"{base}{health}", timeout=2.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(
                    f"stagewise {args[0]} did not answer {health} in {timeout:.0f} s:\n{output_of(proc)}"
                )
            time.sleep(0.2)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
