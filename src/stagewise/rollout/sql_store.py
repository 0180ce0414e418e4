"""Rollout config and audit log in a SQL database (SQLite or PostgreSQL), for several processes or hosts.

Tables of its own, beside the monitor's in the same database:

``rollout_features``
    one row per feature: ``name`` (key), ``stage``, ``enabled_at``, ``hash_mode``, ``salt``,
    ``killed`` and ``extra`` (JSON text).
``rollout_state``
    one row (``id = 1``): ``version`` (bumped by every write; readers poll it),
    ``updated_at``, ``head_seq`` and ``head_hash`` (the last audit entry, so deleting
    entries from the end of the log is detected).
``rollout_audit``
    one row per audit entry: ``seq`` (key), ``at``, ``feature``, ``action``, ``hash``,
    ``prev_hash`` and ``entry`` (the entry's canonical JSON).

and the controller's decision records, indexed from the audit log in ``rollout_decisions`` and
``rollout_decision_metrics`` (with ``rollout_decisions_backfill``, how far they were copied in from
the log: :mod:`stagewise.rollout.sql_decisions`). Opening a store creates the
tables it lacks and never alters or drops one, so a store written by an earlier version opens with
its data and gains the newer tables.

A write runs in one transaction whose first statement updates the state row, so
writers are serialised by the database (row lock on PostgreSQL, write lock on
SQLite) and the config and its audit entries commit together or not at all.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Hashable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from stagewise._exceptions import ConfigError, StorageError
from stagewise._output import make_parent_dirs
from stagewise.rollout.audit import GENESIS, AuditReport, canonical_json, verify_chain
from stagewise.rollout.config import FeatureRollout, RolloutConfig, parse_config
from stagewise.rollout.decisions import DecisionRecord
from stagewise.rollout.sql_decisions import DecisionTables
from stagewise.rollout.store import Change, check_replay, seal_records

__all__ = ["SqlRolloutStore"]


class SqlRolloutStore:
    """Rollout config and hash-chained audit log in a SQLAlchemy database.

    Parameters
    ----------
    db_url : str
        A SQLAlchemy URL, e.g. ``sqlite:///data/monitor.db`` or
        ``postgresql+psycopg://user@host/db``, or a SQLite file path (like the monitor's ``--db``).
    schema : str, optional
        Database schema holding the tables (PostgreSQL), default the search path.
    table_prefix : str
        Prefix of the table names (default ``rollout_``).

    Examples
    --------
    >>> import tempfile, os
    >>> url = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "monitor.db")
    >>> from stagewise.rollout import GradualRollout
    >>> rollout = GradualRollout(db_url=url, actor="docs")
    >>> _ = rollout.add_feature("new_model", "10%", salt="new_model:demo")
    >>> rollout.get_rollout_status()["feature_rollouts"]["new_model"]["stage"]
    '10%'
    """

    def __init__(
        self,
        db_url: str,
        *,
        schema: str | None = None,
        table_prefix: str = "rollout_",
        engine: Engine | None = None,
    ) -> None:
        if "://" not in str(db_url):  # a SQLite file path, as PerformanceMonitor accepts
            make_parent_dirs(Path(db_url).expanduser())
            db_url = f"sqlite:///{Path(db_url).expanduser()}"
        try:
            url = make_url(db_url)
            self.location = url.render_as_string(hide_password=True)
            owns_engine = engine is None
            if engine is None:
                if url.get_backend_name() == "sqlite":
                    if url.database not in (None, "", ":memory:"):  # folder too, as the monitor does
                        make_parent_dirs(Path(url.database).expanduser())
                    engine = create_engine(url, connect_args={"timeout": 30})
                else:  # a restarted server must not break readers that poll once a second
                    engine = create_engine(url, pool_pre_ping=True)
        except ArgumentError as exc:
            raise ConfigError(
                f"The rollout database URL {db_url!r} cannot be used ({exc}); accepted: a SQLite file path, "
                "'sqlite:///data/monitor.db' or 'postgresql+psycopg://user@host:5432/db'."
            ) from None
        self.engine = engine
        if owns_engine:
            # Close pooled connections when the store goes away, not whenever the GC reaps them.
            self._finalizer = weakref.finalize(self, engine.dispose)
        meta = MetaData(schema=schema)
        self.features = Table(
            f"{table_prefix}features",
            meta,
            Column("name", String(200), primary_key=True),
            Column("stage", String(16), nullable=False),
            Column("enabled_at", String(40)),
            Column("hash_mode", String(32), nullable=False),
            Column("salt", String(300)),
            Column("killed", Text),
            Column("extra", Text),
        )
        self.state = Table(
            f"{table_prefix}state",
            meta,
            Column("id", Integer, primary_key=True, autoincrement=False),
            Column("version", Integer, nullable=False),
            Column("updated_at", String(40)),
            Column("head_seq", Integer, nullable=False),
            Column("head_hash", String(64), nullable=False),
        )
        self.audit = Table(
            f"{table_prefix}audit",
            meta,
            Column("seq", Integer, primary_key=True, autoincrement=False),
            Column("at", String(40), nullable=False),
            Column("feature", String(200)),
            Column("action", String(40)),
            Column("hash", String(64), nullable=False),
            Column("prev_hash", String(64), nullable=False),
            Column("entry", Text, nullable=False),
        )
        self.decision_tables = DecisionTables(meta, table_prefix)
        self._create(meta)

    def _create(self, meta: MetaData, attempts: int = 3) -> None:
        """Create the tables and the state row; tolerate another process doing the same at once."""
        for attempt in range(attempts):
            try:
                meta.create_all(self.engine)
                with self.engine.begin() as conn:
                    if conn.execute(select(self.state.c.id)).first() is None:
                        conn.execute(
                            insert(self.state).values(
                                id=1, version=0, updated_at=None, head_seq=0, head_hash=GENESIS
                            )
                        )
                    self.decision_tables.backfill(conn, self.audit)
                return
            except SQLAlchemyError as exc:
                # "already exists" / duplicate key races resolve on retry, when the tables are there
                if attempt == attempts - 1:
                    raise StorageError(f"Cannot open the rollout tables in {self.location}: {exc}") from exc

    def close(self) -> None:
        """Close the database connections this store opened (a given ``engine`` is left open)."""
        finalizer = getattr(self, "_finalizer", None)
        if finalizer is not None:
            finalizer()

    # -- reading ---------------------------------------------------------------------------
    def version_token(self) -> Hashable:
        try:
            with self.engine.connect() as conn:
                return int(conn.execute(select(self.state.c.version)).scalar_one())
        except SQLAlchemyError as exc:
            raise StorageError(f"Cannot read the rollout version from {self.location}: {exc}") from exc

    def read(self) -> RolloutConfig:
        try:
            with self.engine.connect() as conn:
                return self._read(conn)
        except SQLAlchemyError as exc:
            raise StorageError(f"Cannot read the rollout config from {self.location}: {exc}") from exc

    def _read(self, conn: Connection) -> RolloutConfig:
        state = conn.execute(select(self.state)).one()
        rollouts: dict[str, Any] = {}
        for row in conn.execute(select(self.features).order_by(self.features.c.name)):
            doc: dict[str, Any] = {
                "stage": row.stage,
                "enabled_at": row.enabled_at,
                "hash_mode": row.hash_mode,
            }
            if row.salt is not None:
                doc["salt"] = row.salt
            if row.killed is not None:
                doc["killed"] = json.loads(row.killed)
            doc.update(json.loads(row.extra or "{}"))
            rollouts[row.name] = doc
        tail = []
        if state.head_seq:
            entry = conn.execute(
                select(self.audit.c.entry).where(self.audit.c.seq == state.head_seq)
            ).scalar()
            tail = [json.loads(entry)] if entry else []
        return parse_config(
            {
                "format_version": 1,
                "feature_rollouts": rollouts,
                "updated_at": state.updated_at,
                "audit_tail": tail,
            },
            source=f"rollout tables in {self.location}",
        )

    def audit_entries(self) -> list[dict[str, Any]]:
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(select(self.audit.c.entry).order_by(self.audit.c.seq)).scalars().all()
        except SQLAlchemyError as exc:
            raise StorageError(f"Cannot read the rollout audit log from {self.location}: {exc}") from exc
        return [json.loads(text) for text in rows]

    def decisions(self, feature: str | None, limit: int | None = None) -> list[DecisionRecord]:
        """The feature's (None: every feature's) controller decisions with their metric rows, newest first."""
        try:
            with self.engine.connect() as conn:
                return self.decision_tables.read(conn, feature, limit)
        except SQLAlchemyError as exc:
            raise StorageError(f"Cannot read the rollout decisions from {self.location}: {exc}") from exc

    def verify_audit(self) -> AuditReport:
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(select(self.audit.c.entry).order_by(self.audit.c.seq)).scalars().all()
                state = conn.execute(select(self.state)).one()
                config = self._read(conn)
        except SQLAlchemyError as exc:
            raise StorageError(f"Cannot read the rollout audit log from {self.location}: {exc}") from exc
        report = verify_chain(list(rows), expected_head={"seq": state.head_seq, "hash": state.head_hash})
        if report.ok:
            check_replay(report, [json.loads(text) for text in rows], config, self.location)
        return report

    # -- writing ---------------------------------------------------------------------------
    def update(self, change: Change, *, repair: Mapping[str, Any] | None = None) -> RolloutConfig:
        # ``repair`` is for logs kept as text lines; the database's entries cannot have a torn last line.
        try:
            with self.engine.begin() as conn:
                # Taking the write lock first serialises writers and fixes the audit chain's order.
                conn.execute(update(self.state).values(version=self.state.c.version + 1))
                current = self._read(conn)
                state = conn.execute(select(self.state.c.head_seq, self.state.c.head_hash)).one()
                new, records = change(current)
                sealed = seal_records(records, state.head_seq, state.head_hash, new)
                self._write_features(conn, current, new)
                for entry in sealed:
                    conn.execute(
                        insert(self.audit).values(
                            seq=entry["seq"],
                            at=entry.get("at", ""),
                            feature=entry.get("feature"),
                            action=entry.get("action"),
                            hash=entry["hash"],
                            prev_hash=entry["prev_hash"],
                            entry=canonical_json(entry),
                        )
                    )
                self.decision_tables.write(conn, sealed)
                head = sealed[-1] if sealed else {"seq": state.head_seq, "hash": state.head_hash}
                self.decision_tables.advance(conn, state.head_seq, head["seq"])
                conn.execute(
                    update(self.state).values(
                        updated_at=new.updated_at, head_seq=head["seq"], head_hash=head["hash"]
                    )
                )
                return self._read(conn)
        except SQLAlchemyError as exc:
            raise StorageError(f"Cannot write the rollout config to {self.location}: {exc}") from exc

    def _write_features(self, conn: Connection, current: RolloutConfig, new: RolloutConfig) -> None:
        gone = set(current.features) - set(new.features)
        if gone:
            conn.execute(delete(self.features).where(self.features.c.name.in_(sorted(gone))))
        for name, feature in new.features.items():
            if current.features.get(name) == feature:
                continue
            values = _row(feature)
            if name in current.features:
                conn.execute(update(self.features).where(self.features.c.name == name).values(**values))
            else:
                conn.execute(insert(self.features).values(name=name, **values))

    def import_config(self, config: RolloutConfig, *, actor: str | None = None) -> None:
        """Copy features from another store's config (e.g. the seed's JSON file) that are not here yet.

        Each imported feature gets an ``import_feature`` audit entry, so the tables match their chain.
        """
        from stagewise.rollout.changes import audit_record, default_actor

        now = datetime.now(UTC)
        who = actor or default_actor()

        def change(current: RolloutConfig) -> tuple[RolloutConfig, list[dict[str, Any]]]:
            merged, records = current, []
            for feature in config.features.values():
                if feature.name not in current.features:
                    merged = merged.with_feature(feature)
                    records.append(
                        audit_record(
                            now,
                            "import_feature",
                            feature.name,
                            None,
                            feature.stage.name,
                            actor=who,
                            reason="imported from another rollout store",
                            details={"feature": feature.to_document()},
                        )
                    )
            return merged, records

        self.update(change)


def _extra(feature: FeatureRollout) -> dict[str, Any]:
    if feature.completed is None:
        return feature.extra
    return {**feature.extra, "completed": feature.completed}


def _row(feature: FeatureRollout) -> dict[str, Any]:
    return {
        "stage": feature.stage.name,
        "enabled_at": feature.enabled_at,
        "hash_mode": feature.hash_mode,
        "salt": feature.salt,
        "killed": None if feature.killed is None else canonical_json(feature.killed),
        # no column of its own: ``completed`` travels in the extra JSON and parses back as a known key
        "extra": canonical_json(extra) if (extra := _extra(feature)) else None,
    }
