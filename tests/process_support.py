"""Run one of stagewise's long-running commands (serve, dashboard) as a real process for a test.

:func:`cli_process` starts ``stagewise ARGS...`` on a free loopback port, waits until a health URL
answers 200 (failing with the process's output if it exits first or the wait runs out), yields the
base URL and the process, and stops it with SIGTERM (then SIGKILL) however the test ends.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

__all__ = ["cli_process", "free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _output(proc: subprocess.Popen[bytes]) -> str:
    return proc.stdout.read().decode(errors="replace") if proc.stdout else ""


@contextmanager
def cli_process(
    args: Sequence[str],
    *,
    health: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
    stop_timeout: float = 60.0,
    keep_output: bool = False,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``stagewise ARGS --host 127.0.0.1 --port P``; yields (base URL, process) once ``health`` answers.

    ``keep_output=True`` leaves the process's output pipe open after the block, for a test that reads
    what the process printed while it stopped (it must then read and close ``proc.stdout`` itself).
    """
    port = free_port()
    exe = str(Path(sys.executable).parent / "stagewise")
    proc = subprocess.Popen(
        [exe, *args, "--host", "127.0.0.1", "--port", str(port)],
        cwd=cwd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"stagewise {args[0]} exited with {proc.returncode}:\n{_output(proc)}")
            try:
                if httpx.get(f"{base}{health}", timeout=2.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(
                    f"stagewise {args[0]} did not answer {health} in {timeout:.0f} s:\n{_output(proc)}"
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
        if proc.stdout is not None and not keep_output:
            proc.stdout.close()
