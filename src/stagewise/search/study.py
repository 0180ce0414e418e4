"""One outer step of a nested search: an Optuna study on the inner walk-forward, then the outer test.

:func:`run_outer_step` is what a worker runs (in-process, in a process pool or on Dask). It
opens the study in the shared storage (or continues it), runs trials until the study has
``upto`` finished ones, prunes a trial after an inner step when it trails the median, and
records a trial that raises as FAIL. A search sends one job per trial (:func:`trial_jobs`), so
that workers can share a study's work, but never two trials of one study at once: each job
hands its sampler (TPE or random, seeded from the search seed, the step and the trials already
stored) to the study's next job, so the trials drawn are those of one process running them all,
whichever worker runs each (and a restart, with a sampler seeded anew, draws new configurations
instead of repeating finished ones). The job that completes the study fits its best
configuration on the whole outer training window and scores it on the outer test window, which
no trial has seen; that score is stored on the study, so a restart reuses it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from stagewise._exceptions import ConfigError
from stagewise.models.calibration import CALIBRATION_FRACTION
from stagewise.search.execution import Job
from stagewise.search.procedure import Procedure, procedure
from stagewise.search.scoring import EvalRows, daily_bets, score, signal_returns
from stagewise.search.space import SearchSpace
from stagewise.search.storage import close_storage, fail_stale_trials, open_storage, shared_storage
from stagewise.search.targets import Classifier, ModelTarget, split_config

if TYPE_CHECKING:
    import optuna

__all__ = [
    "CALIBRATION_FRACTION",
    "FINISHED_STATES",
    "OuterTask",
    "count_finished",
    "fit_predict",
    "per_bar_sharpe",
    "run_outer_step",
    "run_trials",
    "trial_jobs",
    "trial_seed",
]

#: Trial states that count towards ``n_trials``: a failed trial is a trial, never retried.
FINISHED_STATES = ("COMPLETE", "PRUNED", "FAIL")


@dataclass(frozen=True)
class OuterTask:
    """Arrays and settings for one outer step; positions index ``features`` (this step's rows only)."""

    step: int
    final: bool
    study_name: str
    storage_url: str
    heartbeat: tuple[int, int]
    space: SearchSpace
    target: ModelTarget
    features: np.ndarray
    feature_names: tuple[str, ...]
    rows: EvalRows
    train: np.ndarray
    test: np.ndarray
    inner: tuple[tuple[np.ndarray, np.ndarray], ...]
    #: one key per training window (inner, then outer): labels are shuffled the same way for the same window
    inner_keys: tuple[int, ...]
    outer_key: int
    n_trials: int
    seed: int
    permute_labels: bool
    model_threads: int
    prune: bool = True
    sampler: str = "tpe"
    #: each row's time (calibration holds out a training window's last days)
    timestamps: np.ndarray | None = None
    #: keep the storage open for the process's next task (local runs; a Dask worker outlives the search)
    keep_storage: bool = True
    #: run trials until the study has this many finished ones (None: ``n_trials``); at ``n_trials`` (or
    #: None) the job also scores the study's choice on the outer test window
    upto: int | None = None


def _make_model(factory: Callable[[], Classifier], threads: int) -> Classifier:
    model = factory()
    get_params = getattr(model, "get_params", None)
    if get_params is not None and "n_jobs" in get_params():
        model.set_params(n_jobs=threads)  # type: ignore[attr-defined]
    return model


def fit_predict(
    factory: Callable[[], Classifier],
    task: OuterTask,
    train: np.ndarray,
    test: np.ndarray,
    columns: list[int],
    permute_seed: tuple[int, ...] | None,
    calibration: str | None = None,
) -> np.ndarray:
    """Fit a fresh model on ``train`` (labels shuffled with ``permute_seed``); P(positive) on ``test``.

    With ``calibration`` (``"isotonic"`` or ``"platt"``) the model is fitted on the window's earlier
    days and a :class:`~stagewise.models.calibration.ProbabilityCalibrator` on its last
    :data:`CALIBRATION_FRACTION` of days, as a calibrated walk-forward step is; ``test`` gets the
    calibrated probabilities. A one-day window has no later days to hold out: it stays uncalibrated.
    """
    names = [task.feature_names[c] for c in columns]
    y = task.rows.labels[train].astype(np.int64)
    if permute_seed is not None:
        y = np.random.default_rng(list(permute_seed)).permutation(y)
    model = _make_model(factory, task.model_threads)
    cols = np.asarray(columns, dtype=np.int64)

    def frame(rows: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(task.features[np.ix_(rows, cols)], columns=names)

    calibrator = None
    held = np.zeros(len(train), dtype=bool)
    if calibration is not None and task.timestamps is not None:
        from stagewise.models.calibration import ProbabilityCalibrator, calibration_holdout

        held = calibration_holdout(task.timestamps[train], CALIBRATION_FRACTION)
    if held.any():
        model.fit(frame(train[~held]), y[~held])
        raw = np.asarray(model.predict_proba(frame(train[held])), dtype=np.float64)[:, 1]
        calibrator = ProbabilityCalibrator(str(calibration)).fit(raw, y[held])
    else:
        model.fit(frame(train), y)
    if len(test) == 0:
        return np.empty(0)
    proba = np.asarray(model.predict_proba(frame(test)), dtype=np.float64)[:, 1]
    return proba if calibrator is None else np.clip(calibrator.predict(proba), 0.0, 1.0)


def per_bar_sharpe(returns: np.ndarray) -> float | None:
    """Mean over standard deviation of per-bar returns (not annualised); None when undefined."""
    if len(returns) < 2:
        return None
    sd = float(np.std(returns, ddof=1))
    return float(np.mean(returns) / sd) if sd > 0 else None


def _ratio(hits: float, units: float) -> float:
    """Hits per unit, or ROI (profit per unit staked); 0 when nothing was scored (or staked)."""
    return hits / units if units > 0 else 0.0


def _score_outer(task: OuterTask, config: dict[str, Any], permute: tuple[int, ...] | None) -> dict[str, Any]:
    """Fit ``config`` on the outer training window and score it on the outer test window."""
    params, feature_set = split_config(config)
    settings: Procedure = procedure(config)
    columns = task.space.columns(feature_set, task.feature_names)
    started = time.perf_counter()
    proba = fit_predict(
        task.target.factory(params), task, task.train, task.test, columns, permute, settings.calibration
    )
    fit_seconds = time.perf_counter() - started
    rows = task.rows.take(task.test)
    hits, units = score(proba, rows, settings.margin)
    out = {
        "hits": hits,
        "units": units,
        "fit_seconds": fit_seconds,
        "proba": [round(float(p), 7) for p in proba],
        "returns": [float(r) for r in signal_returns(proba, rows)],
    }
    if settings.margin is not None:
        out["daily"] = daily_bets(proba, rows, settings.margin)
    return out


def _objective(task: OuterTask) -> Callable[[optuna.Trial], float]:
    import optuna

    def evaluate(trial: optuna.Trial) -> float:
        config = task.space.suggest(trial)
        params, feature_set = split_config(config)
        settings = procedure(config)
        columns = task.space.columns(feature_set, task.feature_names)
        factory = task.target.factory(params)
        hits = units = 0.0
        fit_seconds = 0.0
        returns: list[np.ndarray] = []
        daily: list[list[Any]] = []
        for j, (train, test) in enumerate(task.inner):
            permute = (task.seed, task.inner_keys[j]) if task.permute_labels else None
            started = time.perf_counter()
            proba = fit_predict(factory, task, train, test, columns, permute, settings.calibration)
            fit_seconds += time.perf_counter() - started
            h, n = score(proba, task.rows.take(test), settings.margin)
            hits, units = hits + h, units + n
            returns.append(signal_returns(proba, task.rows.take(test)))
            if settings.margin is not None:
                daily += daily_bets(proba, task.rows.take(test), settings.margin)
            if not task.prune:
                continue  # without pruning nothing reads the per-step values: two storage writes saved
            trial.report(_ratio(hits, units), j)
            if trial.should_prune():
                trial.set_user_attr("inner", {"hits": hits, "units": units, "fit_seconds": fit_seconds})
                raise optuna.TrialPruned()
        sharpe = per_bar_sharpe(np.concatenate(returns)) if task.rows.forward_return is not None else None
        inner = {"hits": hits, "units": units, "fit_seconds": fit_seconds, "sharpe": sharpe}
        trial.set_user_attr("inner", {**inner, **({"daily": daily} if settings.margin is not None else {})})
        return _ratio(hits, units)

    def objective(trial: optuna.Trial) -> float:
        try:
            return evaluate(trial)
        except optuna.TrialPruned:
            raise
        except Exception as exc:
            # Optuna marks the trial FAIL; the reason is kept with it for the report
            trial.set_user_attr("error", f"{type(exc).__name__}: {exc}"[:500])
            raise

    return objective


def count_finished(study: optuna.Study) -> int:
    """Trials that count towards ``n_trials`` (complete, pruned or failed)."""
    return sum(1 for t in study.get_trials(deepcopy=False) if t.state.name in FINISHED_STATES)


def run_outer_step(task: OuterTask) -> int:
    """Run the missing trials of this step's study, then score its choice on the outer test window.

    Returns the step number; everything else is in the storage (read by the search runner).
    """
    run_trials((task, None))
    return task.step


def run_trials(job: tuple[OuterTask, optuna.samplers.BaseSampler | None]) -> optuna.samplers.BaseSampler:
    """One job of a study's chain: run trials until the study has ``task.upto`` finished ones, with the
    sampler the chain's previous job returned (None: a new one, seeded from the trials stored), and at
    ``n_trials`` score the choice. Returns the sampler, for the chain's next job."""
    import optuna

    task, sampler = job
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # a failed trial is reported with the results instead
    if task.keep_storage:
        return _run(task, shared_storage(task.storage_url, task.heartbeat), sampler)
    storage = open_storage(task.storage_url, task.heartbeat)
    try:
        return _run(task, storage, sampler)
    finally:
        close_storage(storage)


def trial_jobs(storage: optuna.storages.BaseStorage, task: OuterTask) -> list[Job]:
    """The study's remaining work as a chain of jobs: one per trial still missing, the last one also
    scoring the choice (a study already complete gets that one job alone). Each job takes the sampler
    the previous one returns.

    A job's cost is the training rows it fits, so the scheduler can start the longest studies first.
    """
    import optuna

    study = optuna.load_study(study_name=task.study_name, storage=storage)
    fail_stale_trials(study)  # a trial of a killed search counts as failed, not as still to run
    done = count_finished(study)
    trial_cost = float(sum(len(train) for train, _test in task.inner))
    jobs = [
        Job(run_trials, dataclasses.replace(task, upto=upto), trial_cost, takes_previous=True)
        for upto in range(done + 1, task.n_trials + 1)
    ] or [Job(run_trials, dataclasses.replace(task, upto=task.n_trials), 0.0, takes_previous=True)]
    last = jobs[-1]
    return [*jobs[:-1], dataclasses.replace(last, cost=last.cost + len(task.train))]


def trial_seed(task: OuterTask, n_stored: int) -> int:
    """The seed of a sampler made for this step's study when it holds ``n_stored`` trials."""
    return (task.seed * 1_000_003 + task.step * 10_007 + n_stored) % 2**32


def _run(
    task: OuterTask, storage: optuna.storages.BaseStorage, sampler: optuna.samplers.BaseSampler | None
) -> optuna.samplers.BaseSampler:
    import optuna

    pruner: optuna.pruners.BasePruner = (
        optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
        if task.prune
        else optuna.pruners.NopPruner()
    )
    study = optuna.load_study(study_name=task.study_name, storage=storage, pruner=pruner)
    fail_stale_trials(study)
    if sampler is None:
        # seeded with the trials already stored, so a restarted search draws new configurations
        sampler_class = optuna.samplers.TPESampler if task.sampler == "tpe" else optuna.samplers.RandomSampler
        sampler = sampler_class(seed=trial_seed(task, len(study.get_trials(deepcopy=False))))
    study.sampler = sampler
    done = count_finished(study)
    upto = task.n_trials if task.upto is None else min(task.upto, task.n_trials)
    if done < upto:
        from optuna.study import MaxTrialsCallback
        from optuna.trial import TrialState

        states = tuple(TrialState[s] for s in FINISHED_STATES)
        study.optimize(
            _objective(task),
            n_trials=upto - done,
            catch=(Exception,),  # a trial that raises is recorded as FAIL with its reason; the search goes on
            callbacks=[MaxTrialsCallback(task.n_trials, states=states)],  # another host may share the study
            gc_after_trial=False,
        )
    if upto < task.n_trials:
        return sampler
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if not complete:
        reasons = {str(t.user_attrs.get("error", "pruned")) for t in study.get_trials(deepcopy=False)}
        raise ConfigError(
            f"Every trial of outer step {task.step} failed, so no configuration can be chosen; "
            f"first reason: {sorted(reasons)[0] if reasons else 'none'}. Check the search space's ranges."
        )
    best = study.best_trial
    scored = study.user_attrs.get("outer")
    if task.final or len(task.train) == 0 or (scored is not None and scored.get("trial") == best.number):
        # the naive study has no outer window and the final window no test days (its choice is what
        # search-register fits); a restart reuses the stored score
        return sampler
    permute = (task.seed, task.outer_key) if task.permute_labels else None
    study.set_user_attr("outer", {"trial": best.number, **_score_outer(task, best.params, permute)})
    return sampler
