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

The rows are written by :meth:`~stagewise.rollout.sql_store.SqlRolloutStore.update` in the
transaction that writes the audit entry, so a decision and its stage change commit together. A
store created before these tables existed gains them when opened, and its earlier controller
entries are copied in from the audit log then (:meth:`DecisionTables.backfill`): the audit log is
the source, the tables an index of it.
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
    insert,
    select,
)

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
        """Copy in the decisions of audit entries that have no row yet (a store older than the tables)."""
        missing = (
            select(audit.c.entry)
            .outerjoin(self.decisions, self.decisions.c.seq == audit.c.seq)
            .where(self.decisions.c.seq.is_(None), audit.c.entry.contains('"controller"'))
            .order_by(audit.c.seq)
        )
        entries = [json.loads(text) for text in conn.execute(missing).scalars()]
        self.write(conn, entries)
        return sum(decision_from_entry(e) is not None for e in entries)

    def read(self, conn: Connection, feature: str, limit: int | None) -> list[DecisionRecord]:
        """The feature's decisions with their metrics, newest first."""
        query = (
            select(self.decisions, self.variants.c.variant)
            .outerjoin(self.variants, self.variants.c.seq == self.decisions.c.seq)
            .where(self.decisions.c.feature == feature)
            .order_by(self.decisions.c.seq.desc())
        )
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
