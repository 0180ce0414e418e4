"""Alembic environment: always driven by :func:`stagewise.monitor.store.migrate` with an open connection."""

from __future__ import annotations

from alembic import context

from stagewise.monitor.schema import VERSION_TABLE, metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
