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

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from stagewise._exceptions import DataValidationError
from stagewise.metrics.bootstrap import day_block_bootstrap_mean, day_block_bootstrap_ratio
from stagewise.metrics.intervals import wilson_interval
from stagewise.metrics.races import NON_FINISH_RULE, score_race

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

    Returns one row per race with race_id (and race_date when given), hit_1st, hit_top3,
    hit_trio, score_accuracy, void, n_did_not_start, n_not_finished and winner_prob.

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
    rows: list[dict[str, Any]] = []
    has_date = "race_date" in predictions.columns
    ordered = predictions.sort_values(["race_id", rank_column], kind="stable")
    for race_id, race in ordered.groupby("race_id", sort=False):
        if race_id not in results:
            raise DataValidationError(f"race {race_id!r} has predictions but no result.")
        result = results[race_id]
        pits = [int(p) for p in race["pit"]]
        score = score_race(pits, result)
        winner = next((p for p, r in result.items() if not isinstance(r, str) and int(r) == 1), None)
        winner_prob = math.nan
        if prob_column and winner is not None:
            match = race.loc[race["pit"] == winner, prob_column]
            winner_prob = float(match.iloc[0]) if len(match) else 0.0
        row: dict[str, Any] = {"race_id": race_id}
        if has_date:
            row["race_date"] = race["race_date"].iloc[0]
        row.update(
            hit_1st=score.hit_1st,
            hit_top3=score.hit_top3,
            hit_trio=score.hit_trio,
            score_accuracy=score.score_accuracy,
            void=score.void,
            n_did_not_start=score.n_did_not_start,
            n_not_finished=score.n_not_finished,
            winner_prob=winner_prob,
        )
        rows.append(row)
    columns = ["race_id", *(["race_date"] if has_date else []), *HIT_METRICS]
    columns += ["score_accuracy", "void", "n_did_not_start", "n_not_finished", "winner_prob"]
    return pd.DataFrame(rows, columns=columns)


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
