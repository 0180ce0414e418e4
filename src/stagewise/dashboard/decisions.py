"""The dashboard's "Decisions" tables: the controller's decision records, read through the rollout.

Read with :meth:`GradualRollout.decisions <stagewise.rollout.GradualRollout.decisions>` (the SQL
store's decision tables, or the audit log of a file store), never with SQL here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from stagewise.rollout import GradualRollout
    from stagewise.rollout.decisions import DecisionRecord

__all__ = ["DECISION_COLUMNS", "METRIC_COLUMNS", "decision_frames", "recent_decisions"]

DECISION_COLUMNS = [
    "decided_at", "feature", "variant", "action", "stage_before", "stage_after", "day", "reasons", "seq",
]  # fmt: skip
METRIC_COLUMNS = [
    "decision", "feature", "metric", "kind", "verdict", "estimate", "interval_low", "interval_high",
    "p_value", "level", "n_control", "n_challenger", "covariate", "variance_ratio", "reason",
]  # fmt: skip


def recent_decisions(rollout: GradualRollout, limit: int = 20) -> list[DecisionRecord]:
    """The ``limit`` newest decisions over every feature of the rollout, newest first (one read)."""
    return rollout.decisions(None, limit)


def decision_frames(rollout: GradualRollout, limit: int = 20) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per decision, one row per judged metric of those decisions), newest first.

    A metric row's ``decision`` is its decision's ``seq`` (the audit entry's sequence number). A
    decision's ``variant`` is the A/B/n variant it judged (an A/B/n run has one decision per
    variant), blank for a decision about no variant.
    """
    records = recent_decisions(rollout, limit)
    decisions = [
        {c: getattr(r, c) for c in DECISION_COLUMNS}
        | {"reasons": "; ".join(r.reasons), "variant": r.variant or ""}
        for r in records
    ]
    metrics = [{"decision": r.seq, "feature": r.feature, **m.as_row()} for r in records for m in r.metrics]
    return (
        pd.DataFrame(decisions, columns=DECISION_COLUMNS),
        pd.DataFrame(metrics, columns=METRIC_COLUMNS),
    )
