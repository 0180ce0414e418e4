"""What the dashboard shows, read through the library: pure-ish loaders that Streamlit only renders.

Every function takes paths or library objects and returns plain values or DataFrames, so it is
tested without Streamlit. Nothing here writes except through the library: the monitor's own
rollup (``get_performance_trend`` refreshes its cache table) and :func:`change_stage`, which calls
:meth:`~stagewise.rollout.GradualRollout.update_rollout_stage` with actor ``"dashboard"``, so the
change lands in the audit log. A missing database, config, registry or backtest directory raises
:class:`~stagewise.NotFoundError` with a message the page shows instead of a traceback; the
loaders never create one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from stagewise._exceptions import ArtifactError, ConfigError, NotFoundError

if TYPE_CHECKING:
    from stagewise.models.registry import ModelRegistry
    from stagewise.monitor import PerformanceMonitor
    from stagewise.rollout import AuditReport, GradualRollout

__all__ = [
    "ACTOR",
    "ENV_BACKTEST_DIR",
    "ENV_CONFIG",
    "ENV_DB",
    "ENV_MODELS",
    "TREND_METRICS",
    "DashboardSettings",
    "accuracy_trend",
    "alert_tables",
    "audit_frame",
    "backtest_steps",
    "backtest_summary",
    "change_stage",
    "drift_frame",
    "find_backtests",
    "latest_race_date",
    "load_backtest",
    "open_monitor",
    "open_registry",
    "open_rollout",
    "registry_frame",
    "rollout_frame",
    "thresholds",
    "verify_audit",
]

ACTOR = "dashboard"
"""Who a stage change from the dashboard is recorded as in the rollout audit log."""

ENV_DB = "STAGEWISE_DASHBOARD_DB"
ENV_CONFIG = "STAGEWISE_DASHBOARD_CONFIG"
ENV_MODELS = "STAGEWISE_DASHBOARD_MODELS"
ENV_BACKTEST_DIR = "STAGEWISE_DASHBOARD_BACKTEST_DIR"

TREND_METRICS: dict[str, str] = {
    "hit_rate_1st": "Win hit rate (1着的中率)",
    "hit_rate_top3": "Trifecta hit rate (3連単的中率)",
    "avg_score_accuracy": "Score accuracy (スコア精度)",
}
"""The accuracy trend's metrics and their labels, in display order."""

_CI_KEYS = {
    "hit_rate_1st": ("hit_rate_1st_ci_low", "hit_rate_1st_ci_high"),
    "hit_rate_top3": ("hit_rate_top3_ci_low", "hit_rate_top3_ci_high"),
    "avg_score_accuracy": ("avg_score_accuracy_ci_low", "avg_score_accuracy_ci_high"),
}
_RESULTS_FILE = "walkforward_results.json"


@dataclass(frozen=True, slots=True)
class DashboardSettings:
    """Where the dashboard reads from: the same database and files as the CLI.

    Examples
    --------
    >>> s = DashboardSettings.from_env({"STAGEWISE_DASHBOARD_DB": "ledger.db"})
    >>> s.db, s.config, s.models
    ('ledger.db', 'config/rollout_config.json', 'models')
    >>> DashboardSettings.from_env(s.to_env()) == s
    True
    """

    db: str = "data/monitor.db"
    config: str = "config/rollout_config.json"
    models: str = "models"
    backtest_dir: str = "temp/walkforward"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DashboardSettings:
        """Settings from the ``STAGEWISE_DASHBOARD_*`` variables (the CLI sets them), else the defaults."""
        env = os.environ if environ is None else environ
        default = cls()
        return cls(
            db=env.get(ENV_DB) or default.db,
            config=env.get(ENV_CONFIG) or default.config,
            models=env.get(ENV_MODELS) or default.models,
            backtest_dir=env.get(ENV_BACKTEST_DIR) or default.backtest_dir,
        )

    @classmethod
    def under(
        cls,
        workdir: str | os.PathLike[str],
        *,
        db: str | None = None,
        config: str | None = None,
        models: str | None = None,
        backtest_dir: str | None = None,
    ) -> DashboardSettings:
        """Settings for a deployment laid out under ``workdir``, as ``stagewise check --workdir`` reads it.

        ``data/monitor.db``, ``config/rollout_config.json``, ``models`` and, for backtests,
        ``backtest`` (what ``stagewise demo`` writes) when it exists, else ``temp/walkforward``
        (``stagewise backtest``'s default). A path given explicitly is used as given.

        Examples
        --------
        >>> s = DashboardSettings.under("demo", models="/srv/models")
        >>> s.db, s.config, s.models, s.backtest_dir
        ('demo/data/monitor.db', 'demo/config/rollout_config.json', '/srv/models', 'demo/temp/walkforward')
        """
        root = Path(workdir)
        backtests = root / "backtest"
        if not backtests.is_dir():
            backtests = root / "temp" / "walkforward"
        return cls(
            db=db if db is not None else str(root / "data" / "monitor.db"),
            config=config if config is not None else str(root / "config" / "rollout_config.json"),
            models=models if models is not None else str(root / "models"),
            backtest_dir=backtest_dir if backtest_dir is not None else str(backtests),
        )

    def to_env(self) -> dict[str, str]:
        """The environment variables that :meth:`from_env` reads back."""
        return {
            ENV_DB: self.db,
            ENV_CONFIG: self.config,
            ENV_MODELS: self.models,
            ENV_BACKTEST_DIR: self.backtest_dir,
        }


