"""Shared helpers of the serve tests: a small registry, request payloads, a real uvicorn."""

from __future__ import annotations

import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

# free_port is re-exported: four serve test modules import it from here
from process_support import cli_process, free_port

with warnings.catch_warnings():
    # starlette asks for 'httpx2' at import; the warning is about the future, not our code
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

__all__ = [
    "TOKEN",
    "TestClient",
    "build_registry",
    "free_port",
    "race_payloads",
    "request_body",
    "uvicorn_server",
]

SMALL = {"n_estimators": 8}
TOKEN = "s3cret-admin-token"


def build_registry(root: Path) -> dict[str, str]:
    """A registry with a race champion and challenger and a market model; returns role -> version."""
    from stagewise.data import simulate_races, synthetic_bars
    from stagewise.features.labels import next_bar_direction
    from stagewise.features.races import race_entry_features
    from stagewise.features.technical import TechnicalIndicators, drop_warmup
    from stagewise.models import ModelRegistry, ProductionEnsemble

    races = simulate_races("2025-01-01", "2025-01-03", seed=0, venues=[1, 2])
    X = race_entry_features(races)
    y = (races["finish_position"] == 1).fillna(False).astype(int)
    registry = ModelRegistry(root)

    def fit(seed: int, X: Any, y: Any) -> Any:
        return ProductionEnsemble(
            random_state=seed, lgbm_params=SMALL, xgb_params=SMALL, rf_params=SMALL
        ).fit(X, y)

    champion = registry.save(fit(0, X, y))
    registry.promote(champion)
    challenger = registry.save(fit(1, X, y))
    registry.set_alias("challenger", challenger)
    bars = synthetic_bars(400, seed=0)
    features = drop_warmup(TechnicalIndicators().generate_all_features(bars))
    labels = next_bar_direction(bars).loc[features.index]
    keep = labels.notna()
    market = registry.save(fit(2, features[keep], labels[keep].astype(int)))
    registry.set_alias("market", market)
    return {"champion": champion, "challenger": challenger, "market": market}


def race_payloads(n: int, *, seed: int = 1, prefix: str = "r") -> list[dict[str, Any]]:
    """``n`` valid race requests (distinct race ids) from simulated races."""
    from stagewise.data import simulate_races

    days = max(1, -(-n // 100))
    start = pd.Timestamp("2025-03-01")
    races = simulate_races(start, start + pd.Timedelta(days=days - 1), seed=seed)
    out = []
    for i, (race_id, race) in enumerate(races.groupby("race_id", sort=True)):
        if i >= n:
            break
        first = race.iloc[0]
        out.append(
            {
                "race_id": f"{prefix}{race_id}",
                "race_date": first["race_date"].date().isoformat(),
                "venue_code": int(first["venue_code"]),
                "race_number": int(first["race_number"]),
                "entries": [
                    {
                        "pit": int(row.pit),
                        "racer_id": int(row.racer_id),
                        "racer_class": str(row.racer_class),
                        "national_win_rate": float(row.national_win_rate),
                        "local_win_rate": float(row.local_win_rate),
                        "motor_2rate": float(row.motor_2rate),
                        "boat_2rate": float(row.boat_2rate),
                        "exhibition_time": float(row.exhibition_time),
                        "avg_start_timing": float(row.avg_start_timing),
                    }
                    for row in race.sort_values("pit").itertuples()
                ],
                "_result": [
                    {"pit": int(row.pit), "rank": int(row.finish_position)}
                    if row.status == "finished"
                    else {"pit": int(row.pit), "status": str(row.status)}
                    for row in race.itertuples()
                ],
            }
        )
    assert len(out) == n, f"simulated {len(out)} races, wanted {n}"
    return out


def request_body(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if not k.startswith("_")}


def count_predictions(db_url: str, **where: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    clause = " AND ".join(f"{k} = :{k}" for k in where) or "1 = 1"
    try:
        with engine.connect() as conn:
            query = text(f"SELECT count(*) FROM race_predictions WHERE {clause}")
            return int(conn.execute(query, where).scalar())
    finally:
        engine.dispose()


@contextmanager
def uvicorn_server(
    args: list[str], env: dict[str, str] | None = None, timeout: float = 60.0
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``stagewise serve`` in a subprocess on a free port; yields (base_url, process)."""
    with cli_process(["serve", *args], health="/healthz", env=env, timeout=timeout) as up:
        yield up
