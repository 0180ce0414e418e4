"""Where the deployment's files live: one place for the defaults every check reads.

The defaults are the other commands' defaults (``stagewise models --root models``,
``stagewise monitor --db data/monitor.db``, ``stagewise rollout --config
config/rollout_config.json``, ``stagewise data simulate --output data/races.parquet``),
taken relative to a work directory, so ``--workdir`` points the checks at a whole
deployment (the demo's work directory has exactly this layout).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stagewise.monitor.store import sqlite_path

__all__ = ["DEFAULT_LAYOUT", "CheckTargets", "is_url"]

#: Default location of each part, relative to the work directory.
DEFAULT_LAYOUT: dict[str, str] = {
    "models": "models",
    "db": "data/monitor.db",
    "config": "config/rollout_config.json",
    "data": "data/races.parquet",
}


def is_url(value: str) -> bool:
    """True for a SQLAlchemy URL (``sqlite:///...``, ``postgresql+psycopg://...``)."""
    return "://" in value


@dataclass(frozen=True, slots=True)
class CheckTargets:
    """The registry, ledger, rollout config and data files the checks inspect.

    Parameters
    ----------
    models : Path
        Model registry directory (``stagewise models --root``).
    db : str
        Monitor ledger: a SQLite file path or a SQLAlchemy URL (``stagewise monitor --db``).
    config : str
        Rollout config: the JSON file or a SQLAlchemy URL (``stagewise rollout --config``).
    data : Path
        Race data file, CSV or Parquet (``stagewise data simulate --output``).
    bars : Path or None
        A bar file to check as well (market deployments).

    Examples
    --------
    >>> t = CheckTargets.under("deploy")
    >>> str(t.models), t.db, str(t.data)
    ('deploy/models', 'deploy/data/monitor.db', 'deploy/data/races.parquet')
    >>> t.config
    'deploy/config/rollout_config.json'
    """

    models: Path
    db: str
    config: str
    data: Path
    bars: Path | None = None

    @classmethod
    def under(
        cls,
        workdir: str | Path = ".",
        *,
        models: str | Path | None = None,
        db: str | None = None,
        config: str | None = None,
        data: str | Path | None = None,
        bars: str | Path | None = None,
    ) -> CheckTargets:
        """Targets in ``workdir``'s layout, each overridable (an override is used as given)."""
        root = Path(workdir)
        return cls(
            models=Path(models) if models is not None else root / DEFAULT_LAYOUT["models"],
            db=db if db is not None else str(root / DEFAULT_LAYOUT["db"]),
            config=config if config is not None else str(root / DEFAULT_LAYOUT["config"]),
            data=Path(data) if data is not None else root / DEFAULT_LAYOUT["data"],
            bars=None if bars is None else Path(bars),
        )

    def writable_places(self) -> dict[str, Path]:
        """The directories stagewise writes into: registry root, ledger folder, rollout config folder."""
        places = {"model registry": self.models}
        ledger = sqlite_path(self.db)
        if ledger is not None:
            places["monitor ledger"] = ledger.parent
        if not is_url(self.config):
            places["rollout config"] = Path(self.config).parent
        return places
