"""Assert that a finished demo's report exists and holds the rollout decisions (CI, after `make demo`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(workdir: str) -> None:
    summary = json.loads((Path(workdir) / "report" / "demo_summary.json").read_text(encoding="utf-8"))
    good = [d["action"] for d in summary["good_run"]]
    degraded = [d["action"] for d in summary["degraded_run"]]
    assert "promote" in good, f"the healthy challenger was never promoted: {good}"
    assert "rollback" in degraded, f"the degraded challenger was never rolled back: {degraded}"
    html = Path(summary["report"]).read_text(encoding="utf-8")
    for word in ("promote", "rollback"):
        assert word in html, f"{summary['report']} does not show a {word} decision"
    print(f"demo report {summary['report']}: promotions {good.count('promote')}, rollback on day "
          f"{degraded.index('rollback') + 1} of the degraded run")


if __name__ == "__main__":
    main(sys.argv[1])
