"""Initial ledger: the seed's three tables plus races, per-boat rows, corrections, alert state, market
signals, feature snapshots and the per-day change counter.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_state",
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("domain", sa.String(length=16), nullable=False),
        sa.Column("alert_type", sa.String(length=32), nullable=False),
        sa.Column("segment", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("first_fired_at", sa.DateTime(), nullable=False),
        sa.Column("last_fired_at", sa.DateTime(), nullable=False),
        sa.Column("last_notified_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("last_value", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("fingerprint"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("domain", sa.String(length=16), nullable=False),
        sa.Column("alert_type", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("metric_value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("segment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("delivery_status", sa.String(length=16), nullable=False),
        sa.Column("delivery_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alerts_date", "alerts", ["date"], unique=False)
    op.create_index("ix_alerts_fingerprint", "alerts", ["fingerprint"], unique=False)
    op.create_table(
        "boat_predictions",
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("race_id", sa.String(length=64), nullable=False),
        sa.Column("pit", sa.SmallInteger(), nullable=False),
        sa.Column("predicted_rank", sa.SmallInteger(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("win_prob", sa.Float(), nullable=True),
        sa.Column("finish_rank", sa.SmallInteger(), nullable=True),
        sa.Column("finish_status", sa.String(length=4), nullable=True),
        sa.PrimaryKeyConstraint("model_version", "race_id", "pit", name="pk_boat_predictions"),
    )
    op.create_index("ix_boat_predictions_race_pit", "boat_predictions", ["race_id", "pit"], unique=False)
    op.create_table(
        "corrections",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("race_id", sa.String(length=64), nullable=True),
        sa.Column("model_version", sa.String(length=64), nullable=True),
        sa.Column("symbol", sa.String(length=32), nullable=True),
        sa.Column("old_value", sa.Text(), nullable=False),
        sa.Column("new_value", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("corrected_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "daily_performance",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("domain", sa.String(length=16), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("variant", sa.String(length=64), nullable=False),
        sa.Column("integration_mode", sa.String(length=32), nullable=False),
        sa.Column("venue", sa.String(length=8), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("total_races", sa.Integer(), nullable=False),
        sa.Column("hit_count_1st", sa.Integer(), nullable=False),
        sa.Column("hit_count_top3", sa.Integer(), nullable=False),
        sa.Column("hit_count_trio", sa.Integer(), nullable=False),
        sa.Column("score_accuracy_n", sa.Integer(), nullable=False),
        sa.Column("score_accuracy_sum", sa.Float(), nullable=False),
        sa.Column("score_accuracy_sq_sum", sa.Float(), nullable=False),
        sa.Column("pending", sa.Integer(), nullable=False),
        sa.Column("void", sa.Integer(), nullable=False),
        sa.Column("tp", sa.Integer(), nullable=False),
        sa.Column("fp", sa.Integer(), nullable=False),
        sa.Column("tn", sa.Integer(), nullable=False),
        sa.Column("fn", sa.Integer(), nullable=False),
        sa.Column("source_version", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "date",
            "domain",
            "model_version",
            "variant",
            "integration_mode",
            "venue",
            "symbol",
            name="uq_daily_performance_segment",
        ),
    )
    op.create_table(
        "feature_values",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("domain", sa.String(length=16), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("feature", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_feature_values_domain_feature_date", "feature_values", ["domain", "feature", "date"], unique=False
    )
    op.create_table(
        "ledger_days",
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("domain", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("date", "domain", name="pk_ledger_days"),
    )
    op.create_table(
        "market_signals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("variant", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("ts", sa.DateTime(), nullable=False),
        sa.Column("signal_date", sa.Date(), nullable=False),
        sa.Column("signal", sa.SmallInteger(), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("outcome", sa.SmallInteger(), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("logged_at", sa.DateTime(), nullable=False),
        sa.Column("settled_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("model_version", "symbol", "ts", name="uq_market_signals_model_symbol_ts"),
    )
    op.create_index("ix_market_signals_date", "market_signals", ["signal_date"], unique=False)
    op.create_table(
        "race_predictions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("race_id", sa.String(length=64), nullable=False),
        sa.Column("race_date", sa.Date(), nullable=False),
        sa.Column("venue_code", sa.SmallInteger(), nullable=False),
        sa.Column("race_number", sa.SmallInteger(), nullable=False),
        sa.Column("variant", sa.String(length=64), nullable=False),
        sa.Column("integration_mode", sa.String(length=32), nullable=False),
        sa.Column("feature_flags", sa.Text(), nullable=False),
        sa.Column("predicted_order", sa.String(length=32), nullable=False),
        sa.Column("prediction_digest", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("hit_1st", sa.SmallInteger(), nullable=True),
        sa.Column("hit_top3", sa.SmallInteger(), nullable=True),
        sa.Column("hit_trio", sa.SmallInteger(), nullable=True),
        sa.Column("score_accuracy", sa.Float(), nullable=True),
        sa.Column("n_did_not_start", sa.SmallInteger(), nullable=True),
        sa.Column("n_not_finished", sa.SmallInteger(), nullable=True),
        sa.Column("logged_at", sa.DateTime(), nullable=False),
        sa.Column("settled_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("model_version", "race_id", name="uq_race_predictions_model_race"),
    )
    op.create_index(
        "ix_race_predictions_date_model", "race_predictions", ["race_date", "model_version"], unique=False
    )
    op.create_index("ix_race_predictions_race_id", "race_predictions", ["race_id"], unique=False)
    op.create_table(
        "races",
        sa.Column("race_id", sa.String(length=64), nullable=False),
        sa.Column("race_date", sa.Date(), nullable=False),
        sa.Column("venue_code", sa.SmallInteger(), nullable=False),
        sa.Column("race_number", sa.SmallInteger(), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("result_status", sa.String(length=8), nullable=False),
        sa.Column("result_logged_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("race_id"),
    )
    op.create_index("ix_races_race_date", "races", ["race_date"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_races_race_date", table_name="races")
    op.drop_table("races")
    op.drop_index("ix_race_predictions_race_id", table_name="race_predictions")
    op.drop_index("ix_race_predictions_date_model", table_name="race_predictions")
    op.drop_table("race_predictions")
    op.drop_index("ix_market_signals_date", table_name="market_signals")
    op.drop_table("market_signals")
    op.drop_table("ledger_days")
    op.drop_index("ix_feature_values_domain_feature_date", table_name="feature_values")
    op.drop_table("feature_values")
    op.drop_table("daily_performance")
    op.drop_table("corrections")
    op.drop_index("ix_boat_predictions_race_pit", table_name="boat_predictions")
    op.drop_table("boat_predictions")
    op.drop_index("ix_alerts_fingerprint", table_name="alerts")
    op.drop_index("ix_alerts_date", table_name="alerts")
    op.drop_table("alerts")
    op.drop_table("alert_state")
