"""The races domain: one row per boat, a per-boat "won" model ranked within each race.

Baselines scored on the same races: ``lane_order`` (always predict 1-2-3-4-5-6), and on
simulated data ``oracle``: the simulator's true probabilities. The oracle's winner pick and
score order follow ``true_win_prob``; its trifecta and trio pick is the single most probable
ordered trifecta (``oracle_trifecta_position``). ``random`` is analytic (1/6, 1/120, 1/20,
0.5) and added by the summary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stagewise._domain import Domain
from stagewise._exceptions import ConfigError, DataValidationError
from stagewise.backtest.domains import DataArg, FeatureFunction, Prepared, StepScore
from stagewise.metrics.race_summary import score_predictions, summarize_races

__all__ = ["DEFAULT_RACES_PATH", "PREDICTION_COLUMNS", "RANDOM_BASELINE", "RaceDomain"]

#: Expected metrics of a uniformly random order of six starters.
RANDOM_BASELINE = {
    "hit_rate_1st": 1 / 6,
    "hit_rate_top3": 1 / 120,
    "hit_rate_trio": 1 / 20,
    "avg_score_accuracy": 0.5,
}

PREDICTION_COLUMNS = [
    "step", "race_id", "race_date", "pit", "score", "win_prob", "place_score", "predicted_rank",
    "finish_position", "status",
]  # fmt: skip
DEFAULT_RACES_PATH = Path("data") / "races.parquet"
"""Where ``WalkForwardBacktest()`` without ``data`` reads races, relative to the working directory."""


def _no_data_hint() -> str:
    return (
        f"No race data given and {DEFAULT_RACES_PATH.as_posix()} does not exist in {Path.cwd()}: pass data= "
        "a DataFrame or the path of a CSV/Parquet race file, or create that file, which is then read "
        "by default: `stagewise data simulate --start 2025-10-01 --end 2025-11-17 --output "
        f"{DEFAULT_RACES_PATH.as_posix()}`."
    )


class _Precomputed:
    """Stands in for a fitted model inside ``rank_races``: its probabilities were computed by a worker."""

    def predict_proba(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        p = np.asarray(X, dtype=np.float64)[:, 0]
        return np.column_stack([1.0 - p, p])


class RaceDomain:
    """Kyotei races (see :mod:`stagewise.data.races` for the schema).

    With ``places="model"`` a :class:`~stagewise.models.places.PlaceModel` is fitted beside each
    win model and orders boats 2-6; with ``"win_order"`` every boat is ordered by win probability.
    """

    name = Domain.RACES
    unit = "races"

    def __init__(self, places: str = "model") -> None:
        self.places = places

    def load(self, data: DataArg) -> pd.DataFrame:
        if data is None:
            if not DEFAULT_RACES_PATH.is_file():
                raise ConfigError(_no_data_hint())
            data = DEFAULT_RACES_PATH
        if isinstance(data, pd.DataFrame):
            validate = _data_function("validate_races")
            frame = validate(data) if validate is not None else _check_columns(data)
            return frame
        if isinstance(data, str | Path):
            load = _data_function("load_races")
            if load is not None:
                loaded: pd.DataFrame = load(data)
                return loaded
            path = Path(data)
            if not path.exists():
                raise ConfigError(f"The 'data' parameter names {str(path)!r}, which does not exist.")
            raw = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
            return _check_columns(raw)
        raise ConfigError(
            f"The 'data' parameter must be a DataFrame, a path or None. Got {type(data).__name__} instead."
        )

    def prepare(self, frame: pd.DataFrame, feature_fn: FeatureFunction | None) -> Prepared:
        if feature_fn is None:
            from stagewise.features.races import race_entry_features

            feature_fn = race_entry_features
        features = feature_fn(frame)
        if not features.index.equals(frame.index):
            raise DataValidationError("feature_fn must return one row per boat with the data's index.")
        won = (frame["finish_position"] == 1).fillna(False).to_numpy(dtype=bool)
        oracle = {"true_win_prob", "oracle_trifecta_position"} <= set(frame.columns) and bool(
            frame["true_win_prob"].notna().all()
        )
        return Prepared(
            frame=frame,
            timestamps=pd.to_datetime(frame["race_date"]).to_numpy(),
            features=features.to_numpy(dtype=np.float64),
            feature_names=tuple(str(c) for c in features.columns),
            labels=won.astype(np.float64),
            usable=np.ones(len(frame), dtype=bool),
            label_horizon=None,
            extras={
                "oracle": oracle,
                "race_codes": pd.factorize(frame["race_id"])[0].astype(np.int64),
                "pits": frame["pit"].to_numpy(dtype=np.int64),
                "finish": frame["finish_position"]
                .astype("Float64")
                .to_numpy(dtype=np.float64, na_value=np.nan),
            },
        )

    def second_stage_data(self, prepared: Prepared, train: np.ndarray) -> dict[str, np.ndarray] | None:
        if self.places != "model":
            return None
        return {name: prepared.extras[name][train] for name in ("race_codes", "pits", "finish")}

    def fit_second_stage(
        self, x_train: np.ndarray, data: dict[str, np.ndarray], threads: int, permute_seed: int | None
    ) -> Any:
        from stagewise.models.places import PlaceModel

        finish = data["finish"]
        if permute_seed is not None:  # the permutation check shuffles the place labels like the win labels
            finish = np.random.default_rng(permute_seed).permutation(finish)
        return PlaceModel(n_jobs=threads).fit(x_train, data["race_codes"], data["pits"], finish)

    def apply_second_stage(
        self, stage: Any, rows: pd.DataFrame, x_test: np.ndarray, proba: np.ndarray
    ) -> np.ndarray:
        codes = pd.factorize(rows["race_id"])[0]
        place = stage.place_scores(x_test, codes, rows["pit"].to_numpy(), proba) if len(proba) else proba
        return np.column_stack([proba, place])

    def scoring_rows(self, prepared: Prepared, train: np.ndarray, test: np.ndarray) -> pd.DataFrame:
        columns = ["race_id", "race_date", "pit", "finish_position", "status"]
        if prepared.extras.get("oracle"):
            columns += ["true_win_prob", "oracle_trifecta_position"]
        return prepared.frame.iloc[test][columns]

    def score_rows(self, rows: pd.DataFrame, step: int, proba: np.ndarray) -> StepScore:
        from stagewise.models.races import order_places, rank_races

        race_results = _data_function("race_results") or _race_results
        entries = rows[["race_id", "pit"]]
        proba = np.asarray(proba, dtype=np.float64)
        win = proba[:, 0] if proba.ndim == 2 else proba
        place = pd.Series(proba[:, 1] if proba.ndim == 2 else np.nan, index=entries.index, name="place_score")
        ranked = rank_races(_Precomputed(), entries, win.reshape(-1, 1)).join(place)
        if proba.ndim == 2:
            ranked = order_places(ranked, ranked["place_score"].to_numpy())
        context = rows[["race_date", "finish_position", "status"]]
        predictions = ranked.join(context).assign(step=step)
        predictions = predictions[PREDICTION_COLUMNS]
        results = race_results(rows)
        units = {"model": score_predictions(predictions, results)}
        lane = rows[["race_id", "race_date", "pit"]].assign(predicted_rank=rows["pit"].to_numpy())
        units["lane_order"] = score_predictions(lane, results, prob_column=None)
        if "true_win_prob" in rows.columns:
            units["oracle"] = _oracle(rows, results)
        for table in units.values():
            table.insert(0, "step", step)
        return StepScore(predictions.reset_index(drop=True), units)

    def metrics(self, units: pd.DataFrame, n_resamples: int, seed: int) -> dict[str, Any]:
        return summarize_races(units, n_resamples=n_resamples, seed=seed)

    def headline(self) -> tuple[str, ...]:
        return ("hit_rate_1st", "hit_rate_top3", "hit_rate_trio", "avg_score_accuracy", "log_loss")

    def chance(self, summaries: dict[str, dict[str, Any]]) -> float:
        return RANDOM_BASELINE["hit_rate_1st"]


def _oracle(rows: pd.DataFrame, results: dict[Any, dict[int, int | str]]) -> pd.DataFrame:
    base = rows[["race_id", "race_date", "pit", "true_win_prob", "oracle_trifecta_position"]].copy()
    base["neg"] = -base["true_win_prob"].to_numpy(dtype=float)
    by_prob = base.sort_values(["race_id", "neg", "pit"], kind="mergesort")
    by_prob["predicted_rank"] = by_prob.groupby("race_id").cumcount() + 1
    by_prob["win_prob"] = by_prob["true_win_prob"]
    win = score_predictions(by_prob, results)
    base["trifecta_key"] = base["oracle_trifecta_position"].astype("Float64").fillna(99.0).astype(float)
    by_trifecta = base.sort_values(["race_id", "trifecta_key", "neg", "pit"], kind="mergesort")
    by_trifecta["predicted_rank"] = by_trifecta.groupby("race_id").cumcount() + 1
    trifecta = score_predictions(by_trifecta, results, prob_column=None).set_index("race_id")
    win = win.set_index("race_id")
    win["hit_top3"] = trifecta["hit_top3"]
    win["hit_trio"] = trifecta["hit_trio"]
    return win.reset_index()


_REQUIRED = ("race_id", "race_date", "pit", "finish_position", "status")


def _data_function(name: str) -> Any:
    """``stagewise.data.races.<name>`` when the data package provides it, else None."""
    import importlib

    return getattr(importlib.import_module("stagewise.data.races"), name, None)


def _check_columns(frame: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"race data lacks column(s) {missing}; see stagewise.data.races for the schema."
        )
    return frame


def _race_results(rows: pd.DataFrame) -> dict[Any, dict[int, int | str]]:
    """``{race_id: {pit: finishing rank or status}}`` (the mapping ``score_race`` takes)."""
    out: dict[Any, dict[int, int | str]] = {}
    for race_id, pit, rank, status in zip(
        rows["race_id"], rows["pit"], rows["finish_position"], rows["status"], strict=True
    ):
        out.setdefault(race_id, {})[int(pit)] = int(rank) if not pd.isna(rank) else str(status)
    return out
