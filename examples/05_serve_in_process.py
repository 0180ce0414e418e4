"""Serve a registered race model over HTTP in-process, then read what the server logged.

What it teaches
---------------
* ``stagewise.serve.create_app(ServeSettings(...))`` builds the FastAPI app that ``stagewise serve``
  runs: it loads the ``champion`` from the registry (hash-checked), routes each race by the rollout,
  answers ``POST /v1/races/predict`` and writes every answered prediction to the monitor ledger.
* ``POST /v1/results`` joins a race's result to its logged predictions, so the ledger's daily stats
  include what was served.
* FastAPI's ``TestClient`` drives the app without a port; ``with TestClient(app)`` runs its lifespan
  (the ledger writer starts, and drains every queued prediction on exit).

Run it::

    .venv/bin/python examples/05_serve_in_process.py [WORKDIR]

Writes WORKDIR/models, WORKDIR/config and WORKDIR/data/monitor.db (default WORKDIR: a new temporary
directory). About 10 s.
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from pathlib import Path

from stagewise import ModelRegistry, PerformanceMonitor, simulate_races
from stagewise.models.training import train_races
from stagewise.serve import ServeSettings, create_app
from stagewise.serve.schemas import RaceEntryIn

with warnings.catch_warnings():
    # starlette's test client asks for 'httpx2' at import: a note about its future, not about this script
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SMALL_MODEL = {family: {"n_estimators": 20} for family in ("lgbm_params", "xgb_params", "rf_params")}
ENTRY_FIELDS = list(RaceEntryIn.model_fields)  # the request schema names the columns a race entry carries


def main(workdir: Path) -> None:
    history = simulate_races("2025-11-01", "2025-11-14", seed=3, venues=[1, 12, 24])
    report = train_races(history, days=14, model_params=SMALL_MODEL)
    registry = ModelRegistry(workdir / "models")
    registry.promote(registry.save(report.model, notes="example 05"))  # production and "champion"

    settings = ServeSettings(
        models_dir=str(workdir / "models"),
        db_url=f"sqlite:///{workdir / 'data' / 'monitor.db'}",
        rollout_config=str(workdir / "config" / "rollout_config.json"),  # no feature yet: all champion
    )
    today = simulate_races("2025-11-17", "2025-11-17", seed=4, venues=[1])
    with TestClient(create_app(settings, admin_token=None)) as client:
        ready = client.get("/readyz").json()
        print(f"/readyz: ready={ready['ready']}, champion {ready['models']['champion']['version']}")
        for race_id, race in today.groupby("race_id", sort=True):
            first = race.iloc[0]
            body = {
                "race_id": race_id,
                "race_date": "2025-11-17",
                "venue_code": int(first["venue_code"]),
                "race_number": int(first["race_number"]),
                "entries": [
                    {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
                    for row in race[ENTRY_FIELDS].to_dict("records")
                ],
            }
            answer = client.post("/v1/races/predict", json=body).json()
            if race_id.endswith("-01"):
                print(
                    f"{race_id}: predicted order {answer['predicted_order']} by the {answer['model']['role']}"
                )
            results = [
                {"pit": int(r.pit), "rank": int(r.finish_position)}
                if r.status == "finished"
                else {"pit": int(r.pit), "status": r.status}
                for r in race.itertuples()
            ]
            assert (
                client.post("/v1/results", json={"race_id": race_id, "results": results}).status_code == 200
            )

    with PerformanceMonitor(settings.db_url, notifiers=[]) as monitor:
        stats = monitor.calculate_daily_stats("2025-11-17")
    assert stats is not None
    print(
        f"ledger: {stats['total_races']} races served and settled, win hit rate {stats['hit_rate_1st']:.1%}"
    )


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="stagewise-example-"))
    main(target)
