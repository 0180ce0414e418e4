"""Which rollout routed a prediction, and a covariate known before its outcome.

``race_predictions`` and ``market_signals`` gain ``rollout_feature`` (the rollout feature whose split
chose the model that answered; NULL when no rollout routed the prediction) and ``covariate`` (a number
known at prediction time, such as the champion's probability of its own top pick, that the controller's
CUPED adjustment uses to reduce variance; NULL when none was logged). Both are nullable: an old ledger
upgrades in place and keeps every row; a controller reading rows by feature keeps the rows logged before
0004 (NULL feature) as it did before (see ``docs/monitor.md``).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TABLES = ("race_predictions", "market_signals")


def upgrade() -> None:
    # batch mode: SQLite rebuilds the table when it must; PostgreSQL adds the columns in place
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("rollout_feature", sa.String(64), nullable=True))
            batch.add_column(sa.Column("covariate", sa.Float(), nullable=True))


def downgrade() -> None:
    for table in reversed(_TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("covariate")
            batch.drop_column("rollout_feature")
