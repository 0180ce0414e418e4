"""``NestedSearch``: hyperparameter and feature search nested inside a purged walk-forward.

Work order: check every setting, load the data, compute features once, plan the nested
windows, open (or continue) the studies, run every outer step (and the naive best-of-N
study) on the chosen executor, read the outcome back from the storage, run the overfitting
diagnostics on the final candidates, and write ``search_results.json`` and
``search_report.html``.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from stagewise._dates import DateLike
from stagewise._domain import Domain
from stagewise._exceptions import ConfigError
from stagewise.backtest.domains import DataArg, FeatureFunction, Prepared
from stagewise.backtest.windows import WalkForwardSplit
from stagewise.search.execution import SearchProgress, Workers, schedule_summary, watch_storage
from stagewise.search.procedure import BET_MARGIN, CALIBRATION, with_bets
from stagewise.search.scoring import METRICS, ROI_METRIC, EvalRows
from stagewise.search.space import SearchSpace
from stagewise.search.splits import NestedStep, nested_splits
from stagewise.search.storage import (
    HEARTBEAT_SECONDS,
    MEMORY,
    close_shared_storages,
    resolve_storage,
    shared_storage,
)
from stagewise.search.studies import open_studies, study_names
from stagewise.search.study import CALIBRATION_FRACTION, OuterTask, trial_jobs
from stagewise.search.targets import EnsembleTarget, ModelTarget

__all__ = ["DOMAINS", "NestedSearch"]

DOMAINS = tuple(d.value for d in Domain)
SAMPLERS = ("tpe", "random")


def _positive_int(name: str, flag: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(
            f"The '{name}' parameter ({flag}) must be an int >= {minimum}. Got {value!r} instead."
        )
    return value


def _window_key(split: WalkForwardSplit) -> int:
    text = f"{split.train_start.value}:{split.train_end.value}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


class NestedSearch:
    """Choose a configuration inside each outer training window; score it on the outer test window.

    Parameters
    ----------
    domain : {"races", "markets"}
    data : DataFrame, path or None
        As for :class:`~stagewise.WalkForwardBacktest` (markets default to the bundled EURUSD bars).
    space : SearchSpace
        What to search (:func:`~stagewise.search.load_space` reads a TOML/YAML file).
    target : ModelTarget or None
        Turns a configuration into a model; ``None``: :class:`~stagewise.search.EnsembleTarget`.
    n_trials : int
        Trials per outer step (and of the naive best-of-N study). Failed and pruned trials count.
    n_workers, scheduler : trials run K at a time (this process and K - 1 worker processes), or on a
        Dask scheduler (one task per study); a study's trials run in order, so the results are those
        of one worker.
    storage : str or None
        Optuna storage URL; ``None``: the ledger's database (``sqlite:///data/monitor.db``).
    study_name, new_study : the study's name; ``new_study=True`` deletes a study of that name first.
        A study made with another space or other settings is refused unless ``new_study``.
    gap_days, window, label_horizon : as in the walk-forward backtest (embargo, rolling/expanding, purge).
    inner_train_days, inner_test_days : the inner walk-forward inside each outer training window.
    permute_labels : shuffle the labels inside every training window (the search must then find nothing).
    prune : stop a trial after an inner step when it trails the median of earlier trials.
    sampler : ``"tpe"`` (Optuna's TPE, seeded) or ``"random"`` (independent draws, seeded).
    naive : also run the naive best-of-N search on the outer test windows, for comparison.
    cpcv_groups, cpcv_test_groups, n_candidates : CPCV/PBO diagnostics on up to ``n_candidates``
        configurations (0 turns the diagnostics off).

    Examples
    --------
    See ``docs/search.md``; a run writes ``search_results.json`` and ``search_report.html``.
    """

    def __init__(
        self,
        domain: Literal["races", "markets"] | Domain = "races",
        data: DataArg = None,
        space: SearchSpace | None = None,
        target: ModelTarget | None = None,
        *,
        n_trials: int = 20,
        n_workers: int = 1,
        scheduler: str | None = None,
        storage: str | None = None,
        study_name: str | None = None,
        new_study: bool = False,
        gap_days: int = 0,
        window: Literal["rolling", "expanding"] = "rolling",
        label_horizon: int = 1,
        inner_train_days: int | None = None,
        inner_test_days: int | None = None,
        model_threads: int = 1,
        seed: int = 0,
        permute_labels: bool = False,
        prune: bool = True,
        sampler: Literal["tpe", "random"] = "tpe",
        naive: bool = True,
        cpcv_groups: int = 6,
        cpcv_test_groups: int = 2,
        n_candidates: int = 4,
        feature_fn: FeatureFunction | None = None,
        heartbeat: tuple[int, int] = HEARTBEAT_SECONDS,
        html: bool = True,
    ) -> None:
        self.domain = domain
        self.data = data
        self.space = space
        self.target = target
        self.n_trials = n_trials
        self.n_workers = n_workers
        self.scheduler = scheduler
        self.storage = storage
        self.study_name = study_name
        self.new_study = new_study
        self.gap_days = gap_days
        self.window = window
        self.label_horizon = label_horizon
        self.inner_train_days = inner_train_days
        self.inner_test_days = inner_test_days
        self.model_threads = model_threads
        self.seed = seed
        self.permute_labels = permute_labels
        self.prune = prune
        self.sampler = sampler
        self.naive = naive
        self.cpcv_groups = cpcv_groups
        self.cpcv_test_groups = cpcv_test_groups
        self.n_candidates = n_candidates
        self.feature_fn = feature_fn
        self.heartbeat = heartbeat
        self.html = html

    # ------------------------------------------------------------------ checks
    def _check(self) -> tuple[SearchSpace, ModelTarget]:
        if self.domain not in DOMAINS:
            raise ConfigError(
                f"The 'domain' parameter (--domain) must be one of {list(DOMAINS)}. Got {self.domain!r} "
                "instead."
            )
        _positive_int("n_trials", "--trials", self.n_trials)
        if self.sampler not in SAMPLERS:
            raise ConfigError(
                f"The 'sampler' parameter (--sampler) must be one of {list(SAMPLERS)}. Got "
                f"{self.sampler!r} instead."
            )
        _positive_int("n_workers", "--workers", self.n_workers)
        _positive_int("model_threads", "--model-threads", self.model_threads)
        if self.storage == MEMORY and (self.n_workers > 1 or self.scheduler is not None):
            raise ConfigError(
                "The 'storage' parameter (--storage) 'memory' keeps the study in this process: use it with "
                f"n_workers=1 and no scheduler, or give a database URL. Got n_workers={self.n_workers}."
            )
        cores = os.cpu_count() or 1
        if self.scheduler is None and self.n_workers * self.model_threads > cores:
            raise ConfigError(
                f"The 'n_workers' parameter (--workers) times model_threads ({self.model_threads}) must be "
                "at most "
                f"the {cores} cores. Got {self.n_workers} instead."
            )
        _positive_int("n_candidates", "--candidates", self.n_candidates, 0)
        if not isinstance(self.space, SearchSpace):
            raise ConfigError(
                "The 'space' parameter (--space) must be a SearchSpace (see load_space). Got "
                f"{self.space!r} instead."
            )
        if self.space.tunes(BET_MARGIN) and self.domain != Domain.RACES:
            raise ConfigError(
                f"The search space parameter '{BET_MARGIN}' exists for --domain races only (EV bets on the "
                f"win odds); {self.domain} have no bet margin. Remove it from the space."
            )
        target = self.target if self.target is not None else EnsembleTarget()
        target.check_names(self.space.names())
        return self.space, target

    def metric(self, space: SearchSpace) -> str:
        """What trials maximise: the domain's hit rate, or the bets' ROI when the space tunes the margin."""
        return ROI_METRIC if space.tunes(BET_MARGIN) else METRICS[self.domain]

    def _prepare(self) -> Prepared:
        if self.domain == Domain.RACES:
            from stagewise.backtest.race_domain import RaceDomain

            race_domain = RaceDomain("win_order")
            return race_domain.prepare(race_domain.load(self.data), self.feature_fn)
        from stagewise.backtest.market_domain import MarketDomain

        market_domain = MarketDomain(self.label_horizon)
        return market_domain.prepare(market_domain.load(self.data), self.feature_fn)

    def _rows(self, prepared: Prepared) -> EvalRows:
        if self.domain == Domain.MARKETS:
            return EvalRows(prepared.labels, forward_return=prepared.extras["forward_return"])
        rows = EvalRows(prepared.labels, groups=prepared.extras["race_codes"])
        tunes_margin = self.space is not None and self.space.tunes(BET_MARGIN)
        return with_bets(rows, prepared.frame) if tunes_margin else rows

    # ------------------------------------------------------------------ run
    def run(
        self,
        start_date: DateLike,
        end_date: DateLike,
        train_days: int = 60,
        test_days: int = 7,
        step_days: int = 7,
        output_dir: str | os.PathLike[str] = "temp/search",
        progress: Callable[[SearchProgress], None] | None = None,
    ) -> dict[str, Any]:
        """Run (or continue) the search and write its outputs; return the results dict."""
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        space, target = self._check()
        windows = {
            "start_date": start_date,
            "end_date": end_date,
            "train_days": train_days,
            "test_days": test_days,
            "step_days": step_days,
        }
        # the worker processes start now, while this process prepares the data and opens the studies
        with Workers(self.n_workers, self.scheduler) as workers:
            prepared = self._prepare()
            space.check_features(prepared.feature_names)
            steps = self._plan(prepared, windows)
            url = resolve_storage(self.storage)
            try:
                storage = shared_storage(url, self.heartbeat)
                return self._search(
                    storage, url, steps, space, target, prepared, windows, progress, output_dir, workers
                )
            finally:
                close_shared_storages()

    def _search(
        self,
        storage: Any,
        url: str,
        steps: list[NestedStep],
        space: SearchSpace,
        target: ModelTarget,
        prepared: Prepared,
        windows: Mapping[str, Any],
        progress: Callable[[SearchProgress], None] | None,
        output_dir: str | os.PathLike[str],
        workers: Workers,
    ) -> dict[str, Any]:
        from stagewise.search.collect import collect
        from stagewise.search.report import write_outputs

        config = self._config(windows, space, target, prepared)
        names = study_names(self.study_name or f"stagewise-search-{self.domain}", len(steps), self.naive)
        open_studies(storage, names, config, space, self.new_study)

        rows = self._rows(prepared)
        tasks = [
            self._outer_task(
                s.outer.step, names.steps[i], url, space, target, prepared, rows, s.inner, s.outer, s.final
            )
            for i, s in enumerate(steps)
        ]
        if self.naive:
            # the naive study tunes on the outer windows themselves: no outer window of its own
            outer = [s.outer for s in steps if not s.final]
            naive = self._outer_task(-1, names.naive, url, space, target, prepared, rows, outer, None)
            tasks.insert(0, naive)
        # one job per trial, a study's jobs one after another, its sampler handed from job to job: whoever
        # is free takes a trial of the study with the most work left, so the naive study (a fit on every
        # outer window per trial) no longer runs alone at the end, and the trials are one worker's
        chains = [trial_jobs(storage, task) for task in tasks]
        stop = threading.Event()
        watcher = None
        if progress is not None:
            total = self.n_trials * len(tasks)
            watcher = watch_storage(url, names.studies, total, progress, stop)
        started, cpu_started = time.perf_counter(), time.process_time()
        first_span = len(workers.timeline)
        try:
            workers.run_chains(chains)
        finally:
            stop.set()
            if watcher is not None:
                watcher.join()
        search_seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
        schedule = schedule_summary(workers.timeline[first_span:], self.n_workers)
        jobs = [chain[0] for chain in chains]
        result = collect(self, storage, names, steps, prepared, rows, space, target, jobs, workers)
        result["config"] = config
        result["timing"]["search_seconds"] = search_seconds
        result["timing"]["search_cpu_seconds"] = cpu_seconds  # this process only (all of it with 1 worker)
        if self.scheduler is None:
            result["timing"]["schedule"] = schedule
        result["outputs"] = write_outputs(result, Path(output_dir), self.html)
        return result

    def _plan(self, prepared: Prepared, windows: Mapping[str, Any]) -> list[NestedStep]:
        stamps = pd.DatetimeIndex(prepared.timestamps)
        if len(stamps) == 0:
            raise ConfigError("The data set is empty.")
        first, last = stamps.min().normalize(), stamps.max().normalize()
        start, end = (
            pd.Timestamp(windows["start_date"]).normalize(),
            pd.Timestamp(windows["end_date"]).normalize(),
        )
        needed = start - pd.Timedelta(days=int(windows["train_days"]) + int(self.gap_days))
        if self.window == "rolling" and needed < first:
            raise ConfigError(
                f"The training window of the first outer step starts {needed.date()}, before the data "
                f"({first.date()} to {last.date()}): use a --start on or after "
                f"{(start + (first - needed)).date()} "
                "or fewer --train-days."
            )
        if end > last:
            raise ConfigError(
                f"The 'end_date' parameter (--end) must not be after the data's last day ({last.date()}). "
                f"Got {end.date()} instead."
            )
        steps = nested_splits(
            prepared.timestamps,
            **windows,
            gap_days=self.gap_days,
            window=self.window,
            inner_train_days=self.inner_train_days,
            inner_test_days=self.inner_test_days,
            label_horizon=prepared.label_horizon,
            usable=prepared.usable,
        )
        for step in steps:
            for split in (step.outer, *step.inner):
                if len(np.unique(prepared.labels[split.train])) < 2:
                    raise ConfigError(
                        f"Outer step {step.outer.step}: a training window ({split.train_start.date()} to "
                        f"{split.train_end.date()}) has {len(split.train)} rows with one label value; "
                        "a model needs both outcomes: use more --train-days or longer inner windows."
                    )
        return steps

    def _config(
        self, windows: Mapping[str, Any], space: SearchSpace, target: ModelTarget, prepared: Prepared
    ) -> dict[str, Any]:
        data_digest = hashlib.sha256(np.ascontiguousarray(prepared.timestamps).tobytes())
        data_digest.update(np.ascontiguousarray(prepared.labels).tobytes())
        return {
            "domain": self.domain,
            "metric": self.metric(space),
            **{k: (str(pd.Timestamp(v).date()) if k.endswith("date") else v) for k, v in windows.items()},
            "gap_days": self.gap_days,
            "window": self.window,
            "label_horizon": self.label_horizon if self.domain == Domain.MARKETS else None,
            "inner_train_days": self.inner_train_days,
            "inner_test_days": self.inner_test_days,
            "target": target.describe(),
            "seed": self.seed,
            "permute_labels": self.permute_labels,
            "prune": self.prune,
            "sampler": self.sampler,
            "naive": self.naive,
            "space": space.describe(),
            "data_sha256": data_digest.hexdigest(),
            # only with calibration in the space, so that the settings of older studies keep their fingerprint
            **({"calibration_fraction": CALIBRATION_FRACTION} if space.tunes(CALIBRATION) else {}),
        }

    def _outer_task(
        self,
        step: int,
        name: str,
        url: str,
        space: SearchSpace,
        target: ModelTarget,
        prepared: Prepared,
        rows: EvalRows,
        inner: Sequence[WalkForwardSplit],
        outer: WalkForwardSplit | None,
        final: bool = False,
    ) -> OuterTask:
        """The task of one study: trials on the ``inner`` windows, then the choice scored on ``outer``.

        Positions are local to the rows the windows use, so a worker receives only those rows.
        The naive study is the same task with the outer steps as its inner windows and no outer window.
        """
        windows = [*inner, *([outer] if outer is not None else [])]
        positions = np.unique(np.concatenate([np.union1d(w.train, w.test) for w in windows]))

        def local(p: np.ndarray) -> np.ndarray:
            return np.searchsorted(positions, p)

        empty = np.empty(0, dtype=np.int64)
        return OuterTask(
            step=step,
            final=final,
            study_name=name,
            storage_url=url,
            heartbeat=self.heartbeat,
            space=space,
            target=target,
            features=prepared.features[positions],
            feature_names=prepared.feature_names,
            rows=rows.take(positions),
            train=empty if outer is None else local(outer.train),
            test=empty if outer is None else local(outer.test),
            inner=tuple((local(w.train), local(w.test)) for w in inner),
            inner_keys=tuple(_window_key(w) for w in inner),
            outer_key=0 if outer is None else _window_key(outer),
            n_trials=self.n_trials,
            seed=self.seed,
            permute_labels=self.permute_labels,
            model_threads=self.model_threads,
            prune=self.prune,
            sampler=self.sampler,
            timestamps=prepared.timestamps[positions],
            keep_storage=self.scheduler is None,
        )
