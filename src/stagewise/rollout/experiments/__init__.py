"""Experiment statistics for gradual rollout: variants, SRM, paired tests, sequential tests, A/A harness.

Everything here is pure: values in, values out. See ``docs/rollout-statistics.md``.
"""

from __future__ import annotations

from stagewise.rollout.experiments.aa import AaResult, RuleOutcome, simulate_aa, simulate_power
from stagewise.rollout.experiments.paired import (
    McNemarResult,
    PairedBootstrapResult,
    mcnemar_test,
    paired_bootstrap,
)
from stagewise.rollout.experiments.sequential import (
    DEFAULT_TAU,
    SequentialResult,
    always_valid_p_values,
    msprt_log_lr,
    sequential_from_estimates,
    sequential_paired_hits,
    sequential_two_means,
    sequential_two_proportions,
)
from stagewise.rollout.experiments.srm import SRM_P_THRESHOLD, SrmResult, srm_check
from stagewise.rollout.experiments.variants import CONTROL, VariantSplit

__all__ = [
    "CONTROL",
    "DEFAULT_TAU",
    "SRM_P_THRESHOLD",
    "AaResult",
    "McNemarResult",
    "PairedBootstrapResult",
    "RuleOutcome",
    "SequentialResult",
    "SrmResult",
    "VariantSplit",
    "always_valid_p_values",
    "mcnemar_test",
    "msprt_log_lr",
    "paired_bootstrap",
    "sequential_from_estimates",
    "sequential_paired_hits",
    "sequential_two_means",
    "sequential_two_proportions",
    "simulate_aa",
    "simulate_power",
    "srm_check",
]
