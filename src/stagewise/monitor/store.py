"""Engine set-up, migrations and retrying transactions for the monitor ledger.

One :class:`LedgerStore` owns one SQLAlchemy engine:

* **SQLite** (the default, ``sqlite:///data/monitor.db``): the file and its folder are created on first
  use; every connection runs in WAL mode with a 30 s ``busy_timeout``; write transactions start with
  ``BEGIN IMMEDIATE`` so two writers never deadlock while upgrading a read lock, and a transaction that
  still meets ``SQLITE_BUSY`` is retried from the start with exponential backoff and jitter. The caller
  never sees "database is locked" unless the lock is held for longer than ``retry_for`` seconds.
* **PostgreSQL** (``postgresql+psycopg://...``): writers run side by side. Logging calls lock only the
  rows they touch (``SELECT ... FOR UPDATE`` on the stored races or bars, in key order) and insert new
  ones with ``INSERT ... ON CONFLICT DO NOTHING``; a writer that loses an insert race to another
  process raises :class:`RetryTransaction` and is run again from the start, when it sees the other
  writer's row (the unique constraints, not a lock, keep one row per key). Rarer work that must not run
  twice at once (migrations, alert state, feature sampling) names a lock (``write(work, lock="alerts")``),
  a transaction-scoped advisory lock of its own. Deadlocks and serialisation failures are retried, and
  a connection the server dropped is replaced once (no ``SELECT 1`` before every transaction).

Alembic migrations run on open, inside a write transaction (so several processes opening a fresh
database at once migrate it exactly once); when the version table already says ``head`` the
migration machinery is not even loaded.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from stagewise._exceptions import ConfigError, StorageError
from stagewise._output import make_parent_dirs
from stagewise.monitor.schema import VERSION_TABLE

__all__ = [
    "DEFAULT_URL",
    "HEAD_REVISION",
    "VERSION_TABLE",
    "LedgerStore",
    "RetryTransaction",
    "resolve_url",
    "sqlite_path",
]

DEFAULT_URL = "sqlite:///data/monitor.db"
#: The newest migration; bump together with a new file in ``migrations/versions``.
HEAD_REVISION = "0004"
#: Named advisory locks (PostgreSQL) for work that must not run twice at once; logging takes none.
_PG_LOCKS = {"migrate": 0x5747_4D4F, "alerts": 0x5747_4D41, "features": 0x5747_4D46}
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"

T = TypeVar("T")


def resolve_url(db_url: str | None = None, monitor_db: str | Path | None = None) -> str:
    """The SQLAlchemy URL for the arguments of :class:`PerformanceMonitor`.

    ``db_url`` wins; a value without ``://`` is a SQLite file path, like ``monitor_db``.
    """
    if db_url is not None and monitor_db is not None:
        raise ConfigError(
            f"Give either db_url or monitor_db, not both; got db_url={db_url!r}, monitor_db={monitor_db!r}."
        )
    value: str | Path = db_url if db_url is not None else (monitor_db if monitor_db is not None else "")
    if value == "":
        return DEFAULT_URL
    if isinstance(value, Path) or "://" not in value:
        return f"sqlite:///{Path(value)}"
    return value


def sqlite_path(db: str | Path) -> Path | None:
    """The file behind a ledger given as a SQLite path or ``sqlite:///`` URL; None for a server or memory.

    Commands that only read check it before opening the ledger, since opening creates a missing file.

    Examples
    --------
    >>> sqlite_path("data/monitor.db"), sqlite_path("sqlite:///data/monitor.db?timeout=5")
    (PosixPath('data/monitor.db'), PosixPath('data/monitor.db'))
    >>> sqlite_path("postgresql+psycopg://postgres@127.0.0.1/test") is None
    True
    """
    try:
        url = make_url(resolve_url(str(db)))
    except ArgumentError:
        return None  # LedgerStore names the malformed URL
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


class RetryTransaction(Exception):
    """Raised inside a write when another process inserted a row this one was about to insert.

    :meth:`LedgerStore.write` rolls back and runs the work again; the rerun reads that row.
    """


def _is_busy(exc: BaseException) -> bool:
    msg = str(getattr(exc, "orig", exc)).lower()
    if "database is locked" in msg or "database is busy" in msg or "database table is locked" in msg:
        return True
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return code in {"40001", "40P01", "55P03"}  # serialization failure, deadlock, lock not available


class LedgerStore:
    """An engine plus retrying transactions; see the module docstring for the guarantees."""

    def __init__(self, url: str, *, busy_timeout_s: float = 30.0, retry_for_s: float = 120.0) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise ConfigError(
                f"The monitor database URL {url!r} is not a URL SQLAlchemy understands; use "
                "'sqlite:///path/monitor.db' or 'postgresql+psycopg://user@host:5432/db'."
            ) from exc
        self.url = url
        self.dialect = parsed.get_backend_name()
        if self.dialect not in {"sqlite", "postgresql"}:
            raise ConfigError(
                f"The monitor database must be SQLite or PostgreSQL; got {self.dialect!r} from URL {url!r}."
            )
        self.retry_for_s = retry_for_s
        self.engine: Engine = self._create_engine(url, parsed.database, busy_timeout_s)
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.migrate()

    def _create_engine(self, url: str, database: str | None, busy_timeout_s: float) -> Engine:
        if self.dialect == "postgresql":
            # No pre-ping: a dropped connection fails the transaction, which _run retries once.
            return create_engine(url)
        if database and database != ":memory:":
            make_parent_dirs(Path(database).expanduser())
        engine = create_engine(url, connect_args={"timeout": busy_timeout_s})
        busy_ms = int(busy_timeout_s * 1000)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            mode = "DEFERRED" if conn.get_execution_options().get("stagewise_readonly") else "IMMEDIATE"
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine

    # -- transactions -----------------------------------------------------------------------------
    def write(self, work: Callable[[Connection], T], *, lock: str | None = None) -> T:
        """Run ``work`` in one write transaction, retried from the start while the database is busy.

        ``lock`` names an advisory lock (PostgreSQL) held for the transaction: ``"migrate"``,
        ``"alerts"`` or ``"features"``. Logging passes none, so writers do not wait for each other.
        """
        if lock is not None and lock not in _PG_LOCKS:
            raise ConfigError(f"Unknown ledger lock {lock!r}; accepted: {sorted(_PG_LOCKS)}.")
        return self._run(work, readonly=False, lock=lock)

    def write_statement(self, work: Callable[[Connection], T]) -> T:
        """Run ``work``, which must issue exactly one statement, without BEGIN/COMMIT (PostgreSQL).

        One statement is atomic on its own; leaving out the explicit transaction saves two round trips
        on the per-call logging path. Retried like :meth:`write`.
        """
        if self.dialect != "postgresql":
            return self.write(work)
        return self._run(work, readonly=False, lock=None, engine=self._autocommit)

    def read(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in one read-only transaction (no write lock on SQLite)."""
        return self._run(work, readonly=True, lock=None)

    def read_statement(self, work: Callable[[Connection], T]) -> T:
        """Run ``work``, which must issue exactly one SELECT, without BEGIN/COMMIT (PostgreSQL).

        One statement sees one snapshot on its own; leaving out the transaction saves two round trips
        on the server's per-request read (:meth:`PerformanceMonitor.race_identity`).
        """
        if self.dialect != "postgresql":
            return self.read(work)
        return self._run(work, readonly=True, lock=None, engine=self._autocommit)

    def _run(
        self,
        work: Callable[[Connection], T],
        *,
        readonly: bool,
        lock: str | None,
        engine: Engine | None = None,
    ) -> T:
        deadline = time.monotonic() + self.retry_for_s
        delay = 0.005
        reconnected = False
        while True:
            try:
                with (engine or self.engine).connect() as conn:
                    if readonly:
                        conn = conn.execution_options(stagewise_readonly=True)
                    with conn.begin():
                        if lock is not None and self.dialect == "postgresql":
                            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCKS[lock]})
                        return work(conn)
            except RetryTransaction:
                if time.monotonic() > deadline:
                    raise StorageError(
                        f"The monitor database {self._safe_url()} kept losing insert races to other "
                        f"writers for more than {self.retry_for_s:.0f} s."
                    ) from None
            except (OperationalError, DBAPIError) as exc:
                if exc.connection_invalidated and not reconnected:
                    reconnected = True  # the server dropped a pooled connection: one fresh try
                    continue
                if not _is_busy(exc):
                    raise StorageError(
                        f"The monitor database {self._safe_url()} failed: {exc.orig!r}"
                    ) from exc
                if time.monotonic() > deadline:
                    raise StorageError(
                        f"The monitor database {self._safe_url()} stayed locked for more than "
                        f"{self.retry_for_s:.0f} s; another process holds a long write transaction."
                    ) from exc
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.5)

    def _safe_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    # -- migrations -------------------------------------------------------------------------------
    def current_revision(self) -> str | None:
        """The Alembic revision stored in the database, or None before the first migration."""

        def _get(conn: Connection) -> str | None:
            if not self.engine.dialect.has_table(conn, VERSION_TABLE):
                return None
            value = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
            return None if value is None else str(value)

        return self.read(_get)

    def migrate(self) -> None:
        """Bring the schema to :data:`HEAD_REVISION` (a no-op when it is there already)."""
        if self.current_revision() == HEAD_REVISION:
            return
        from alembic import command
        from alembic.config import Config

        def _upgrade(conn: Connection) -> None:
            cfg = Config()
            cfg.set_main_option("script_location", str(_MIGRATIONS))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

        self.write(_upgrade, lock="migrate")

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
