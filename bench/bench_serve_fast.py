"""Single-row ensemble latency: the compiled fast path against the seed-style soft vote and the library.

For each domain (market bars: 12 features, one row a call; races: 18 features, one row a call
and the six rows of one race), one ProductionEnsemble with the production defaults (LightGBM,
XGBoost and RandomForest, 100 trees each) is fitted once, and the same fitted trees are scored by:

* **seed-style soft vote**: what the seed's ``VotingClassifier``-like ensemble does per call:
  each family's ``predict_proba`` with every core (LightGBM ``num_threads`` = cores, XGBoost
  ``nthread`` = cores, RandomForest ``n_jobs=-1``), then ``np.average`` with the weights;
* **library**: ``ProductionEnsemble.predict_proba`` with ``n_jobs=1``, as the server loads it;
* **per-family lowest-overhead calls** (a candidate the fast path was chosen against):
  LightGBM's C single-row predictor on its own booster, XGBoost ``inplace_predict`` with one
  thread, and each scikit-learn tree's ``tree_.predict`` summed by hand;
* **fast path**: ``compile_ensemble(model).predict_proba_one(row)`` and, as the server calls
  it, ``predict_proba`` on a (1, n) array; and ``predict_proba_one`` compiled without a C
  compiler (``STAGEWISE_FAST_NO_CC=1``: the forest in LightGBM's predictor too).

Before timing, every path's probabilities are compared with the library's on held-out rows.
Calls alternate in blocks (A, B, C, ..., then reversed) so all paths see the same machine load;
a different held-out row is used at every call. Run: ``.venv/bin/python bench/run.py serve_fast``.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from _report import write_section
from stagewise.models import ProductionEnsemble
from stagewise.models.artifacts import dump_ensemble, load_ensemble
from stagewise.serve._lightgbm_engine import RawScorer
from stagewise.serve.fast import compile_ensemble

BLOCKS = int(os.environ.get("STAGEWISE_BENCH_FAST_BLOCKS", "20"))
WARMUP = 3
#: Calls per block: slow paths fewer, so that each path gets a comparable share of wall time.
CALLS = {"seed": 10, "library": 25, "families": 100, "fast": 500}


# ----------------------------------------------------------------------------- data
def _markets() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    from stagewise.data import synthetic_bars
    from stagewise.features.labels import next_bar_direction
    from stagewise.features.technical import TechnicalIndicators, drop_warmup

    bars = synthetic_bars(22_000, seed=0)
    features = drop_warmup(TechnicalIndicators().generate_all_features(bars))
    labels = next_bar_direction(bars).loc[features.index]
    keep = labels.notna()
    X, y = features[keep], labels[keep].astype(int)
    return X.iloc[:20_000], y.iloc[:20_000], X.iloc[20_000:]


def _races() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    from stagewise.data import simulate_races
    from stagewise.features.races import race_entry_features

    races = simulate_races("2025-01-01", "2025-01-15", seed=0)
    X = race_entry_features(races)
    y = (races["finish_position"] == 1).fillna(False).astype(int)
    train = (races["race_date"] < pd.Timestamp("2025-01-14")).to_numpy()
    return X[train], y[train], X[~train]


# ----------------------------------------------------------------------------- the compared paths
class SeedSoftVote:
    """The seed's soft vote over the same fitted trees, every family on every core."""

    def __init__(self, model: ProductionEnsemble) -> None:
        self.model = model
        self.cores = os.cpu_count() or 1
        self.weights = [model.weights_[f] for f in ("lightgbm", "xgboost", "random_forest")]
        model.xgboost_.set_param({"nthread": self.cores})
        model.random_forest_.n_jobs = -1

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        lgbm = self.model.lightgbm_.predict(X, num_threads=self.cores)
        xgbp = np.asarray(self.model.xgboost_.inplace_predict(X, validate_features=False), dtype=np.float64)
        probas = [np.column_stack([1 - lgbm, lgbm]), np.column_stack([1 - xgbp, xgbp])]
        probas.append(self.model.random_forest_.predict_proba(X))
        out: np.ndarray = np.average(np.asarray(probas), axis=0, weights=self.weights)
        return out


