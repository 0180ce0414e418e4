"""Gradual rollout: deterministic bucketing, a config store with audit log and kill switch, health gates.

``GradualRollout`` keeps the seed system's API (``should_enable_feature``,
``update_rollout_stage``, ``check_rollout_health``, ``rollout_plan``,
``get_rollout_status``) over a JSON file or a SQL database. The bucketing spec is
in ``docs/bucketing.md``; the rest in ``docs/rollout.md``.
"""

from __future__ import annotations

from stagewise.rollout.audit import AuditReport
from stagewise.rollout.bucketing import BUCKETS, bucket_of, buckets_of, legacy_bucket
from stagewise.rollout.file_store import FileRolloutStore
from stagewise.rollout.gradual import ALL_FEATURES, SEED_FEATURES, GradualRollout
from stagewise.rollout.health import HealthPolicy, MetricRule, evaluate_health
from stagewise.rollout.stages import Stage, parse_stage
from stagewise.rollout.store import MemoryRolloutStore, RolloutStore

__all__ = [
    "ALL_FEATURES",
    "BUCKETS",
    "SEED_FEATURES",
    "AuditReport",
    "FileRolloutStore",
    "GradualRollout",
    "HealthPolicy",
    "MemoryRolloutStore",
    "MetricRule",
    "RolloutStore",
    "Stage",
    "bucket_of",
    "buckets_of",
    "evaluate_health",
    "legacy_bucket",
    "parse_stage",
]
