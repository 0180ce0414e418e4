"""The controller's decision records in two SQL tables beside the rollout's own.

``rollout_decisions``
    one row per applied decision: ``seq`` (its audit entry's, key), ``feature``, ``decided_at``,
    ``day`` (the last race day judged), ``stage_before``, ``stage_after``, ``action``, ``reasons``
    (JSON list), ``actor`` and ``dry_run``.
``rollout_decision_metrics``
    one row per judged metric: ``seq`` and ``position`` (key), ``metric``, ``kind``, ``estimate``,
    ``interval_low``, ``interval_high``, ``p_value``, ``level``, ``n_control``, ``n_challenger``,
    ``covariate``, ``variance_ratio``, ``verdict`` and ``reason``.
``rollout_decision_variants``
    one row per decision about an A/B/n variant: ``seq`` (key) and ``variant`` (a table of its
    own, so a store made before A/B/n decisions gains it without altering ``rollout_decisions``).
``rollout_decisions_backfill``
    one row (``id = 1``): ``through_seq``, the audit sequence number up to which every entry has
    been looked at for a decision to copy in.

The rows are written by :meth:`~stagewise.rollout.sql_store.SqlRolloutStore.update` in the
transaction that writes the audit entry, so a decision and its stage change commit together. A
store created before these tables existed gains them when opened, and its earlier controller
entries are copied in from the audit log then (:meth:`DecisionTables.backfill`): the audit log is
the source, the tables an index of it. Each write moves ``through_seq`` past the entries it indexed
(:meth:`DecisionTables.advance`), and later opens look only at entries after it (written by a
process of an earlier version, which does not index them), so opening a store costs the same
however long its audit log is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.expression import Executable

from stagewise.rollout.decisions import DecisionRecord, MetricRecord, decision_from_entry

__all__ = ["DecisionTables"]


class DecisionTables:
    """The two decision tables of one rollout store (same metadata, same prefix)."""

    def __init__(self, meta: MetaData, prefix: str) -> None:
        self.decisions = Table(
            f"{prefix}decisions",
            meta,
            Column("seq", Integer, primary_key=True, autoincrement=False),
            Column("feature", String(200), nullable=False, index=True),
            Column("decided_at", String(40), nullable=False),
            Column("day", String(10)),
            Column("stage_before", String(16), nullable=False),
            Column("stage_after", String(16), nullable=False),
            Column("action", String(16), nullable=False),
            Column("reasons", Text, nullable=False),
            Column("actor", String(200)),
            Column("dry_run", Boolean, nullable=False),
        )
        self.metrics = Table(
            f"{prefix}decision_metrics",
            meta,
            Column("seq", Integer, primary_key=True, autoincrement=False),
            Column("position", Integer, primary_key=True, autoincrement=False),
            Column("metric", String(200), nullable=False),
            Column("kind", String(16), nullable=False),
            Column("verdict", String(32)),
            Column("estimate", Float),
            Column("interval_low", Float),
            Column("interval_high", Float),
            Column("p_value", Float),
            Column("level", Float),
            Column("n_control", Integer),
            Column("n_challenger", Integer),
            Column("covariate", String(200)),
            Column("variance_ratio", Float),
            Column("reason", Text),
        )
        self.variants = Table(
            f"{prefix}decision_variants",
            meta,
            Column("seq", Integer, primary_key=True, autoincrement=False),
            Column("variant", String(200), nullable=False),
        )
        self.backfilled = Table(
            f"{prefix}decisions_backfill",
            meta,
            Column("id", Integer, primary_key=True, autoincrement=False),
            Column("through_seq", Integer, nullable=False),
        )

    def write(self, conn: Connection, entries: Iterable[Mapping[str, Any]]) -> None:
        """Insert the decision (and metric) rows of those ``entries`` that record a controller decision."""
        for entry in entries:
            record = decision_from_entry(entry)
            if record is None:
                continue
            row = {k: v for k, v in record.as_dict().items() if k not in ("metrics", "variant")}
            row["reasons"] = json.dumps(row["reasons"], ensure_ascii=False)
            conn.execute(insert(self.decisions).values(**row))
            if record.variant is not None:
                conn.execute(insert(self.variants).values(seq=record.seq, variant=record.variant))
            for position, metric in enumerate(record.metrics):
                conn.execute(
                    insert(self.metrics).values(seq=record.seq, position=position, **metric.as_row())
                )

    def backfill(self, conn: Connection, audit: Table) -> int:
        """Copy in the decisions of entries after ``through_seq`` that have no row yet; returns how many.

        Nothing is read of the entries when no entry was written since the last backfill (the usual
        open). Otherwise the mark's row is locked first, so concurrent openers backfill one after
        the other, and the second finds the work done. Entries commit in ``seq`` order (writers
        hold the state row's lock), so once ``top`` is seen every entry up to it is there to scan.
        """
        top = conn.execute(select(func.max(audit.c.seq))).scalar() or 0
        mark = self.backfilled.c.through_seq
        done = conn.execute(select(mark).where(self.backfilled.c.id == 1)).scalar()
        if done is not None and done >= top:
            return 0
        if done is None:  # a store older than the mark: every entry is looked at once
            conn.execute(self._insert_mark(conn))
        conn.execute(update(self.backfilled).where(self.backfilled.c.id == 1).values(through_seq=mark))
        done = conn.execute(select(mark).where(self.backfilled.c.id == 1)).scalar_one()  # under the lock
        missing = (
            select(audit.c.entry)
            .outerjoin(self.decisions, self.decisions.c.seq == audit.c.seq)
            .where(
                audit.c.seq > done,
                audit.c.seq <= top,
                self.decisions.c.seq.is_(None),
                audit.c.entry.contains('"controller"'),
            )
            .order_by(audit.c.seq)
        )
        entries = [json.loads(text) for text in conn.execute(missing).scalars()]
        self.write(conn, entries)
        conn.execute(
            update(self.backfilled).where(self.backfilled.c.id == 1, mark < top).values(through_seq=top)
        )
        return sum(decision_from_entry(e) is not None for e in entries)

    def advance(self, conn: Connection, before: int, after: int) -> None:
        """Move the mark from ``before`` to ``after`` if it stood at ``before``: the writer of the entries
        between them indexed them itself, so opens stay read-only. A mark behind (entries written by an
        earlier version) is left for the next open's backfill."""
        if after > before:
            conn.execute(
                update(self.backfilled)
                .where(self.backfilled.c.id == 1, self.backfilled.c.through_seq == before)
                .values(through_seq=after)
            )

    def _insert_mark(self, conn: Connection) -> Executable:
        """The mark's row at 0, left as it is when another opener has just made it."""
        values = {"id": 1, "through_seq": 0}
        if conn.dialect.name == "postgresql":
            return pg_insert(self.backfilled).values(**values).on_conflict_do_nothing()
        if conn.dialect.name == "sqlite":
            return sqlite_insert(self.backfilled).values(**values).on_conflict_do_nothing()
        return insert(self.backfilled).values(**values)  # a racing insert fails and the open is retried

    def read(self, conn: Connection, feature: str | None, limit: int | None) -> list[DecisionRecord]:
        """The feature's (None: every feature's) decisions with their metrics, newest first."""
        query = (
            select(self.decisions, self.variants.c.variant)
            .outerjoin(self.variants, self.variants.c.seq == self.decisions.c.seq)
            .order_by(self.decisions.c.seq.desc())
        )
        if feature is not None:
            query = query.where(self.decisions.c.feature == feature)
        if limit is not None:
            query = query.limit(limit)
        rows = conn.execute(query).all()
        if not rows:
            return []
        metrics: dict[int, list[MetricRecord]] = {}
        seqs = [row.seq for row in rows]
        for m in conn.execute(
            select(self.metrics)
            .where(self.metrics.c.seq.in_(seqs))
            .order_by(self.metrics.c.seq, self.metrics.c.position)
        ).mappings():
            fields = {k: v for k, v in m.items() if k not in ("seq", "position")}
            metrics.setdefault(m["seq"], []).append(MetricRecord(**fields))
        return [
            DecisionRecord(
                seq=row.seq, feature=row.feature, decided_at=row.decided_at, day=row.day,
                stage_before=row.stage_before, stage_after=row.stage_after, action=row.action,
                reasons=tuple(json.loads(row.reasons)), actor=row.actor, dry_run=bool(row.dry_run),
                metrics=tuple(metrics.get(row.seq, ())), variant=row.variant,
            )
            for row in rows
        ]  # fmt: skip
