"""The ledger's tables (SQLAlchemy 2 Core), shared by SQLite and PostgreSQL.

The seed's three tables keep their names: ``daily_performance`` (the rollup one row per day and
segment), ``race_predictions`` (one row per model version and race) and ``alerts`` (alert history).
The others carry what the seed lacked: the race facts and result (``races``), one row per boat
(``boat_predictions``), corrections, alert state, market signals, feature snapshots for drift, and
``ledger_days`` (a change counter per day, so the rollup knows when it is stale) fed by ``ledger_changes``
(one row per write transaction and day: writers only append to it, so they never wait on a shared
counter row; the rollup folds the rows into ``ledger_days``).

Flags are stored as ``SmallInteger`` 0/1 so that ``SUM`` works the same on both databases.
Migrations in :mod:`stagewise.monitor.migrations` create exactly these tables; change both together.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "ALL",
    "VERSION_TABLE",
    "alert_state",
    "alerts",
    "boat_predictions",
    "corrections",
    "daily_performance",
    "feature_values",
    "ledger_changes",
    "ledger_days",
    "market_signals",
    "metadata",
    "race_predictions",
    "races",
]

#: Value of a segment column in ``daily_performance`` when the rollup is not cut by it.
ALL = "*"
#: Alembic's version table for the monitor (named so it never collides with another tool's).
VERSION_TABLE = "stagewise_monitor_version"

metadata = MetaData()

races = Table(
    "races",
    metadata,
    Column("race_id", String(64), primary_key=True),
    Column("race_date", Date, nullable=False),
    Column("venue_code", SmallInteger, nullable=False),
    Column("race_number", SmallInteger, nullable=False),
    Column("result", Text),  # JSON {"pit": rank | status}; NULL while pending
    Column("result_status", String(8), nullable=False),  # pending / settled / void
    Column("result_logged_at", DateTime),
    Index("ix_races_race_date", "race_date"),
)

race_predictions = Table(
    "race_predictions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_version", String(64), nullable=False),
    Column("race_id", String(64), nullable=False),
    Column("race_date", Date, nullable=False),
    Column("venue_code", SmallInteger, nullable=False),
    Column("race_number", SmallInteger, nullable=False),
    Column("variant", String(64), nullable=False),
    Column("integration_mode", String(32), nullable=False),
    Column("feature_flags", Text, nullable=False),
    Column("predicted_order", String(32), nullable=False),  # "1-3-2-4-5-6"
    Column("prediction_digest", String(32), nullable=False),
    Column("status", String(8), nullable=False),  # pending / settled / void
    Column("hit_1st", SmallInteger),
    Column("hit_top3", SmallInteger),
    Column("hit_trio", SmallInteger),
    Column("score_accuracy", Float),
    Column("n_did_not_start", SmallInteger),
    Column("n_not_finished", SmallInteger),
    Column("logged_at", DateTime, nullable=False),
    Column("settled_at", DateTime),
    # money (0003): the win bet on the top pick the client logged, and its profit per unit once settled
    Column("bet_stake", Float),
    Column("bet_odds", Float),
    Column("bet_profit", Float),
    # routing (0004): the rollout feature that chose the answering model, and a pre-outcome covariate
    Column("rollout_feature", String(64)),
    Column("covariate", Float),
    UniqueConstraint("model_version", "race_id", name="uq_race_predictions_model_race"),
    Index("ix_race_predictions_date_model", "race_date", "model_version"),
    Index("ix_race_predictions_race_id", "race_id"),
)

boat_predictions = Table(
    "boat_predictions",
    metadata,
    Column("model_version", String(64), nullable=False),
    Column("race_id", String(64), nullable=False),
    Column("pit", SmallInteger, nullable=False),
    Column("predicted_rank", SmallInteger, nullable=False),
    Column("score", Float),
    Column("win_prob", Float),
    Column("finish_rank", SmallInteger),
    Column("finish_status", String(4)),
    PrimaryKeyConstraint("model_version", "race_id", "pit", name="pk_boat_predictions"),
    Index("ix_boat_predictions_race_pit", "race_id", "pit"),
)

corrections = Table(
    "corrections",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # result / prediction / variant / market_outcome
    Column("race_id", String(64)),
    Column("model_version", String(64)),
    Column("symbol", String(32)),
    Column("old_value", Text, nullable=False),
    Column("new_value", Text, nullable=False),
    Column("reason", Text),
    Column("corrected_at", DateTime, nullable=False),
)

daily_performance = Table(
    "daily_performance",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("date", Date, nullable=False),
    Column("domain", String(16), nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("variant", String(64), nullable=False),
    Column("integration_mode", String(32), nullable=False),
    Column("venue", String(8), nullable=False),
    Column("symbol", String(32), nullable=False),
    Column("total_races", Integer, nullable=False),
    Column("hit_count_1st", Integer, nullable=False),
    Column("hit_count_top3", Integer, nullable=False),
    Column("hit_count_trio", Integer, nullable=False),
    Column("score_accuracy_n", Integer, nullable=False),
    Column("score_accuracy_sum", Float, nullable=False),
    Column("score_accuracy_sq_sum", Float, nullable=False),
    Column("pending", Integer, nullable=False),
    Column("void", Integer, nullable=False),
    Column("tp", Integer, nullable=False),
    Column("fp", Integer, nullable=False),
    Column("tn", Integer, nullable=False),
    Column("fn", Integer, nullable=False),
    Column("source_version", Integer, nullable=False),
    Column("computed_at", DateTime, nullable=False),
    UniqueConstraint(
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

ledger_days = Table(
    "ledger_days",
    metadata,
    Column("date", Date, nullable=False),
    Column("domain", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("date", "domain", name="pk_ledger_days"),
)

ledger_changes = Table(
    "ledger_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("date", Date, nullable=False),
    Column("domain", String(16), nullable=False),
    Index("ix_ledger_changes_domain_date", "domain", "date"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("date", Date, nullable=False),
    Column("domain", String(16), nullable=False),
    Column("alert_type", String(32), nullable=False),
    Column("state", String(10), nullable=False),  # firing / resolved
    Column("message", Text, nullable=False),
    Column("metric_value", Float),
    Column("threshold", Float),
    Column("severity", String(10), nullable=False),
    Column("fingerprint", String(32), nullable=False),
    Column("segment", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("delivery_status", String(16), nullable=False),  # pending / sent / failed / not_configured
    Column("delivery_error", Text),
    Column("delivered_at", DateTime),
    Index("ix_alerts_fingerprint", "fingerprint"),
    Index("ix_alerts_date", "date"),
)

alert_state = Table(
    "alert_state",
    metadata,
    Column("fingerprint", String(32), primary_key=True),
    Column("domain", String(16), nullable=False),
    Column("alert_type", String(32), nullable=False),
    Column("segment", Text, nullable=False),
    Column("state", String(10), nullable=False),
    Column("first_fired_at", DateTime, nullable=False),
    Column("last_fired_at", DateTime, nullable=False),
    Column("last_notified_at", DateTime),
    Column("resolved_at", DateTime),
    Column("last_value", Float),
)

market_signals = Table(
    "market_signals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_version", String(64), nullable=False),
    Column("variant", String(64), nullable=False),
    Column("symbol", String(32), nullable=False),
    Column("ts", DateTime, nullable=False),  # UTC, naive
    Column("signal_date", Date, nullable=False),
    Column("signal", SmallInteger, nullable=False),
    Column("probability", Float, nullable=False),
    Column("outcome", SmallInteger),
    Column("status", String(8), nullable=False),
    Column("logged_at", DateTime, nullable=False),
    Column("settled_at", DateTime),
    Column("net_return", Float),  # money (0003): realised return after costs, logged with the outcome
    Column("rollout_feature", String(64)),  # routing (0004), as in race_predictions
    Column("covariate", Float),
    UniqueConstraint("model_version", "symbol", "ts", name="uq_market_signals_model_symbol_ts"),
    Index("ix_market_signals_date", "signal_date"),
)

feature_values = Table(
    "feature_values",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("domain", String(16), nullable=False),
    Column("date", Date, nullable=False),
    Column("feature", String(64), nullable=False),
    Column("value", Float, nullable=False),
    Index("ix_feature_values_domain_feature_date", "domain", "feature", "date"),
)
