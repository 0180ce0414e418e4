"""Bring your own model: a scikit-learn Pipeline with your own features, from backtest to a decision.

What it teaches
---------------
* A feature set by dotted path (``byom.kyotei_features:kyotei_features``) is one definition of the
  features: the backtest, the training and the server all compute the rows with it, and the
  registry records it with the model version.
* ``model_factory("sklearn:byom.kyotei_features:make_pipeline")`` backtests any model walk-forward;
  every step records the model's flavour and input signature.
* ``ModelRegistry.save`` stores the Pipeline pickle-free (skops, audited types) with its signature;
  the built-in ensemble (with its place model) stays the champion, the Pipeline becomes the
  ``challenger`` and a rollout sends it 10 % of the races.
* A real ``stagewise`` server on 127.0.0.1 routes each race, answers with the model the rollout
  picks, checks the request against that model's signature and logs every answer to the ledger;
  ``/readyz`` says which model runs on which path (fast or library).
* After the results, the ledger has both variants and ``run_controller`` decides: promote, hold or
  roll back.

Run it::

    .venv/bin/python examples/06_bring_your_own_model.py [WORKDIR]

Writes WORKDIR/models, WORKDIR/walkforward, WORKDIR/config and WORKDIR/data/monitor.db (default
WORKDIR: a new temporary directory). About a minute.
"""

from __future__ import annotations

import socket
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from stagewise import GradualRollout, ModelRegistry, PerformanceMonitor, WalkForwardBacktest, simulate_races
from stagewise.data.races.validation import FLOAT_RANGES
from stagewise.features.sets import FeatureSet
from stagewise.models import SklearnFlavour
from stagewise.models.flavours.spec import model_factory
from stagewise.models.training import train_races
from stagewise.rollout.controller_runner import run_controller
from stagewise.serve import ServeSettings, create_app

FEATURES = "byom.kyotei_features:kyotei_features"
PIPELINE = "byom.kyotei_features:make_pipeline"
SMALL_ENSEMBLE = {family: {"n_estimators": 30} for family in ("lgbm_params", "xgb_params", "rf_params")}
FEATURE = "challenger_model"


def backtest(history: pd.DataFrame, workdir: Path) -> None:
    features = FeatureSet.from_function(FEATURES, domain="races")
    runner = WalkForwardBacktest(
        "races",
        data=history,
        model_factory=model_factory(f"sklearn:{PIPELINE}"),
        feature_fn=features.compute,
        n_workers=1,
    )
    result = runner.run_walkforward(
        "2025-11-15",
        "2025-11-21",
        train_days=14,
        test_days=3,
        step_days=3,
        output_dir=str(workdir / "walkforward"),
    )
    step = result["steps"][0]["model"]
    print(
        f"backtest: {result['summary']['total_steps']} steps, win hit rate "
        f"{result['summary']['overall_hit_rate_1st']:.1%}; each step's model: {step['flavour']} flavour, "
        f"{len(step['signature'])} features"
    )


def register(history: pd.DataFrame, workdir: Path) -> ModelRegistry:
    registry = ModelRegistry(workdir / "models")
    builtin = train_races(history, days=21, model_params=SMALL_ENSEMBLE)  # the ensemble + its place model
    registry.promote(
        registry.save(builtin.flavour, feature_set=builtin.feature_set.to_json(), notes="built-in")
    )

    features = FeatureSet.from_function(FEATURES, domain="races")
    X = features.compute(history)
    y = (history["finish_position"] == 1).fillna(False).astype(int)
    mine = model_factory(f"sklearn:{PIPELINE}")().fit(X, y)  # a SklearnFlavour around the user's Pipeline
    assert isinstance(mine, SklearnFlavour)
    version = registry.save(mine, feature_set=features.to_json(), notes="my pipeline")
    registry.set_alias("challenger", version)
    print(f"registered: champion {registry.resolve('champion')} (race), challenger {version} (sklearn)")
    return registry


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def request(race: pd.DataFrame) -> dict[str, Any]:
    first = race.iloc[0]
    return {
        "race_id": str(first["race_id"]),
        "race_date": first["race_date"].date().isoformat(),
        "venue_code": int(first["venue_code"]),
        "race_number": int(first["race_number"]),
        "entries": [
            {
                "pit": int(r.pit),
                "racer_id": int(r.racer_id),
                "racer_class": str(r.racer_class),
                **{name: float(getattr(r, name)) for name in FLOAT_RANGES},
            }
            for r in race.itertuples()
        ],
    }


def serve_and_log(workdir: Path, days: pd.DataFrame) -> str:
    import uvicorn

    settings = ServeSettings(
        models_dir=str(workdir / "models"),
        db_url=f"sqlite:///{workdir / 'data' / 'monitor.db'}",
        rollout_config=str(workdir / "config" / "rollout_config.json"),
        feature=FEATURE,
        reload_interval_s=0.5,
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, admin_token=None), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=30) as client:
        while not server.started:
            time.sleep(0.05)
        ready = client.get("/readyz").json()
        for role, model in sorted(ready["models"].items()):
            print(f"/readyz: {role} = {model['flavour']} flavour on the {model['inference_path']} path")
        answered: dict[str, int] = {}
        for _, race in days.groupby("race_id", sort=True):
            answer = client.post("/v1/races/predict", json=request(race))
            answer.raise_for_status()
            role = answer.json()["model"]["role"]
            answered[role] = answered.get(role, 0) + 1
            results = [
                {"pit": int(r.pit), "rank": int(r.finish_position)}
                if r.status == "finished"
                else {"pit": int(r.pit), "status": str(r.status)}
                for r in race.itertuples()
            ]
            client.post(
                "/v1/results", json={"race_id": str(race["race_id"].iloc[0]), "results": results}
            ).raise_for_status()
        bad = request(days.loc[days["race_id"] == days["race_id"].iloc[0]])
        bad["entries"][0]["national_win_rate"] = -1.0  # outside the schema: refused before any model
        print(f"a bad request: HTTP {client.post('/v1/races/predict', json=bad).status_code}")
    server.should_exit = True
    thread.join(timeout=30)
    print(
        f"served {sum(answered.values())} races: "
        + ", ".join(f"{k} {v}" for k, v in sorted(answered.items()))
    )
    return str(settings.db_url)


def main(workdir: Path) -> None:
    history = simulate_races("2025-10-25", "2025-11-21", seed=6, venues=[1, 5, 12, 24])
    backtest(history, workdir)
    register(history, workdir)

    rollout = GradualRollout(workdir / "config" / "rollout_config.json", actor="example")
    rollout.add_feature(FEATURE, "10%", salt=f"{FEATURE}:example-06", reason="try my pipeline on 10 %")
    live = simulate_races("2025-11-22", "2025-11-24", seed=7)
    db_url = serve_and_log(workdir, live)

    with PerformanceMonitor(db_url, notifiers=[]) as monitor:
        for day in ("2025-11-22", "2025-11-23", "2025-11-24"):
            stats = monitor.calculate_daily_stats(day)
            assert stats is not None
            print(f"ledger {day}: {stats['total_races']} races, win hit rate {stats['hit_rate_1st']:.1%}")
        decision = run_controller(rollout, monitor, FEATURE, now=datetime(2025, 11, 25, 6, 0, tzinfo=UTC))
    print(f"controller decision: {decision.action} ({decision.from_stage} -> {decision.to_stage})")
    rollout.close()


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="stagewise-example-"))
    main(target)
