"""Race simulator: time to simulate a year, the exact oracle vs Monte Carlo, and how close a model gets.

Three measurements, written to the "race_simulator" section of BENCHMARKS.md:

1. Wall time to simulate 2025 (seed 0, all 24 venues, ~50,000 races), to validate it and to
   compute its entry features.
2. The oracle's win probabilities, exact (64 start patterns enumerated) vs a Monte Carlo
   estimate with 20,000 draws per race, on the same 500 races: time ratio and largest error.
3. A plain LightGBM (300 trees) on ``race_entry_features``, trained on 2024 and tested on
   2025, against the oracle and against always-lane-order: win and trifecta hit rates and the
   model / oracle ratios (the backtest issue asks an ensemble for >= 97 % and >= 90 %).

Run: ``.venv/bin/python bench/run.py race_simulator``.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from _report import write_section
from stagewise.data import RaceSimulator, simulate_races, validate_races
from stagewise.data.races.outcome import sample_finish_order, win_probabilities
from stagewise.data.races.population import make_racer_pool
from stagewise.features.races import race_entry_features

MC_RACES, MC_DRAWS = 500, 20_000


def _timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def _exact_vs_monte_carlo() -> str:
    sim = RaceSimulator(seed=0)
    pool = make_racer_pool(0, sim.model)
    draws = sim._draw(pool, 20089, 20095, None)  # 2025-01-01 .. 01-07
    strength, st = sim._strength(pool, draws)
    strength = strength[:MC_RACES]
    p_fly = 0.0035 * np.exp(sim.model.flying_start_gain * (0.16 - st[:MC_RACES]) / 0.02)
    start_prob = 1.0 - (p_fly + 0.0003 + 0.0025)
    exact, t_exact = _timed(win_probabilities, strength, start_prob)

    def monte_carlo() -> np.ndarray:
        rng = np.random.default_rng(1)
        wins = np.zeros_like(strength)
        for _ in range(MC_DRAWS // 100):
            s = np.repeat(strength, 100, axis=0)
            starts = rng.random(s.shape) < np.repeat(start_prob, 100, axis=0)
            order = sample_finish_order(
                s, starts, rng.gumbel(size=s.shape), rng.gumbel(size=s.shape), 1.0, 0.0
            )
            won = (order[:, :1] == np.arange(6)) & starts
            wins += won.reshape(MC_RACES, 100, 6).sum(axis=1)
        return wins / wins.sum(axis=1, keepdims=True)

    estimate, t_mc = _timed(monte_carlo)
    err = np.abs(estimate - exact).max()
    return (
        f"| oracle win probabilities, {MC_RACES} races | time | largest error vs exact |\n|---|---|---|\n"
        f"| exact (64 start patterns) | {t_exact * 1e3:.1f} ms | 0 |\n"
        f"| Monte Carlo, {MC_DRAWS:,} draws a race | {t_mc:.2f} s | {err:.4f} |\n\n"
        f"Exact is {t_mc / t_exact:,.0f}x faster than Monte Carlo and has no sampling error "
        f"(Monte Carlo SE at p = 0.5 with {MC_DRAWS:,} draws: {np.sqrt(0.25 / MC_DRAWS):.4f})."
    )


def _hits(frame: pd.DataFrame, score: pd.Series, actual: pd.Series) -> tuple[float, float]:
    ranked = frame.assign(score=score).sort_values(["race_id", "score"], ascending=[True, False])
    top3 = ranked.groupby("race_id")["pit"].agg(lambda p: tuple(p[:3])).reindex(actual.index)
    return float((top3.str[0] == actual.str[0]).mean()), float((top3 == actual).mean())


def _model_vs_oracle() -> str:
    import lightgbm as lgb

    races = simulate_races("2024-01-01", "2025-12-31", seed=0)
    features = race_entry_features(races)
    won = races["finish_position"].eq(1).fillna(False).astype(int)
    train = races["race_date"] < "2025-01-01"
    model = lgb.LGBMClassifier(n_estimators=300, learning_rate=0.05, verbose=-1, random_state=0)
    model.fit(features[train], won[train])
    test = races[~train]
    first3 = test.dropna(subset=["finish_position"]).query("finish_position <= 3")
    actual = first3.sort_values(["race_id", "finish_position"]).groupby("race_id")["pit"].agg(tuple)
    actual = actual[actual.map(len) == 3]
    model_win, model_tri = _hits(
        test, pd.Series(model.predict_proba(features[~train])[:, 1], test.index), actual
    )
    lane_win, lane_tri = _hits(test, -test["pit"], actual)
    oracle_win, _ = _hits(test, test["true_win_prob"], actual)
    marked = test.dropna(subset=["oracle_trifecta_position"]).sort_values(
        ["race_id", "oracle_trifecta_position"]
    )
    oracle_tri = float((marked.groupby("race_id")["pit"].agg(tuple).reindex(actual.index) == actual).mean())
    rows = [
        ("always lane order 1-2-3", lane_win, lane_tri),
        ("LightGBM on race_entry_features", model_win, model_tri),
        ("oracle (true probabilities)", oracle_win, oracle_tri),
    ]
    table = "| 2025 (trained on 2024), races with a full top 3 | win hit | trifecta hit |\n|---|---|---|\n"
    table += "".join(f"| {name} | {w:.2%} | {t:.2%} |\n" for name, w, t in rows)
    return (
        table + f"\nModel / oracle: win {model_win / oracle_win:.3f}, trifecta {model_tri / oracle_tri:.3f} "
        f"({len(actual):,} races)."
    )


def main() -> None:
    year, t_sim = _timed(simulate_races, "2025-01-01", "2025-12-31", seed=0)
    _, t_validate = _timed(validate_races, year)
    _, t_features = _timed(race_entry_features, year)
    timing = (
        f"| one simulated year: {year['race_id'].nunique():,} races, {len(year):,} rows | wall time |\n"
        f"|---|---|\n| simulate_races | {t_sim:.2f} s |\n| validate_races | {t_validate:.2f} s |\n"
        f"| race_entry_features | {t_features:.2f} s |\n"
    )
    body = timing + "\n" + _exact_vs_monte_carlo() + "\n\n" + _model_vs_oracle()
    write_section("race_simulator", ".venv/bin/python bench/run.py race_simulator", body)


if __name__ == "__main__":
    main()
