"""A/B/n: every variant of a split judged against control as one family (pure).

With an A/B/n split (:class:`~stagewise.rollout.experiments.VariantSplit`) the controller asks, for
*each* active variant, the question it asks a single challenger: is it worse than control? Each
variant brings its hypotheses (the built-in harm tests on win hit rate and score accuracy, or the
declared guardrails that are not dry runs, and the economic guardrail when the policy has one), and
Holm's step-down runs over **all variants × metrics at once** at the controller's ``alpha``, so the
probability of rolling back any variant that is not worse stays at most ``alpha`` however many
variants there are (``docs/rollout-statistics.md``, "A/B/n"). Every variant's own decision then follows
:func:`~stagewise.rollout.controller.decide` with its share of that verdict
(:class:`~stagewise.rollout.controller.Judged`), and :func:`decide_variants` combines them:

* each variant whose decision is ``rollback`` is rolled back (retired out of the split; when every
  active variant is harmful the feature itself goes to ``disabled``);
* among the variants whose decision is ``promote`` (healthy streak, no harm, guardrails pass), the
  one best on the **primary metric** is promoted (the first active declared guardrail, else the win
  hit rate; its estimate against control, signed so that larger is better); a tie for best, or a
  candidate with no estimate, holds them all; the others hold;
* every other variant holds (or does nothing: kill switch, disabled or completed feature).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np

from stagewise._exceptions import ConfigError
from stagewise.rollout.controller import (
    ControllerPolicy,
    Decision,
    Evidence,
    Judged,
    _judge_declared,
    decide,
)
from stagewise.rollout.economic import ECONOMIC
from stagewise.rollout.experiments.sequential import SequentialResult
from stagewise.rollout.guardrails.family import holm_levels, holm_rejections
from stagewise.rollout.guardrails.judge import GuardrailJudgement, GuardrailRecord
from stagewise.rollout.guardrails.judge import _decide as guardrail_action
from stagewise.rollout.harm import harm_tests
from stagewise.rollout.stages import DISABLED

__all__ = ["PRIMARY_BUILTIN", "VariantsDecision", "decide_variants", "effective_levels"]

PRIMARY_BUILTIN = "hit_rate_1st"
"""The primary metric without declared guardrails: the win hit rate (direction accuracy for markets)."""
TIE = 1e-12


@dataclass(frozen=True)
class _Hypothesis:
    variant: str
    kind: str  # "built-in", "declared" or "economic"
    metric: str
    p_value: float


@dataclass(frozen=True)
class _Raw:
    tests: Mapping[str, SequentialResult] | None
    declared: GuardrailJudgement | None
    economic_p: float | None  # the money test's always-valid p-value (1 while insufficient)


@dataclass(frozen=True)
class VariantsDecision:
    """What an A/B/n run decided: one :class:`Decision` per active variant, and what it adds up to.

    ``rolled_back`` lists the variants to retire; ``disable`` is True when every active variant is
    harmful (the feature goes to ``disabled``); ``promoted`` names the variant promoted (at most
    one). ``summary`` is the feature-level decision a caller prints; ``family`` the Holm family.
    """

    feature: str
    variants: Mapping[str, Decision]
    rolled_back: tuple[str, ...]
    promoted: str | None
    disable: bool
    summary: Decision
    family: Mapping[str, Any]


def effective_levels(p_values: Sequence[float], alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Holm's rejections and the level each p-value was actually held to.

    Up to the first failure of the step-down, a p-value is held to its rank's level ``α/(K−r)``;
    from there on, every remaining one is held to the level that failed (so "p < level" and
    "rejected" always agree in the record).

    Examples
    --------
    >>> rejected, levels = effective_levels([0.001, 0.04, 0.03], alpha=0.05)
    >>> rejected.tolist(), [round(float(x), 4) for x in levels]
    ([True, False, False], [0.0167, 0.025, 0.025])
    """
    p = np.nan_to_num(np.asarray(p_values, dtype=np.float64), nan=1.0)
    rejected = np.asarray(holm_rejections(p, alpha), dtype=bool)
    levels = np.asarray(holm_levels(p, alpha), dtype=np.float64)
    if p.size and not rejected.all():
        failed = float(levels[~rejected][np.argmin(p[~rejected])])
        levels = np.where(rejected, levels, failed)
    # "p < level" is how each test reads its verdict; Holm rejects at p == level too
    levels = np.where(rejected & (p >= levels), np.nextafter(p, np.inf), levels)
    return rejected, levels


