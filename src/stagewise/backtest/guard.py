"""The leakage guard: flags results that are too good to be true for their domain.

A walk-forward cannot prove the absence of leakage, but some results are implausible enough
to say "look again" (SPEC: "F1 0.997 for next-bar direction is not a great model, it is
leakage"). Each finding names the rule, the metric, its value and interval, the threshold
and the reason. The rules:

``markets-accuracy-far-above-chance``
    The lower end of the accuracy's Wilson interval is more than ``margin`` (default 0.05)
    above the best baseline (majority class or always-up) on the same bars: honest
    next-bar direction models on liquid markets stay within a few points of chance.
``markets-f1-implausible``
    F1 >= 0.9 on at least 100 bars.
``races-beats-oracle``
    On simulated races, the model's win or trifecta hit rate is above the oracle's (the
    simulator's true probabilities) with the whole interval of the ratio above 1.
``races-win-rate-implausible``
    The lower end of the win hit rate interval is above 0.75 (the favourite wins about
    55 % of real races), or that of the trifecta above 0.25.

The permutation check (on request) refits every step on labels shuffled within its
training window: with no information left, the model must fall to chance. If it does not,
something other than the training labels (a leak in the features or the pipeline) drives
the predictions: ``permutation-not-at-chance``.
"""

from __future__ import annotations

import math
from typing import Any

from stagewise._domain import Domain

__all__ = ["PERMUTATION_TOLERANCE", "permutation_finding", "plausibility_findings"]

#: How far above chance the permuted model's interval may start and still count as chance.
PERMUTATION_TOLERANCE = 0.02


def _finding(
    rule: str, metric: str, value: float, interval: Any, threshold: float, reason: str
) -> dict[str, Any]:
    return {
        "rule": rule,
        "metric": metric,
        "value": value,
        "interval": list(interval) if interval is not None else None,
        "threshold": threshold,
        "reason": reason,
    }


def plausibility_findings(
    domain: str,
    overall: dict[str, dict[str, Any]],
    shares: dict[str, dict[str, float]] | None = None,
    margin: float = 0.05,
) -> list[dict[str, Any]]:
    """Findings for pooled metrics ``overall`` (model and baselines) and oracle ``shares``."""
    model = overall["model"]
    findings: list[dict[str, Any]] = []
    if domain == Domain.MARKETS:
        best = max(float(overall["majority"]["accuracy"]), float(overall["always_up"]["accuracy"]))
        low = float(model["accuracy_ci"][0])
        if not math.isnan(low) and low > best + margin:
            findings.append(
                _finding(
                    "markets-accuracy-far-above-chance",
                    "accuracy",
                    model["accuracy"],
                    model["accuracy_ci"],
                    best + margin,
                    f"direction accuracy {model['accuracy']:.3f} (interval from {low:.3f}) is more than "
                    f"{margin:.2f} above the best baseline ({best:.3f}); honest next-bar models stay near "
                    "chance: check features for look-ahead (a feature using bar t+1) and the label purge.",
                )
            )
        if model["total_bars"] >= 100 and model["f1"] >= 0.9:
            findings.append(
                _finding(
                    "markets-f1-implausible",
                    "f1",
                    model["f1"],
                    None,
                    0.9,
                    f"F1 {model['f1']:.3f} for next-bar direction is leakage, not skill (the seed's 0.997).",
                )
            )
        return findings
    for metric in ("hit_rate_1st", "hit_rate_top3"):
        share = (shares or {}).get(metric)
        if share is not None and not math.isnan(share["low"]) and share["low"] > 1.0:
            findings.append(
                _finding(
                    "races-beats-oracle",
                    metric,
                    share["share"],
                    [share["low"], share["high"]],
                    1.0,
                    f"the model's {metric} is {share['share']:.0%} of the oracle's, with the whole interval "
                    "above 100 %: nothing beats the simulator's true probabilities without seeing results.",
                )
            )
    for metric, limit in (("hit_rate_1st", 0.75), ("hit_rate_top3", 0.25)):
        low = float(model[f"{metric}_ci"][0])
        if not math.isnan(low) and low > limit:
            findings.append(
                _finding(
                    "races-win-rate-implausible",
                    metric,
                    model[metric],
                    model[f"{metric}_ci"],
                    limit,
                    f"{metric} {model[metric]:.3f} (interval from {low:.3f}) is above {limit}: the favourite "
                    "wins about 55 % of real races; check for result columns among the features.",
                )
            )
    return findings


def permutation_finding(metric: str, value: float, interval: Any, chance: float) -> dict[str, Any]:
    """The permutation check's verdict: ``passed`` when the permuted model is at chance."""
    low = float(interval[0])
    passed = math.isnan(low) or low <= chance + PERMUTATION_TOLERANCE
    return {
        "rule": "permutation-not-at-chance",
        "metric": metric,
        "value": value,
        "interval": list(interval),
        "chance": chance,
        "threshold": chance + PERMUTATION_TOLERANCE,
        "passed": passed,
        "reason": (
            f"with training labels shuffled the model still reaches {metric} {value:.3f} (interval from "
            f"{low:.3f}), above chance {chance:.3f}: something besides the labels leaks the outcome."
            if not passed
            else f"with training labels shuffled {metric} falls to {value:.3f}, at chance ({chance:.3f})."
        ),
    }
