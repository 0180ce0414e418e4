"""The demo's markets story: the same lifecycle on the bundled EURUSD hourly bars.

load the bars → train a champion and a challenger direction ensemble → walk-forward backtest
both → register them → roll the challenger out at 10 % and replay live bars (each bar routed,
its signal logged before its outcome, the controller judging the signals each midnight under
the markets health policy) → the same with a degraded challenger → one HTML page.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from stagewise._exceptions import ConfigError
from stagewise.lifecycle.progress import DemoProgress

__all__ = [
    "MARKET_CHALLENGER",
    "MARKET_CONTROLLER",
    "MARKET_HEALTH_WINDOW_DAYS",
    "MARKET_MIN_HISTORY_DAYS",
    "MARKET_MODEL",
    "SYMBOL",
    "check_market_days",
    "run_markets",
    "span_days",
]

SYMBOL = "EURUSD"
#: Days of bars that must stay before the live period: training, and the walk-forward backtest
#: (four 14-day test windows after 60 training days).
MARKET_MIN_HISTORY_DAYS = 120
#: (days before the last history day where testing starts, train_days, test_days, step_days).
MARKET_BACKTEST_WINDOW = (55, 60, 14, 14)
#: The champion: the seed's soft vote (0.4 / 0.4 / 0.2) at the demo's small sizes.
MARKET_MODEL: dict[str, Any] = {
    "lgbm_params": {"n_estimators": 60, "num_leaves": 15},
    "xgb_params": {"n_estimators": 60, "max_depth": 4},
    "rf_params": {"n_estimators": 40, "max_depth": 10},
}
#: The challenger: the same families, strongly regularised (shallow trees, large leaves). On
#: near-random next-bar direction its probabilities stay near the base rate instead of echoing
#: noise, which is what the Brier score rewards; its direction calls are no better than a coin.
MARKET_CHALLENGER: dict[str, Any] = {
    "lgbm_params": {"n_estimators": 60, "num_leaves": 4, "min_child_samples": 200},
    "xgb_params": {"n_estimators": 60, "max_depth": 2, "min_child_weight": 50},
    "rf_params": {"n_estimators": 40, "max_depth": 4, "min_samples_leaf": 100},
}
#: Days the health verdict pools at the current stage: longer than the 10 % stage lasts, so the
#: verdict uses every signal since the stage began (about 2.3 challenger signals a trading day).
MARKET_HEALTH_WINDOW_DAYS = 60
#: The controller's settings for signals (see docs/demo.md): a day counts when the challenger
#: served at least one settled signal; the markets health policy pools the window.
MARKET_CONTROLLER: dict[str, Any] = {"days_healthy": 3, "min_races_per_day": 1}
STEPS = 6
GOOD, DEGRADED = "challenger_model", "degraded_model"


def span_days() -> int:
    """Calendar days the bundled bars cover (first to last day with a bar)."""
    from stagewise.data import bundled_bars

    index = pd.DatetimeIndex(bundled_bars(SYMBOL).index)
    return int((index[-1].normalize() - index[0].normalize()).days) + 1


def check_market_days(days: int, span_days: int) -> None:
    """Refuse a ``days`` that leaves too little history before the 2 × ``days`` live days."""
    most = (span_days - MARKET_MIN_HISTORY_DAYS) // 2
    if not 7 <= days <= most:
        raise ConfigError(
            f"The 'days' option must be an int in [7, {most}] for the markets domain: the bundled "
            f"{SYMBOL} bars cover {span_days} days, 2 × DAYS are replayed and at least "
            f"{MARKET_MIN_HISTORY_DAYS} days must stay before them to train and backtest. Got {days!r}."
        )


def _labelled(bars: pd.DataFrame) -> pd.DataFrame:
    """The 12 features, the next-bar direction and when it becomes known (the next bar's close)."""
    from stagewise.features.labels import next_bar_direction
    from stagewise.features.technical import FEATURE_NAMES, TechnicalIndicators

    frame = TechnicalIndicators().generate_all_features(bars)[FEATURE_NAMES].copy()
    frame["outcome"] = next_bar_direction(bars)
    step = pd.Timedelta(hours=1)
    frame["known_at"] = pd.Series(bars.index, index=bars.index).shift(-1) + step
    return frame.dropna()


def _model_info(report: Any, version: str, notes: str) -> dict[str, Any]:
    scores = {s.name: s for s in report.scores}
    ensemble = scores["Ensemble"]
    return {
        "version": version,
        "accuracy": ensemble.extra.get("accuracy"),
        "low": ensemble.low,
        "high": ensemble.high,
        "f1": ensemble.value,
        "majority": scores["majority class"].extra.get("accuracy"),
        "n_test": report.n_test,
        "notes": notes,
    }


def _fit_off_by_one(history: pd.DataFrame, params: dict[str, Any], seed: int) -> Any:
    """A real ensemble with the classic label bug: the *previous* bar's direction instead of the next.

    Its features hold the previous bar's return, so it learns that label perfectly and is
    certain of every call; live, against the real next-bar direction, it is right only by chance.
    """
    from stagewise.features.technical import FEATURE_NAMES
    from stagewise.models import ProductionEnsemble

    close = history["close"].to_numpy(dtype=np.float64)
    previous_up = np.r_[np.nan, (close[1:] > close[:-1]).astype(np.float64)]
    labels = pd.Series(previous_up, index=history.index)
    from stagewise.features.technical import TechnicalIndicators

    features = TechnicalIndicators().generate_all_features(history)[FEATURE_NAMES]
    usable = features.notna().all(axis=1) & labels.notna()
    model = ProductionEnsemble(random_state=seed, **params)
    model.fit(features.loc[usable], labels.loc[usable].astype(int))
    return model


def _brier(predictions: pd.DataFrame) -> dict[str, float]:
    """Brier score of the backtest's probabilities and its skill against the base-rate forecast."""
    y = predictions["actual"].to_numpy(dtype=np.float64)
    brier = float(np.mean((predictions["proba_up"].to_numpy(dtype=np.float64) - y) ** 2))
    up = float(y.mean())
    base = up * (1.0 - up)
    return {"brier_score": brier, "brier_skill": 1.0 - brier / base if base > 0 else float("nan")}


def _backtest_both(
    history: pd.DataFrame, candidates: dict[str, dict[str, Any]], out_dir: Any, seed: int, say: DemoProgress
) -> dict[str, dict[str, Any]]:
    from stagewise.backtest import WalkForwardBacktest
    from stagewise.lifecycle.steps import _Ticker

    back, train_days, test_days, step_days = MARKET_BACKTEST_WINDOW
    end = pd.DatetimeIndex(history.index)[-1].normalize()
    start = end - pd.Timedelta(days=back)
    out: dict[str, dict[str, Any]] = {}
    for name, params in candidates.items():
        say.start(f"walk-forward backtest of the {name}", (back + step_days) // step_days)
        backtest = WalkForwardBacktest(domain="markets", data=history, model_params=dict(params), seed=seed)
        result = backtest.run_walkforward(
            start, end, train_days, test_days, step_days, output_dir=out_dir / name, progress=_Ticker(say)
        )
        say.finish()
        summary = result["summary"]
        majority = (result.get("baselines") or {}).get("majority") or {}
        chance = float(majority.get("accuracy", float("nan")))
        brier = _brier(pd.read_parquet(result["outputs"]["predictions"]))
        say.note(
            f"{name}: {summary['total_steps']} steps, {summary['total_bars']:,} test bars, "
            f"accuracy {summary['overall_accuracy']:.1%} (majority class {chance:.1%}), "
            f"MCC {summary['overall_mcc']:+.3f}, Brier {brier['brier_score']:.4f} "
            f"(skill vs the base rate {brier['brier_skill']:+.3f}) → {out_dir / name}"
        )
        out[name] = {
            "summary": summary,
            "majority": majority,
            **brier,
            "outputs": {k: str(v) for k, v in result["outputs"].items()},
        }
    return out


def run_markets(
    result: Any, say: DemoProgress, params: dict[str, Any] | None, receiver: Any, secret: str, started: float
) -> None:
    """The markets lifecycle into ``result`` (a :class:`~stagewise.lifecycle.demo.DemoResult`)."""
    from stagewise.data import bundled_bars
    from stagewise.lifecycle.market_replay import replay_market_days
    from stagewise.lifecycle.markets_report import day_line, write_monitor_trend
    from stagewise.lifecycle.steps import hand_over_challenger, register_both
    from stagewise.models.registry import ModelRegistry
    from stagewise.models.training import train_markets

    root, seed, days = result.workdir, result.seed, result.days
    champion_params = dict(MARKET_MODEL if params is None else params)
    challenger_params = dict(MARKET_CHALLENGER if params is None else _regularised(params))
    say.step(
        1,
        STEPS,
        f"Load the bundled {SYMBOL} bars",
        "5,000 real hourly EURUSD bars shipped with the backtesting package (nothing is downloaded). "
        f"The last 2 × {days} days are the 'live' period no model is trained on; the bars before it "
        "train and backtest the models. On hourly FX an honest direction model is right about half "
        "the time: the numbers below are expected to sit near 50 %.",
    )
    bars = bundled_bars(SYMBOL)
    bars.to_parquet(root / "data" / "bars.parquet")
    stamps = pd.DatetimeIndex(bars.index)
    live_start = stamps[-1].normalize() - pd.Timedelta(days=2 * days - 1)
    history = bars.loc[stamps < live_start]
    first, cutoff = stamps[0], stamps[stamps < live_start][-1]
    labelled = _labelled(bars)
    live = labelled.loc[labelled.index >= live_start]
    good_end = live_start + pd.Timedelta(days=days)
    say.note(
        f"{len(history):,} bars to learn from ({first} – {cutoff}), "
        f"{len(live):,} live bars from {live_start.date()} ({2 * days} calendar days)."
    )

    say.step(
        2,
        STEPS,
        "Train a champion and a challenger, then walk-forward backtest both",
        "The champion is the seed's soft vote (LightGBM 0.4, XGBoost 0.4, RandomForest 0.2); the "
        "challenger is the same vote with shallow, heavily regularised trees, so its probabilities "
        "stay near the base rate instead of echoing noise. Each is scored on the held-out tail "
        "beside the majority class, then walk-forward backtested (training rows purged by the label "
        "horizon).",
    )
    candidates = {"champion": champion_params, "challenger": challenger_params}
    say.start("training", len(candidates))
    reports = {}
    for name, model_params in candidates.items():
        reports[name] = train_markets(
            history, days=(cutoff - first).days + 1, model_params=model_params,
            random_state=seed,
        )  # fmt: skip
        say.advance()
    say.finish()
    for name, report in reports.items():
        info = _model_info(report, "", "")
        say.note(
            f"{name}: held-out accuracy {info['accuracy']:.1%} [{info['low']:.1%}, {info['high']:.1%}] "
            f"on {report.n_test:,} bars (majority class {info['majority']:.1%})"
        )
    result.backtests = _backtest_both(history, candidates, root / "backtest", seed, say)

    registry = ModelRegistry(root / "models")
    versions = register_both(registry, reports, say, STEPS, note_suffix=f" ({SYMBOL} direction)")
    for name, report in reports.items():
        result.models[name] = _model_info(report, versions[name], f"demo {name}")

    from stagewise.features.technical import FEATURE_NAMES
    from stagewise.lifecycle.markets_report import MARKET_HEALTH_NOTE
    from stagewise.monitor import PerformanceMonitor
    from stagewise.notify import WebhookNotifier
    from stagewise.rollout import GradualRollout
    from stagewise.rollout.controller import ControllerPolicy
    from stagewise.rollout.health import MARKETS_POLICY

    now = [datetime.combine(live_start.date(), datetime.min.time())]

    def clock(moment: datetime) -> None:
        now[0] = moment

    rollout = GradualRollout(
        root / "config" / "rollout_config.json", now=lambda: now[0], actor="demo", health_policy="markets"
    )
    monitor = PerformanceMonitor(
        f"sqlite:///{root / 'data' / 'monitor.db'}", notifiers=[], clock=lambda: now[0]
    )
    notifier = WebhookNotifier(receiver.url, secret=secret)
    policy = ControllerPolicy(**MARKET_CONTROLLER)

    def replay(feature: str, frame: pd.DataFrame, after_rollback: int | None) -> list[Any]:
        champion = (registry.resolve("production"), registry.load("production"))
        challenger = (registry.resolve("challenger"), registry.load("challenger"))
        say.start(f"replaying {feature}", int(pd.DatetimeIndex(frame.index).normalize().nunique()))

        def on_day(day: Any) -> None:
            say.advance()
            say.note(day_line(day))

        outcomes = replay_market_days(
            frame, symbol=SYMBOL, rollout=rollout, monitor=monitor, feature=feature, champion=champion,
            challenger=challenger, feature_names=FEATURE_NAMES, clock=clock, policy=policy,
            notifiers=[notifier], on_day=on_day, days_after_rollback=after_rollback,
            health_window_days=MARKET_HEALTH_WINDOW_DAYS,
        )  # fmt: skip
        say.finish()
        return outcomes

    try:
        say.step(
            4,
            STEPS,
            f"Roll the challenger out at 10 % and replay {days} live days of bars",
            "Each bar is routed by GradualRollout.should_enable_feature on its unit id "
            f"'{SYMBOL}:<timestamp>' (enabled → challenger, else champion); its signal is logged at the "
            "bar's close, pending, and settled when the next bar closes. At midnight the day's stats and "
            "alerts are computed and the controller judges the challenger's signals under the markets "
            f"health policy ({MARKET_HEALTH_NOTE}); it promotes 10 % → 50 % → 100 % after 3 healthy days, "
            "holds, or rolls back.",
        )
        rollout.add_feature(
            GOOD, "10%", salt=f"{GOOD}:{seed}", reason="walk-forward backtest passed", actor="demo"
        )
        result.good_run = replay(GOOD, live.loc[live.index < good_end], None)
        final = result.good_run[-1].stage_after if result.good_run else "10%"
        hand_over_challenger(registry, rollout, GOOD, versions["challenger"], final, say, "signal")

        say.step(
            5,
            STEPS,
            "Once more with a degraded challenger",
            "An ensemble trained with the classic off-by-one label bug (the previous bar's direction, which "
            "its features contain, instead of the next) is registered as the challenger and rolled out at "
            "10 %. It is certain of every call and right only by chance; the controller should roll it "
            f"back on its own and tell the webhook receiver listening on {receiver.url}.",
        )
        degraded = _fit_off_by_one(history, champion_params, seed)
        bad_version = registry.save(
            degraded,
            data_window=reports["champion"].train_window,
            notes="demo: degraded on purpose (label shifted the wrong way)",
        )
        registry.set_alias("challenger", bad_version)
        result.models["degraded"] = {
            "version": bad_version,
            "accuracy": None,
            "low": None,
            "high": None,
            "f1": None,
            "majority": None,
            "n_test": None,
            "notes": "trained on the previous bar's direction (off-by-one label)",
        }
        rollout.add_feature(
            DEGRADED,
            "10%",
            salt=f"{DEGRADED}:{seed}",
            reason="demo: a deliberately degraded model",
            actor="demo",
        )
        result.degraded_run = replay(DEGRADED, live.loc[live.index >= good_end], 1)
        if any(d.action == "rollback" for d in result.degraded_run):
            registry.remove_alias("challenger")
        else:
            served = sum(d.challenger_signals for d in result.degraded_run)
            say.note(
                f"The degraded challenger was not rolled back within {days} days: it served {served} "
                "signals, and the health policy withholds a verdict below "
                f"{MARKETS_POLICY.min_sample} settled ones (a longer --days gives it the sample)."
            )
        result.notifications = list(receiver.received)
        for item in result.notifications:
            body = item["body"] if isinstance(item["body"], dict) else {}
            say.note(
                f"webhook received: {body.get('title', item['body'])!s} "
                f"(signature {'verified' if item['signature_ok'] else 'NOT verified'})"
            )

        say.step(
            6,
            STEPS,
            "Write the reports",
            "The monitor's daily signal stats (all, challenger, control), then one page linking the "
            "backtests, the monitor trend, each day's controller decision, the rollout history and the "
            "verified audit log.",
        )
        from stagewise.lifecycle.report import write_report

        last = pd.Timestamp(live.index[-1]).date()
        monitor_paths = write_monitor_trend(monitor, live_start.date(), last, root / "report")
        audit = rollout.verify_audit()
        result.audit_ok, result.audit_entries = audit.ok, audit.entries
        result.registry_events = registry.history()
        result.seconds = time.perf_counter() - started
        write_report(
            result.report,
            result=result,
            audit=rollout.audit_log(),
            audit_report=audit,
            monitor_report=monitor_paths,
        )
    finally:
        monitor.close()
        rollout.close()


def _regularised(params: dict[str, Any]) -> dict[str, Any]:
    """The challenger's regularisation over caller-given sizes (tests pass tiny ensembles)."""
    out = {}
    for family, defaults in MARKET_CHALLENGER.items():
        given = dict(params.get(family) or {})
        out[family] = {**{k: v for k, v in defaults.items() if k != "n_estimators"}, **given}
    return out
