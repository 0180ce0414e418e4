"""Turn per-step probabilities into the result: step table, pooled and step-averaged metrics,
baselines, the oracle share, guard findings and the permutation check."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from stagewise._domain import Domain
from stagewise.backtest.domains import DomainAdapter, Prepared
from stagewise.backtest.guard import permutation_finding, plausibility_findings
from stagewise.backtest.steps import ChunkResult, ChunkTask
from stagewise.backtest.windows import WalkForwardSplit
from stagewise.metrics.bootstrap import day_block_bootstrap_mean

__all__ = ["FORMAT_VERSION", "RunOutcome", "summarize_run"]

#: Version of ``walkforward_results.json``. Bump it when a key changes meaning or goes away
#: (adding keys is compatible) and keep a reader for the old one in ``report.read_results``.
FORMAT_VERSION = 1

#: the seed's ``step_stats`` keys and the metric each averages
_SEED_STEP_STATS = {
    "avg_hit_rate_1st": "hit_rate_1st",
    "avg_hit_rate_top3": "hit_rate_top3",
    "avg_score_accuracy": "avg_score_accuracy",
}


@dataclass(frozen=True)
class RunOutcome:
    result: dict[str, Any]
    predictions: pd.DataFrame


def _step_average(values: list[float], n_resamples: int, seed: int) -> dict[str, Any]:
    arr = np.asarray(values, dtype=float)
    ok = ~np.isnan(arr)
    mean = float(arr[ok].mean()) if ok.any() else math.nan
    low, high = day_block_bootstrap_mean(arr, np.arange(len(arr)), n_resamples=n_resamples, seed=seed)
    return {"value": mean, "ci": [low, high], "n_steps": int(ok.sum())}


def _score_all(
    domain: DomainAdapter,
    prepared: Prepared,
    splits: list[WalkForwardSplit],
    tasks: list[ChunkTask],
    results: list[ChunkResult],
) -> tuple[pd.DataFrame, dict[str, list[pd.DataFrame]]]:
    by_step = {step: (t, i) for t in range(len(tasks)) for i, step in enumerate(tasks[t].steps)}
    predictions: list[pd.DataFrame] = []
    units: dict[str, list[pd.DataFrame]] = {}
    for split in splits:
        t, i = by_step[split.step]
        done = results[t].scores
        if done is not None:
            scored = done[i]
        else:  # a cached chunk keeps only probabilities
            rows = domain.scoring_rows(prepared, split.train, split.test)
            scored = domain.score_rows(rows, split.step, results[t].probas[i])
        predictions.append(scored.predictions)
        for who, table in scored.units.items():
            units.setdefault(who, []).append(table)
    return pd.concat(predictions, ignore_index=True), units


def summarize_run(
    domain: DomainAdapter,
    prepared: Prepared,
    splits: list[WalkForwardSplit],
    tasks: list[ChunkTask],
    results: list[ChunkResult],
    n_model_tasks: int,
    n_resamples: int,
    seed: int,
) -> RunOutcome:
    """Everything the reports show, computed from the chunk results."""
    predictions, units = _score_all(domain, prepared, splits, tasks[:n_model_tasks], results[:n_model_tasks])
    chunk_of = {step: t for t in range(n_model_tasks) for step in tasks[t].steps}
    steps: list[dict[str, Any]] = []
    per_step: dict[str, list[dict[str, Any]]] = {who: [] for who in units}
    for k, split in enumerate(splits):
        t = chunk_of[split.step]
        position = tasks[t].steps.index(split.step)
        metrics = {who: domain.metrics(tables[k], n_resamples, seed) for who, tables in units.items()}
        for who, m in metrics.items():
            per_step[who].append(m)
        model = metrics["model"]
        row: dict[str, Any] = {
            "step": split.step,
            "train_start": str(split.train_start.date()),
            "train_end": str((split.train_end - pd.Timedelta(days=1)).date()),
            "test_start": str(split.test_start.date()),
            "test_end": str((split.test_end - pd.Timedelta(days=1)).date()),
            "partial": split.partial,
            "n_train_rows": len(split.train),
            "n_purged": split.n_purged,
            "n_test_rows": len(split.test),
            f"num_{domain.unit}": int(model[f"total_{domain.unit}"]),
            "refit": position == 0,
            "fit_seconds": results[t].fit_seconds if position == 0 else 0.0,
            "predict_seconds": results[t].predict_seconds[position],
            "cached": results[t].cached,
            "model": results[t].model_info,
        }
        row["train_period"] = f"{row['train_start']} ~ {row['train_end']}"  # the seed's keys
        row["test_period"] = f"{row['test_start']} ~ {row['test_end']}"
        if domain.name == Domain.RACES:
            row["races"] = int(model["total_races"])  # every test race, void ones included
            row["evaluated_races"] = int(model["n_scored"])  # the races scored as hit or miss
        row.update({name: model.get(name) for name in domain.headline()})
        row["metrics"] = model
        row["baselines"] = {
            who: {n: m.get(n) for n in domain.headline()} for who, m in metrics.items() if who != "model"
        }
        steps.append(row)

    overall = {
        who: domain.metrics(pd.concat(tables, ignore_index=True), n_resamples, seed)
        for who, tables in units.items()
    }
    averages = {
        name: _step_average([m.get(name, math.nan) for m in per_step["model"]], n_resamples, seed)
        for name in domain.headline()
    }
    summary: dict[str, Any] = {
        "total_steps": len(splits),
        f"total_{domain.unit}": overall["model"][f"total_{domain.unit}"],
    }
    shares: dict[str, dict[str, float]] | None = None
    baselines: dict[str, Any] = {who: overall[who] for who in overall if who != "model"}
    if domain.name == Domain.RACES:
        from stagewise.backtest.race_domain import RANDOM_BASELINE
        from stagewise.metrics.race_summary import achievable_share

        summary.update(
            overall_hit_rate_1st=overall["model"]["hit_rate_1st"],
            overall_hit_rate_top3=overall["model"]["hit_rate_top3"],
            overall_score_accuracy=overall["model"]["avg_score_accuracy"],
            step_stats={key: averages[metric]["value"] for key, metric in _SEED_STEP_STATS.items()},
        )
        baselines["random"] = dict(RANDOM_BASELINE)
        if "oracle" in units:
            model_units = pd.concat(units["model"], ignore_index=True)
            oracle_units = pd.concat(units["oracle"], ignore_index=True)
            shares = {
                metric.replace("hit_", "hit_rate_"): achievable_share(
                    model_units, oracle_units, metric, n_resamples, seed
                )
                for metric in ("hit_1st", "hit_top3", "hit_trio")
            }
    else:
        summary.update({f"overall_{k}": overall["model"][k] for k in domain.headline()})
        summary["step_stats"] = {f"avg_{k}": averages[k]["value"] for k in domain.headline()}
    summary["overall"] = overall["model"]
    summary["step_average"] = averages

    guard: dict[str, Any] = {
        "findings": plausibility_findings(domain.name, overall, shares),
        "permutation": None,
    }
    if len(tasks) > n_model_tasks:
        _, permuted_units = _score_all(
            domain, prepared, splits, tasks[n_model_tasks:], results[n_model_tasks:]
        )
        permuted = domain.metrics(pd.concat(permuted_units["model"], ignore_index=True), n_resamples, seed)
        metric = "hit_rate_1st" if domain.name == Domain.RACES else "accuracy"
        interval = permuted[f"{metric}_ci"]
        check = permutation_finding(metric, permuted[metric], interval, domain.chance(overall))
        guard["permutation"] = check
        if not check["passed"]:
            guard["findings"].append(check)
    result: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "domain": domain.name.value,
        "steps": steps,
        "summary": summary,
        "baselines": baselines,
        "oracle_share": shares,
        "guard": guard,
    }
    if domain.name == Domain.RACES:
        result["non_finishers"] = overall["model"]["non_finishers"]
    return RunOutcome(result, predictions)