def _is_url(value: str) -> bool:
    return "://" in value


# -- monitor -------------------------------------------------------------------------------------
def open_monitor(db: str) -> PerformanceMonitor:
    """The monitor on ``db`` (URL or SQLite path), without notifiers; refuses to create a new file."""
    from stagewise.monitor import PerformanceMonitor

    return PerformanceMonitor.open_for_reading(db, notifiers=[])


def latest_race_date(monitor: PerformanceMonitor) -> date | None:
    """The newest race day in the ledger, or None when nothing was logged."""
    return monitor.latest_race_date()


def accuracy_trend(monitor: PerformanceMonitor, days: int, end_date: date) -> pd.DataFrame:
    """One row per day with races: the rates, their 95 % intervals, races, pending and void counts."""
    rows = monitor.get_performance_trend(days, end_date=end_date)
    columns = ["date", "total_races", "pending_races", "void_races"]
    for metric, (low, high) in _CI_KEYS.items():
        columns += [metric, low, high]
    frame = pd.DataFrame([{c: row.get(c) for c in columns} for row in rows], columns=columns)
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def thresholds(monitor: PerformanceMonitor) -> dict[str, float]:
    """The alert threshold of each trend metric (the races domain's rules), for the dashed lines."""
    rules = monitor.alert_config.domains["races"].rules  # type: ignore[index,unused-ignore]
    return {rule.metric: float(rule.threshold) for rule in rules if rule.metric in TREND_METRICS}


