"""Where studies live: Optuna's RDB storage on the ledger's database, opened and checked once.

The default URL is the monitor ledger's (``sqlite:///data/monitor.db``): the study tables sit
beside the ledger's, SQLite locally, PostgreSQL (``postgresql+psycopg://...``) to share one
study between processes and hosts. Trials send a heartbeat; a trial whose process died (a
``kill -9``, a lost host) stops beating and is marked FAIL once the grace period has passed,
so a restarted search never waits for it and never loses it.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stagewise._exceptions import ConfigError, StorageError

if TYPE_CHECKING:
    import optuna

__all__ = [
    "HEARTBEAT_SECONDS",
    "MEMORY",
    "close_shared_storages",
    "close_storage",
    "fail_stale_trials",
    "open_storage",
    "resolve_storage",
    "shared_storage",
]

#: How often a running trial records that it is alive, and how long silence means dead.
HEARTBEAT_SECONDS = (10, 30)


#: The study's database when none is given: the ledger's default database (``monitor.store.DEFAULT_URL``),
#: written out here so that search, a floor below the monitor, does not import it; a test pins the two equal.
DEFAULT_STORAGE = "sqlite:///data/monitor.db"

#: ``storage="memory"``: a study kept in this process only (quick experiments, tests; one worker, no resume).
MEMORY = "memory"
_MEMORY_STORAGE: list[Any] = []


def resolve_storage(storage: str | Path | None) -> str:
    """The SQLAlchemy URL: ``None`` is the ledger's default; a value without ``://`` is a SQLite file."""
    if storage == MEMORY:
        return MEMORY
    if storage is None or storage == "":
        return DEFAULT_STORAGE
    if isinstance(storage, Path) or "://" not in storage:
        return f"sqlite:///{Path(storage)}"
    return storage


def open_storage(url: str, heartbeat: tuple[int, int] = HEARTBEAT_SECONDS) -> optuna.storages.BaseStorage:
    """Open (and create the tables of) the study storage; an unreachable URL is one clear error."""
    import optuna

    if url == MEMORY:
        if not _MEMORY_STORAGE:
            _MEMORY_STORAGE.append(optuna.storages.InMemoryStorage())
        memory: optuna.storages.BaseStorage = _MEMORY_STORAGE[0]
        return memory
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"The '--storage' URL {url!r} is not a database URL such as 'sqlite:///data/monitor.db' or "
            "'postgresql+psycopg://user@host:5432/db'."
        ) from None
    engine_kwargs: dict[str, object] = {}
    if parsed.get_backend_name() == "sqlite":
        engine_kwargs["connect_args"] = {"timeout": 60}
        if parsed.database and parsed.database != ":memory:":
            try:
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(
                    f"The '--storage' URL {url!r} cannot be reached: cannot create its folder "
                    f"({exc.strerror})."
                ) from None
    elif parsed.get_backend_name() == "postgresql":
        engine_kwargs["connect_args"] = {"connect_timeout": 5}
    try:
        with warnings.catch_warnings():
            # the heartbeat is experimental in Optuna 4/5; it is what fails the trials of a killed process
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = optuna.storages.RDBStorage(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=heartbeat[0],
                grace_period=heartbeat[1],
            )
        if parsed.get_backend_name() == "sqlite":
            _sqlite_wal(storage)
        return storage
    except (NoSuchModuleError, ArgumentError, ModuleNotFoundError) as exc:
        raise ConfigError(
            f"The '--storage' URL {parsed.render_as_string()!r} names no usable driver: {exc}."
        ) from None
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0]
        raise StorageError(
            f"The '--storage' URL {parsed.render_as_string()!r} cannot be reached: {reason}"
        ) from None


def close_storage(storage: optuna.storages.BaseStorage) -> None:
    """Close the storage's database connections (an in-memory storage has none)."""
    engine = getattr(storage, "engine", None)
    if engine is not None:
        engine.dispose()


_SHARED: dict[tuple[str, tuple[int, int]], Any] = {}


def shared_storage(url: str, heartbeat: tuple[int, int] = HEARTBEAT_SECONDS) -> optuna.storages.BaseStorage:
    """The storage for ``url`` opened once per process and reused by every outer step the process runs.

    Opening an RDB storage builds an engine and checks the tables and their schema version (about
    60 ms on SQLite), which a search with many steps per worker paid once per step. The search
    closes them with :func:`close_shared_storages` when it ends; a pool worker's close with it.
    """
    key = (url, heartbeat)
    if key not in _SHARED:
        _SHARED[key] = open_storage(url, heartbeat)
    storage: optuna.storages.BaseStorage = _SHARED[key]
    return storage


def close_shared_storages() -> None:
    """Close every storage :func:`shared_storage` opened in this process."""
    while _SHARED:
        close_storage(_SHARED.popitem()[1])


def _sqlite_wal(storage: optuna.storages.RDBStorage) -> None:
    """WAL and ``synchronous=NORMAL``: a trial's many small commits stop costing an fsync each."""
    from sqlalchemy import event, text

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(storage.engine, "connect", on_connect)
    storage.engine.dispose()  # connections opened while creating the tables lack the pragma
    with storage.engine.connect() as connection:
        connection.execute(text("PRAGMA journal_mode=WAL"))


def fail_stale_trials(study: optuna.Study) -> None:
    """Mark FAIL the running trials whose heartbeat stopped longer than the grace period ago."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
