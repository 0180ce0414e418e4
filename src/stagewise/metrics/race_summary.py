"""Race metrics over many races, built on :func:`stagewise.metrics.races.score_race`.

:func:`score_predictions` scores every race of a prediction table (one row per boat) with
``score_race`` (the hit definitions and the non-finisher rule live there, and only there) and
adds ``winner_prob``, the predicted win probability of the boat that actually won.
:func:`summarize_races` turns the per-race table into the reported figures:

* ``hit_rate_1st``, ``hit_rate_top3`` (ordered trifecta), ``hit_rate_trio``: hits over the
  races that have a winner (void races, where no boat finished first, are neither hit nor
  miss and are counted in ``n_void``), each with a Wilson 95 % interval.
* ``avg_score_accuracy``: mean of (Spearman ρ + 1) / 2 over races where ρ is defined
  (``n_score_undefined`` counts the others), with a day-block bootstrap interval.
* ``log_loss``: mean of ``-log p(winner)`` over races with a winner, ``p`` clipped to
  ``[1e-15, 1]`` as scikit-learn does; races without a winner have no label and are left out.
* ``non_finishers``: boats that did not start / did not finish and the races they touched,
  with the rule's name (``NON_FINISH_RULE``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from stagewise._exceptions import DataValidationError
from stagewise.metrics.bootstrap import day_block_bootstrap_mean, day_block_bootstrap_ratio
from stagewise.metrics.intervals import wilson_interval
from stagewise.metrics.races import NON_FINISH_RULE, RaceScore, score_race

__all__ = ["HIT_METRICS", "achievable_share", "score_predictions", "summarize_races"]

HIT_METRICS = ("hit_1st", "hit_top3", "hit_trio")
_EPS = 1e-15


def score_predictions(
    predictions: pd.DataFrame,
    results: Mapping[Any, Mapping[int, int | str]],
    rank_column: str = "predicted_rank",
    prob_column: str | None = "win_prob",
) -> pd.DataFrame:
    """Score each race of ``predictions`` (columns race_id, pit, ``rank_column``) against ``results``.

    Returns one row per race (in order of race_id) with race_id (and race_date when given),
    hit_1st, hit_top3, hit_trio, score_accuracy, void, n_did_not_start, n_not_finished and
    winner_prob (0 when the winner has no prediction row, NaN for a void race).

    Examples
    --------
    >>> import pandas as pd
    >>> preds = pd.DataFrame({"race_id": ["r1"] * 3, "pit": [1, 2, 3],
    ...                       "predicted_rank": [1, 2, 3], "win_prob": [0.5, 0.3, 0.2]})
    >>> scored = score_predictions(preds, {"r1": {1: 1, 2: 3, 3: 2}})
    >>> bool(scored.hit_1st[0]), bool(scored.hit_top3[0]), float(scored.winner_prob[0])
    (True, False, 0.5)
    """
    needed = ["race_id", "pit", rank_column] + ([prob_column] if prob_column else [])
    missing = [c for c in needed if c not in predictions.columns]
    if missing:
        raise DataValidationError(f"predictions lack column(s) {missing}; they need {needed}.")
    has_date = "race_date" in predictions.columns
    codes, uniques = pd.factorize(predictions["race_id"], sort=True)
    race_ids = uniques.tolist()
    order = np.lexsort((predictions[rank_column].to_numpy(), codes))
    codes = codes[order]
    pits = predictions["pit"].to_numpy()[order].astype(np.int64).tolist()
    probs = predictions[prob_column].to_numpy(dtype=float)[order] if prob_column else None
    dates = predictions["race_date"].to_numpy()[order] if has_date else None
    bounds = np.flatnonzero(np.diff(codes)) + 1
    starts = [0, *bounds.tolist()]
    ends = [*bounds.tolist(), len(codes)]
    rows: list[tuple[Any, ...]] = []
    for code, (lo, hi) in enumerate(zip(starts, ends, strict=True)):
        race_id = race_ids[code]
        if race_id not in results:
            raise DataValidationError(f"race {race_id!r} has predictions but no result.")
        result = results[race_id]
        key = tuple(sorted((int(p), r) for p, r in result.items()))
        score = _score(tuple(pits[lo:hi]), key)
        winner = next((p for p, r in key if not isinstance(r, str) and int(r) == 1), None)
        winner_prob = math.nan
        if probs is not None and winner is not None:
            where = [i for i in range(lo, hi) if pits[i] == winner]
            winner_prob = float(probs[where[0]]) if where else 0.0
        head = (race_id, dates[lo]) if dates is not None else (race_id,)
        tail = (score.score_accuracy, score.void, score.n_did_not_start, score.n_not_finished, winner_prob)
        rows.append((*head, score.hit_1st, score.hit_top3, score.hit_trio, *tail))
    columns = ["race_id", *(["race_date"] if has_date else []), *HIT_METRICS]
    columns += ["score_accuracy", "void", "n_did_not_start", "n_not_finished", "winner_prob"]
    return pd.DataFrame(rows, columns=columns)


@functools.lru_cache(maxsize=65536)
def _score(order: tuple[int, ...], result: tuple[tuple[int, int | str], ...]) -> RaceScore:
    # many races share an (order, result) pair (lane order, common finishes): score each once
    return score_race(order, dict(result))


def _days(per_race: pd.DataFrame) -> np.ndarray:
    if "race_date" in per_race.columns:
        return np.asarray(pd.to_datetime(per_race["race_date"]).dt.normalize())
    return np.asarray(per_race["race_id"])


def summarize_races(
    per_race: pd.DataFrame, n_resamples: int = 2000, seed: int = 0, confidence: float = 0.95
) -> dict[str, Any]:
    """Hit rates with Wilson intervals, score accuracy and log-loss with day-block intervals.

    Examples
    --------
    >>> import pandas as pd
    >>> per_race = pd.DataFrame({"race_id": ["a", "b"], "hit_1st": [True, False],
    ...     "hit_top3": [False, False], "hit_trio": [True, False], "score_accuracy": [0.9, 0.4],
    ...     "void": [False, False], "n_did_not_start": [0, 1], "n_not_finished": [0, 0],
    ...     "winner_prob": [0.5, 0.25]})
    >>> s = summarize_races(per_race)
    >>> s["total_races"], s["hit_rate_1st"], round(s["log_loss"], 4)
    (2, 0.5, 1.0397)
    """
    scored = per_race.loc[~per_race["void"].astype(bool)]
    days = _days(scored)
    n = len(scored)
    summary: dict[str, Any] = {"total_races": len(per_race), "n_void": len(per_race) - n, "n_scored": n}
    for metric in HIT_METRICS:
        hits = int(scored[metric].astype(bool).sum())
        name = metric.replace("hit_", "hit_rate_")
        summary[f"hits_{metric.removeprefix('hit_')}"] = hits
        summary[name] = hits / n if n else math.nan
        summary[f"{name}_ci"] = list(wilson_interval(hits, n, confidence))
    accuracy = scored["score_accuracy"].to_numpy(dtype=float)
    defined = ~np.isnan(accuracy)
    summary["n_score_undefined"] = int((~defined).sum())
    summary["avg_score_accuracy"] = float(accuracy[defined].mean()) if defined.any() else math.nan
    summary["avg_score_accuracy_ci"] = list(
        day_block_bootstrap_mean(accuracy, days, confidence, n_resamples, seed)
    )
    probs = scored["winner_prob"].to_numpy(dtype=float)
    losses = -np.log(np.clip(probs, _EPS, 1.0))
    known = ~np.isnan(losses)
    summary["n_log_loss"] = int(known.sum())
    summary["log_loss"] = float(losses[known].mean()) if known.any() else math.nan
    summary["log_loss_ci"] = list(day_block_bootstrap_mean(losses, days, confidence, n_resamples, seed))
    dns = per_race["n_did_not_start"].to_numpy(dtype=int)
    dnf = per_race["n_not_finished"].to_numpy(dtype=int)
    summary["non_finishers"] = {
        "rule": NON_FINISH_RULE,
        "boats_did_not_start": int(dns.sum()),
        "boats_not_finished": int(dnf.sum()),
        "races_with_non_finisher": int(((dns + dnf) > 0).sum()),
    }
    return summary


def achievable_share(
    model: pd.DataFrame,
    reference: pd.DataFrame,
    metric: str,
    n_resamples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, float]:
    """``metric`` of ``model`` as a share of the same metric of ``reference`` on the same races.

    Both tables come from :func:`score_predictions` over the same races (for example the
    model and the simulator's oracle). The interval resamples whole days, pairing each race's
    model and reference outcomes.

    Examples
    --------
    >>> import pandas as pd
    >>> m = pd.DataFrame({"race_id": list("abcd"), "hit_1st": [1, 0, 1, 0], "void": [False] * 4})
    >>> o = pd.DataFrame({"race_id": list("abcd"), "hit_1st": [1, 1, 1, 0], "void": [False] * 4})
    >>> round(achievable_share(m, o, "hit_1st")["share"], 4)
    0.6667
    """
    # a race scored in several walk-forward steps appears once per step
    keys = ["race_id", *(["step"] if "step" in model and "step" in reference else [])]
    joined = model[[*keys, metric, "void", *(["race_date"] if "race_date" in model else [])]].merge(
        reference[[*keys, metric]], on=keys, suffixes=("_model", "_reference"), validate="1:1"
    )
    if len(joined) != len(model) or len(joined) != len(reference):
        raise DataValidationError(
            f"model and reference must score the same races; {len(model)} vs {len(reference)} races, "
            f"{len(joined)} in common."
        )
    joined = joined.loc[~joined["void"].astype(bool)]
    num = joined[f"{metric}_model"].to_numpy(dtype=float)
    den = joined[f"{metric}_reference"].to_numpy(dtype=float)
    ok = ~(np.isnan(num) | np.isnan(den))
    total = float(den[ok].sum())
    share = float(num[ok].sum()) / total if total else math.nan
    low, high = day_block_bootstrap_ratio(num, den, _days(joined), confidence, n_resamples, seed)
    return {"share": share, "low": low, "high": high}
