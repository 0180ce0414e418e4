"""Alerts: the seed's thresholds, sample-size awareness, state (fingerprint, cooldown, resolve), delivery."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from ledger_helpers import FakeClock

from stagewise import ConfigError
from stagewise.monitor import AlertConfig, AlertRule, PerformanceMonitor, load_alert_config

DAY = "2025-11-17"


def _stats(
    n: int = 100, win: float = 0.5, top3: float = 0.1, acc: float = 0.7, **extra: Any
) -> dict[str, Any]:
    from stagewise.metrics import wilson_interval

    out: dict[str, Any] = {
        "date": DAY,
        "total_races": n,
        "score_accuracy_races": n,
        "avg_score_accuracy": acc,
    }
    for name, rate in (("hit_rate_1st", win), ("hit_rate_top3", top3)):
        out[name] = rate
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = wilson_interval(round(rate * n), n)
    out["avg_score_accuracy_ci_high"] = acc + 0.05
    out.update(extra)
    return out


def _types(alerts: list[dict[str, Any]]) -> list[str]:
    return [a["alert_type"] for a in alerts]


@pytest.mark.parametrize(
    ("stats", "expected"),
    [
        pytest.param(_stats(), [], id="healthy"),
        pytest.param(_stats(win=0.14), ["LOW_HIT_RATE_1ST"], id="win-14pct"),
        pytest.param(_stats(win=0.15), [], id="win-exactly-15pct-is-not-below"),
        pytest.param(_stats(top3=0.04), ["LOW_HIT_RATE_TOP3"], id="trifecta-4pct"),
        pytest.param(_stats(acc=0.59), ["LOW_SCORE_ACCURACY"], id="accuracy-0.59"),
        pytest.param(_stats(n=9), ["INSUFFICIENT_DATA"] * 3 + ["LOW_RACE_COUNT"], id="nine-races"),
        pytest.param(
            _stats(n=10, win=0.1, top3=0.0, acc=0.5),
            ["LOW_HIT_RATE_1ST", "LOW_HIT_RATE_TOP3", "LOW_SCORE_ACCURACY"],
            id="all-rates-low",
        ),
    ],
)
def test_seed_thresholds(tmp_path: Path, stats: dict[str, Any], expected: list[str]) -> None:
    m = PerformanceMonitor(monitor_db=tmp_path / "m.db")
    alerts = m.check_alerts(DAY, stats)
    assert _types(alerts) == expected
    for alert in alerts:
        assert {"alert_type", "message", "metric_value", "threshold"} <= set(alert)
    if "LOW_HIT_RATE_1ST" in expected:
        (win,) = [a for a in alerts if a["alert_type"] == "LOW_HIT_RATE_1ST"]
        assert (win["metric_value"], win["threshold"]) == (stats["hit_rate_1st"], 0.15)
        assert "14.00%" in win["message"] or "10.00%" in win["message"]


def test_a_day_without_races_fires_low_race_count(tmp_path: Path) -> None:
    m = PerformanceMonitor(monitor_db=tmp_path / "m.db")
    alerts = m.check_alerts(DAY, None)
    assert _types(alerts) == ["INSUFFICIENT_DATA"] * 3 + ["LOW_RACE_COUNT"]
    assert alerts[-1]["metric_value"] == 0


def test_wilson_upper_rule_does_not_page_on_noise(tmp_path: Path) -> None:
    rules = (
        AlertRule(
            alert_type="LOW_HIT_RATE_1ST", metric="hit_rate_1st", threshold=0.15, compare="wilson_upper"
        ),
    )
    cfg = AlertConfig(domains={"races": {"rules": rules}})  # type: ignore[dict-item]
    m = PerformanceMonitor(monitor_db=tmp_path / "m.db", alert_config=cfg)
    # 2 wins in 20 races is 10 %, but the upper 95 % bound (30 %) is above 15 %: could be noise.
    assert m.check_alerts(DAY, _stats(n=20, win=0.1)) == []
    # 10 wins in 200 races is 5 %, upper bound about 9 %: a real problem.
    assert _types(m.check_alerts(DAY, _stats(n=200, win=0.05))) == ["LOW_HIT_RATE_1ST"]


def test_fingerprint_cooldown_and_resolution(tmp_path: Path) -> None:
    clock = FakeClock()
    sent: list[dict[str, Any]] = []
    m = PerformanceMonitor(monitor_db=tmp_path / "m.db", clock=clock, notifiers=[sent.append])
    first = m.check_alerts(DAY, _stats(win=0.1))
    assert [(a["alert_type"], a["notified"]) for a in first] == [("LOW_HIT_RATE_1ST", True)]
    clock.now += timedelta(hours=1)
    again = m.check_alerts("2025-11-18", _stats(win=0.12))  # same problem next day: same fingerprint
    assert again[0]["fingerprint"] == first[0]["fingerprint"]
    assert again[0]["notified"] is False
    assert len(sent) == 1
    clock.now += timedelta(days=1)  # past the 24 h cooldown: reminded once
    assert m.check_alerts("2025-11-19", _stats(win=0.1))[0]["notified"] is True
    assert len(sent) == 2
    clock.now += timedelta(hours=2)
    assert m.check_alerts("2025-11-20", _stats(win=0.5)) == []  # fixed: resolved and told
    assert [s["state"] for s in sent] == ["firing", "firing", "resolved"]
    history = m.alert_history()
    assert list(history["state"]) == ["firing", "firing", "resolved"]
    assert set(history["delivery_status"]) == {"sent"}
    from sqlalchemy import select

    from stagewise.monitor.schema import alert_state

    state = m.store.read(lambda c: c.execute(select(alert_state)).mappings().one())
    assert state["state"] == "resolved"
    assert state["resolved_at"] == clock.now.replace(tzinfo=None)
    # a new occurrence after resolution is a new firing, notified at once
    clock.now += timedelta(minutes=5)
    assert m.check_alerts("2025-11-21", _stats(win=0.1))[0]["notified"] is True


def test_segments_have_their_own_fingerprints(tmp_path: Path) -> None:
    m = PerformanceMonitor(monitor_db=tmp_path / "m.db")
    a = m.check_alerts(DAY, _stats(win=0.1), model_version="v1")
    b = m.check_alerts(DAY, _stats(win=0.1), model_version="v2")
    assert a[0]["fingerprint"] != b[0]["fingerprint"]
    assert b[0]["notified"] is True


class _Hook(BaseHTTPRequestHandler):
    status: ClassVar[int] = 500
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, type[_Hook]]]:
    _Hook.received = []
    _Hook.status = 500
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", _Hook
    server.shutdown()
    server.server_close()


def test_a_failing_notifier_never_loses_the_alert(tmp_path: Path, webhook: tuple[str, type[_Hook]]) -> None:
    from stagewise.notify import RetryPolicy, WebhookNotifier

    url, hook = webhook
    notifier = WebhookNotifier(
        url, policy=RetryPolicy(max_attempts=2, base_delay=0.0, jitter=0.0, timeout=5.0)
    )
    m = PerformanceMonitor(monitor_db=tmp_path / "m.db", notifiers=[notifier])
    alerts = m.check_alerts(DAY, _stats(top3=0.01))
    assert alerts[0]["delivery_status"] == "failed"
    history = m.alert_history()
    assert list(history["delivery_status"]) == ["failed"]
    assert "HTTP 500" in history["delivery_error"].iloc[0]
    assert len(hook.received) == 2  # the server really was called, twice
    hook.status = 200
    assert m.retry_failed_deliveries() == 1
    assert list(m.alert_history()["delivery_status"]) == ["sent"]
    body = hook.received[-1]
    assert body["fingerprint"] == alerts[0]["fingerprint"]
    assert body["status"] == "firing"
    assert body["fields"]["alert_type"] == "LOW_HIT_RATE_TOP3"


def test_a_notifier_that_raises_is_recorded_as_failed(tmp_path: Path) -> None:
    def broken(_: dict[str, Any]) -> None:
        raise ConnectionError("smtp down")

    m = PerformanceMonitor(monitor_db=tmp_path / "m.db", notifiers=[broken])
    assert m.check_alerts(DAY, _stats(acc=0.1))[0]["delivery_status"] == "failed"
    assert "smtp down" in m.alert_history()["delivery_error"].iloc[0]


def test_config_file_replaces_rules(tmp_path: Path) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text(
        'cooldown_minutes = 5\n[[domains.races.rules]]\nalert_type = "LOW_HIT_RATE_1ST"\n'
        'metric = "hit_rate_1st"\nthreshold = 0.5\nmin_samples = 50\n'
    )
    cfg = load_alert_config(path)
    assert cfg.cooldown_minutes == 5
    assert next(r.alert_type for r in cfg.domains["market"].rules) == "LOW_ACCURACY"
    m = PerformanceMonitor(monitor_db=tmp_path / "m.db", alert_config=path)
    assert _types(m.check_alerts(DAY, _stats(n=40, win=0.3))) == ["INSUFFICIENT_DATA"]
    assert _types(m.check_alerts(DAY, _stats(n=60, win=0.3))) == ["LOW_HIT_RATE_1ST"]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        pytest.param("cooldown_minutes = -1\n", "cooldown_minutes", id="negative-cooldown"),
        pytest.param("colldown = 1\n", "colldown", id="unknown-key"),
        pytest.param(
            '[[domains.races.rules]]\nalert_type = "X"\nmetric = "hit_rate_9th"\nthreshold = 0.1\n',
            "domains.races.rules.0.metric",
            id="unknown-metric",
        ),
        pytest.param(
            '[[domains.races.rules]]\nalert_type = "X"\nmetric = "total_races"\nthreshold = 1\n'
            'compare = "wilson_upper"\n',
            "wilson_upper",
            id="wilson-on-a-count",
        ),
        pytest.param("[[domains.horses.rules]]\n", "domains.horses", id="unknown-domain"),
        pytest.param("this is = = not toml", "not valid", id="not-toml"),
    ],
)
def test_bad_config_file_names_the_field(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.").replace("[", r"\[")):
        load_alert_config(path)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Cannot read the alert config"):
        PerformanceMonitor(monitor_db=tmp_path / "m.db", alert_config=tmp_path / "nope.toml")


def test_check_alerts_on_the_ledger_records_market_alerts(tmp_path: Path) -> None:
    m = PerformanceMonitor(monitor_db=tmp_path / "m.db")
    for minute in range(40):
        m.log_signal("BTCUSD", f"{DAY}T10:{minute:02d}:00", 1, 0.6, outcome=0 if minute % 4 else 1)
    alerts = m.check_alerts(DAY, domain="market", symbol="BTCUSD")
    assert _types(alerts) == ["LOW_ACCURACY"]
    assert alerts[0]["metric_value"] == pytest.approx(10 / 40)
    assert alerts[0]["segment"] == {"symbol": "BTCUSD"}
