"""Metrics shared by the backtest, the monitor and the rollout gates.

Pure functions on values: no I/O, no clocks. The race metrics follow the glossary
in SPEC.md §1; the non-finisher rule lives in :mod:`stagewise.metrics.races`.
"""

from __future__ import annotations

from stagewise.metrics.intervals import wilson_interval
from stagewise.metrics.races import RaceScore, score_race

__all__ = ["RaceScore", "score_race", "wilson_interval"]
