"""Declared guardrail metrics: per-unit values, CUPED, always-valid harm tests, Holm across metrics.

Everything here is pure (values in, values out). See ``docs/rollout-statistics.md``.
"""

from __future__ import annotations

from stagewise.rollout.guardrails.adjusted import (
    AdjustedEstimates,
    Moments,
    adjusted_difference,
    cumulative_moments,
)
from stagewise.rollout.guardrails.family import holm_levels, holm_rejections
from stagewise.rollout.guardrails.harm_test import HarmPath, always_valid_interval, harm_path
from stagewise.rollout.guardrails.judge import (
    ArmUnits,
    GuardrailJudgement,
    GuardrailRecord,
    judge_guardrails,
)
from stagewise.rollout.guardrails.spec import GuardrailMetric, parse_guardrails
from stagewise.rollout.guardrails.units import BUILTINS

__all__ = [
    "BUILTINS",
    "AdjustedEstimates",
    "ArmUnits",
    "GuardrailJudgement",
    "GuardrailMetric",
    "GuardrailRecord",
    "HarmPath",
    "Moments",
    "adjusted_difference",
    "always_valid_interval",
    "cumulative_moments",
    "harm_path",
    "holm_levels",
    "holm_rejections",
    "judge_guardrails",
    "parse_guardrails",
]
