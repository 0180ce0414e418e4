"""Options that several rollout commands share, written once so their help cannot drift apart."""

from __future__ import annotations

import typer

__all__ = ["ACCEPT_MANUAL_EDIT", "CRITICAL_RULE", "POLICY"]

CRITICAL_RULE = typer.Option(
    None,
    "--critical-rule",
    help="CRITICAL by the rate's Wilson 95 % upper bound (upper_bound, the default) or by the "
    "point value as the seed did (point); default: the policy's own.",
)
POLICY = typer.Option(
    None, "--policy", help="Health policy: races (default), markets, or a JSON file (see docs/controller.md)."
)
ACCEPT_MANUAL_EDIT = typer.Option(
    False,
    "--accept-manual-edit",
    help="The config was edited outside stagewise (see `rollout status`): keep the edit and write anyway; "
    "--reason says why (both go to the audit log). Also moves an unreadable last audit line aside.",
)
