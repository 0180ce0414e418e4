"""``DateLike``: what a public function accepts where it asks for a calendar day.

A ``datetime.date``, a ``datetime`` or a pandas ``Timestamp`` (both are dates), or an ISO string
``"YYYY-MM-DD"``. The function checks the value at its boundary (``parse_date`` in the monitor, the
walk-forward's window planning) and names the parameter when it is none of these.
"""

from __future__ import annotations

from datetime import date, datetime

__all__ = ["DateLike", "TimestampLike"]

DateLike = date | str
"""A calendar day: a date (datetimes and pandas Timestamps are dates) or an ISO string."""

TimestampLike = datetime | date | str
"""A moment: a datetime or pandas Timestamp, a date (its midnight) or an ISO 8601 string."""
