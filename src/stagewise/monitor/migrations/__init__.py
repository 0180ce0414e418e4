"""Alembic migrations of the monitor ledger, run programmatically by :mod:`stagewise.monitor.store`."""
