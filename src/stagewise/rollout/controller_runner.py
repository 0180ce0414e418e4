"""The controller's thin runner: read the ledger and the rollout store, decide, apply, notify, audit.

:func:`run_controller` is what ``stagewise rollout auto FEATURE`` calls once a day:

1. read the feature (stage, ``enabled_at``, kill switch) from :class:`~stagewise.rollout.GradualRollout`
   and the day its current stage began from the audit log;
2. read per-race outcomes of the challenger cohort and the control group from the ledger (an
   :class:`~stagewise.rollout.outcomes.OutcomeSource` such as the
   :class:`~stagewise.monitor.PerformanceMonitor`: ``race_outcomes``, filtered by ``variant``)
   for every complete day since ``enabled_at``, and sum them per day; with the
   markets health policy (``GradualRollout(health_policy="markets")``) the per-signal
   ``market_outcomes`` instead (direction hits, probability score, bars that went up);
3. grade each day with the rollout's health policy over a trailing window of
   ``health_window_days`` days at the current stage (one day at 10 % is about 14 races,
   too few for the seed's table), widened a day at a time up to ``max_health_window_days``
   (28) until it holds the policy's minimum sample (a week at 10 % of 138 races a day holds
   about 97, under the table's 100);
4. :func:`~stagewise.rollout.controller.decide`;
5. unless ``dry_run``: re-read the feature, and if nobody changed it meanwhile, move the
   stage (``update_rollout_stage``) or record the hold (``record_audit``), always with the
   decision and its numbers in the audit entry; after a rollback or a sample-ratio
   mismatch, tell every notifier (a failing notifier is reported, never blocks the rollback).

What is asked comes as one :class:`~stagewise.rollout.controller_query.ControllerQuery`; a feature
name with keyword arguments (``run_controller(rollout, monitor, "calib", now=...)``) still works.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from stagewise._domain import Domain
from stagewise._exceptions import ConfigError
from stagewise.rollout.cohorts import (
    DAY_COUNT_COLUMNS,
    daily_counts,
    market_daily_counts,
    market_health_metrics,
    paired_days,
    summed_daily_counts,
)
from stagewise.rollout.config import RETIRED_KEY, FeatureRollout
from stagewise.rollout.controller import ControllerPolicy, Decision, Evidence, decide, min_units_per_day
from stagewise.rollout.controller_days import (
    CompleteDays,
    first_unserved_day,
    pooled_race_metrics,
    stage_first_day,
    stage_start,
    unit_domain,
    windowed_health,
)
from stagewise.rollout.controller_query import (
    MAX_HEALTH_WINDOW_DAYS,
    ControllerOptions,
    ControllerQuery,
    as_query,
)
from stagewise.rollout.controller_variants import FeatureLedger, routed_ledger
from stagewise.rollout.economic import MoneyEvidence, money_days, summed_money_days
from stagewise.rollout.experiments.variants import VariantSplit
from stagewise.rollout.gradual import ENABLED_VARIANT, GradualRollout
from stagewise.rollout.guardrails.frames import arm_units
from stagewise.rollout.guardrails.sums import ArmSums, arm_sums, sum_request
from stagewise.rollout.harm import DayCounts, PairedDay
from stagewise.rollout.outcomes import OutcomeSource, OutcomeSums

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from stagewise.notify import AlertMessage, Notifier

__all__ = [
    "MAX_HEALTH_WINDOW_DAYS",
    "MAX_LOOKBACK_DAYS",
    "ControllerQuery",
    "daily_counts",
    "first_unserved_day",
    "gather_evidence",
    "paired_days",
    "run_controller",
    "split_first_day",
    "stage_first_day",
    "stage_start",
    "variant_split",
]

MAX_LOOKBACK_DAYS = 365
"""The runner reads at most this many days back from ``through``, however old ``enabled_at`` is."""

ON = ENABLED_VARIANT
"""Ledger variant of the enabled races when the feature has no A/B/n split (``GradualRollout.variant``;
the prediction server logs its challenger's answers under it too)."""
MARKETS = Domain.MARKETS
"""The health policy domain whose cohorts are read from the ledger's market signals."""
MARKET_LABELS = {"hit_rate_1st": "direction accuracy", "avg_score_accuracy": "probability score (1 − Brier)"}


def _split(
    state: FeatureRollout, variants: Mapping[str, float] | None, challenger: str | None, control: str
) -> tuple[VariantSplit, str]:
    """The feature's variant split at its bucket resolution, and the challenger group's name.

    Without a split the enabled races form one cohort named ``"on"``, as
    :meth:`GradualRollout.variant` labels them. Variants rolled back out of the split
    (``"retired_variants"``) are not judged; their races are control's.
    """
    split = variant_split(state, variants, challenger, control)
    if challenger is not None and challenger in split.retired:
        raise ConfigError(
            f"The challenger variant {challenger!r} of {state.name!r} was rolled back (retired_variants); "
            f"accepted: an active variant {list(split.names)}."
        )
    if challenger is None:
        if len(split.names) != 1:
            raise ConfigError(
                f"The feature {state.name!r} has the variants {list(split.names)}; name the one to judge "
                "with challenger_variant (--challenger-variant)."
            )
        challenger = split.names[0]
    if challenger not in split.names:
        raise ConfigError(
            f"The challenger variant {challenger!r} is not one of the feature's variants {list(split.names)}."
        )
    return split, challenger


def variant_split(
    state: FeatureRollout, variants: Mapping[str, float] | None, challenger: str | None, control: str
) -> VariantSplit:
    """The feature's :class:`VariantSplit` (``variants`` overrides the config's), retired variants marked.

    A split every variant of which was rolled back has nothing left to judge: refused with the
    field, the value and what is accepted.
    """
    weights = variants if variants is not None else state.extra.get("variants")
    if weights is None:
        weights = {challenger or ON: 1.0}
    buckets = state.buckets
    retired = [name for name in state.extra.get(RETIRED_KEY, ()) if name in weights]
    split = VariantSplit(weights, control=control, buckets=buckets, retired=retired)
    if not split.names:
        raise ConfigError(
            f"The feature {state.name!r} has no active variant: every variant of its split "
            f"{list(split.slots)} was rolled back (retired_variants); accepted: a split with at least one "
            "active variant (set_variants) or a disabled feature."
        )
    return split


def split_first_day(audit: Sequence[Mapping[str, Any]], feature: str) -> date | None:
    """The first day served wholly under the feature's current A/B/n split (None: since the stage began).

    A split changed by the controller records ``details["effective_from"]``; one changed by hand
    counts from the day it was changed.
    """
    for entry in reversed(audit):
        if entry.get("feature") != feature or entry.get("action") not in ("set_variants", "retire_variants"):
            continue
        details = entry.get("details")
        effective = details.get("effective_from") if isinstance(details, Mapping) else None
        if isinstance(effective, str):
            return date.fromisoformat(effective)
        at = entry.get("at")
        return date.fromisoformat(at[:10]) if isinstance(at, str) and len(at) >= 10 else None
    return None


def gather_evidence(
    rollout: GradualRollout,
    outcomes: OutcomeSource,
    query: ControllerQuery | str,
    **options: Unpack[ControllerOptions],
) -> Evidence:
    """Read everything :func:`~stagewise.rollout.controller.decide` needs (no writes).

    ``outcomes`` is the ledger: a :class:`~stagewise.monitor.PerformanceMonitor`, a
    :class:`~stagewise.rollout.outcomes.MemoryOutcomes` or any
    :class:`~stagewise.rollout.outcomes.OutcomeSource`. ``query`` says what is asked (a
    :class:`~stagewise.rollout.controller_query.ControllerQuery`, or the feature name with the
    query's fields as keyword arguments). ``through`` is the last day to
    read (default: the day before ``now``, in ``now``'s time zone). Only complete days are
    judged: a day with a prediction still pending (its result not logged yet) is left out
    of the health window, the harm test and the sample-ratio check until it is settled, and
    listed in ``Evidence.pending_days``. The current stage counts from the first day served
    wholly at it (:func:`stage_first_day`).

    Each day at the stage is graded over the last ``health_window_days`` days at the stage;
    a window holding fewer units than the health policy's ``min_sample`` is widened a day at
    a time, up to ``max_health_window_days`` (default :data:`MAX_HEALTH_WINDOW_DAYS`, or
    ``health_window_days`` if larger), so a small stage still gets a verdict once it has
    enough races instead of never. ``Evidence.health_windows`` records each window.

    ``shadow=(champion_version, challenger_version)`` reads shadow mode instead: both
    model versions scored every race, the groups are the two model versions (not
    variants), the harm test is paired on the races both scored, and there is no
    sample-ratio check (every race is in both groups).

    ``variants`` (name → weight; default: the feature's ``"variants"`` key in the rollout
    config, else ``{challenger_variant: 1.0}``) describes an A/B/n split of the enabled
    buckets (:class:`~stagewise.rollout.experiments.VariantSplit`); the sample-ratio check
    then covers control and every variant, against their exact bucket shares.

    With the markets health policy (``rollout.health_policy.domain == "markets"``)
    the cohorts are read with ``market_outcomes`` and are signals (shadow mode is for races).
    """
    query = as_query(query, **options)
    feature, now, shadow = query.feature, query.now, query.shadow
    control_variant = query.control_variant
    # only the rows this feature routed: two rollouts running at once never mix
    routed = outcomes if isinstance(outcomes, FeatureLedger) else routed_ledger(outcomes, feature)
    ledger = CompleteDays(routed)
    markets = rollout.health_policy.domain == MARKETS
    if markets and shadow is not None:
        raise ConfigError(
            "Shadow mode ('shadow') pairs races both models scored; it is not available with the "
            "markets health policy. Judge market signals by their rollout variants (leave shadow unset)."
        )
    read = ledger.market_outcomes if markets else ledger.race_outcomes
    counts = market_daily_counts if markets else daily_counts
    day_column = "signal_date" if markets else "race_date"
    rollout.refresh(force=True)
    state = rollout.feature(feature)
    last_day = query.through if query.through is not None else now.date() - timedelta(days=1)
    audit = rollout.audit_log()
    since = stage_first_day(audit, feature, state.stage.name)
    enabled = date.fromisoformat(state.enabled_at[:10]) if state.enabled_at else None
    since = since or enabled
    # the sample-ratio check counts the days served under the current split only
    split_since = split_first_day(audit, feature)
    srm_since = max(since, split_since) if since and split_since else since or split_since
    first = enabled or since
    split, challenger_variant = _split(state, query.variants, query.challenger_variant, control_variant)
    challenger: list[DayCounts] = []
    control: list[DayCounts] = []
    group_counts: dict[str, int] = {}
    paired: list[PairedDay] | None = None
    chall_rows = ctrl_rows = pd.DataFrame()
    declared = rollout.health_policy.guardrails
    guardrail = rollout.health_policy.economic_guardrail
    # the database sums what the built-ins need; user functions (and shadow pairs, signals) need rows
    request = sum_request(declared) if not markets and shadow is None else None
    summed: tuple[ArmSums, ArmSums] | None = None
    if not state.stage.is_disabled and state.killed is None and first is not None and first <= last_day:
        start = max(first, last_day - timedelta(days=MAX_LOOKBACK_DAYS - 1))
        if shadow is not None:
            ctrl_rows = ledger.race_outcomes(start, last_day, model_version=shadow[0])
            chall_rows = ledger.race_outcomes(start, last_day, model_version=shadow[1])
            paired = paired_days(ctrl_rows, chall_rows)
        elif request is not None and isinstance(routed, OutcomeSums):
            money_column = ("bet_profit",) if guardrail is not None else ()
            values, pairs = (*DAY_COUNT_COLUMNS, *request[0], *money_column), request[1]
            sums = {
                name: ledger.race_sums(start, last_day, values, pairs, variant=name)
                for name in dict.fromkeys([challenger_variant, control_variant, *split.names])
            }
            for name, frame in sums.items():
                on_stage = frame["race_date"] >= pd.Timestamp(srm_since or date.min)
                group_counts[name] = int(frame.loc[on_stage, "units"].sum())
            challenger = summed_daily_counts(sums[challenger_variant])
            control = summed_daily_counts(sums[control_variant])
            summed = (arm_sums(sums[control_variant]), arm_sums(sums[challenger_variant]))
        else:
            chall_rows = read(start, last_day, variant=challenger_variant)
            ctrl_rows = read(start, last_day, variant=control_variant)
            frames = {challenger_variant: chall_rows, control_variant: ctrl_rows}
            for name in split.names:
                if name not in frames:
                    frames[name] = read(start, last_day, variant=name)
            for name, rows in frames.items():
                at_stage = pd.to_datetime(rows[day_column]) >= pd.Timestamp(srm_since) if srm_since else None
                group_counts[name] = len(rows) if at_stage is None else int(at_stage.sum())
        if summed is None:
            challenger, control = counts(chall_rows), counts(ctrl_rows)
    health, reasons, windows = windowed_health(
        rollout, feature, challenger, since, query.health_window_days, now,
        market_health_metrics if markets else pooled_race_metrics, max_window=query.max_window,
    )  # fmt: skip
    expected = None
    if group_counts and 0 < state.threshold < split.buckets:
        buckets = split.bucket_counts(state.threshold)
        expected = {name: count / split.buckets for name, count in buckets.items()}
    money = None
    if guardrail is not None:
        value = "net_return" if markets else "bet_profit"
        if summed is not None:
            days = (summed_money_days(summed[0], value), summed_money_days(summed[1], value))
        else:
            days = (money_days(ctrl_rows, day_column, value), money_days(chall_rows, day_column, value))
        money = MoneyEvidence(guardrail, *days, metric="net_return" if markets else "roi")
    units = summed or (arm_units(ctrl_rows, day_column), arm_units(chall_rows, day_column))
    return Evidence(
        money=money,
        guardrails=tuple(declared),
        units=units if declared else None,
        feature=feature,
        stage=state.stage,
        killed=state.killed is not None,
        completed=_completed(state),
        challenger=challenger,
        control=control,
        health=health,
        stage_since=since,
        group_counts=group_counts,
        expected_shares=expected,
        health_reasons=reasons,
        paired=paired,
        groups=(
            {"champion_version": shadow[0], "challenger_version": shadow[1]}
            if shadow is not None
            else {"challenger": challenger_variant, "control": control_variant}
        ),
        pending_days=tuple(sorted(ledger.pending_days)),
        health_windows=windows,
        unit="signals" if markets else "races",
        metric_labels=MARKET_LABELS if markets else {},
    )


def _alert(decision: Decision, now: datetime) -> AlertMessage:
    """The decision as an :class:`~stagewise.notify.AlertMessage`."""
    from stagewise.notify import AlertMessage

    numbers = decision.numbers
    cumulative = numbers.get("cumulative") or {}
    sequential = numbers.get("sequential") or {}
    fields: dict[str, str | int | float | bool | None] = {
        "feature": decision.feature,
        "action": decision.action,
        "from_stage": decision.from_stage,
        "to_stage": decision.to_stage,
        "challenger_hit_rate_1st": (cumulative.get("challenger") or {}).get("hit_rate_1st"),
        "control_hit_rate_1st": (cumulative.get("control") or {}).get("hit_rate_1st"),
        "harm_p_value_hit_rate_1st": (sequential.get("hit_rate_1st") or {}).get("p_value"),
        "harm_p_value_score_accuracy": (sequential.get("avg_score_accuracy") or {}).get("p_value"),
        "srm_p_value": (numbers.get("srm") or {}).get("p_value"),
    }
    economic = numbers.get("economic")
    if economic:  # the economic guardrail ran: its verdict and each group's money per unit
        fields["economic_guardrail"] = economic["status"]
        fields["economic_p_value"] = economic["test"]["p_value"]
        for group in ("challenger", "control"):
            fields[f"{group}_money_per_unit"] = economic["mean_per_unit"][group]
    guardrails = numbers.get("guardrails")
    if guardrails:  # declared guardrails decided: the family's verdict and each active metric's
        fields["guardrails"] = guardrails["action"]
        for record in guardrails["records"]:
            if not record["dry_run"]:
                fields[f"guardrail_{record['name']}"] = record["verdict"]
                fields[f"guardrail_{record['name']}_p_value"] = record["p_value"]
    if decision.action == "rollback":
        title = f"Rollout of {decision.feature} rolled back: {decision.from_stage} -> {decision.to_stage}"
    else:
        title = f"Rollout of {decision.feature} held at {decision.from_stage}"
    return AlertMessage(
        title=title,
        text="\n".join(decision.reasons),
        severity="critical" if decision.action == "rollback" else "warning",
        fields=fields,
        fingerprint=f"rollout:{decision.feature}:{decision.action}",
        occurred_at=now if now.tzinfo is not None else None,
    )


def _notify(notifiers: Sequence[Notifier], decision: Decision, now: datetime) -> list[dict[str, Any]]:
    """Send through every notifier (``notify_all`` never raises); one outcome per channel."""
    from stagewise.notify import notify_all

    results = notify_all(notifiers, _alert(decision, now))
    return [{"channel": r.channel, "target": r.target, "ok": r.ok, "error": r.error} for r in results]


def _completed(state: FeatureRollout) -> str | None:
    if not state.is_completed or state.completed is None:
        return None
    mark = state.completed
    return f"version {mark.get('version')} was promoted on {str(mark.get('at'))[:10]}"


def run_controller(
    rollout: GradualRollout,
    outcomes: OutcomeSource,
    query: ControllerQuery | str,
    *,
    notifiers: Sequence[Notifier] = (),
    **options: Unpack[ControllerOptions],
) -> Decision:
    """Decide for the query's feature and, unless ``dry_run``, apply, notify and audit the decision.

    ``query`` is a :class:`~stagewise.rollout.controller_query.ControllerQuery`, or the feature
    name with the query's fields as keyword arguments (``now=`` at least); ``outcomes`` is the
    ledger (see :func:`gather_evidence`). ``shadow=(champion_version, challenger_version)``
    compares two model versions that both scored every race. Returns the
    :class:`~stagewise.rollout.controller.Decision`; its ``numbers`` gain
    ``notifications`` (one entry per notifier) when notifiers were called.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> from stagewise.rollout import GradualRollout, MemoryRolloutStore
    >>> from stagewise.rollout.outcomes import MemoryOutcomes
    >>> rollout = GradualRollout(store=MemoryRolloutStore(), actor="docs")
    >>> _ = rollout.add_feature("calib", stage="10%", salt="calib:demo")
    >>> query = ControllerQuery("calib", now=datetime.now(UTC), dry_run=True)
    >>> d = run_controller(rollout, MemoryOutcomes(), query)
    >>> d.action, d.dry_run
    ('hold', True)
    """
    query = as_query(query, **options)
    feature, now, actor = query.feature, query.now, query.actor
    policy = query.policy or ControllerPolicy(
        min_races_per_day=min_units_per_day(rollout.health_policy.domain)
    )
    if query.shadow is None and query.challenger_variant is None:
        rollout.refresh(force=True)
        state = rollout.feature(feature)
        names = variant_split(state, query.variants, None, query.control_variant).names
        if len(names) > 1:
            return _run_variants(rollout, outcomes, query, policy, names, notifiers)
    evidence = gather_evidence(rollout, outcomes, query)
    decision = decide(evidence, policy, now)
    if evidence.groups.get("challenger") not in (None, ON):
        decision = _with(decision, variant=evidence.groups["challenger"])
    numbers = dict(decision.numbers)
    numbers["health_window_days"] = query.health_window_days
    numbers["max_health_window_days"] = query.max_window
    decision = _with(decision, numbers=numbers, dry_run=query.dry_run)
    if query.dry_run:
        return decision

    rollout.refresh(force=True)
    current = rollout.feature(feature)
    if current.stage.name != decision.from_stage or (current.killed is not None) != evidence.killed:
        reason = (
            f"the feature changed while deciding (now {current.stage.name!r}, "
            f"killed={current.killed is not None}); nothing applied, run again"
        )
        return _with(decision, action="none", to_stage=current.stage.name, reasons=(reason,))
    extra: dict[str, Any] = {}
    if decision.action == "promote":
        # units already served today ran at the old stage: the new one starts on the first day without any
        # of the rollout's own domain (a markets rollout's signals, never the ledger's races)
        ledger = routed_ledger(outcomes, feature)
        extra["effective_from"] = first_unserved_day(ledger, now.date(), unit_domain(rollout)).isoformat()
        decision = _with(
            decision, numbers={**decision.numbers, "stage_effective_from": extra["effective_from"]}
        )
    details = {"controller": {k: v for k, v in decision.as_dict().items() if k != "applied"}, **extra}
    reason = f"controller {decision.action}: " + "; ".join(decision.reasons)
    if decision.action in ("promote", "rollback"):
        rollout.update_rollout_stage(feature, decision.to_stage, reason=reason, actor=actor, details=details)
    else:
        rollout.record_audit(
            feature, f"controller_{decision.action}", reason=reason, actor=actor, details=details
        )
    decision = _with(decision, applied=True)
    srm_hold = (decision.numbers.get("srm") or {}).get("verdict") == "hold"
    if notifiers and (decision.action == "rollback" or srm_hold):
        sent = _notify(notifiers, decision, now)
        decision = _with(decision, numbers={**decision.numbers, "notifications": sent})
        failed = [o for o in sent if not o["ok"]]
        if failed:
            rollout.record_audit(
                feature, "controller_notification_failed", reason="notifier(s) failed", actor=actor,
                details={"notifications": failed},
            )  # fmt: skip
    return decision


def _run_variants(
    rollout: GradualRollout,
    outcomes: OutcomeSource,
    query: ControllerQuery,
    policy: ControllerPolicy,
    names: Sequence[str],
    notifiers: Sequence[Notifier],
) -> Decision:
    """A/B/n: every active variant against control, one Holm family; see :mod:`~stagewise.rollout.abn`."""
    from dataclasses import replace

    from stagewise.rollout.abn import decide_variants
    from stagewise.rollout.controller_variants import apply_variants

    state = rollout.feature(query.feature)
    split = {
        "stage": state.stage.name, "killed": state.killed is not None,
        "variants": state.extra.get("variants"), RETIRED_KEY: list(state.extra.get(RETIRED_KEY, ())),
    }  # fmt: skip
    ledger = routed_ledger(outcomes, query.feature)
    evidences = {
        name: gather_evidence(rollout, ledger, replace(query, challenger_variant=name)) for name in names
    }
    decided = decide_variants(evidences, policy, query.now)
    extra = {"health_window_days": query.health_window_days, "max_health_window_days": query.max_window}
    decided = replace(decided, summary=_with(
        decided.summary, dry_run=query.dry_run, numbers={**decided.summary.numbers, **extra}
    ))  # fmt: skip
    if query.dry_run:
        variants = {v: _with(d, dry_run=True) for v, d in decided.variants.items()}
        numbers = {**decided.summary.numbers, "variants": {v: d.as_dict() for v, d in variants.items()}}
        return _with(decided.summary, numbers=numbers)
    decided = apply_variants(rollout, ledger, decided, now=query.now, actor=query.actor, split=split)
    decision = decided.summary
    srm_hold = (decision.numbers.get("srm") or {}).get("verdict") == "hold"
    if notifiers and decision.applied and (decided.rolled_back or srm_hold):
        sent = _notify(notifiers, decision, query.now)
        decision = _with(decision, numbers={**decision.numbers, "notifications": sent})
        failed = [o for o in sent if not o["ok"]]
        if failed:
            rollout.record_audit(
                query.feature, "controller_notification_failed", reason="notifier(s) failed",
                actor=query.actor, details={"notifications": failed},
            )  # fmt: skip
    return decision


def _with(decision: Decision, **changes: Any) -> Decision:
    from dataclasses import replace

    return replace(decision, **changes)
