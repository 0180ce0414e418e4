"""Money per unit: the bet a race prediction implies and a market signal's realised net return.

``race_predictions`` gains ``bet_stake`` and ``bet_odds`` (the stake and the decimal win odds of the top
pick, a pre-close snapshot the client logs with the prediction; NULL when it logs none) and ``bet_profit``
(profit per unit staked once the race is settled: ``odds − 1`` when the pick won, −1 when it lost, NULL
when it was refunded, void, pending or carries no bet). ``market_signals`` gains ``net_return`` (the
signal's realised return after costs, logged with its outcome). All are nullable: an old ledger upgrades
in place and keeps every row; rows logged before 0003 simply carry no money data.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_RACE_COLUMNS = ("bet_stake", "bet_odds", "bet_profit")


def upgrade() -> None:
    # batch mode: SQLite rebuilds the table when it must; PostgreSQL adds the columns in place
    with op.batch_alter_table("race_predictions") as batch:
        for name in _RACE_COLUMNS:
            batch.add_column(sa.Column(name, sa.Float(), nullable=True))
    with op.batch_alter_table("market_signals") as batch:
        batch.add_column(sa.Column("net_return", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("market_signals") as batch:
        batch.drop_column("net_return")
    with op.batch_alter_table("race_predictions") as batch:
        for name in reversed(_RACE_COLUMNS):
            batch.drop_column(name)
