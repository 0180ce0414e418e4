"""Append-only change markers, so concurrent writers no longer update one counter row per day.

Before 0002 every logging transaction ran ``UPDATE ledger_days SET version = version + 1`` for its day,
and on PostgreSQL all writers of a day queued on that row (and on an advisory lock). From 0002 on they
insert a row into ``ledger_changes``; the rollup folds those rows into ``ledger_days`` before it reads
the versions. Existing ``ledger_days`` rows and cached rollups stay valid as they are.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("domain", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ledger_changes_domain_date", "ledger_changes", ["domain", "date"], unique=False)


def downgrade() -> None:
    # Fold what is pending first, so a downgraded ledger still knows which days changed.
    op.execute(
        "UPDATE ledger_days SET version = version + 1 WHERE EXISTS (SELECT 1 FROM ledger_changes c "
        "WHERE c.domain = ledger_days.domain AND c.date = ledger_days.date)"
    )
    op.execute(
        "INSERT INTO ledger_days (date, domain, version) SELECT DISTINCT c.date, c.domain, 1 "
        "FROM ledger_changes c WHERE NOT EXISTS (SELECT 1 FROM ledger_days d "
        "WHERE d.domain = c.domain AND d.date = c.date)"
    )
    op.drop_index("ix_ledger_changes_domain_date", table_name="ledger_changes")
    op.drop_table("ledger_changes")
