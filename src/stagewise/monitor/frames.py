"""A ledger query's rows as a pandas frame, fast enough for a million rows.

Building a frame from SQLAlchemy ``Row`` objects costs several times the query itself on a large read
(pandas probes each row for attributes it does not have); the driver's own tuples carry the same
values and become a frame directly. Only SQLAlchemy's result processing is skipped: on SQLite a date
stays its ISO text (``'2026-11-02'``), which the readers parse with ``pd.to_datetime`` as they do a
``date``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import Connection, Select

__all__ = ["query_frame"]


def query_frame(conn: Connection, query: Select[Any], names: list[str]) -> pd.DataFrame:
    """Run ``query`` and return its rows as a frame with the columns ``names`` (one per selected column)."""
    result = conn.execute(query)
    try:
        cursor = result.cursor
        rows = cursor.fetchall() if cursor is not None else []
    finally:
        result.close()
    return pd.DataFrame(rows, columns=names)
