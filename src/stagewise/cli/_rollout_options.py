"""Options that several rollout commands share, written once so their help cannot drift apart."""

from __future__ import annotations

import typer

__all__ = ["CRITICAL_RULE", "POLICY"]

CRITICAL_RULE = typer.Option(
    None,
    "--critical-rule",
    help="CRITICAL by the rate's Wilson 95 % upper bound (upper_bound, the default) or by the "
    "point value as the seed did (point); default: the policy's own.",
)
POLICY = typer.Option(
    None, "--policy", help="Health policy: races (default), markets, or a JSON file (see docs/controller.md)."
)
