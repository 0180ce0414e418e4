"""The heavy checks: train a small ensemble and round-trip it, and run a tiny walk-forward.

Both write only below a scratch directory the caller chooses (``stagewise check`` makes a
temporary one and removes it): the round trip saves to ``<scratch>/models``, never to the
user's registry, and the walk-forward writes its reports to ``<scratch>/walkforward``. The
data is the simulator's (races, seeded) or the bundled EURUSD hours (markets), so the
checks prove the toolchain (fit → save → verify → load → the same predictions) whatever
state the user's data is in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stagewise._exceptions import ConfigError
from stagewise.check.result import CheckResult, guarded

__all__ = ["DOMAINS", "SMALL_MODEL", "training_checks", "walk_forward_check"]

DOMAINS: tuple[str, ...] = ("races", "markets")

#: The small, fast ensemble the checks train (seconds, not minutes): 20 trees per family.
SMALL_MODEL: dict[str, Any] = {
    "lgbm_params": {"n_estimators": 20},
    "xgb_params": {"n_estimators": 20},
    "rf_params": {"n_estimators": 20},
}

_RACE_START = pd.Timestamp("2025-01-01")
_WRITABLE_FIX = "pass --scratch with a directory you can write (the check removes nothing there)"


def _check_domain(domain: str) -> str:
    if domain not in DOMAINS:
        raise ConfigError(f"The 'domain' of a check must be one of {list(DOMAINS)}. Got {domain!r}.")
    return domain


def _simulated_races(days: int, seed: int) -> pd.DataFrame:
    from stagewise.data import simulate_races

    return simulate_races(_RACE_START, _RACE_START + pd.Timedelta(days=days - 1), seed=seed)


def training_checks(scratch: str | Path, *, domain: str = "races", seed: int = 0) -> list[CheckResult]:
    """The seed's ``ml-models``: train a small ensemble, then save → verify → load → identical predictions.

    Races: 8 simulated days (6 train, 2 held out); markets: the last 60 days of the bundled
    EURUSD hourly bars. The registry of the round trip is ``<scratch>/models``.
    """
    _check_domain(domain)
    state: dict[str, Any] = {}
    fix = "reinstall stagewise (`pip install -e .`) and run `stagewise check ml-models` again"

    def train() -> CheckResult:
        from stagewise.models.training import train_markets, train_races

        if domain == "races":
            from stagewise.features import race_entry_features

            races = _simulated_races(8, seed)
            report = train_races(races, days=8, random_state=seed, model_params=SMALL_MODEL)
            state["X"] = race_entry_features(races.tail(600))
            unit = "boats"
        else:
            from stagewise.data import bundled_bars
            from stagewise.features import TechnicalIndicators

            bars = bundled_bars("EURUSD")
            report = train_markets(bars, days=60, random_state=seed, model_params=SMALL_MODEL)
            state["X"] = TechnicalIndicators().generate_all_features(bars).dropna().tail(600)
            unit = "bars"
        state["report"] = report
        if report.notes:  # too good to be true: leakage, not skill
            return CheckResult("training", False, " ".join(report.notes), _LEAK_FIX)
        ensemble = next(s for s in report.scores if s.name == "Ensemble")
        interval = f"[{ensemble.low:.3f}, {ensemble.high:.3f}]"  # Wilson, of the win hit rate or the accuracy
        if domain == "races":
            held_out = f"win hit rate {ensemble.value:.3f} {interval}"
        else:
            held_out = f"accuracy {ensemble.extra['accuracy']:.3f} {interval}, F1 {ensemble.value:.3f}"
        detail = (
            f"{domain}: {report.n_train:,} {unit} fitted in {report.fit_seconds:.1f} s; held-out {held_out}"
        )
        return CheckResult("training", True, detail)

    def round_trip() -> CheckResult:
        from stagewise.models import ModelRegistry

        report = state.get("report")
        if report is None:
            return CheckResult("registry round trip", False, "not checked: training failed", fix)
        registry = ModelRegistry(Path(scratch) / "models")
        version = registry.save(report.model, metrics=report.performance_metrics(), notes="stagewise check")
        registry.promote(version)
        files = registry.verify("production")
        X = state["X"]
        same = np.array_equal(registry.load("production").predict_proba(X), report.model.predict_proba(X))
        if not same:
            detail = f"{version} predicts differently after save → load on {len(X)} rows"
            return CheckResult("registry round trip", False, detail, fix)
        detail = (
            f"save → promote → verify ({len(files)} files) → load: identical predictions on {len(X)} rows"
        )
        return CheckResult("registry round trip", True, detail)

    return [guarded("training", fix, train), guarded("registry round trip", _WRITABLE_FIX, round_trip)]


_LEAK_FIX = "look for a feature or label that sees the future; honest next-bar accuracy is near 50 %"


def walk_forward_check(scratch: str | Path, *, domain: str = "races", seed: int = 0) -> CheckResult:
    """A tiny walk-forward (3 steps, the small ensemble) runs, scores every step, raises no leakage flag."""
    _check_domain(domain)

    def run() -> CheckResult:
        from stagewise.backtest import WalkForwardBacktest

        if domain == "races":
            data: Any = _simulated_races(11, seed)
            start, end = _RACE_START + pd.Timedelta(days=5), _RACE_START + pd.Timedelta(days=10)
            train_days, test_days = 5, 2
        else:
            from stagewise.data import bundled_bars

            data = bundled_bars("EURUSD")
            end = data.index[-1].normalize()
            start = end - pd.Timedelta(days=14)
            train_days, test_days = 30, 5
        backtest = WalkForwardBacktest(
            domain,  # type: ignore[arg-type]  # checked by _check_domain
            data=data,
            n_workers=1,
            html=False,
            n_resamples=200,
            seed=seed,
            model_params=SMALL_MODEL,
        )
        out = Path(scratch) / "walkforward"
        result = backtest.run_walkforward(start, end, train_days, test_days, test_days, out)
        summary, findings = result["summary"], result["guard"]["findings"]
        if findings:
            detail = "; ".join(f"{f.get('rule')}: {f.get('reason')}" for f in findings)
            return CheckResult("walk-forward", False, detail, _LEAK_FIX)
        headline = "overall_hit_rate_1st" if domain == "races" else "overall_accuracy"
        value = summary.get(headline)
        if value is None or not np.isfinite(value):
            detail = f"{summary['total_steps']} steps but no finite {headline}: nothing was scored"
            return CheckResult("walk-forward", False, detail, "check the race data for empty days")
        detail = f"{summary['total_steps']} steps, {headline} {value:.3f}, no leakage flag"
        return CheckResult("walk-forward", True, detail)

    return guarded("walk-forward", _WRITABLE_FIX, run)
