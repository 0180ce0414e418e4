"""One domain vocabulary: ``Domain`` names races and markets for every package."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from stagewise import ConfigError
from stagewise._domain import Domain, parse_domain
from stagewise.monitor import PerformanceMonitor
from stagewise.rollout.controller import min_units_per_day
from stagewise.rollout.health import load_policy


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param("races", Domain.RACES, id="races"),
        pytest.param("markets", Domain.MARKETS, id="markets"),
        pytest.param("market", Domain.MARKETS, id="ledger-name"),
        pytest.param(Domain.MARKETS, Domain.MARKETS, id="member"),
    ],
)
def test_parse_domain_accepts_both_spellings_of_markets(given: object, expected: Domain) -> None:
    assert parse_domain(given) is expected


@pytest.mark.parametrize("bad", ["Markets", "race", "", None, 1])
def test_parse_domain_refuses_naming_the_field_the_value_and_the_accepted(bad: object) -> None:
    with pytest.raises(ConfigError) as error:
        parse_domain(bad, "--domain")
    assert str(error.value) == f"Unknown --domain {bad!r}; accepted: 'races', 'markets' (or 'market')."


def test_a_domain_is_the_string_other_packages_already_compare_with() -> None:
    assert Domain.MARKETS == "markets"
    assert {"markets": 1}[Domain.MARKETS] == 1
    assert (Domain.RACES.ledger_key, Domain.MARKETS.ledger_key) == ("races", "market")
    assert load_policy("markets").domain == Domain.MARKETS
    assert (min_units_per_day(Domain.RACES), min_units_per_day("markets")) == (10, 1)


def test_market_alerts_are_the_same_whichever_spelling_asks(tmp_path: Path) -> None:
    results = []
    for spelling in ("market", "markets", Domain.MARKETS):
        m = PerformanceMonitor(monitor_db=tmp_path / f"{spelling!s}.db", notifiers=[])
        for minute in range(40):
            m.log_signal("BTCUSD", f"2026-11-02T10:{minute:02d}:00", 1, 0.6, outcome=0 if minute % 4 else 1)
        alerts = m.check_alerts("2026-11-02", domain=spelling, symbol="BTCUSD")
        history = m.alert_history()
        m.close()
        results.append(([a["alert_type"] for a in alerts], list(history["domain"])))
    assert results == [(["LOW_ACCURACY"], ["market"])] * 3  # stored under the ledger's name


def test_an_unknown_alert_domain_is_refused_naming_it(tmp_path: Path) -> None:
    m = PerformanceMonitor(monitor_db=tmp_path / "m.db", notifiers=[])
    with pytest.raises(ConfigError, match="Unknown domain 'horses'"):
        m.check_alerts("2026-11-02", domain="horses")
    m.close()


def test_the_cli_domain_choices_are_unchanged() -> None:
    from stagewise.cli.main import app

    runner = CliRunner()
    for command in (["train", "--help"], ["check", "full-check", "--help"]):
        result = runner.invoke(app, command, env={"COLUMNS": "200", "NO_COLOR": "1"})
        assert result.exit_code == 0, result.output
        assert "markets" in result.output, command
        assert "races" in result.output, command
