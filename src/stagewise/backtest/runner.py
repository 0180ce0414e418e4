"""``WalkForwardBacktest``: the seed's ``run_walkforward`` on either domain, leakage-safe.

Work order: validate every parameter, load the data, compute features once (causally), plan
every window, check the plan against the data, then fit and predict chunk by chunk (in
process, in a process pool or on Dask, through the resume cache), score, summarise, guard,
and write the outputs (:mod:`stagewise.backtest.report`).
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from stagewise._dates import DateLike
from stagewise._domain import Domain
from stagewise._exceptions import ConfigError
from stagewise.backtest.domains import DataArg, DomainAdapter, FeatureFunction, Prepared, second_stage_data
from stagewise.backtest.execution import check_parallelism, execute
from stagewise.backtest.steps import ChunkTask, StepCache, code_version, describe_factory, task_key
from stagewise.backtest.summary import summarize_run
from stagewise.backtest.windows import WalkForwardSplit, WindowParams, plan_windows, walk_forward_windows
from stagewise.metrics.betting import BET_TYPES, StakeStrategy
from stagewise.metrics.trading import TradingCosts
from stagewise.models.calibration import CALIBRATION_FRACTION

__all__ = ["DOMAINS", "WalkForwardBacktest", "default_model_factory"]

DOMAINS = tuple(d.value for d in Domain)
LANGS = ("en", "ja")
PLACES = ("model", "win_order")


def default_model_factory(model_params: dict[str, Any] | None = None) -> Callable[[], Any]:
    """A picklable factory of :class:`~stagewise.models.ProductionEnsemble` with ``model_params``."""
    from stagewise.models import ProductionEnsemble

    return functools.partial(ProductionEnsemble, **(model_params or {}))


def _domain(name: str, label_horizon: int, places: str) -> DomainAdapter:
    if name == Domain.RACES:
        from stagewise.backtest.race_domain import RaceDomain

        return RaceDomain(places)
    from stagewise.backtest.market_domain import MarketDomain

    return MarketDomain(label_horizon)


class WalkForwardBacktest:
    """Train on the past window, test on the next, step forward, repeat: without leakage.

    Parameters
    ----------
    domain : {"races", "markets"}
    data : DataFrame, path or None
        Race entries (``stagewise.data.races`` schema) or OHLCV bars. ``None``: races are read
        from ``data/races.parquet`` in the working directory, as the seed's
        ``WalkForwardBacktest()`` read its own data (the error says how to make that file when
        it is missing); markets default to the bundled EURUSD hourly bars.
    model_factory : callable or None
        Returns a fresh unfitted binary classifier; picklable for parallel runs. ``None``:
        ``ProductionEnsemble(**model_params)``. If the model has ``n_jobs`` it is set to
        ``model_threads``.
    n_workers : int or None
        Steps run in parallel in a process pool; ``None``: ``os.cpu_count() // model_threads``.
        ``n_workers * model_threads`` may not exceed the cores.
    scheduler : str or None
        Address of a Dask distributed scheduler (``"tcp://host:8786"``): run the steps there.
    refit_every : int
        Fit a new model every k steps; steps in between reuse the last fit.
    gap_days, window : see :func:`stagewise.backtest.windows.walk_forward_windows`.
    cache_dir : path or None
        Where finished steps are kept; ``None``: ``output_dir/.cache``. A rerun skips them.
    model_params, model_threads, label_horizon (markets, bars ahead), feature_fn (replaces the
    domain's features; computed once over all data), permutation_check, lang ("en"/"ja" for
    the text report), n_resamples and seed (bootstrap intervals; label shuffles),
    last_window ("truncate" or "drop"), html (write the HTML report).
    places : {"model", "win_order"}
        Races only: how boats 2-6 are ordered. ``"model"`` fits a
        :class:`~stagewise.models.places.PlaceModel` beside each win model (P(second or third)
        given the predicted winner's pit); ``"win_order"`` orders every boat by win probability.
    bets : StakeStrategy, {"flat", "ev", "kelly"} or None
        Races with ``win_odds``: settle this strategy on the test predictions at the pre-close
        odds, beside always-favourite, always-lane-1 and (simulated data) the oracle's EV bets;
        written as ``betting`` (docs/money.md). ``bet_type`` is ``"win"`` or ``"trifecta"``.
    calibration : {"isotonic", "platt"} or None
        Fit each step's model on the training window's earlier days and a calibrator on its last
        ``calibration_fraction`` of days (never a test row); the test predictions are calibrated
        and ``calibration`` reports raw and calibrated reliability, ECE and Brier parts.
    costs : TradingCosts or None
        Markets: spread, commission and slippage (bps) for the ``trading`` section (gross vs net
        return, turnover, Sharpe, Sortino, drawdown, equity curve); ``TradingCosts()`` by default.

    Examples
    --------
    >>> from stagewise.data import synthetic_bars
    >>> bars = synthetic_bars(24 * 40, freq="1h", seed=1)
    >>> bt = WalkForwardBacktest("markets", data=bars, n_workers=1, html=False,
    ...     model_params={"lgbm_params": {"n_estimators": 10}, "xgb_params": {"n_estimators": 10},
    ...                   "rf_params": {"n_estimators": 10}})
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as out:
    ...     result = bt.run_walkforward(bars.index[24 * 20], bars.index[24 * 30], 14, 5, 5, out)
    >>> result["summary"]["total_steps"]
    3
    """

    def __init__(
        self,
        domain: Literal["races", "markets"] | Domain = "races",
        data: DataArg = None,
        model_factory: Callable[[], Any] | None = None,
        n_workers: int | None = None,
        scheduler: str | None = None,
        refit_every: int = 1,
        gap_days: int = 0,
        window: Literal["rolling", "expanding"] = "rolling",
        cache_dir: str | os.PathLike[str] | None = None,
        *,
        model_params: dict[str, Any] | None = None,
        model_threads: int = 1,
        label_horizon: int = 1,
        feature_fn: FeatureFunction | None = None,
        permutation_check: bool = False,
        lang: Literal["en", "ja"] = "en",
        n_resamples: int = 2000,
        seed: int = 0,
        last_window: Literal["truncate", "drop"] = "truncate",
        html: bool = True,
        places: Literal["model", "win_order"] = "model",
        bets: StakeStrategy | str | None = None,
        bet_type: Literal["win", "trifecta"] = "win",
        calibration: Literal["isotonic", "platt"] | None = None,
        calibration_fraction: float = CALIBRATION_FRACTION,
        costs: TradingCosts | None = None,
    ) -> None:
        self.domain = domain
        self.data = data
        self.model_factory = model_factory
        self.n_workers = n_workers
        self.scheduler = scheduler
        self.refit_every = refit_every
        self.gap_days = gap_days
        self.window = window
        self.cache_dir = cache_dir
        self.model_params = model_params
        self.model_threads = model_threads
        self.label_horizon = label_horizon
        self.feature_fn = feature_fn
        self.permutation_check = permutation_check
        self.lang = lang
        self.n_resamples = n_resamples
        self.seed = seed
        self.last_window = last_window
        self.html = html
        self.places = places
        self.bets = bets
        self.bet_type = bet_type
        self.calibration = calibration
        self.calibration_fraction = calibration_fraction
        self.costs = costs

    # ------------------------------------------------------------------ checks
    def _check_settings(self) -> int:
        if self.domain not in DOMAINS:
            raise ConfigError(
                f"The 'domain' parameter must be one of {list(DOMAINS)}. Got {self.domain!r} instead."
            )
        if self.lang not in LANGS:
            raise ConfigError(
                f"The 'lang' parameter must be one of {list(LANGS)}. Got {self.lang!r} instead."
            )
        if self.places not in PLACES:
            raise ConfigError(
                f"The 'places' parameter must be one of {list(PLACES)}. Got {self.places!r} instead."
            )
        refit = self.refit_every
        if isinstance(refit, bool) or not isinstance(refit, int) or refit < 1:
            raise ConfigError(f"The 'refit_every' parameter must be an int >= 1. Got {refit!r} instead.")
        if self.scheduler is not None and not isinstance(self.scheduler, str):
            raise ConfigError(
                f"The 'scheduler' parameter must be an address such as 'tcp://127.0.0.1:8786' or None. "
                f"Got {self.scheduler!r} instead."
            )
        self._stake_strategy()
        if self.calibration is not None:
            from stagewise.models.calibration import CALIBRATION_METHODS, calibration_holdout

            if self.calibration not in CALIBRATION_METHODS:
                raise ConfigError(
                    f"The 'calibration' parameter must be one of {list(CALIBRATION_METHODS)} or None. "
                    f"Got {self.calibration!r} instead."
                )
            calibration_holdout([], self.calibration_fraction)  # validates the fraction
        if self.model_factory is not None and not callable(self.model_factory):
            raise ConfigError(
                f"The 'model_factory' parameter must be callable. Got {self.model_factory!r} instead."
            )
        return check_parallelism(self.n_workers, self.model_threads)

    def _stake_strategy(self) -> StakeStrategy | None:
        if self.bets is None:
            return None
        if self.domain != Domain.RACES:
            raise ConfigError(
                "The 'bets' parameter needs domain='races' (markets have costs, not odds). "
                f"Got {self.domain!r}."
            )
        if self.bet_type not in BET_TYPES:
            raise ConfigError(
                f"The 'bet_type' parameter must be one of {list(BET_TYPES)}. Got {self.bet_type!r} instead."
            )
        return self.bets if isinstance(self.bets, StakeStrategy) else StakeStrategy(self.bets)

    def _holdout(self, prepared: Prepared, train: np.ndarray) -> np.ndarray | None:
        if self.calibration is None:
            return None
        from stagewise.models.calibration import calibration_holdout

        return calibration_holdout(prepared.timestamps[train], self.calibration_fraction)

    def _plan(self, prepared: Prepared, params: WindowParams) -> list[WalkForwardSplit]:
        stamps = pd.DatetimeIndex(prepared.timestamps)
        unit = "races" if self.domain == Domain.RACES else "bars"
        if len(stamps) == 0:
            raise ConfigError(f"The data set has no {unit}.")
        first, last = stamps.min().normalize(), stamps.max().normalize()
        start, end = (
            pd.Timestamp(params["start_date"]).normalize(),
            pd.Timestamp(params["end_date"]).normalize(),
        )
        needed = start - pd.Timedelta(days=params["train_days"] + params["gap_days"])
        if self.window == "rolling" and needed < first:
            raise ConfigError(
                f"The training window of the first step starts {needed.date()}, before the data "
                f"({first.date()} to {last.date()}): use a start_date on or after "
                f"{(start + (first - needed)).date()} or use fewer train_days."
            )
        if end > last:
            raise ConfigError(
                f"The 'end_date' parameter must not be after the data's last day ({last.date()}). "
                f"Got {end.date()} instead."
            )
        planned: WindowParams = {**params, "label_horizon": prepared.label_horizon, "min_train_rows": 0}
        splits = plan_windows(prepared.timestamps, **planned)
        splits = [s.keeping(prepared.usable) for s in splits]
        if sum(len(s.test) for s in splits) == 0:
            raise ConfigError(
                f"There are no {unit} to evaluate between {start.date()} and {end.date()} "
                f"(the data covers {first.date()} to {last.date()})."
            )
        for s in splits:
            labels = prepared.labels[s.train]
            if len(np.unique(labels)) < 2:
                raise ConfigError(
                    f"Step {s.step} (training {s.train_start.date()} to {s.train_end.date()}) has "
                    f"{len(s.train)} usable training rows with {len(np.unique(labels))} label value(s); "
                    "a model needs both outcomes: use more train_days."
                )
        return splits

    # ------------------------------------------------------------------ run
    def run_walkforward(
        self,
        start_date: DateLike,
        end_date: DateLike,
        train_days: int = 14,
        test_days: int = 3,
        step_days: int = 3,
        output_dir: str | os.PathLike[str] = "temp/walkforward",
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, Any]:
        """Run the walk-forward and write its outputs to ``output_dir``; return the result dict.

        The result keeps the seed's keys: ``output_dir``, ``steps`` (each with ``train_period``,
        ``test_period``, ``races``, ``evaluated_races`` and the hit rates) and ``summary``
        (``total_steps``, ``total_races``, ``overall_hit_rate_1st``, ``overall_hit_rate_top3``,
        ``overall_score_accuracy``, ``step_stats``), plus intervals, baselines, guard findings.
        ``progress(done, total)`` is called after each fitted (or cached) chunk.
        """
        n_workers = self._check_settings()
        params: WindowParams = {
            "start_date": start_date,
            "end_date": end_date,
            "train_days": train_days,
            "test_days": test_days,
            "step_days": step_days,
            "gap_days": self.gap_days,
            "window": self.window,
            "last_window": self.last_window,
        }
        walk_forward_windows([], **params)  # validates every window parameter before any work
        domain = _domain(self.domain, self.label_horizon, self.places)
        factory = self.model_factory or default_model_factory(self.model_params)
        frame = domain.load(self.data)
        strategy = self._stake_strategy()
        if strategy is not None and "win_odds" not in frame.columns:
            raise ConfigError(
                "The 'bets' parameter needs odds: the race data has no 'win_odds' column (simulated races "
                "have it; add 'win_odds' and 'odds_snapshot_min' to your own data)."
            )
        started = time.perf_counter()
        prepared = domain.prepare(frame, self.feature_fn)
        feature_seconds = time.perf_counter() - started
        splits = self._plan(prepared, params)

        output = Path(output_dir)
        cache = StepCache(Path(self.cache_dir) if self.cache_dir is not None else output / ".cache")
        config = self._config(params, factory, n_workers)
        key_config = {
            k: v
            for k, v in config.items()
            if k not in ("n_workers", "scheduler", "lang", "permutation_check", "bets", "bet_type")
        }
        runs = [("model", None)] + ([("permuted", self.seed)] if self.permutation_check else [])
        tasks: list[ChunkTask] = []
        for _who, permute in runs:
            for chunk, first in enumerate(range(0, len(splits), self.refit_every)):
                group = splits[first : first + self.refit_every]
                x_train = prepared.features[group[0].train]
                y_train = prepared.labels[group[0].train].astype(np.int64)
                x_tests = [prepared.features[s.test] for s in group]
                second = second_stage_data(domain, prepared, group[0].train)
                seed = None if permute is None else permute * 100_003 + chunk
                key = task_key({**key_config, "permute_seed": seed}, x_train, y_train, x_tests, second)
                rows = tuple(domain.scoring_rows(prepared, s.train, s.test) for s in group)
                tasks.append(
                    ChunkTask(
                        len(tasks),
                        tuple(s.step for s in group),
                        x_train,
                        y_train,
                        tuple(x_tests),
                        prepared.feature_names,
                        factory,
                        self.model_threads,
                        seed,
                        key,
                        domain=domain,
                        score_rows=rows,
                        second_stage=second,
                        calibration=self.calibration,
                        holdout=self._holdout(prepared, group[0].train),
                    )
                )

        def report(done: int, total: int, _result: Any) -> None:
            if progress is not None:
                progress(done, total)

        started = time.perf_counter()
        results = execute(tasks, n_workers, self.scheduler, cache, report)
        wall = time.perf_counter() - started
        n_model = len(tasks) // len(runs)
        outcome = summarize_run(
            domain, prepared, splits, tasks, results, n_model, self.n_resamples, self.seed
        )
        outcome.result["config"] = config
        if self.calibration is not None:
            from stagewise.backtest.calibration import calibration_section

            outcome.result["calibration"] = calibration_section(
                domain, tasks[:n_model], results[:n_model], outcome.predictions, self.seed
            )
        if self.domain == Domain.MARKETS:
            from stagewise.backtest.trading import trading_section

            outcome.result["trading"] = trading_section(
                outcome.predictions, self.costs or TradingCosts(), self.n_resamples, self.seed
            )
        if strategy is not None:
            from stagewise.backtest.betting import betting_section

            outcome.result["betting"] = betting_section(
                frame, outcome.predictions, strategy, self.bet_type, self.n_resamples, self.seed
            )
        outcome.result["timing"] = {
            "feature_seconds": feature_seconds,
            "wall_seconds": wall,
            "fit_seconds": sum(r.fit_seconds for r in results if not r.cached),
            "predict_seconds": sum(sum(r.predict_seconds) for r in results if not r.cached),
            "n_fits": sum(1 for r in results if not r.cached),
            "n_cached": sum(1 for r in results if r.cached),
            "n_workers": n_workers,
        }
        from stagewise.backtest.report import write_outputs

        outcome.result["output_dir"] = str(output)  # the seed's key
        outcome.result["outputs"] = write_outputs(
            outcome.result, outcome.predictions, output, self.lang, self.html
        )
        return outcome.result

    def _config(self, params: WindowParams, factory: Callable[[], Any], n_workers: int) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "start_date": str(pd.Timestamp(params["start_date"]).date()),
            "end_date": str(pd.Timestamp(params["end_date"]).date()),
            **{
                k: params[k]
                for k in ("train_days", "test_days", "step_days", "gap_days", "window", "last_window")
            },
            "refit_every": self.refit_every,
            "label_horizon": self.label_horizon if self.domain == Domain.MARKETS else None,
            "places": self.places if self.domain == Domain.RACES else None,
            "bets": (self._stake_strategy() or StakeStrategy()).name if self.bets is not None else None,
            "bet_type": self.bet_type if self.bets is not None else None,
            "calibration": self.calibration,
            "calibration_fraction": self.calibration_fraction if self.calibration is not None else None,
            "model": describe_factory(factory),
            "model_threads": self.model_threads,
            "feature_fn": describe_factory(self.feature_fn) if self.feature_fn is not None else None,
            "n_workers": n_workers,
            "scheduler": self.scheduler,
            "permutation_check": self.permutation_check,
            "lang": self.lang,
            "seed": self.seed,
            "n_resamples": self.n_resamples,
            "code_version": code_version(),
        }
