"""A small, real deployment for the `stagewise check` tests, laid out as the demo lays out its work directory.

data/races.parquet (4 simulated days), models/ (one tiny race ensemble, promoted),
config/rollout_config.json + rollout_audit.jsonl (challenger_model at 10 %),
data/monitor.db (12 settled races on the last day). Everything is written through the
library, as a user's deployment would be.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

LAST_DAY = "2025-01-04"
TINY = {"n_estimators": 3}


def build_deployment(root: Path) -> dict[str, Any]:
    """Write the deployment under ``root``; return the production version."""
    from stagewise.data import save_races, simulate_races
    from stagewise.features import race_entry_features
    from stagewise.models import ModelRegistry, ProductionEnsemble
    from stagewise.monitor import PerformanceMonitor
    from stagewise.rollout import GradualRollout

    races = simulate_races("2025-01-01", LAST_DAY, seed=0, venues=[1, 24])
    save_races(races, root / "data" / "races.parquet")

    X = race_entry_features(races)
    y = (races["finish_position"] == 1).fillna(False).astype(int)
    model = ProductionEnsemble(lgbm_params=TINY, xgb_params=TINY, rf_params=TINY).fit(X, y)
    registry = ModelRegistry(root / "models")
    version = registry.save(
        model, metrics={"ensemble_hit_rate_1st": 0.5}, data_window=("2025-01-01", LAST_DAY)
    )
    registry.promote(version)

    with GradualRollout(root / "config" / "rollout_config.json", refresh_interval=0) as rollout:
        rollout.add_feature("challenger_model", "10%", reason="first look", actor="test")

    rows = [
        {
            "race_id": f"R{n}",
            "race_date": LAST_DAY,
            "venue_code": 24,
            "race_number": n,
            "predictions": [{"pit_number": p, "total_score": 1.0 - p / 10} for p in range(1, 7)],
            "actual_results": [
                {"pit_number": p, "rank": rank}
                for rank, p in enumerate((1, 2, 3, 4, 5, 6) if n % 2 else (2, 1, 3, 4, 5, 6), start=1)
            ],
            "model_version": version,
        }
        for n in range(1, 13)
    ]
    with PerformanceMonitor(str(root / "data" / "monitor.db"), notifiers=[]) as monitor:
        monitor.log_predictions(rows)
    return {"version": version}


def snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every file below ``root``: size, mtime (ns) and SHA-256, to prove nothing was written."""
    return {
        str(p.relative_to(root)): (
            p.stat().st_size,
            p.stat().st_mtime_ns,
            hashlib.sha256(p.read_bytes()).hexdigest(),
        )
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
