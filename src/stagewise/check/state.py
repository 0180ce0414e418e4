"""Stages 5 and 6, the stored operational state: the rollout config and audit log, the monitor ledger.

Nothing here writes. A SQLite ledger is first inspected with a plain SQLite connection that
only reads (exists, ``PRAGMA quick_check``, tables, schema revision), so that a missing file
is reported and never created, and a corrupt one is named before the library touches it.
The library opens the ledger only when its schema is at the revision this release writes:
opening an older one would migrate it, which is a write.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stagewise._exceptions import NotFoundError, StorageError
from stagewise.check.result import CheckResult, guarded
from stagewise.check.targets import is_url
from stagewise.monitor.store import sqlite_path

if TYPE_CHECKING:
    from stagewise.monitor import PerformanceMonitor

__all__ = [
    "SEED_TABLES",
    "DatabaseFacts",
    "inspect_database",
    "ledger_checks",
    "missing_rollout_store",
    "open_alerts",
    "open_alerts_check",
    "open_ledger",
    "rollout_checks",
]

#: Tables the seed's monitor database has; stagewise keeps them (and adds its own).
SEED_TABLES: tuple[str, ...] = ("daily_performance", "race_predictions", "alerts")
_SQLITE_MAGIC = b"SQLite format 3\x00"


# ------------------------------------------------------------------------------ rollout
_ROLLOUT_TABLES = ("rollout_features", "rollout_state", "rollout_audit")


def missing_rollout_store(config: str) -> str | None:
    """Why there is no rollout config to read at ``config`` (a file or a database URL); None if there is one.

    Opening a missing store through the library would create it (a file on the first write, the
    tables of a database at once), so the check asks first, reading only.
    """
    if not is_url(config):
        return None if Path(config).is_file() else f"{config} does not exist"
    try:
        tables = inspect_database(config).tables
    except NotFoundError as exc:
        return str(exc)
    missing = [t for t in _ROLLOUT_TABLES if t not in tables]
    return f"{config} has no rollout tables ({', '.join(missing)} missing)" if missing else None


def rollout_checks(config: str) -> list[CheckResult]:
    """The rollout config parses, and its hash-chained audit log verifies (no edit, deletion, reorder)."""
    from stagewise.rollout import GradualRollout

    state: dict[str, Any] = {}
    option = "--db" if is_url(config) else "--config"
    create = f"create it with a first feature: `stagewise rollout add challenger_model {option} {config}`"
    repair = (
        f"repair {config} (its format is in docs/rollout.md) or restore it from a backup; "
        "`stagewise rollout audit --verify` names the last good entry"
    )

    def parse() -> CheckResult:
        missing = missing_rollout_store(config)
        if missing is not None:
            return CheckResult("rollout config", False, missing, create)
        rollout = GradualRollout(config, refresh_interval=0, actor="stagewise check")
        state["rollout"] = rollout
        features = rollout.get_rollout_status()["feature_rollouts"]
        stages = ", ".join(
            f"{name} {info['stage']}" + (" (killed)" if info.get("killed") else "")
            for name, info in features.items()
        )
        return CheckResult("rollout config", True, f"{len(features)} feature(s): {stages or 'none'}")

    def audit() -> CheckResult:
        rollout = state.get("rollout")
        if rollout is None:
            return CheckResult("rollout audit log", False, "not checked: the rollout config did not load", "")
        report = rollout.verify_audit()
        if not report.ok:
            return CheckResult(
                "rollout audit log",
                False,
                f"{report.entries} entries; " + "; ".join(report.problems),
                "the log was edited or cut: keep the file as evidence, restore it from a backup and review "
                f"every stage change since the last good entry (`stagewise rollout audit {option} {config}`)",
            )
        notes = f" ({'; '.join(report.notes)})" if report.notes else ""
        return CheckResult("rollout audit log", True, f"{report.entries} entries, hash chain intact{notes}")

    try:
        results = [guarded("rollout config", repair, parse)]
        if results[0].ok:
            results.append(guarded("rollout audit log", repair, audit))
    finally:
        if "rollout" in state:
            state["rollout"].close()
    return results


# ------------------------------------------------------------------------------ monitor ledger
@dataclass(frozen=True, slots=True)
class DatabaseFacts:
    """What a read-only look at a database (the ledger, or the rollout tables) found."""

    location: str
    tables: tuple[str, ...]
    revision: str | None


def _sqlite_facts(path: Path) -> DatabaseFacts:
    """Header, ``quick_check``, tables and revision of a SQLite file, with statements that only read."""
    from stagewise.monitor.store import VERSION_TABLE

    if not path.is_file():
        raise NotFoundError(f"{path} does not exist")
    with path.open("rb") as handle:
        if handle.read(len(_SQLITE_MAGIC)) != _SQLITE_MAGIC:
            raise StorageError(f"{path} is not a SQLite database (corrupt, or another kind of file)")
    # mode=rw never creates the file; a read-write connection (rather than mode=ro) removes the
    # WAL side files it opened when it closes, so the folder is left as it was found.
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True)
    try:
        verdict = str(conn.execute("PRAGMA quick_check").fetchone()[0])
        if verdict != "ok":
            raise StorageError(f"{path} is damaged: SQLite's quick_check says {verdict!r}")
        tables = tuple(str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
        revision = None
        if VERSION_TABLE in tables:
            row = conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
            revision = None if row is None else str(row[0])
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"{path} cannot be read by SQLite: {exc}") from None
    finally:
        conn.close()
    return DatabaseFacts(str(path), tables, revision)


def _server_facts(url: str) -> DatabaseFacts:
    """Tables and revision of a ledger on a database server, in a transaction that only reads."""
    from sqlalchemy import create_engine, inspect, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from stagewise.monitor.store import VERSION_TABLE

    try:
        shown = make_url(url).render_as_string(hide_password=True)
        engine = create_engine(url)
    except (ArgumentError, SQLAlchemyError) as exc:  # a mistyped URL, or a driver that is not installed
        raise StorageError(f"{url} is not a database URL stagewise can open: {exc}") from None
    try:
        with engine.connect() as conn:
            tables = tuple(inspect(conn).get_table_names())
            revision = None
            if VERSION_TABLE in tables:
                value = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
                revision = None if value is None else str(value)
    except SQLAlchemyError as exc:
        raise StorageError(f"{shown} cannot be reached: {getattr(exc, 'orig', exc)}") from None
    finally:
        engine.dispose()
    return DatabaseFacts(shown, tables, revision)


def inspect_database(db: str) -> DatabaseFacts:
    """Read a database's tables and the ledger's schema revision without changing anything.

    Raises
    ------
    NotFoundError
        A SQLite file that does not exist.
    StorageError
        A file that is not SQLite or is damaged, or a server that cannot be reached.
    """
    path = sqlite_path(db)
    if path is not None:
        return _sqlite_facts(path)
    return _server_facts(db)


def _revision_problem(facts: DatabaseFacts) -> str | None:
    from stagewise.monitor.store import HEAD_REVISION

    if facts.revision == HEAD_REVISION:
        return None
    missing = [t for t in SEED_TABLES if t not in facts.tables]
    if facts.revision is None and missing:
        return f"{facts.location} is not a monitor ledger (no schema revision; lacks the tables {missing})"
    if facts.revision is None:
        return (
            f"{facts.location} has the seed's tables but no stagewise schema revision; opening it with "
            "the library would migrate it"
        )
    return (
        f"{facts.location} is at schema revision {facts.revision!r}, this stagewise reads {HEAD_REVISION!r}"
    )


def open_ledger(db: str, *, inspected: bool = False) -> PerformanceMonitor:
    """The monitor on ``db``, without notifiers, after :func:`inspect_database` found it safe to open.

    Raises :class:`~stagewise.StorageError` for a ledger the library would have to migrate.
    ``inspected=True``: the caller has just inspected it and found it at this release's schema,
    so it is not read through again (an integrity check reads the whole file).
    """
    from stagewise.monitor import PerformanceMonitor

    problem = None if inspected else _revision_problem(inspect_ledger(db))
    if problem is not None:
        raise StorageError(problem)
    return PerformanceMonitor.open_for_reading(db, notifiers=[])


def inspect_ledger(db: str) -> DatabaseFacts:
    """:func:`inspect_database` of a monitor ledger: a missing one is the ledger's one
    :class:`~stagewise.NotFoundError`, the message every reader of a ledger gives."""
    from stagewise.monitor.reads import require_ledger

    require_ledger(db)
    return inspect_database(db)


def ledger_checks(db: str) -> list[CheckResult]:
    """The ledger exists, is intact and at this release's schema, and the library reads it."""
    restore = (
        f"move {db} aside and restore it from a backup (predictions logged since then must be logged again); "
        "a new ledger is created by the first logged prediction"
    )
    create = (
        "log predictions first (`stagewise serve`, or `stagewise demo` for a complete example), "
        "or point --db at the ledger"
    )

    def integrity() -> CheckResult:
        try:
            facts = inspect_ledger(db)
        except NotFoundError as exc:
            return CheckResult("monitor db", False, str(exc), create)
        except StorageError as exc:
            if sqlite_path(db) is not None:
                raise
            unreachable = "start the database server, or correct --db (host, port, user, database name)"
            return CheckResult("monitor db", False, str(exc), unreachable)
        problem = _revision_problem(facts)
        if problem is not None:
            fix = f"back {db} up, then open it once with this stagewise: `stagewise monitor trend --db {db}`"
            return CheckResult("monitor db", False, problem, fix)
        return CheckResult(
            "monitor db",
            True,
            f"{facts.location}: intact, schema {facts.revision}, {len(facts.tables)} tables",
        )

    def reads() -> CheckResult:
        with open_ledger(db, inspected=True) as monitor:  # integrity() passed just before
            counts = monitor.prediction_counts()
        n, last, pending = counts.predictions, counts.last_race_date, counts.pending
        if not n:
            return CheckResult("monitor ledger", True, "readable; no prediction logged yet")
        return CheckResult(
            "monitor ledger", True, f"{n:,} predictions, last race day {last}, {pending:,} awaiting a result"
        )

    first = guarded("monitor db", restore, integrity)
    if not first.ok:
        return [first]
    return [first, guarded("monitor ledger", restore, reads)]


