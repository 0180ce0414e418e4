"""The metric names a PromQL expression reads (for checking rules and dashboards against a scrape)."""

from __future__ import annotations

import re

__all__ = ["metric_names"]

# A stagewise metric name as written in an expression: never a label value (those are quoted and
# never start with "stagewise_" here) nor a function (functions are followed by "(").
_NAME = re.compile(r"(?<![A-Za-z0-9_:\"'])(stagewise_[a-z0-9_]+)\b(?!\s*\()")


def metric_names(expr: str) -> set[str]:
    """Every ``stagewise_*`` series name ``expr`` selects.

    Examples
    --------
    >>> sorted(metric_names('histogram_quantile(0.95, sum by (le) (rate('
    ...                     'stagewise_http_request_duration_seconds_bucket[5m]))) > stagewise_x'))
    ['stagewise_http_request_duration_seconds_bucket', 'stagewise_x']
    """
    return set(_NAME.findall(expr))
