"""Single-row latency per model flavour, library path vs the compiled fast path; race ranking with places.

For each flavour fitted on simulated race rows (100 trees per booster), one held-out row per call,
the paths interleaved in blocks so that machine noise hits them alike:

* library, flavour: ``flavour.predict_proba(row)`` (what ``registry.load_flavour`` gives; checks the
  signature first);
* library, raw: the model library's own call on the row (``Booster.predict``, ``inplace_predict``,
  ``estimator.predict_proba``), no checks;
* fast: the compiled path the server picks (``choose_path``), ``predict_proba_one`` and the
  server's call ``predict_proba`` on a (1, n) array;
* the server's whole check + score: ``signature.check`` then the chosen scorer.

And one race (6 boats) ranked with its place model: ``RaceFlavour.rank`` (pandas, the backtest's
code) vs the server's path (fast win scores, ``place_order``).

Run: ``.venv/bin/python bench/run.py flavours`` (writes the ``flavours`` section of BENCHMARKS.md).
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from _report import write_section
from stagewise.data import simulate_races
from stagewise.features.races import race_entry_features
from stagewise.models import (
    BlendFlavour,
    EnsembleFlavour,
    LightGBMFlavour,
    RaceFlavour,
    SklearnFlavour,
    XGBoostFlavour,
)
from stagewise.models.places import PlaceModel
from stagewise.serve.paths import choose_path
from stagewise.serve.routing import _Checked

TREES = 100


def _data() -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.DataFrame, pd.DataFrame]:
    races = simulate_races("2025-01-01", "2025-01-15", seed=0)
    X = race_entry_features(races)
    y = (races["finish_position"] == 1).fillna(False).astype(int)
    train = (races["race_date"] < pd.Timestamp("2025-01-14")).to_numpy()
    return races[train], X[train], y[train], X[~train], races[~train]


def _fit(races: pd.DataFrame, X: pd.DataFrame, y: pd.Series) -> dict[str, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    lightgbm = LightGBMFlavour({"n_estimators": TREES}).fit(X, y)
    xgboost = XGBoostFlavour({"n_estimators": TREES}).fit(X, y)
    ensemble = EnsembleFlavour().fit(X, y)
    place = PlaceModel().fit(
        X.to_numpy(), pd.factorize(races["race_id"])[0], races["pit"], races["finish_position"].astype(float)
    )
    return {
        "lightgbm (100 trees)": lightgbm,
        "xgboost (100 trees)": xgboost,
        "ensemble (100 trees per family)": ensemble,
        "race (ensemble win + place)": RaceFlavour.from_parts(ensemble.model_, place),
        "sklearn HistGradientBoosting (100 iter)": SklearnFlavour(
            HistGradientBoostingClassifier(max_iter=TREES)
        ).fit(X, y),
        "sklearn Pipeline (scaler + LogisticRegression)": SklearnFlavour(
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
        ).fit(X, y),
        "blend (lightgbm 0.5 + xgboost 0.5)": BlendFlavour.from_members([lightgbm, xgboost]),
    }


def _raw(flavour: Any) -> Callable[[np.ndarray], Any] | None:
    if flavour.name == "lightgbm":
        return lambda row: flavour.booster_.predict(row, num_threads=1)
    if flavour.name == "xgboost":
        return lambda row: flavour.booster_.inplace_predict(row, validate_features=False)
    if flavour.name == "sklearn":
        return lambda row: flavour.estimator_.predict_proba(
            pd.DataFrame(row, columns=flavour.signature_.names)
            if hasattr(flavour.estimator_, "feature_names_in_")
            else row
        )
    if flavour.name in ("ensemble", "race"):
        model = flavour.model_ if flavour.name == "ensemble" else flavour.win_.model_
        return lambda row: model.predict_proba(row)
    return None


def _p50_us(calls: dict[str, Callable[[], Any]], n: int, blocks: int = 10) -> dict[str, tuple[float, float]]:
    """p50 and p99 in µs of each call, interleaved in ``blocks`` (reversed every other block)."""
    out: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for block in range(blocks):
        for name in names if block % 2 == 0 else reversed(names):
            fn = calls[name]
            for _ in range(max(1, n // blocks)):
                start = time.perf_counter_ns()
                fn()
                out[name].append((time.perf_counter_ns() - start) / 1e3)
    return {k: (float(np.percentile(v, 50)), float(np.percentile(v, 99))) for k, v in out.items()}


def _cycle(fn: Callable[[np.ndarray], Any], rows: np.ndarray) -> Callable[[], Any]:
    counter = iter(range(10**12))
    return lambda: fn(rows[next(counter) % len(rows)][None, :])


def main() -> None:
    races, X, y, held_out, test_races = _data()
    rows = np.ascontiguousarray(held_out.to_numpy(dtype=np.float64)[:500])
    models = _fit(races, X, y)
    lines = [
        "| flavour | path | library, flavour `predict_proba` p50 (p99) | library, raw call | fast "
        "`predict_proba_one` | fast `predict_proba` (1, n) | server: check + score | raw / fast |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    max_diff: dict[str, float] = {}
    for name, flavour in models.items():
        plan = choose_path(flavour)
        calls: dict[str, Callable[[], Any]] = {"flavour": _cycle(flavour.predict_proba, rows)}
        raw = _raw(flavour)
        if raw is not None:
            calls["raw"] = _cycle(raw, rows)
        if plan.path == "fast":
            fast: Any = plan.scorer
            calls["fast_one"] = _cycle(lambda r, f=fast: f.predict_proba_one(r[0]), rows)
            calls["fast"] = _cycle(fast.predict_proba, rows)
            max_diff[name] = float(np.max(np.abs(fast.predict_proba(rows) - flavour.predict_proba(rows))))
        signature, scorer = flavour.signature_, plan.scorer
        calls["server"] = _cycle(lambda r, s=signature, sc=scorer: sc.predict_proba(s.check(r)), rows)
        slow = name.startswith(("ensemble", "race", "blend", "sklearn Hist"))
        timing = _p50_us(calls, n=400 if slow else 3000)

        def cell(key: str, timing: dict[str, tuple[float, float]] = timing) -> str:
            if key not in timing:
                return "—"
            p50, p99 = timing[key]
            return f"{p50:,.1f} ({p99:,.0f})"

        ratio = (
            f"**{timing['raw'][0] / timing['fast_one'][0]:.1f}×**"
            if "fast_one" in timing and "raw" in timing
            else "—"
        )
        lines.append(
            f"| {name} | {plan.path} | {cell('flavour')} | {cell('raw')} | {cell('fast_one')} | "
            f"{cell('fast')} | {cell('server')} | {ratio} |"
        )

    race_model = models["race (ensemble win + place)"]
    plan = choose_path(race_model)
    served = copy.deepcopy(race_model)  # as the server holds it: the place model on its own compiled path
    classifier = served.place_.classifier_
    served.place_.classifier_ = _Checked(classifier.signature_, choose_path(classifier).scorer)
    groups = [g for _, g in test_races.groupby("race_id", sort=True)][:200]
    race_rows = [(g[["race_id", "pit"]], race_entry_features(g)) for g in groups]
    counter = iter(range(10**12))

    def library_rank() -> Any:
        entries, features = race_rows[next(counter) % len(race_rows)]
        return race_model.rank(entries, features)

    def server_rank() -> Any:
        entries, features = race_rows[next(counter) % len(race_rows)]
        matrix = race_model.signature_.check(features)
        scores = plan.scorer.predict_proba(matrix)[:, 1]
        return served.place_order(matrix, entries["pit"].to_numpy(), scores)

    ranking = _p50_us({"library": library_rank, "server": server_rank}, n=300)
    load = os.getloadavg()
    body = "\n".join(
        [
            "One row per call, a different held-out race row each time (simulated races, 18 features), "
            "p50 (p99) in µs; all paths interleaved in one run. `raw / fast` is the library's own call "
            "divided by the fast path's `predict_proba_one`. Largest |fast − library| over 500 held-out "
            "rows: " + ", ".join(f"{k.split(' ')[0]} {v:.1e}" for k, v in max_diff.items()) + ".",
            "",
            *lines,
            "",
            "One race of 6 boats ranked with the place model ordering places 2-6: "
            f"`RaceFlavour.rank` (pandas, the backtest's code) {ranking['library'][0]:,.0f} µs p50; "
            "the server's path (signature check, fast win scores, `place_order`, compiled place model) "
            f"{ranking['server'][0]:,.0f} µs "
            f"p50 ({ranking['library'][0] / ranking['server'][0]:.1f}×).",
            "",
            f"Load average during the run: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
            "(the machine is shared; ratios are the result, absolute figures are inflated by the load).",
        ]
    )
    print(body)
    write_section("flavours", ".venv/bin/python bench/run.py flavours", body)


if __name__ == "__main__":
    main()
