"""The automatic rollout controller: the pure decision.

Once a day the controller looks at the challenger cohort (the units the feature
enables) and the control group, and decides, in this order:

====  ==========================================================  ===========================
 #    condition                                                   action
====  ==========================================================  ===========================
 1    kill switch engaged                                         ``none`` (nothing moves)
 2    rollout completed (its challenger was promoted) or          ``none``
      feature disabled
 3    latest evaluated day is CRITICAL                            ``rollback`` to ``disabled``
 4    significant harm: always-valid p < α, challenger worse on   ``rollback`` to ``disabled``
      win hit rate or score accuracy (one-sided mSPRT)
 4b   with the policy's ``economic_guardrail``: the challenger    ``rollback`` to ``disabled``
      earns significantly less money per unit than control,
      judged in one Holm family with rule 4 (or 4′) at α
 5    sample-ratio mismatch (p < 0.001)                           ``hold`` (or ``rollback`` when
                                                                  ``srm_action="rollback"``)
 6    at 100 %                                                    ``hold`` (fully rolled out)
 7    latest evaluated day is WARNING                             ``hold``
 8    the last ``days_healthy`` evaluated days at this stage are  ``promote`` to the next stage
      all HEALTHY                                                 (10 % → 50 % → 100 %), unless
                                                                  the economic guardrail lacks
                                                                  money data (``hold``)
 9    otherwise (too few healthy days, too few races)             ``hold``
====  ==========================================================  ===========================

A day is *evaluated* when the challenger had at least ``min_races_per_day``
settled races; other days are listed in the numbers and neither count towards
nor break the healthy streak. The sequential test runs on the counts since the
feature was first enabled (``enabled_at``), one look per day, so its error rate
holds over the whole rollout (see ``docs/rollout-statistics.md``).

Everything here is pure: :class:`Evidence` in, :class:`Decision` out. The runner
(:mod:`stagewise.rollout.controller_runner`) reads the monitor and the config
store, applies the decision, notifies and audits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from stagewise._domain import Domain
from stagewise._exceptions import ConfigError
from stagewise.rollout.economic import ECONOMIC, EconomicVerdict, MoneyEvidence
from stagewise.rollout.experiments.sequential import DEFAULT_TAU, SequentialResult
from stagewise.rollout.experiments.srm import SRM_P_THRESHOLD, SrmResult, srm_check
from stagewise.rollout.guardrails.judge import ArmUnits, GuardrailJudgement, judge_guardrails
from stagewise.rollout.guardrails.spec import GuardrailMetric
from stagewise.rollout.guardrails.sums import ArmSums
from stagewise.rollout.harm import DayCounts, PairedDay, aligned, harm_tests
from stagewise.rollout.stages import DISABLED, Stage, next_stage

__all__ = [
    "ControllerPolicy",
    "DayCounts",
    "Decision",
    "Evidence",
    "Judged",
    "PairedDay",
    "decide",
    "harm_tests",
    "min_units_per_day",
]

Action = Literal["promote", "hold", "rollback", "none"]
MAX_DAYS_SHOWN = 31
HEALTHY, WARNING, CRITICAL = "HEALTHY", "WARNING", "CRITICAL"


#: Challenger units a day needs to be evaluated, by health-policy domain: the seed's LOW_RACE_COUNT
#: line for races; one signal for markets, where a 10 % stage of hourly bars brings two or three a day.
MIN_UNITS_PER_DAY: dict[str, int] = {Domain.RACES: 10, Domain.MARKETS: 1}


def min_units_per_day(domain: str) -> int:
    """The default ``min_races_per_day`` for a health policy's domain (10 for a domain not listed).

    Examples
    --------
    >>> min_units_per_day("races"), min_units_per_day("markets")
    (10, 1)
    """
    return MIN_UNITS_PER_DAY.get(domain, MIN_UNITS_PER_DAY[Domain.RACES])


@dataclass(frozen=True)
class ControllerPolicy:
    """The controller's knobs.

    Parameters
    ----------
    days_healthy : int, default 3
        Consecutive HEALTHY evaluated days at the current stage needed to promote.
    min_races_per_day : int, default 10
        Challenger races a day needs to be evaluated (the seed's LOW_RACE_COUNT line).
    alpha : float, default 0.05
        Budget of the sequential harm check: the probability of ever rolling back a
        challenger that is not worse, over all daily looks. Two tests share it
        (win hit rate and score accuracy, α/2 each: Bonferroni).
    tau_hit, tau_score : float
        mSPRT mixing standard deviations for the win hit rate and score accuracy.
    srm_threshold : float, default 0.001
        SRM p-value below which the rollout stops.
    srm_action : {"hold", "rollback"}, default "hold"
        What a sample-ratio mismatch does.

    Examples
    --------
    >>> ControllerPolicy(days_healthy=5).days_healthy
    5
    """

    days_healthy: int = 3
    min_races_per_day: int = 10
    alpha: float = 0.05
    tau_hit: float = DEFAULT_TAU
    tau_score: float = 0.02
    srm_threshold: float = SRM_P_THRESHOLD
    srm_action: Literal["hold", "rollback"] = "hold"

    def __post_init__(self) -> None:
        for name in ("days_healthy", "min_races_per_day"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"The controller's '{name}' must be an int >= 1. Got {value!r}.")
        if not 0.0 < self.alpha < 1.0:
            raise ConfigError(f"The controller's 'alpha' must be in (0, 1). Got {self.alpha!r}.")
        if self.srm_action not in ("hold", "rollback"):
            raise ConfigError(f"'srm_action' must be 'hold' or 'rollback'. Got {self.srm_action!r}.")


@dataclass(frozen=True)
class Judged:
    """Harm verdicts reached outside :func:`decide`, over a family larger than one challenger.

    An A/B/n run (:mod:`stagewise.rollout.abn`) tests every variant against control and holds the
    family of all variants' p-values to ``alpha`` together (Holm); each variant's :class:`Evidence`
    then carries its share of that verdict here, and :func:`decide` uses it instead of testing the
    variant on its own. ``tests``: the built-in harm tests (their ``alpha`` the level each was held
    to); ``declared``: the declared guardrails' judgement; ``economic``: the money guardrail's.
    """

    tests: Mapping[str, SequentialResult] | None = None
    declared: GuardrailJudgement | None = None
    economic: EconomicVerdict | None = None


@dataclass(frozen=True)
class Evidence:
    """Everything the decision looks at, gathered by the runner.

    ``challenger`` and ``control`` hold one :class:`DayCounts` per day since
    ``enabled_at`` (oldest first, days without races left out); ``health`` maps
    each challenger day to its verdict (HEALTHY / WARNING / CRITICAL / anything
    else means "no verdict"). ``stage_since`` is the first day at the current
    stage. ``expected_shares`` (group → share) enables the SRM check over
    ``group_counts``; leave it None in shadow mode, where every race has both.
    ``paired`` (shadow mode: both models scored the same races) switches the
    harm test to the paired mSPRT, which needs far fewer races. ``groups`` names the
    compared groups (ledger variants or model versions) for the record. ``pending_days`` are
    days left out because some of their results are not in yet; ``health_windows`` the
    days and units each day's verdict pooled. ``unit`` and
    ``metric_labels`` only change the wording of the reasons (markets: ``"signals"``,
    ``hit_rate_1st`` read as direction accuracy). ``completed`` says which promotion finished
    the rollout (``FeatureRollout.is_completed``), None while it runs. ``money`` (set when the
    health policy has an ``economic_guardrail``) holds both groups' money per unit by day.
    ``guardrails`` are the health policy's declared metrics and ``units`` each group's settled units
    since ``enabled_at`` (control, challenger), or their per-day sums, to judge them on
    (:func:`~stagewise.rollout.guardrails.judge_guardrails`).
    """

    feature: str
    stage: Stage
    killed: bool
    challenger: Sequence[DayCounts]
    control: Sequence[DayCounts]
    health: Mapping[date, str]
    stage_since: date | None = None
    group_counts: Mapping[str, int] = field(default_factory=dict)
    expected_shares: Mapping[str, float] | None = None
    health_reasons: Mapping[date, Sequence[str]] = field(default_factory=dict)
    paired: Sequence[PairedDay] | None = None
    groups: Mapping[str, str] = field(default_factory=dict)
    pending_days: Sequence[date] = ()
    health_windows: Mapping[date, Mapping[str, int]] = field(default_factory=dict)
    unit: str = "races"
    metric_labels: Mapping[str, str] = field(default_factory=dict)
    completed: str | None = None
    money: MoneyEvidence | None = None
    guardrails: Sequence[GuardrailMetric] = ()
    units: tuple[ArmUnits | ArmSums, ArmUnits | ArmSums] | None = None
    judged: Judged | None = None


@dataclass(frozen=True)
class Decision:
    """What the controller decided and why.

    ``numbers`` is plain JSON (it goes into the audit log): per-day counts and
    verdicts, cumulative rates, the sequential p-values and the SRM result.
    ``applied`` is True once a runner has written the decision (never in dry-run). ``variant``
    names the A/B/n variant the decision is about (None for a feature without a split).
    """

    feature: str
    action: Action
    from_stage: str
    to_stage: str
    reasons: tuple[str, ...]
    numbers: dict[str, Any]
    decided_at: str
    dry_run: bool = False
    applied: bool = False
    variant: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain-JSON view (``variant`` only when the decision is about one)."""
        out: dict[str, Any] = {} if self.variant is None else {"variant": self.variant}
        return out | {
            "feature": self.feature,
            "action": self.action,
            "from_stage": self.from_stage,
            "to_stage": self.to_stage,
            "reasons": list(self.reasons),
            "numbers": self.numbers,
            "decided_at": self.decided_at,
            "dry_run": self.dry_run,
            "applied": self.applied,
        }


def _round(value: float, digits: int = 4) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def _day_numbers(day: DayCounts, verdict: str | None, evaluated: bool, at_stage: bool) -> dict[str, Any]:
    return {
        "date": day.day.isoformat(),
        "races": day.races,
        "hit_rate_1st": _round(day.hit_rate_1st),
        "hit_rate_top3": _round(day.hit_rate_top3),
        "avg_score_accuracy": _round(day.avg_score_accuracy),
        "health": verdict,
        "at_stage": at_stage,
        "evaluated": evaluated,
    }


def decide(evidence: Evidence, policy: ControllerPolicy, now: datetime) -> Decision:
    """The controller's decision for one feature (pure; see the module docstring for the table).

    Examples
    --------
    >>> from datetime import date, datetime, timezone
    >>> days = [DayCounts(date(2026, 11, d), races=40, hits_1st=10) for d in (1, 2, 3)]
    >>> from stagewise.rollout.stages import parse_stage
    >>> ev = Evidence("calib", parse_stage("10%"), False, days, days,
    ...               {d.day: "HEALTHY" for d in days}, stage_since=date(2026, 11, 1))
    >>> d = decide(ev, ControllerPolicy(), datetime(2026, 11, 4, 6, tzinfo=timezone.utc))
    >>> d.action, d.from_stage, d.to_stage
    ('promote', '10%', '50%')
    """
    stage = evidence.stage.name
    at = now.isoformat()

    def result(action: Action, to: str, reasons: list[str], numbers: dict[str, Any]) -> Decision:
        return Decision(evidence.feature, action, stage, to, tuple(reasons), numbers, at)

    if evidence.killed:
        return result("none", stage, ["kill switch is engaged; the controller changes nothing"], {})
    if evidence.completed is not None:
        why = f"rollout completed: {evidence.completed}; a new challenger needs a new stage"
        return result("none", stage, [why], {})
    if evidence.stage.is_disabled:
        return result("none", stage, ["feature is disabled; only a person starts a rollout"], {})

    since = evidence.stage_since
    evaluated: list[DayCounts] = []
    day_rows: list[dict[str, Any]] = []
    for day in sorted(evidence.challenger, key=lambda d: d.day):
        at_stage = since is None or day.day >= since
        ok = at_stage and day.races >= policy.min_races_per_day
        if ok:
            evaluated.append(day)
        day_rows.append(_day_numbers(day, evidence.health.get(day.day), ok, at_stage))
        window = evidence.health_windows.get(day.day)
        if window is not None:
            day_rows[-1]["health_window"] = dict(window)
    # The audit keeps the last month of days; the cumulative figures cover the rest.
    numbers: dict[str, Any] = {"days": day_rows[-MAX_DAYS_SHOWN:], "policy": _policy_numbers(policy)}
    numbers["days_total"] = len(day_rows)
    numbers["groups"] = dict(evidence.groups)
    numbers["stage_since"] = since.isoformat() if since else None
    numbers["pending_days"] = [d.isoformat() for d in evidence.pending_days]

    judged = evidence.judged  # A/B/n: the family of every variant was judged outside (money in it)
    money = evidence.money if judged is None else None  # judged as one more member of the family (rule 4b)
    p_money = None if money is None else {ECONOMIC: money.family_p_value(policy.alpha)}
    declared = _judge_declared(evidence, policy, p_money) if judged is None else judged.declared
    tests = judged.tests if judged is not None else None if declared is not None else harm_tests(
        evidence.challenger, evidence.control, evidence.paired,
        alpha=policy.alpha / 2, tau_hit=policy.tau_hit, tau_score=policy.tau_score,
    )  # fmt: skip
    numbers["design"] = "paired (shadow mode)" if evidence.paired else "two groups"
    if tests is not None:
        numbers["sequential"] = {k: v.as_dict() for k, v in tests.items()}
    economic: EconomicVerdict | None = None if judged is None else judged.economic
    if economic is not None:
        numbers["economic"] = {"status": economic.status, "reason": economic.reason, **economic.numbers}
    holm: Mapping[str, tuple[bool, float]] = {}  # the built-in tests' verdicts in a family with money
    if money is not None:
        built_in = {k: t.p_value for k, t in (tests or {}).items()}
        others = declared.family_p if declared is not None else built_in
        economic, family = money.judge(evidence.unit, alpha=policy.alpha, others=others)
        numbers["economic"] = {"status": economic.status, "reason": economic.reason, **economic.numbers}
        if declared is None:
            holm = family.others
            for name, (rejected, level) in holm.items():
                numbers["sequential"][name].update(rejected=rejected, alpha=level, family=family.family_size)
    if declared is not None:
        numbers["guardrails"] = _guardrail_numbers(declared)
    if tests is not None or (declared is not None and any(d.races for d in evidence.control)):
        chall, ctrl = aligned(evidence.challenger, evidence.control)
        numbers["cumulative"] = _cumulative_numbers(chall, ctrl)
    srm: SrmResult | None = None
    if evidence.expected_shares is not None and evidence.group_counts:
        srm = srm_check(evidence.group_counts, evidence.expected_shares, policy.srm_threshold)
        numbers["srm"] = srm.as_dict()

    latest = evaluated[-1] if evaluated else None
    latest_verdict = evidence.health.get(latest.day) if latest else None
    if latest is not None and latest_verdict == CRITICAL:
        why = "; ".join(evidence.health_reasons.get(latest.day, ())) or "health check failed"
        return result("rollback", DISABLED, [f"{latest.day.isoformat()} is CRITICAL ({why})"], numbers)
    if declared is not None and declared.action == "rollback":
        reasons = [f"guardrails: {r}" for r in declared.reasons]
        if economic is not None and economic.status == "rejected":
            reasons.append(economic.reason)
        return result("rollback", DISABLED, reasons, numbers)
    if tests is not None:
        harmed = [name for name, t in tests.items() if (holm[name][0] if holm else t.rejected)]
        if harmed:
            reasons = [
                f"significant harm on {evidence.metric_labels.get(name, name)}: "
                f"challenger − control = {tests[name].estimates[-1]:+.4f}, "
                f"always-valid p = {tests[name].p_value:.4g} "
                + (
                    f"≤ Holm level {holm[name][1]:.3g}"
                    if holm
                    else f"< Holm level {tests[name].alpha:.3g}"
                    if judged is not None
                    else f"< α/2 = {policy.alpha / 2:g}"
                )
                for name in harmed
            ]
            if economic is not None and economic.status == "rejected":
                reasons.append(economic.reason)
            return result("rollback", DISABLED, reasons, numbers)
    if economic is not None and economic.status == "rejected":
        return result("rollback", DISABLED, [economic.reason], numbers)
    if srm is not None and srm.verdict == "hold":
        reason = (
            f"sample-ratio mismatch: counts {srm.counts} vs expected shares "
            f"{ {k: round(v, 4) for k, v in (evidence.expected_shares or {}).items()} }, "
            f"p = {srm.p_value:.3g} "
            f"< {srm.threshold}; the comparison cannot be trusted until the assignment is fixed"
        )
        if policy.srm_action == "rollback":
            return result("rollback", DISABLED, [reason], numbers)
        return result("hold", stage, [reason], numbers)
    if declared is not None and declared.action == "hold":
        return result("hold", stage, [f"guardrails: {r}" for r in declared.reasons], numbers)
    target = next_stage(evidence.stage)
    if target is None:
        return result("hold", stage, ["fully rolled out (100%); nothing to promote"], numbers)
    if latest is not None and latest_verdict == WARNING:
        why = "; ".join(evidence.health_reasons.get(latest.day, ())) or "warning thresholds"
        return result(
            "hold", stage, [f"{latest.day.isoformat()} is WARNING ({why}); keep monitoring"], numbers
        )

    streak = 0
    for day in reversed(evaluated):
        if evidence.health.get(day.day) != HEALTHY:
            break
        streak += 1
    numbers["healthy_streak"] = streak
    skipped = [r["date"] for r in day_rows if r["at_stage"] and not r["evaluated"]][-10:]
    if streak >= policy.days_healthy and economic is not None and economic.status == "insufficient":
        return result(
            "hold", stage, [f"HEALTHY for {streak} days at {stage}, but {economic.reason}"], numbers
        )
    if streak >= policy.days_healthy:
        reasons = [
            f"HEALTHY for {streak} consecutive days at {stage} "
            f"(>= {policy.days_healthy}, each with >= {policy.min_races_per_day} {evidence.unit}); "
            "no significant harm"
        ]
        return result("promote", target.name, reasons, numbers)
    reasons = [f"{streak} of {policy.days_healthy} HEALTHY days at {stage}; waiting"]
    if latest is not None and latest_verdict not in (HEALTHY, WARNING, CRITICAL):
        reasons.append(f"{latest.day.isoformat()} has no health verdict ({latest_verdict})")
    if skipped:
        reasons.append(
            f"days at this stage with fewer than {policy.min_races_per_day} {evidence.unit}, not evaluated: "
            f"{', '.join(skipped)}"
        )
    return result("hold", stage, reasons, numbers)


def _judge_declared(
    evidence: Evidence, policy: ControllerPolicy, others: Mapping[str, float] | None = None
) -> GuardrailJudgement | None:
    """The declared guardrails' judgement at the controller's α, in one Holm family with ``others`` (the
    economic guardrail); None without any (or in shadow mode, where the paired built-in tests judge
    the same races)."""
    if not evidence.guardrails or evidence.paired:
        return None
    empty = ArmUnits([], {})
    control, challenger = evidence.units or (empty, empty)
    return judge_guardrails(control, challenger, evidence.guardrails, alpha=policy.alpha, others=others)


def _guardrail_numbers(judgement: GuardrailJudgement) -> dict[str, Any]:
    return {
        "action": judgement.action,
        "alpha": judgement.alpha,
        "family_size": judgement.family_size,
        "records": judgement.as_rows(),
    }


def _policy_numbers(policy: ControllerPolicy) -> dict[str, Any]:
    return {
        "days_healthy": policy.days_healthy,
        "min_races_per_day": policy.min_races_per_day,
        "alpha": policy.alpha,
        "tau_hit": policy.tau_hit,
        "tau_score": policy.tau_score,
        "srm_threshold": policy.srm_threshold,
        "srm_action": policy.srm_action,
    }


def _cumulative_numbers(chall: Sequence[DayCounts], ctrl: Sequence[DayCounts]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, days in (("challenger", chall), ("control", ctrl)):
        races = sum(d.races for d in days)
        hits = sum(d.hits_1st for d in days)
        n = sum(d.score_n for d in days)
        out[name] = {
            "races": races,
            "hit_rate_1st": _round(hits / races if races else math.nan),
            "avg_score_accuracy": _round(sum(d.score_sum for d in days) / n if n else math.nan),
        }
    return out
