"""The dashboard's logic through Streamlit's AppTest: rendered numbers equal the stored ones.

Every expected figure is read independently of the dashboard: the ledger with plain sqlite3,
the rollout config and audit log as JSON, the registry's files on disk, the backtest JSON.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from dashboard_support import DAYS, Workspace, sql
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

import stagewise.dashboard
from stagewise._exceptions import ConfigError
from stagewise.cli.main import app as cli_app
from stagewise.dashboard import data as dd
from stagewise.metrics.intervals import wilson_interval

APP = str(Path(stagewise.dashboard.__file__).parent / "app.py")


Launch = Callable[[Workspace], AppTest]


@pytest.fixture
def launch(monkeypatch: pytest.MonkeyPatch) -> Launch:
    """Run the app once on a workspace (through the environment, as the CLI passes it)."""

    def run(ws: Workspace) -> AppTest:
        for key, value in ws.env().items():
            monkeypatch.setenv(key, value)
        at = AppTest.from_file(APP, default_timeout=120).run()
        assert not at.exception, [e.value for e in at.exception]
        unexpected = [e.value for e in at.error if "Unexpected error" in str(e.value)]
        assert not unexpected, unexpected
        return at

    return run


def metric(at: AppTest, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert len(values) == 1, f"metric {label!r}: {[m.label for m in at.metric]}"
    return str(values[0])


def table(at: AppTest, first_column: str, containing: str | None = None) -> pd.DataFrame:
    for frame in (df.value for df in at.dataframe):
        starts = len(frame.columns) > 0 and frame.columns[0] == first_column
        if starts and (containing is None or containing in frame.columns):
            return frame
    raise AssertionError(f"no table starting with {first_column!r}")


def markdown(at: AppTest) -> str:
    return "\n".join(str(md.value) for md in at.markdown)


def day_counts(db: Path) -> pd.DataFrame:
    rows = sql(
        db,
        "SELECT race_date, COUNT(*), SUM(hit_1st), SUM(hit_top3), AVG(score_accuracy) "
        "FROM race_predictions WHERE status = 'settled' GROUP BY race_date ORDER BY race_date",
    )
    return pd.DataFrame(rows, columns=["date", "n", "hits_1st", "hits_top3", "score"])


def test_headline_metrics_and_trend_equal_the_ledger(workspace: Workspace, launch: Launch) -> None:
    at = launch(workspace)
    counts = day_counts(workspace.db)
    assert list(pd.to_datetime(counts["date"]).dt.date) == DAYS
    last = counts.iloc[-1]
    assert metric(at, "Races settled") == str(last["n"])
    assert metric(at, "Win hit rate (1着的中率)") == f"{last['hits_1st'] / last['n']:.1%}"
    assert metric(at, "Trifecta hit rate (3連単的中率)") == f"{last['hits_top3'] / last['n']:.1%}"
    assert metric(at, "Score accuracy (スコア精度)") == f"{last['score']:.3f}"

    trend = table(at, "date", "hit_rate_1st")
    assert list(trend["total_races"]) == list(counts["n"])
    assert trend["hit_rate_1st"].tolist() == pytest.approx((counts["hits_1st"] / counts["n"]).tolist())
    assert trend["avg_score_accuracy"].tolist() == pytest.approx(counts["score"].tolist())
    for (_, row), (_, count) in zip(trend.iterrows(), counts.iterrows(), strict=True):
        low, high = wilson_interval(int(count["hits_top3"]), int(count["n"]))
        assert (row["hit_rate_top3_ci_low"], row["hit_rate_top3_ci_high"]) == pytest.approx((low, high))
    assert len(at.get("plotly_chart")) == 4  # three trends with bands and thresholds, one backtest


def test_trend_figure_has_band_and_threshold(workspace: Workspace) -> None:
    from stagewise.dashboard.charts import trend_figure

    with dd.open_monitor(str(workspace.db)) as monitor:
        trend = dd.accuracy_trend(monitor, 30, DAYS[-1])
        limits = dd.thresholds(monitor)
    assert limits["hit_rate_1st"] == 0.15  # the seed's rule
    fig = trend_figure(trend, "hit_rate_1st", limits["hit_rate_1st"])
    band_high, band_low, _line = fig.data
    assert band_low.fill == "tonexty"
    assert list(band_low.y) == list(trend["hit_rate_1st_ci_low"])
    assert list(band_high.y) == list(trend["hit_rate_1st_ci_high"])
    assert [shape.y0 for shape in fig.layout.shapes] == [0.15]


def test_alerts_open_and_history_equal_the_ledger(workspace: Workspace, launch: Launch) -> None:
    at = launch(workspace)
    firing = sql(workspace.db, "SELECT alert_type FROM alert_state WHERE state = 'firing'")
    states = [s for (s,) in sql(workspace.db, "SELECT state FROM alerts ORDER BY id")]
    assert firing == [("LOW_HIT_RATE_1ST",)]
    assert states == ["firing", "resolved", "firing"]  # fired, resolved on the good day, fired again
    assert metric(at, "Open alerts") == "1"
    open_table = table(at, "date", "delivery_status")
    assert list(open_table["alert_type"]) == ["LOW_HIT_RATE_1ST"]
    history = [df.value for df in at.dataframe if "delivery_status" in df.value.columns][1]
    assert list(history["state"]) == states[::-1]


def test_drift_per_feature(workspace: Workspace, launch: Launch) -> None:
    at = launch(workspace)
    drift = table(at, "feature", "p_value").set_index("feature")
    assert bool(drift.loc["exhibition_time", "drifted"]) is True
    assert bool(drift.loc["motor_2rate", "drifted"]) is False
    assert metric(at, "Drifted features") == "1"
    # The dashboard never fires a drift alert (only the CLI or the service do).
    assert sql(workspace.db, "SELECT COUNT(*) FROM alerts WHERE alert_type = 'FEATURE_DRIFT'") == [(0,)]


def audit_lines(ws: Workspace) -> list[dict[str, object]]:
    path = ws.config.parent / "rollout_audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def stored_stages(ws: Workspace) -> dict[str, str]:
    config = json.loads(ws.config.read_text())
    return {name: f["stage"] for name, f in config["feature_rollouts"].items()}


def test_rollout_stages_history_and_verified_badge(workspace: Workspace, launch: Launch) -> None:
    at = launch(workspace)
    stages = table(at, "feature", "stage")
    assert dict(zip(stages["feature"], stages["stage"], strict=True)) == stored_stages(workspace)
    audit = table(at, "seq", "reason")
    entries = audit_lines(workspace)
    assert list(audit["seq"]) == [e["seq"] for e in entries][::-1]
    assert list(audit["reason"]) == [e["reason"] for e in entries][::-1]
    assert f"Audit chain verified ({len(entries)} entries)" in markdown(at)


def test_an_edited_audit_log_shows_a_broken_badge(workspace: Workspace, launch: Launch) -> None:
    path = workspace.config.parent / "rollout_audit.jsonl"
    path.write_text(path.read_text().replace("a healthy week", "a quiet week"))
    at = launch(workspace)
    assert "Audit chain BROKEN" in markdown(at)
    assert "verified" not in markdown(at).split("Audit chain")[1][:20]
    assert at.error, "the chain problem is listed"


def submit_stage(at: AppTest, feature: str, stage: str, reason: str) -> AppTest:
    at.selectbox(key="sc_feature").select(feature)
    at.text_input(key="sc_stage").input(stage)
    at.text_input(key="sc_reason").input(reason)
    [button] = [b for b in at.button if b.label == "Change stage"]
    return button.click().run()


@pytest.mark.parametrize("reason", ["", "   "], ids=["empty", "blank"])
def test_stage_change_without_a_reason_is_refused(workspace: Workspace, launch: Launch, reason: str) -> None:
    at = launch(workspace)
    config_before = workspace.config.read_bytes()
    audit_before = audit_lines(workspace)
    at = submit_stage(at, "calib_v2", "100%", reason)
    assert not at.exception
    assert any("reason" in str(e.value) and "Refused" in str(e.value) for e in at.error)
    assert workspace.config.read_bytes() == config_before
    assert audit_lines(workspace) == audit_before
    stages = table(at, "feature", "stage")
    assert dict(zip(stages["feature"], stages["stage"], strict=True))["calib_v2"] == "50%"


def test_stage_change_with_a_reason_goes_to_the_audit_log(workspace: Workspace, launch: Launch) -> None:
    at = launch(workspace)
    before = audit_lines(workspace)
    at = submit_stage(at, "calib_v2", "100%", "  two healthy weeks  ")
    assert [s.value for s in at.success] == ["calib_v2 is now at 100%."]
    assert stored_stages(workspace)["calib_v2"] == "100%"
    after = audit_lines(workspace)
    assert after[: len(before)] == before
    [entry] = after[len(before) :]
    assert (entry["feature"], entry["old_stage"], entry["new_stage"]) == ("calib_v2", "50%", "100%")
    assert (entry["actor"], entry["reason"]) == ("dashboard", "two healthy weeks")
    stages = table(at, "feature", "stage")
    assert dict(zip(stages["feature"], stages["stage"], strict=True))["calib_v2"] == "100%"
    assert table(at, "seq", "reason")["actor"].iloc[0] == "dashboard"
    assert f"Audit chain verified ({len(after)} entries)" in markdown(at)


def test_an_invalid_stage_is_refused_with_the_library_message(workspace: Workspace, launch: Launch) -> None:
    at = launch(workspace)
    before = workspace.config.read_bytes()
    at = submit_stage(at, "calib_v2", "150%", "too far")
    assert any("ConfigError" in str(e.value) and "150%" in str(e.value) for e in at.error)
    assert workspace.config.read_bytes() == before


def test_backtest_steps_equal_the_results_json(workspace: Workspace, launch: Launch) -> None:
    at = launch(workspace)
    result = json.loads((workspace.backtest_dir / "races" / "walkforward_results.json").read_text())
    steps = table(at, "step", "test_start")
    assert metric(at, "Steps") == str(result["summary"]["total_steps"])
    assert list(steps["test_start"]) == [s["test_start"] for s in result["steps"]]
    assert list(steps["num_races"]) == [s["num_races"] for s in result["steps"]]
    assert steps["hit_rate_1st"].tolist() == [s["hit_rate_1st"] for s in result["steps"]]
    assert metric(at, "Overall win hit rate") == f"{result['summary']['overall_hit_rate_1st']:.1%}"


def test_registry_versions_aliases_and_hashes(workspace: Workspace, launch: Launch) -> None:
    at = launch(workspace)
    on_disk = sorted(p.name for p in (workspace.models / "training").iterdir() if p.is_dir())
    registry = json.loads((workspace.models / "registry.json").read_text())
    versions = table(at, "version", "hash_verified")
    assert sorted(versions["version"]) == on_disk
    assert versions["hash_verified"].all()
    roles = dict(zip(versions["version"], versions["aliases"], strict=True))
    assert roles[registry["aliases"]["champion"]] == "champion"
    assert roles[registry["aliases"]["challenger"]] == "challenger"
    assert f"All {len(on_disk)} version(s) hash-verified" in markdown(at)


def test_a_tampered_model_file_fails_the_hash_check(workspace: Workspace, launch: Launch) -> None:
    registry = json.loads((workspace.models / "registry.json").read_text())
    challenger = registry["aliases"]["challenger"]
    with (workspace.models / "training" / challenger / "ensemble.json").open("a") as fh:
        fh.write(" ")
    at = launch(workspace)
    versions = table(at, "version", "hash_verified").set_index("version")
    assert not versions.loc[challenger, "hash_verified"]
    assert "ensemble.json" in versions.loc[challenger, "check"]
    assert versions.loc[registry["aliases"]["champion"], "hash_verified"]
    assert "1 version(s) FAILED the hash check" in markdown(at)


def test_missing_sources_show_messages_not_tracebacks(tmp_path: Path, launch: Launch) -> None:
    ws = Workspace(tmp_path / "no.db", tmp_path / "no.json", tmp_path / "no_models", tmp_path / "no_bt")
    at = launch(ws)
    warnings = [str(w.value) for w in at.warning]
    assert len(warnings) == 4, warnings
    for path in (ws.db, ws.config, ws.models, ws.backtest_dir):
        assert any(str(path) in w and "NotFoundError" in w for w in warnings), path
    assert list(tmp_path.iterdir()) == []  # nothing was created


def test_corrupt_sources_show_messages_and_stay_untouched(tmp_path: Path, launch: Launch) -> None:
    ws = Workspace(tmp_path / "monitor.db", tmp_path / "rollout.json", tmp_path / "models", tmp_path / "bt")
    ws.db.write_bytes(b"not a database " * 100)
    ws.config.write_text("{not json")
    (ws.models / "training").mkdir(parents=True)
    (ws.models / "registry.json").write_text("{not json")
    (ws.backtest_dir / "run").mkdir(parents=True)
    (ws.backtest_dir / "run" / "walkforward_results.json").write_text("{not json")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    at = launch(ws)
    warnings = [str(w.value) for w in at.warning]
    assert [w.split(":")[0] for w in warnings] == [
        "StorageError",
        "ConfigError",
        "ArtifactError",
        "ArtifactError",
    ]
    assert "file is not a database" in warnings[0]
    assert "walkforward_results.json" in warnings[2]
    assert "format_version 1" in warnings[2]
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("reason", ["", " ", "\t\n"], ids=["empty", "space", "whitespace"])
def test_change_stage_refuses_a_blank_reason(workspace: Workspace, reason: str) -> None:
    before = workspace.config.read_bytes()
    with dd.open_rollout(str(workspace.config)) as rollout, pytest.raises(ConfigError, match="'reason'"):
        dd.change_stage(rollout, "calib_v2", "100%", reason)
    assert workspace.config.read_bytes() == before


def test_cli_refuses_a_bad_or_busy_port(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli_app, ["dashboard", "--port", "0"])
    assert result.exit_code == 1
    assert "--port must be an int in 1-65535. Got 0." in result.output
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(cli_app, ["dashboard", "--port", str(port)])
    assert result.exit_code == 1
    assert f"StorageError: Cannot listen on 127.0.0.1:{port}" in result.output


@pytest.mark.postgres
def test_a_postgresql_ledger(pg_url: str, workspace: Workspace, launch: Launch) -> None:
    import uuid

    from dashboard_support import build_ledger
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = f"dash_{uuid.uuid4().hex[:12]}"
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
    db = url.render_as_string(hide_password=False)
    try:
        build_ledger(db)
        reader = create_engine(db)
        with reader.connect() as conn:
            n, hits = conn.execute(
                text(
                    "SELECT COUNT(*), SUM(hit_1st) FROM race_predictions "
                    "WHERE status = 'settled' AND race_date = (SELECT MAX(race_date) FROM race_predictions)"
                )
            ).one()
            firing = conn.execute(text("SELECT COUNT(*) FROM alert_state WHERE state = 'firing'")).scalar()
        reader.dispose()
        at = launch(Workspace(db, workspace.config, workspace.models, workspace.backtest_dir))
        assert metric(at, "Races settled") == str(n)
        assert metric(at, "Win hit rate (1着的中率)") == f"{hits / n:.1%}"
        assert metric(at, "Open alerts") == str(firing)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()