def alert_tables(monitor: PerformanceMonitor) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(open, history)``: alerts whose latest row is firing, and every alert row (newest first)."""
    history = monitor.alert_history()
    keep = [
        "date",
        "alert_type",
        "state",
        "severity",
        "metric_value",
        "threshold",
        "message",
        "segment",
        "created_at",
        "delivery_status",
        "fingerprint",
    ]
    history = history[[c for c in keep if c in history.columns]]
    if history.empty:
        return history, history
    latest = history.groupby("fingerprint", sort=False).tail(1)
    open_alerts = latest[latest["state"] == "firing"]
    newest_first = history.iloc[::-1].reset_index(drop=True)
    return open_alerts.iloc[::-1].reset_index(drop=True), newest_first


def drift_frame(
    monitor: PerformanceMonitor, reference_days: int, current_days: int, end_date: date
) -> pd.DataFrame:
    """Drift per feature of the logged feature samples (no alert is fired from the dashboard)."""
    report = monitor.drift(reference_days, current_days, end_date=end_date, alert=False)
    frame: pd.DataFrame = report.to_frame()
    return frame


# -- rollout -------------------------------------------------------------------------------------
def open_rollout(config: str) -> GradualRollout:
    """The rollout of ``config`` (the JSON file or a database URL); refuses to create a new file."""
    from stagewise.rollout import GradualRollout

    if not _is_url(config) and not Path(config).is_file():
        raise NotFoundError(
            f"No rollout config at {config!r}. Pass --config with the file the CLI uses "
            "(`stagewise rollout ... --config PATH`) or a database URL."
        )
    return GradualRollout(config, refresh_interval=0)


def rollout_frame(rollout: GradualRollout) -> pd.DataFrame:
    """One row per feature: stage, enabled since, hashing, killed, completed (the promotion that ended it)."""
    status = rollout.get_rollout_status()["feature_rollouts"]
    rows = []
    for name, info in status.items():
        killed = info.get("killed")
        done = info.get("completed") if rollout.feature(name).is_completed else None
        rows.append(
            {
                "feature": name,
                "stage": info.get("stage"),
                "enabled_at": info.get("enabled_at"),
                "hash_mode": info.get("hash_mode"),
                "killed": None if not killed else f"{killed.get('at')}: {killed.get('reason')}",
                "completed": None if not done else f"{done.get('version')} promoted {done.get('at')}",
            }
        )
    return pd.DataFrame(rows, columns=["feature", "stage", "enabled_at", "hash_mode", "killed", "completed"])


def audit_frame(rollout: GradualRollout, feature: str | None = None) -> pd.DataFrame:
    """The audit log (newest first), optionally of one feature."""
    columns = ["seq", "at", "feature", "action", "old_stage", "new_stage", "actor", "reason"]
    rows = [
        {c: entry.get(c) for c in columns}
        for entry in rollout.audit_log()
        if feature is None or entry.get("feature") == feature
    ]
    return pd.DataFrame(rows[::-1], columns=columns)


def verify_audit(rollout: GradualRollout) -> AuditReport:
    """The audit chain check (edits, deletions, reordering, hand-edited config)."""
    return rollout.verify_audit()


def change_stage(rollout: GradualRollout, feature: str, stage: str, reason: str) -> dict[str, Any]:
    """Move ``feature`` to ``stage`` through the library, audited as actor ``"dashboard"``.

    A blank ``reason`` is refused with :class:`~stagewise.ConfigError` and nothing is written.
    """
    if not isinstance(reason, str) or not reason.strip():
        raise ConfigError(
            f"The 'reason' of a stage change must be a non-empty text (it goes to the audit log). "
            f"Got {reason!r}."
        )
    return rollout.update_rollout_stage(feature, stage, reason=reason.strip(), actor=ACTOR)


# -- registry ------------------------------------------------------------------------------------
def open_registry(models: str) -> ModelRegistry:
    """The registry at ``models``; a missing directory is a :class:`~stagewise.NotFoundError`."""
    from stagewise.models.registry import ModelRegistry

    root = Path(models)
    if not (root / "registry.json").is_file() and not (root / "training").is_dir():
        raise NotFoundError(
            f"No model registry at {models!r} (no registry.json or training/ inside). "
            "Pass --models with the registry directory the CLI uses (`stagewise models ... --root DIR`)."
        )
    return ModelRegistry(root)


def registry_frame(registry: ModelRegistry) -> pd.DataFrame:
    """One row per version (newest first): role, aliases, window, metrics and its hash check."""
    from stagewise._exceptions import StagewiseError

    rows = []
    for summary in registry.list_versions():
        try:
            files = registry.verify(summary.version)
            verified, problem = True, f"{len(files)} files match the manifest"
        except StagewiseError as exc:
            verified, problem = False, f"{type(exc).__name__}: {exc}"
        role = "production" if summary.is_production else "previous" if summary.is_previous else ""
        window = summary.data_window or {}
        rows.append(
            {
                "version": summary.version,
                "role": role,
                "aliases": ", ".join(summary.aliases),
                "created_at": summary.created_at,
                "n_features": summary.n_features,
                "data_window": f"{window.get('start')} → {window.get('end')}" if window else None,
                "metrics": ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                     for k, v in sorted(summary.performance_metrics.items())),
                "hash_verified": verified,
                "check": problem,
            }
        )  # fmt: skip
    return pd.DataFrame(rows[::-1])


# -- backtest ------------------------------------------------------------------------------------
def find_backtests(directory: str) -> list[Path]:
    """Every ``walkforward_results.json`` in ``directory`` or its sub-directories, sorted."""
    root = Path(directory)
    if root.is_file() and root.name == _RESULTS_FILE:
        return [root]
    if not root.is_dir():
        raise NotFoundError(
            f"No backtest directory at {directory!r}. Pass --backtest-dir with the --output-dir "
            "of `stagewise backtest` (it holds walkforward_results.json)."
        )
    found = sorted(root.rglob(_RESULTS_FILE))
    if not found:
        raise NotFoundError(f"No {_RESULTS_FILE} under {directory!r}; run `stagewise backtest` first.")
    return found


def load_backtest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read one ``walkforward_results.json``; an unreadable or non-JSON file is an ArtifactError."""
    from stagewise.backtest import read_results

    try:
        return read_results(path)
    except (OSError, ValueError) as exc:
        raise ArtifactError(
            f"The backtest result {str(path)!r} cannot be read ({exc}). Accepted: the "
            "walkforward_results.json that `stagewise backtest` writes (format_version 1)."
        ) from None


def backtest_steps(result: Mapping[str, Any]) -> pd.DataFrame:
    """The per-step table: windows, counts and headline metrics (scalar fields of each step)."""
    rows = [{k: v for k, v in step.items() if not isinstance(v, dict | list)} for step in result["steps"]]
    return pd.DataFrame(rows)


def backtest_summary(result: Mapping[str, Any]) -> dict[str, Any]:
    """The seed's summary keys (pooled over every step) without the nested parts."""
    summary = result.get("summary", {})
    return {k: v for k, v in summary.items() if not isinstance(v, dict | list)}
