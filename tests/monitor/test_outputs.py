"""What users read: text and HTML reports, Prometheus exposition, the CLI, drift over logged features."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from stagewise.cli.main import app
from stagewise.metrics import wilson_interval
from stagewise.monitor import PerformanceMonitor
from stagewise.monitor.stats import wilson_bounds


def _fill(m: PerformanceMonitor, days: int = 3, per_day: int = 12, model: str = "v1") -> None:
    rows = []
    for d in range(days):
        for i in range(per_day):
            winner_hit = i % 3 == 0  # a third of the races: predicted winner wins
            finish = [1, 2, 3, 4, 5, 6] if winner_hit else [2, 1, 3, 4, 5, 6]
            rows.append(
                {
                    "race_id": f"{model}-{d}-{i}",
                    "race_date": f"2025-11-{15 + d}",
                    "venue_code": 1 + i % 2,
                    "race_number": 1 + i,
                    "predictions": [1, 2, 3, 4, 5, 6],
                    "actual_results": {p: r for r, p in enumerate(finish, 1)},
                    "model_version": model,
                    "variant": "control" if model == "v1" else "treatment",
                }
            )
    m.log_predictions(rows)


@pytest.fixture
def filled(tmp_path: Path) -> tuple[PerformanceMonitor, Path]:
    path = tmp_path / "monitor.db"
    m = PerformanceMonitor(monitor_db=path)
    _fill(m)
    _fill(m, model="v2")
    return m, path


def test_closed_form_wilson_equals_the_shared_definition() -> None:
    for n in (1, 2, 3, 7, 10, 50, 144, 1000):
        for k in range(0, n + 1, 1 if n <= 50 else 7):
            assert wilson_bounds(k, n) == pytest.approx(wilson_interval(k, n), abs=1e-12)


def test_text_report_in_english_and_japanese(filled: tuple[PerformanceMonitor, Path], tmp_path: Path) -> None:
    m, _ = filled
    m.check_alerts("2025-11-17", model_version="v1")
    paths = m.generate_report(7, tmp_path / "out" / "report.txt", end_date="2025-11-17", model_version="v1")
    text = paths["text"].read_text(encoding="utf-8")
    assert "[Overall]" in text
    assert "Races evaluated: 36" in text
    assert "Win hit rate: 33.33%" in text
    assert "Trifecta hit rate: 33.33%" in text
    assert "LOW_RACE_COUNT" not in text
    assert "[Daily]" in text
    assert "2025-11-16" in text
    ja = m.generate_report(7, tmp_path / "ja.txt", lang="ja", end_date="2025-11-17", model_version="v1")
    jtext = ja["text"].read_text(encoding="utf-8")
    for label in ("1着的中率", "3連単的中率", "スコア精度", "評価レース数", "【全体統計】", "【アラート】"):
        assert label in jtext
    assert "評価レース数: 36" in jtext
    assert "1着的中率: 33.33%" in jtext


def test_html_report_is_self_contained_with_bands_and_thresholds(
    filled: tuple[PerformanceMonitor, Path], tmp_path: Path
) -> None:
    m, _ = filled
    paths = m.generate_report(7, tmp_path / "report.txt", end_date="2025-11-17")
    html = paths["html"].read_text(encoding="utf-8")
    assert paths["html"].name == "report.html"
    # plotly.js is inlined (its source mentions the CDN in a string, but nothing loads from it)
    assert "<script src=" not in html
    assert len(html) > 1_000_000
    assert html.count("Plotly.newPlot") == 1
    assert '"fill":"tonexty"' in html  # interval bands
    assert "threshold 0.15" in html
    assert "threshold 0.05" in html
    assert "threshold 0.6" in html


def test_prometheus_exposition_has_bounded_labels(filled: tuple[PerformanceMonitor, Path]) -> None:
    m, _ = filled
    m.log_signal("EURUSD", "2025-11-17T10:00", 1, 0.7, model_version="m1", outcome=1)
    text = m.prometheus_metrics(end_date="2025-11-30")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    win = {
        tuple(sorted(s.labels.items())): s.value for s in families["stagewise_monitor_hit_rate_1st"].samples
    }
    assert win == {
        (("domain", "races"), ("model", "v1"), ("variant", "control")): pytest.approx(1 / 3),
        (("domain", "races"), ("model", "v2"), ("variant", "treatment")): pytest.approx(1 / 3),
    }
    assert families["stagewise_monitor_total_races"].samples[0].value == 12  # the latest day only
    assert families["stagewise_monitor_accuracy"].samples[0].value == 1.0
    for family in families.values():
        for sample in family.samples:
            assert set(sample.labels) <= {"domain", "model", "variant"}
    assert "v1-0-0" not in text


def test_cli_commands(filled: tuple[PerformanceMonitor, Path], tmp_path: Path) -> None:
    _, path = filled
    runner = CliRunner()
    db = ["--db", str(path)]
    result = runner.invoke(
        app, ["monitor", "stats", "--date", "2025-11-16", "--model-version", "v1", "--json", *db]
    )
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    assert stats["total_races"] == 12
    assert stats["hit_count_1st"] == 4
    result = runner.invoke(
        app, ["monitor", "trend", "--days", "5", "--end-date", "2025-11-17", "--json", *db]
    )
    assert [d["total_races"] for d in json.loads(result.output)] == [24, 24, 24]
    result = runner.invoke(app, ["monitor", "alerts", "--date", "2025-11-17", *db])
    assert result.exit_code == 0
    assert "[LOW_SCORE_ACCURACY]" not in result.output
    out = tmp_path / "r" / "report.txt"
    report = [
        "monitor",
        "report",
        "--days",
        "7",
        "--end-date",
        "2025-11-17",
        "--output",
        str(out),
        "--lang",
        "ja",
    ]
    result = runner.invoke(app, [*report, *db])
    assert result.exit_code == 0
    assert "1着的中率" in out.read_text(encoding="utf-8")
    result = runner.invoke(app, ["monitor", "export-metrics", "--end-date", "2025-11-17", *db])
    assert "stagewise_monitor_hit_rate_1st" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["stats", "--date", "2025-13-01"], "DataValidationError: date must be", id="bad-date"),
        pytest.param(
            ["trend", "--days", "0"], "ConfigError: --days must be an int in 1..36525", id="zero-days"
        ),
        pytest.param(["report", "--lang", "fr"], "ConfigError: --lang must be one of", id="bad-lang"),
        pytest.param(["stats", "--date", "2025-11-16", "--venue", "30"], "venue_code", id="bad-venue"),
    ],
)
def test_cli_user_mistakes_are_one_line_errors(
    filled: tuple[PerformanceMonitor, Path], args: list[str], message: str
) -> None:
    _, path = filled
    result = CliRunner().invoke(app, ["monitor", *args, "--db", str(path)])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_cli_missing_ledger(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["monitor", "stats", "--date", "2025-11-16", "--db", str(tmp_path / "no.db")]
    )
    assert result.exit_code == 1
    assert "NotFoundError" in result.output


def _features(rng: np.random.Generator, n: int, shift: float) -> pd.DataFrame:
    return pd.DataFrame(
        {"exhibition_time": rng.normal(6.8 + shift, 0.1, n), "motor_2rate": rng.normal(35, 5, n)}
    )


def test_drift_over_logged_features_raises_and_resolves_an_alert(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    sent: list[dict[str, Any]] = []
    m = PerformanceMonitor(monitor_db=tmp_path / "m.db", notifiers=[sent.append])
    for day in range(1, 29):
        stored = m.log_features(f"2025-10-{day:02d}", _features(rng, 300, 0.0), max_rows_per_day=200)
        assert stored == 400  # bounded: 200 of 300 rows per feature
    for day in range(1, 8):
        m.log_features(f"2025-11-{day:02d}", _features(rng, 200, 0.3))
    report = m.drift(28, 7, end_date="2025-11-07")
    assert report.drifted_features == ["exhibition_time"]
    assert [(a["alert_type"], a["segment"]) for a in sent] == [
        ("FEATURE_DRIFT", {"feature": "exhibition_time"})
    ]
    history = m.alert_history()
    assert list(history["alert_type"]) == ["FEATURE_DRIFT"]
    # the same check on undrifted frames resolves it
    calm = m.drift(
        reference=_features(rng, 500, 0.0), current=_features(rng, 500, 0.0), end_date="2025-11-08"
    )
    assert not calm.drifted
    assert [a["state"] for a in sent] == ["firing", "resolved"]
    drift = ["monitor", "drift", "--end-date", "2025-11-07", "--no-alert", "--json"]
    result = CliRunner().invoke(app, [*drift, "--db", str(tmp_path / "m.db")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["drifted_features"] == ["exhibition_time"]
