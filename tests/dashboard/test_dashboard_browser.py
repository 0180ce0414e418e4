"""End to end: `stagewise dashboard` on 127.0.0.1, opened in headless Debian Chromium via Playwright.

Needs /usr/bin/chromium (`apt-get install chromium`; `.ci/run` installs it when CI=true). Never
`playwright install`: Playwright drives the system browser through ``executable_path``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from dashboard_support import Workspace, sql

from process_support import cli_process

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"{CHROMIUM} is absent: install Debian's chromium (apt-get install -y chromium); "
        ".ci/run does this when CI=true",
    ),
]


@pytest.fixture
def server(workspace: Workspace, tmp_path: Path) -> Iterator[str]:
    """`stagewise dashboard` as a subprocess; yields its URL and stops it afterwards."""
    args = ["dashboard", "--db", str(workspace.db), "--config", str(workspace.config),
            "--models", str(workspace.models), "--backtest-dir", str(workspace.backtest_dir)]  # fmt: skip
    with cli_process(args, health="/_stcore/health", cwd=tmp_path, timeout=120, stop_timeout=20) as (url, _):
        yield url


def stored_stage(ws: Workspace, feature: str = "calib_v2") -> str:
    return str(json.loads(ws.config.read_text())["feature_rollouts"][feature]["stage"])


def test_dashboard_in_headless_chromium(server: str, workspace: Workspace, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    n, hits = sql(
        workspace.db,
        "SELECT COUNT(*), SUM(hit_1st) FROM race_predictions WHERE status = 'settled' "
        "AND race_date = (SELECT MAX(race_date) FROM race_predictions)",
    )[0]
    firing = sql(workspace.db, "SELECT COUNT(*) FROM alert_state WHERE state = 'firing'")[0][0]
    shot = tmp_path / "dashboard.png"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server)
            page.get_by_text("All 2 version(s) hash-verified").wait_for(timeout=120_000)
            page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=60_000)
            metrics = {}
            for element in page.locator('[data-testid="stMetric"]').all():
                label = element.locator('[data-testid="stMetricLabel"]').inner_text().strip()
                metrics[label] = element.locator('[data-testid="stMetricValue"]').inner_text().strip()
            # Streamlit scrolls inside its main block: grow the window to the page for one image.
            height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
            page.set_viewport_size({"width": 1400, "height": int(height)})
            page.wait_for_timeout(1000)
            page.screenshot(path=str(shot), full_page=True)
            body = page.locator("body").inner_text()
            # The stage form: refused without a reason, applied and audited with one.
            page.get_by_label("New stage (disabled, 10%, 50%, 100%, 12.5% ...)").fill("100%")
            page.get_by_role("button", name="Change stage").click()
            page.get_by_text("Refused: ConfigError").wait_for(timeout=60_000)
            stage_after_refusal = stored_stage(workspace)
            page.get_by_label("Reason").fill("promoted from the browser test")
            page.get_by_role("button", name="Change stage").click()
            page.get_by_text("calib_v2 is now at 100%.").wait_for(timeout=60_000)
        finally:
            browser.close()
    where = f"screenshot: {shot}"
    assert metrics.get("Races settled") == str(n), (metrics, where)
    assert metrics.get("Win hit rate (1着的中率)") == f"{hits / n:.1%}", (metrics, where)
    assert metrics.get("Open alerts") == str(firing), (metrics, where)
    result = json.loads((workspace.backtest_dir / "races" / "walkforward_results.json").read_text())
    assert metrics.get("Steps") == str(len(result["steps"])), (metrics, where)
    assert metrics.get("Overall win hit rate") == f"{result['summary']['overall_hit_rate_1st']:.1%}", where
    assert "Audit chain verified" in body, where
    assert stage_after_refusal == "50%", where
    assert stored_stage(workspace) == "100%", where
    last = json.loads((workspace.config.parent / "rollout_audit.jsonl").read_text().splitlines()[-1])
    assert (last["actor"], last["reason"], last["new_stage"]) == (
        "dashboard",
        "promoted from the browser test",
        "100%",
    )
    assert "Traceback" not in body, where
    assert shot.stat().st_size > 10_000, where
    copy_to = os.environ.get("STAGEWISE_DASHBOARD_SCREENSHOT")
    if copy_to:  # how docs/img/dashboard.png is refreshed
        shutil.copyfile(shot, copy_to)
