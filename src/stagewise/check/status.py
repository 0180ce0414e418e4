"""A snapshot of the deployment: models, rollouts and the monitor, at a glance; it only reads.

:func:`collect_status` gathers plain rows; the CLI only renders them. Each part reports its
own problem (what is wrong and how to fix it) instead of raising, so a broken ledger does
not hide the model table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stagewise.check.targets import CheckTargets, is_url

__all__ = ["Problem", "Status", "collect_status"]


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a part of the status could not be shown, and what to do."""

    what: str
    fix: str


@dataclass(slots=True)
class Status:
    """What ``stagewise check status`` shows.

    ``models``: one row per version (version, created_at, role, aliases, n_features, hashes,
    hashes_ok, flavour, serving_path: for production and aliased versions, "fast (...)" or
    "library (...)" with the reason, as a server would serve it). ``rollouts``: one row per feature
    (feature, stage, stage_since: when the stage last changed, enabled_since: when the feature was
    first enabled, hash_mode, killed, completed: the promotion that finished the rollout, see
    ``FeatureRollout.is_completed``). ``manual_edit``: set when the rollout config was edited
    outside stagewise since its last audited write. ``monitor``: the last race day's figures.
    ``problems``: part name → :class:`Problem`.
    """

    targets: CheckTargets
    models: list[dict[str, Any]] = field(default_factory=list)
    rollouts: list[dict[str, Any]] = field(default_factory=list)
    rollout_updated_at: str | None = None
    audit_ok: bool | None = None
    manual_edit: dict[str, Any] | None = None
    monitor: dict[str, Any] = field(default_factory=dict)
    open_alerts: list[dict[str, Any]] = field(default_factory=list)
    problems: dict[str, Problem] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Every part was read, every hash verified, the audit chain is intact."""
        return (
            not self.problems and all(row["hashes_ok"] for row in self.models) and self.audit_ok is not False
        )


def _models(status: Status) -> None:
    from stagewise.check.models import verify_versions
    from stagewise.models import ModelRegistry

    root = status.targets.models
    if not root.is_dir():
        status.problems["models"] = Problem(
            f"no model registry at {root}",
            f"train and promote one: `stagewise train --domain races --root {root}`, then "
            f"`stagewise models promote latest --root {root}` (or pass --models)",
        )
        return
    registry = ModelRegistry(root)
    found = registry.list_versions()
    verification = verify_versions(registry, found)
    for summary in found:
        files = verification[summary.version]
        ok = isinstance(files, int)
        verified = f"ok ({files} files)" if ok else f"FAILED: {files}"
        role = "production" if summary.is_production else ("previous" if summary.is_previous else "")
        status.models.append(
            {
                "version": summary.version,
                "created_at": (summary.created_at or "?").replace("+00:00", ""),
                "role": role,
                "aliases": ", ".join(summary.aliases),
                "n_features": summary.n_features,
                "hashes": verified,
                "hashes_ok": ok,
                **_serving(registry, summary.version, ok and bool(role or summary.aliases)),
            }
        )
    if not status.models:
        status.problems["models"] = Problem(
            f"{root} holds no saved version", f"train one: `stagewise train --domain races --root {root}`"
        )


def _serving(registry: Any, version: str, served: bool) -> dict[str, str]:
    """Flavour and the path a server would use (fast or library, with why), for served versions only."""
    if not served:
        return {"flavour": "", "serving_path": "-"}
    from stagewise.serve.paths import choose_path

    try:
        flavour = registry.load_flavour(version, n_jobs=1)
        plan = choose_path(flavour)
    except Exception as exc:  # a row of the report, never a crash of the check
        return {"flavour": "?", "serving_path": f"unknown: {type(exc).__name__}: {exc}"}
    return {"flavour": flavour.name, "serving_path": f"{plan.path} ({plan.reason})"}


def _rollouts(status: Status) -> None:
    from stagewise.check.state import missing_rollout_store
    from stagewise.rollout import GradualRollout

    config = status.targets.config
    missing = missing_rollout_store(config)
    if missing is not None:
        option = "--db" if is_url(config) else "--config"
        status.problems["rollouts"] = Problem(
            f"no rollout config: {missing}",
            f"create it: `stagewise rollout add challenger_model {option} {config}` (or pass --config)",
        )
        return
    with GradualRollout(config, refresh_interval=0, actor="stagewise check") as rollout:
        result = rollout.get_rollout_status()
        stage_set_at = _stage_changes(rollout)
        status.rollout_updated_at = None if result["updated_at"] is None else str(result["updated_at"])
        for name, info in result["feature_rollouts"].items():
            killed = info.get("killed")
            completed = info.get("completed") if rollout.feature(name).is_completed else None
            status.rollouts.append(
                {
                    "feature": name,
                    "stage": info["stage"],
                    "stage_since": stage_set_at.get(name),
                    "enabled_since": None if info.get("enabled_at") is None else str(info["enabled_at"]),
                    "hash_mode": info.get("hash_mode"),
                    "killed": f"{killed['reason']} ({str(killed['at'])[:19]})" if killed else "",
                    "completed": _completed_text(completed),
                }
            )
        status.audit_ok = rollout.verify_audit().ok
        edit = rollout.manual_edit()
        if edit is not None:
            status.manual_edit = edit.to_dict()
            option = "--db" if is_url(config) else "--config"
            status.problems["rollouts"] = Problem(
                edit.describe(config),
                f"compare it with the audit log (`stagewise rollout audit --verify {option} {config}`); "
                "restore the file, or keep the edit with the next change: "
                "`stagewise rollout set FEATURE STAGE --accept-manual-edit --reason '...' "
                f"{option} {config}`",
            )


def _completed_text(completed: dict[str, Any] | None) -> str:
    if not completed:
        return ""
    return f"{completed.get('version')} promoted ({str(completed.get('at'))[:10]})"


def _stage_changes(rollout: Any) -> dict[str, str]:
    """Feature → when its stage last changed, from the audit log (empty if the log cannot be read)."""
    from stagewise._exceptions import StagewiseError

    try:
        entries = rollout.audit_log()
    except StagewiseError:  # verify_audit reports the broken log
        return {}
    return {
        str(e["feature"]): str(e["at"])
        for e in entries
        if e.get("feature") and e.get("new_stage") is not None and e.get("new_stage") != e.get("old_stage")
    }


def _monitor(status: Status) -> None:
    from stagewise._exceptions import NotFoundError
    from stagewise.check.state import open_alerts, open_ledger

    db = status.targets.db
    try:
        monitor = open_ledger(db)
    except NotFoundError as exc:
        status.problems["monitor"] = Problem(
            f"no monitor ledger: {exc}",
            "log predictions first (`stagewise serve`, or `stagewise demo` for a complete example), "
            "or pass --db",
        )
        return
    with monitor:
        last = monitor.latest_race_date()
        if last is not None:
            # read only: calculate_daily_stats would refresh the rollup table
            stats = monitor.race_stats_read_only(last)
            status.monitor = {"date": str(last), **(stats or {})}
        status.open_alerts = open_alerts(monitor)


def collect_status(targets: CheckTargets) -> Status:
    """Models (versions, aliases, hashes verified), rollouts (stage, since), monitor (last day, alerts)."""
    status = Status(targets)
    for part, read in (("models", _models), ("rollouts", _rollouts), ("monitor", _monitor)):
        try:
            read(status)
        except Exception as exc:
            what = f"{type(exc).__name__}: {exc}"
            status.problems.setdefault(part, Problem(what, _REPAIR[part].format(t=targets)))
    return status


_REPAIR = {
    "models": "restore {t.models}/registry.json or the named version from a backup; "
    "`stagewise check ml-models --dry-run --models {t.models}` shows what fails",
    "rollouts": "repair or restore {t.config}; `stagewise rollout audit --verify --config {t.config}` "
    "names the last good entry",
    "monitor": "move {t.db} aside and restore it from a backup; `stagewise check validate --db {t.db}` "
    "shows what fails",
}