def open_alerts(monitor: PerformanceMonitor) -> list[dict[str, Any]]:
    """Alerts whose latest row is firing, oldest first (``date, alert_type, severity, message``)."""
    history = monitor.alert_history()
    if history.empty:
        return []
    latest = history.groupby("fingerprint", sort=False).tail(1)
    firing = latest[latest["state"] == "firing"]
    columns = ["date", "alert_type", "severity", "message"]
    return [{c: row[c] for c in columns} for row in firing.to_dict("records")]


def open_alerts_check(db: str, *, inspected: bool = False) -> CheckResult:
    """Health, not validity: fails while a *critical* alert is firing (warnings are listed, and pass).

    ``inspected=True`` when :func:`ledger_checks` has just passed on ``db`` (see :func:`open_ledger`).
    """
    fix = (
        f"read them (`stagewise monitor alerts --date DAY --db {db}`, or the dashboard), act on the cause; "
        "an alert resolves when the metric recovers"
    )

    def run() -> CheckResult:
        with open_ledger(db, inspected=inspected) as monitor:
            firing = open_alerts(monitor)
        critical = [a for a in firing if a["severity"] == "critical"]
        listed = "; ".join(f"{a['date']} {a['alert_type']} ({a['severity']})" for a in firing)
        if critical:
            return CheckResult("open alerts", False, f"{len(critical)} critical firing: {listed}", fix)
        return CheckResult(
            "open alerts", True, f"{len(firing)} firing (none critical){': ' + listed if listed else ''}"
        )

    return guarded("open alerts", fix, run)