def _raw(evidence: Evidence, policy: ControllerPolicy) -> _Raw:
    declared = _judge_declared(evidence, policy)
    tests = None
    if declared is None:
        tests = harm_tests(
            evidence.challenger, evidence.control, evidence.paired,
            alpha=policy.alpha / 2, tau_hit=policy.tau_hit, tau_score=policy.tau_score,
        )  # fmt: skip
    money = evidence.money
    return _Raw(tests, declared, None if money is None else money.family_p_value(policy.alpha))


def _hypotheses(variant: str, raw: _Raw) -> list[_Hypothesis]:
    out = [_Hypothesis(variant, "built-in", name, t.p_value) for name, t in sorted((raw.tests or {}).items())]
    if raw.declared is not None:
        out += [
            _Hypothesis(variant, "declared", r.name, 1.0 if r.verdict == "insufficient" else r.p_value)
            for r in raw.declared.records
            if not r.dry_run
        ]
    if raw.economic_p is not None:
        out.append(_Hypothesis(variant, "economic", ECONOMIC, raw.economic_p))
    return out


def _rejudged(raw: _Raw, evidence: Evidence, levels: Mapping[tuple[str, str], float], alpha: float,
              family_size: int) -> Judged:  # fmt: skip
    tests = None
    if raw.tests is not None:
        tests = {name: replace(t, alpha=levels["built-in", name]) for name, t in raw.tests.items()}
    declared = None
    if raw.declared is not None:
        records: list[GuardrailRecord] = []
        for r in raw.declared.records:
            if not r.dry_run and r.verdict != "insufficient":
                level = levels["declared", r.name]
                r = replace(r, verdict="harm" if r.p_value < level else "ok", level=level)
            records.append(r)
        declared = guardrail_action(tuple(records), alpha, family_size)
    economic = None
    if raw.economic_p is not None and evidence.money is not None:
        # alone at the level the whole family gave it: rejected exactly when Holm rejected it
        economic = evidence.money.judge(evidence.unit, alpha=levels["economic", ECONOMIC])[0]
    return Judged(tests=tests, declared=declared, economic=economic)


def _primary(decision: Decision, evidence: Evidence) -> tuple[str, float]:
    """The primary metric's name and estimate against control, signed so that larger is better."""
    numbers = decision.numbers
    active = [m for m in evidence.guardrails if not m.dry_run]
    if active and not evidence.paired:
        records = {r["name"]: r for r in (numbers.get("guardrails") or {}).get("records") or ()}
        record = records.get(active[0].name) or {}
        estimate = record.get("estimate")
        sign = -1.0 if active[0].effective_harm == "increase" else 1.0
        return active[0].name, math.nan if estimate is None else sign * float(estimate)
    test = (numbers.get("sequential") or {}).get(PRIMARY_BUILTIN) or {}
    estimate = test.get("estimate")
    return PRIMARY_BUILTIN, math.nan if estimate is None else float(estimate)


def _held(decision: Decision, reason: str) -> Decision:
    return replace(decision, action="hold", to_stage=decision.from_stage, reasons=(reason, *decision.reasons))


