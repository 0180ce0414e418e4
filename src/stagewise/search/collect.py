"""Read a finished search back from the storage: chosen configurations, estimates, diagnostics.

The nested estimate pools the outer test windows, each scored with the configuration its own
inner search chose (a Wilson 95 % interval, as every hit rate in stagewise). The naive
best-of-N estimate is the best trial of the study that tuned directly on those same test
windows: selection bias makes it look better than it is, which is what the comparison shows.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

from stagewise._domain import Domain
from stagewise.metrics.intervals import wilson_interval
from stagewise.search.diagnostics import (
    CPCVTask,
    cpcv_groups,
    cpcv_summary,
    deflated_sharpe,
    purged_split,
    run_cpcv_candidate,
)
from stagewise.search.execution import Job, Workers
from stagewise.search.overfitting import cpcv_splits
from stagewise.search.scoring import ROI_METRIC, EvalRows
from stagewise.search.splits import NestedStep
from stagewise.search.studies import StudyNames

if TYPE_CHECKING:
    import optuna

    from stagewise.backtest.domains import Prepared
    from stagewise.search.runner import NestedSearch
    from stagewise.search.space import SearchSpace
    from stagewise.search.study import OuterTask
    from stagewise.search.targets import ModelTarget

__all__ = ["MEANINGS", "collect"]

#: One sentence each on what the diagnostics mean (also printed in the reports).
MEANINGS = {
    "nested": "The nested estimate scores each outer test window with the configuration chosen without it, "
    "so it estimates what the whole search procedure will do on new data.",
    "naive": "The naive best-of-N picks the best of N configurations by their score on the same test windows "
    "that report it, so it is biased upwards by the selection itself.",
    "cpcv": "Combinatorially purged cross-validation recombines the test groups of every split into several "
    "complete backtest paths, so each candidate gets a spread of backtest scores instead of a single one.",
    "pbo": "The probability of backtest overfitting is the share of in-sample/out-of-sample splits of time "
    "in which the candidate that was best in-sample ranks below the median out-of-sample; near 0 is good, "
    "0.5 or more means the choice is no better than a coin.",
    "deflated_sharpe": "The deflated Sharpe ratio is the probability that the chosen strategy's true Sharpe "
    "ratio is above zero skill once the number of trials, the non-normal returns and their count are "
    "accounted for; below 0.95 the Sharpe ratio is not significant.",
}


def _estimate(hits: int, units: int) -> dict[str, Any]:
    low, high = wilson_interval(hits, units) if units else (float("nan"), float("nan"))
    return {"score": hits / units if units else float("nan"), "ci": [low, high], "hits": hits, "units": units}


def _roi_estimate(daily: list[list[Any]], seed: int) -> dict[str, Any]:
    """ROI of pooled ``[day, profit, staked]`` rows with its day-block bootstrap interval."""
    from stagewise.metrics.bootstrap import day_block_bootstrap_ratio

    profit = np.array([d[1] for d in daily], dtype=np.float64)
    staked = np.array([d[2] for d in daily], dtype=np.float64)
    days = np.array([d[0] for d in daily], dtype="datetime64[D]")
    total = float(staked.sum())
    low, high = day_block_bootstrap_ratio(profit, staked, days, seed=seed) if total > 0 else (np.nan, np.nan)
    return {
        "score": float(profit.sum()) / total if total > 0 else float("nan"),
        "ci": [float(low), float(high)],
        "profit": float(profit.sum()),
        "staked": total,
        "n_days": len(np.unique(days)),
    }


def _trials(study: optuna.Study, label: str) -> list[dict[str, Any]]:
    return [
        {
            "study": label,
            "number": t.number,
            "state": t.state.name,
            "value": t.value,
            "params": t.params,
            "inner": t.user_attrs.get("inner"),
            "completed": t.datetime_complete.isoformat() if t.datetime_complete else None,
            "fail_reason": t.user_attrs.get("error"),
        }
        for t in study.get_trials(deepcopy=False)
    ]


def _importances(study: optuna.Study) -> dict[str, float]:
    import optuna

    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if len(complete) < 3 or len({t.value for t in complete}) < 2:
        return {}
    try:
        return {
            k: float(v)
            for k, v in optuna.importance.get_param_importances(
                study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
            ).items()
        }
    except (RuntimeError, ValueError):  # e.g. a single distinct configuration
        return {}


def _chance(
    search: NestedSearch, prepared: Prepared, steps: list[NestedStep], rows: EvalRows, roi: bool
) -> dict[str, Any]:
    tested = [s.outer for s in steps if not s.final]
    if roi:
        # flat stake 1 on the favourite (the lowest win odds) of every race, on the same test windows
        from stagewise.search.scoring import favourite_daily

        daily = [d for o in tested for d in favourite_daily(rows.take(o.test))]
        return {"name": "favourite", **_roi_estimate(daily, search.seed)}
    if search.domain == Domain.MARKETS:
        hits = units = 0
        for o in tested:
            majority = 1.0 if prepared.labels[o.train].mean() >= 0.5 else 0.0
            hits += int(np.sum(prepared.labels[o.test] == majority))
            units += len(o.test)
        return {"name": "majority", **_estimate(hits, units)}
    hits = units = 0
    for o in tested:
        won, pits, codes = (
            prepared.labels[o.test],
            prepared.extras["pits"][o.test],
            prepared.extras["race_codes"][o.test],
        )
        with_winner = np.unique(codes[won == 1.0])
        units += len(with_winner)
        hits += int(np.sum((pits == 1) & (won == 1.0)))
    return {"name": "lane_order", **_estimate(hits, units), "random": 1 / 6}


def collect(
    search: NestedSearch,
    storage: optuna.storages.BaseStorage,
    names: StudyNames,
    steps: list[NestedStep],
    prepared: Prepared,
    rows: EvalRows,
    space: SearchSpace,
    target: ModelTarget,
    jobs: list[Job],
    workers: Workers,
) -> dict[str, Any]:
    """The results dict (without ``config`` and ``outputs``)."""
    import optuna

    step_rows: list[dict[str, Any]] = []
    trials: list[dict[str, Any]] = []
    importances: dict[str, list[float]] = {}
    roi = search.metric(space) == ROI_METRIC
    hits = units = 0
    daily: list[list[Any]] = []
    returns: list[np.ndarray] = []
    trial_sharpes: list[float] = []
    final: dict[str, Any] = {}
    fit_seconds = 0.0
    for step, name in zip(steps, names.steps, strict=True):
        study = optuna.load_study(study_name=name, storage=storage)
        label = "final" if step.final else f"outer-{step.outer.step:03d}"
        study_trials = _trials(study, label)
        trials += study_trials
        fit_seconds += sum((t["inner"] or {}).get("fit_seconds", 0.0) for t in study_trials)
        trial_sharpes += [
            t["inner"]["sharpe"] for t in study_trials if t["inner"] and t["inner"].get("sharpe") is not None
        ]
        for key, value in _importances(study).items():
            importances.setdefault(key, []).append(value)
        best = study.best_trial
        counts = {s: sum(1 for t in study_trials if t["state"] == s) for s in ("COMPLETE", "PRUNED", "FAIL")}
        entry: dict[str, Any] = {
            "step": step.outer.step,
            "final": step.final,
            "train_start": str(step.outer.train_start.date()),
            "train_end": str((step.outer.train_end - np.timedelta64(1, "D")).date()),
            "n_inner": len(step.inner),
            "chosen_trial": best.number,
            "chosen_params": best.params,
            "inner_score": best.value,
            "n_complete": counts["COMPLETE"],
            "n_pruned": counts["PRUNED"],
            "n_failed": counts["FAIL"],
        }
        if step.final:
            final = entry
        else:
            outer = study.user_attrs["outer"]
            fit_seconds += outer["fit_seconds"]
            entry.update(
                test_start=str(step.outer.test_start.date()),
                test_end=str((step.outer.test_end - np.timedelta64(1, "D")).date()),
                outer=_roi_estimate(outer["daily"], search.seed)
                if roi
                else _estimate(outer["hits"], outer["units"]),
            )
            hits, units = hits + outer["hits"], units + outer["units"]
            daily += outer.get("daily", [])
            returns.append(np.asarray(outer.get("returns", []), dtype=np.float64))
        step_rows.append(entry)
    result: dict[str, Any] = {
        "format_version": 1,
        "metric": search.metric(space),
        "study": {
            "name": names.head,
            "studies": list(names.studies),
        },
        "space": space.describe(),
        "steps": step_rows,
        "chosen": {
            "params": final.get("chosen_params", {}),
            "inner_score": final.get("inner_score"),
            "train_start": final.get("train_start"),
            "train_end": final.get("train_end"),
        },
        "nested": _roi_estimate(daily, search.seed) if roi else _estimate(hits, units),
        "chance": _chance(search, prepared, steps, rows, roi),
        "importances": {k: float(np.mean(v)) for k, v in sorted(importances.items())},
        "meaning": MEANINGS,
    }
    if search.naive:
        study = optuna.load_study(study_name=names.naive, storage=storage)
        naive_trials = _trials(study, "naive")
        trials += naive_trials
        best = study.best_trial
        inner = best.user_attrs.get("inner", {})
        naive = (
            _roi_estimate(inner.get("daily", []), search.seed)
            if roi
            else _estimate(int(inner.get("hits", 0)), int(inner.get("units", 0)))
        )
        result["naive"] = {
            **naive,
            "params": best.params,
            "n_trials": len(naive_trials),
        }
    result["trials"] = trials
    diagnostics: dict[str, Any] = {}
    if search.n_candidates >= 1:
        diagnostics["cpcv"] = _cpcv(search, steps, prepared, rows, result, jobs, workers)
    if search.domain == Domain.MARKETS:
        joined = np.concatenate(returns) if returns else np.empty(0)
        diagnostics["deflated_sharpe"] = deflated_sharpe(joined, trial_sharpes, search.n_trials)
    result["diagnostics"] = diagnostics
    result["timing"] = {"trial_fit_seconds": fit_seconds}
    return result


def _cpcv(
    search: NestedSearch,
    steps: list[NestedStep],
    prepared: Prepared,
    rows: EvalRows,
    result: dict[str, Any],
    jobs: list[Job],
    workers: Workers,
) -> dict[str, Any]:
    candidates: list[dict[str, Any]] = []
    for config in [s["chosen_params"] for s in result["steps"]] + (
        [result["naive"]["params"]] if "naive" in result else []
    ):
        if config not in candidates:
            candidates.append(config)
    candidates = candidates[: search.n_candidates]
    tested = [s.outer for s in steps if not s.final]
    lo = min(o.train_start for o in tested).value
    hi = max(o.test_end for o in tested).value
    stamps = prepared.timestamps.astype("datetime64[ns]").astype(np.int64)
    positions = np.flatnonzero((stamps >= lo) & (stamps < hi) & prepared.usable)
    local_stamps = prepared.timestamps[positions]
    groups = cpcv_groups(local_stamps, search.cpcv_groups)
    label_end = _label_end(prepared, positions)
    splits = tuple(
        purged_split(local_stamps, label_end, groups, test, search.gap_days)
        for test in cpcv_splits(search.cpcv_groups, search.cpcv_test_groups)
    )
    template: OuterTask = jobs[0].argument
    base = dataclasses.replace(
        template,
        features=prepared.features[positions],
        rows=rows.take(positions),
        timestamps=prepared.timestamps[positions],
    )
    tasks = [
        Job(run_cpcv_candidate, CPCVTask(c, config, base, splits, groups, search.cpcv_groups))
        for c, config in enumerate(candidates)
    ]
    counts = workers.run(tasks)
    summary = cpcv_summary(counts, search.cpcv_groups, search.cpcv_test_groups)
    for entry, config in zip(summary["candidates"], candidates, strict=True):
        entry["params"] = config
    return summary


def _label_end(prepared: Prepared, positions: np.ndarray) -> np.ndarray:
    stamps: np.ndarray = prepared.timestamps.astype("datetime64[ns]").astype(np.int64)
    horizon = prepared.label_horizon
    if horizon is None:
        same_day: np.ndarray = stamps[positions]
        return same_day
    ends = np.full(len(stamps), np.iinfo(np.int64).max, dtype=np.int64)
    ends[:-horizon] = stamps[horizon:]
    reached: np.ndarray = ends[positions]
    return reached
