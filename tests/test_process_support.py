"""The helper that runs servers for tests never lets a chatty process block on its output pipe."""

from __future__ import annotations

import subprocess
import sys

from process_support import drained, output_of

# 2 MB: far beyond a pipe's 64 KB buffer, like a server's access log after a few thousand requests
CHATTY = "import sys\nfor i in range(20_000): print(f'{i:09d}', 'x' * 90)\nsys.exit(3)"


def test_a_process_printing_megabytes_runs_to_its_end_and_every_line_is_kept() -> None:
    proc = drained(subprocess.Popen([sys.executable, "-c", CHATTY], stdout=subprocess.PIPE))
    assert proc.wait(timeout=60) == 3  # without the reader thread it blocks at ~64 KB and this times out
    lines = output_of(proc).splitlines()
    assert len(lines) == 20_000
    assert lines[-1].startswith("000019999")
