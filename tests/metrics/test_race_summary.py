from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss

from stagewise import DataValidationError
from stagewise.metrics.intervals import wilson_interval
from stagewise.metrics.race_summary import achievable_share, score_predictions, summarize_races
from stagewise.metrics.races import NON_FINISH_RULE, score_race


def _random_races(n: int, seed: int) -> tuple[pd.DataFrame, dict[str, dict[int, int | str]]]:
    rng = np.random.default_rng(seed)
    rows = []
    results: dict[str, dict[int, int | str]] = {}
    for i in range(n):
        race_id = f"r{i}"
        finish = rng.permutation(6) + 1
        result: dict[int, int | str] = {p + 1: int(finish[p]) for p in range(6)}
        if i % 7 == 0:  # a flying start: the rest close up
            out = int(rng.integers(1, 7))
            lost = int(result[out])
            result[out] = "F"
            result = {p: (r - 1 if isinstance(r, int) and r > lost else r) for p, r in result.items()}
        if i % 11 == 0:
            result = {p: ("転" if r == 1 else r) for p, r in result.items()}  # the leader capsized: void
        results[race_id] = result
        probs = rng.dirichlet(np.ones(6))
        order = np.argsort(-probs)
        for rank, idx in enumerate(order, start=1):
            rows.append(
                {
                    "race_id": race_id,
                    "race_date": pd.Timestamp("2025-11-01") + pd.Timedelta(days=i // 10),
                    "pit": int(idx) + 1,
                    "predicted_rank": rank,
                    "win_prob": float(probs[idx]),
                }
            )
    return pd.DataFrame(rows).sample(frac=1.0, random_state=seed), results


def test_each_race_is_scored_by_score_race() -> None:
    preds, results = _random_races(60, 0)
    scored = score_predictions(preds, results).set_index("race_id")
    for race_id, race in preds.groupby("race_id"):
        expected = score_race(race.sort_values("predicted_rank")["pit"].tolist(), results[race_id])
        got = scored.loc[race_id]
        assert (got.hit_1st, got.hit_top3, got.hit_trio, got.void) == (
            expected.hit_1st, expected.hit_top3, expected.hit_trio, expected.void)  # fmt: skip
        assert got.score_accuracy == pytest.approx(expected.score_accuracy, nan_ok=True)


def test_summary_counts_void_races_apart_and_gives_wilson_intervals() -> None:
    preds, results = _random_races(120, 1)
    scored = score_predictions(preds, results)
    s = summarize_races(scored)
    n_void = sum(1 for r in results.values() if 1 not in r.values())
    assert s["n_void"] == n_void > 0
    assert s["n_scored"] == 120 - n_void
    hits = int(scored.loc[~scored.void, "hit_1st"].sum())
    assert s["hit_rate_1st"] == hits / (120 - n_void)
    assert s["hit_rate_1st_ci"] == list(wilson_interval(hits, 120 - n_void))
    assert s["non_finishers"]["rule"] == NON_FINISH_RULE
    assert s["non_finishers"]["boats_did_not_start"] == sum(
        1 for r in results.values() for v in r.values() if v == "F")  # fmt: skip
    low, high = s["avg_score_accuracy_ci"]
    assert low < s["avg_score_accuracy"] < high


def test_log_loss_equals_sklearn_over_races_with_a_winner() -> None:
    preds, results = _random_races(80, 2)
    scored = score_predictions(preds, results)
    truth, probs = [], []
    for race_id, race in preds.groupby("race_id"):
        winner = [p for p, r in results[race_id].items() if r == 1]
        if not winner:
            continue
        race = race.sort_values("pit")
        truth.append(winner[0])
        probs.append(race["win_prob"].to_numpy())
    expected = log_loss(truth, np.array(probs), labels=[1, 2, 3, 4, 5, 6])
    assert summarize_races(scored)["log_loss"] == pytest.approx(expected)


def test_a_race_without_a_result_is_an_error_not_a_skip() -> None:
    preds, results = _random_races(3, 3)
    del results["r1"]
    with pytest.raises(DataValidationError, match="race 'r1' has predictions but no result"):
        score_predictions(preds, results)


def test_random_orders_average_the_analytic_baselines() -> None:
    result = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6}
    orders = list(itertools.permutations(range(1, 7)))
    preds = pd.DataFrame(
        [
            {"race_id": i, "pit": p, "predicted_rank": k + 1}
            for i, o in enumerate(orders)
            for k, p in enumerate(o)
        ]
    )
    s = summarize_races(score_predictions(preds, dict.fromkeys(range(720), result), prob_column=None))
    assert s["hit_rate_1st"] == pytest.approx(1 / 6)
    assert s["hit_rate_top3"] == pytest.approx(1 / 120)
    assert s["hit_rate_trio"] == pytest.approx(1 / 20)
    assert s["avg_score_accuracy"] == pytest.approx(0.5)
    assert math.isnan(s["log_loss"])


def test_achievable_share_pairs_the_same_races() -> None:
    preds, results = _random_races(100, 4)
    model = score_predictions(preds, results)
    lane = preds.assign(predicted_rank=preds["pit"])
    reference = score_predictions(lane, results)
    out = achievable_share(model, reference, "hit_1st")
    ok = ~model.void
    assert out["share"] == pytest.approx(model.loc[ok, "hit_1st"].sum() / reference.loc[ok, "hit_1st"].sum())
    assert out["low"] <= out["share"] <= out["high"]
    with pytest.raises(DataValidationError, match="same races"):
        achievable_share(model.iloc[:50], reference, "hit_1st")
