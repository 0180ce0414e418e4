"""Write one benchmark's section of BENCHMARKS.md, with the machine it ran on.

Each benchmark owns the text between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``;
re-running it replaces only that section.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"


def machine() -> str:
    """One line naming the machine: cores, CPU, Python."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()}"


def write_section(name: str, command: str, body: str) -> None:
    """Replace (or append) the section NAME of BENCHMARKS.md."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    section = (
        f"<!-- bench:{name} -->\n## {name}\n\n"
        f"Command: `{command}`  \nMachine: {machine()}  \nMeasured: {stamp}\n\n{body.strip()}\n"
        f"<!-- /bench:{name} -->"
    )
    text = BENCHMARKS.read_text(encoding="utf-8") if BENCHMARKS.exists() else "# Benchmarks\n"
    tag = re.escape(name)
    pattern = re.compile(rf"<!-- bench:{tag} -->.*?<!-- /bench:{tag} -->", re.S)
    text = (
        pattern.sub(lambda _: section, text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + section + "\n"
    )
    BENCHMARKS.write_text(text, encoding="utf-8")
    sys.stdout.write(section + "\n")