class FamilyFastestCalls:
    """Each family's own lowest-overhead single-row call, combined by hand (a rejected candidate)."""

    def __init__(self, model: ProductionEnsemble) -> None:
        self.model = model
        self.lightgbm = RawScorer(model.lightgbm_.model_to_string(), model.n_features_in_)
        model.xgboost_.set_param({"nthread": 1})
        self.trees = [e.tree_ for e in model.random_forest_.estimators_]

    def predict_proba_one(self, row: np.ndarray) -> float:
        w = self.model.weights_
        p_lgbm = 1.0 / (1.0 + math.exp(-self.lightgbm.one(row)[0]))
        p_xgb = float(self.model.xgboost_.inplace_predict(row[None, :], validate_features=False)[0])
        row32 = row[None, :].astype(np.float32)
        p_rf = sum(float(t.predict(row32)[0, 1]) for t in self.trees) / len(self.trees)
        return float(w["lightgbm"] * p_lgbm + w["xgboost"] * p_xgb + w["random_forest"] * p_rf)


# ----------------------------------------------------------------------------- timing
def _cycling(fn: Callable[[Any], Any], rows: list[Any]) -> Callable[[], Any]:
    position = iter(range(10**12))
    return lambda: fn(rows[next(position) % len(rows)])


def _interleaved_us(calls: dict[str, tuple[Callable[[], Any], int]], blocks: int) -> dict[str, np.ndarray]:
    names = list(calls)
    out: dict[str, list[float]] = {name: [] for name in names}
    for index in range(blocks):
        for name in names if index % 2 == 0 else reversed(names):
            fn, size = calls[name]
            for _ in range(WARMUP):
                fn()
            for _ in range(size):
                start = time.perf_counter_ns()
                fn()
                out[name].append((time.perf_counter_ns() - start) / 1e3)
    return {name: np.asarray(values) for name, values in out.items()}


def _domain(name: str, X: pd.DataFrame, y: pd.Series, held_out: pd.DataFrame) -> dict[str, Any]:
    started = time.perf_counter()
    fitted = ProductionEnsemble(n_jobs=-1, rf_params={"n_jobs": -1}).fit(X, y)
    fit_s = time.perf_counter() - started
    library = load_ensemble(dump_ensemble(fitted), n_jobs=1)  # the same trees, as the server loads them
    started = time.perf_counter()
    fast = compile_ensemble(library)
    compile_s = time.perf_counter() - started
    os.environ["STAGEWISE_FAST_NO_CC"] = "1"
    try:
        without_cc = compile_ensemble(library)
    finally:
        del os.environ["STAGEWISE_FAST_NO_CC"]
    seed = SeedSoftVote(fitted)
    families = FamilyFastestCalls(load_ensemble(dump_ensemble(fitted), n_jobs=1))

    matrix = held_out.to_numpy(dtype=np.float64)
    reference = library.predict_proba(matrix)
    agreement = {
        "fast predict_proba": float(np.abs(fast.predict_proba(matrix) - reference).max()),
        "fast predict_proba_one": float(
            np.abs(np.array([fast.predict_proba_one(r) for r in matrix[:500]]) - reference[:500]).max()
        ),
        "fast without C compiler": float(np.abs(without_cc.predict_proba(matrix) - reference).max()),
        "seed-style soft vote": float(np.abs(seed.predict_proba(matrix) - reference).max()),
        "per-family calls": float(
            np.abs(np.array([families.predict_proba_one(r) for r in matrix[:200]]) - reference[:200, 1]).max()
        ),
    }
    rows = [matrix[i] for i in range(min(2000, len(matrix)))]
    rows_2d = [r[None, :] for r in rows]
    calls = {
        "seed-style soft vote": (_cycling(seed.predict_proba, rows_2d), CALLS["seed"]),
        "library predict_proba (n_jobs=1)": (_cycling(library.predict_proba, rows_2d), CALLS["library"]),
        "per-family lowest-overhead calls": (_cycling(families.predict_proba_one, rows), CALLS["families"]),
        "fast predict_proba_one": (_cycling(fast.predict_proba_one, rows), CALLS["fast"]),
        "fast predict_proba (1×n array)": (_cycling(fast.predict_proba, rows_2d), CALLS["fast"]),
        "fast predict_proba_one, no C compiler": (
            _cycling(without_cc.predict_proba_one, rows),
            CALLS["fast"],
        ),
    }
    if name == "races":  # the server scores the six boats of a race in one call
        races = [matrix[i : i + 6] for i in range(0, len(matrix) - 6, 6)]
        calls["library predict_proba, one race (6 rows)"] = (
            _cycling(library.predict_proba, races),
            CALLS["library"],
        )
        calls["fast predict_proba, one race (6 rows)"] = (_cycling(fast.predict_proba, races), CALLS["fast"])
    timings = _interleaved_us(calls, BLOCKS)
    nodes = sum(int(e.tree_.node_count) for e in library.random_forest_.estimators_)
    depth = max(int(e.tree_.max_depth) for e in library.random_forest_.estimators_)
    return {
        "fit_s": fit_s,
        "compile_s": compile_s,
        "agreement": agreement,
        "timings": timings,
        "shape": X.shape,
        "held_out": len(held_out),
        "forest": (nodes, depth),
    }