def decide_variants(
    evidences: Mapping[str, Evidence], policy: ControllerPolicy, now: datetime
) -> VariantsDecision:
    """Judge every active variant against control, Holm over all variants × metrics (see the module).

    ``evidences`` maps each active variant to its :class:`Evidence` (that variant against control,
    as :func:`~stagewise.rollout.controller_runner.gather_evidence` reads it).

    Examples
    --------
    >>> from datetime import date, datetime, timezone
    >>> from stagewise.rollout.harm import DayCounts
    >>> from stagewise.rollout.stages import parse_stage
    >>> def days(hits):
    ...     return [DayCounts(date(2026, 11, d), races=200, hits_1st=hits) for d in range(1, 8)]
    >>> def evidence(hits):
    ...     healthy = {date(2026, 11, d): "HEALTHY" for d in range(1, 8)}
    ...     return Evidence("calib", parse_stage("50%"), False, days(hits), days(50), healthy,
    ...                     stage_since=date(2026, 11, 1))
    >>> out = decide_variants({"worse": evidence(20), "same": evidence(50), "better": evidence(70)},
    ...                       ControllerPolicy(), datetime(2026, 11, 8, 6, tzinfo=timezone.utc))
    >>> out.rolled_back, out.promoted, {v: d.action for v, d in out.variants.items()}
    (('worse',), 'better', {'worse': 'rollback', 'same': 'hold', 'better': 'promote'})
    """
    if not evidences:
        raise ConfigError("An A/B/n decision needs at least one active variant. Got none.")
    features = {e.feature for e in evidences.values()}
    if len(features) != 1:
        raise ConfigError(f"Every variant's evidence must be of one feature. Got {sorted(features)}.")
    feature = features.pop()
    raws = {v: _raw(e, policy) for v, e in evidences.items()}
    family = [h for v in evidences for h in _hypotheses(v, raws[v])]
    rejected, levels = effective_levels([h.p_value for h in family], policy.alpha)
    by_variant: dict[str, dict[tuple[str, str], float]] = {v: {} for v in evidences}
    for h, level in zip(family, levels, strict=True):
        by_variant[h.variant][h.kind, h.metric] = float(level)
    decisions: dict[str, Decision] = {}
    for v, evidence in evidences.items():
        judged = _rejudged(raws[v], evidence, by_variant[v], policy.alpha, len(family))
        decision = decide(replace(evidence, judged=judged), policy, now)
        decisions[v] = replace(decision, variant=v)
    family_numbers = {
        "alpha": policy.alpha,
        "size": len(family),
        "method": "Holm over every active variant × metric",
        "hypotheses": [
            {"variant": h.variant, "kind": h.kind, "metric": h.metric, "p_value": _round(h.p_value),
             "level": _round(float(level)), "rejected": bool(hit)}
            for h, level, hit in zip(family, levels, rejected, strict=True)
        ],
    }  # fmt: skip
    return _combine(feature, evidences, decisions, family_numbers, now)


def _round(value: float) -> float | None:
    return round(value, 8) if math.isfinite(value) else None


def _combine(
    feature: str,
    evidences: Mapping[str, Evidence],
    decisions: dict[str, Decision],
    family: dict[str, Any],
    now: datetime,
) -> VariantsDecision:
    rolled_back = tuple(v for v, d in decisions.items() if d.action == "rollback")
    disable = len(rolled_back) == len(decisions)
    candidates = [v for v, d in decisions.items() if d.action == "promote"]
    promoted: str | None = None
    if candidates:
        scored = {v: _primary(decisions[v], evidences[v]) for v in candidates}
        metric = scored[candidates[0]][0]
        shown = ", ".join(f"{v} {s:+.4f}" for v, (_, s) in scored.items())
        missing = [v for v, (_, s) in scored.items() if not math.isfinite(s)]
        ranked = sorted(candidates, key=lambda v: -scored[v][1])
        best = ranked[0]
        if missing:
            why = f"no estimate of the primary metric {metric} for {missing}; no variant is promoted"
            for v in candidates:
                decisions[v] = _held(decisions[v], why)
        elif len(ranked) > 1 and scored[best][1] - scored[ranked[1]][1] <= TIE:
            tied = [v for v in ranked if scored[best][1] - scored[v][1] <= TIE]
            why = f"tie for best on the primary metric {metric} between {tied} ({shown}); holding"
            for v in candidates:
                decisions[v] = _held(decisions[v], why)
        else:
            promoted = best
            decisions[best] = replace(
                decisions[best],
                reasons=(*decisions[best].reasons,
                         f"best of the promotable variants on the primary metric {metric} ({shown})"),
            )  # fmt: skip
            for v in ranked[1:]:
                decisions[v] = _held(decisions[v], f"{best} is promoted instead: best on {metric} ({shown})")
    first = next(iter(decisions.values()))
    stage = first.from_stage
    lines = [f"{v}: {d.action} ({'; '.join(d.reasons)})" for v, d in decisions.items()]
    if promoted is not None:
        summary = replace(first, action="promote", to_stage=decisions[promoted].to_stage)
    elif disable:
        summary = replace(first, action="rollback", to_stage=DISABLED)
        lines.insert(0, "every active variant is harmful: the feature is rolled back")
    elif rolled_back:
        summary = replace(first, action="rollback", to_stage=stage)
    elif all(d.action == "none" for d in decisions.values()):
        summary = replace(first, action="none", to_stage=stage)
    else:
        summary = replace(first, action="hold", to_stage=stage)
    numbers = {
        "variants": {v: d.as_dict() for v, d in decisions.items()},
        "family": family,
        "rolled_back": list(rolled_back),
        "promoted": promoted,
        "srm": first.numbers.get("srm"),
        "policy": first.numbers.get("policy"),
    }
    summary = replace(summary, reasons=tuple(lines), numbers=numbers, decided_at=now.isoformat())
    return VariantsDecision(feature, decisions, rolled_back, promoted, disable, summary, family)