def _table(result: dict[str, Any]) -> list[str]:
    timings = result["timings"]
    seed = float(np.percentile(timings["seed-style soft vote"], 50))
    library = float(np.percentile(timings["library predict_proba (n_jobs=1)"], 50))
    lines = [
        "| path | calls | p50 (µs) | p99 (µs) | seed-style p50 / this p50 | library p50 / this p50 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, values in timings.items():
        p50, p99 = float(np.percentile(values, 50)), float(np.percentile(values, 99))
        bold = "**" if name.startswith("fast predict_proba_one") else ""
        lines.append(
            f"| {name} | {values.size:,} | {bold}{p50:,.1f}{bold} | {p99:,.1f} "
            f"| {bold}{seed / p50:,.0f}×{bold} | {library / p50:,.1f}× |"
        )
    return lines


def main() -> None:
    load_before = os.getloadavg()[0]
    results = {}
    for name, make in (("markets", _markets), ("races", _races)):
        print(f"serve-fast: {name}", flush=True)
        results[name] = _domain(name, *make())
    lines = [
        "Single-row latency of the ProductionEnsemble (production defaults: LightGBM, XGBoost and "
        "RandomForest with 100 trees each, weights 0.4/0.4/0.2), the same fitted trees scored by every "
        "path, a different held-out row at each call. The fast path is `stagewise.serve.fast` "
        "(the boosters in LightGBM's single-row C predictor, the forest in a small C walker built with "
        "the machine's compiler; see docs/fast-inference.md).",
        "",
    ]
    for name, r in results.items():
        nodes, depth = r["forest"]
        fast_p50 = float(np.percentile(r["timings"]["fast predict_proba_one"], 50))
        seed_p50 = float(np.percentile(r["timings"]["seed-style soft vote"], 50))
        lines += [
            f"### {name}",
            "",
            f"Fitted on {r['shape'][0]:,} rows × {r['shape'][1]} features in {r['fit_s']:.1f} s; the "
            f"forest has {nodes:,} nodes (depth up to {depth}); compiling took {r['compile_s']:.2f} s.",
            "",
            *_table(r),
            "",
            f"Fast path p50 **{fast_p50:.1f} µs** (goal ≤ 50 µs), **{seed_p50 / fast_p50:,.0f}×** faster "
            "than the seed-style soft vote (goal ≥ 100×).",
            "",
            f"Max |probability − library| on {r['held_out']:,} held-out rows: "
            + ", ".join(f"{k} {v:.1e}" for k, v in r["agreement"].items())
            + ".",
            "",
        ]
    lines += [
        f"Calls alternate in blocks ({BLOCKS} blocks; per block: seed-style {CALLS['seed']}, library "
        f"{CALLS['library']}, per-family {CALLS['families']}, fast {CALLS['fast']} calls, {WARMUP} warm-up "
        f"calls first), so all paths see the same load. 1-minute load average {load_before:.1f} before and "
        f"{os.getloadavg()[0]:.1f} after, on a machine shared with other work: absolute figures are "
        "noisy, the ratios are the result.",
    ]
    write_section("serve-fast", ".venv/bin/python bench/run.py serve_fast", "\n".join(lines))


if __name__ == "__main__":
    main()
