"""Applying an A/B/n decision: retire harmful variants, promote at most one, one decision record per variant.

:func:`~stagewise.rollout.controller_runner.run_controller` hands a feature whose split has two or
more active variants (and no ``challenger_variant`` named) to :func:`~stagewise.rollout.abn.
decide_variants`, then to :func:`apply_variants`, which writes, unless the run is a dry run:

* a **rolled-back variant**: one audited ``retire_variants`` change
  (:meth:`~stagewise.rollout.GradualRollout.retire_variants`). Its buckets return to control from
  the first day not served yet (``effective_from``): those races are answered by the champion and
  logged as ``control``. Every other variant keeps exactly its buckets, so no unit of a surviving
  variant changes group (the split's table is still laid out with the retired weight);
* **every active variant harmful**: the feature goes to ``disabled`` (as a single challenger's
  rollback does); the split stays in the config for the record;
* the **promoted variant**: one audited change (:meth:`~stagewise.rollout.GradualRollout.
  promote_variant`): the split becomes ``{variant: 1.0}`` and the feature moves to the next stage.
  Its own units keep it; the other variants' units join it;
* every other variant: an audit note (``controller_hold`` / ``controller_none``).

Each entry carries that variant's decision in ``details["controller"]`` with its ``variant``: one
decision record per judged variant (``stagewise rollout decisions FEATURE``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import pandas as pd

from stagewise._exceptions import ConfigError
from stagewise.rollout.abn import VariantsDecision
from stagewise.rollout.config import RETIRED_KEY
from stagewise.rollout.controller import Decision
from stagewise.rollout.controller_days import first_unserved_day, unit_domain
from stagewise.rollout.gradual import GradualRollout
from stagewise.rollout.outcomes import OutcomeSource, OutcomeSums
from stagewise.rollout.stages import DISABLED

__all__ = ["FeatureLedger", "FeatureLedgerSums", "apply_variants", "routed_ledger"]


class FeatureLedger:
    """The ledger as one feature's controller reads it: only the rows that feature routed, each range once.

    Every read passes ``rollout_feature=feature`` (the ledger keeps that feature's rows and rows logged
    before it recorded the routing, never another feature's), so two rollouts running at once never
    mix. Unfiltered reads of a range are kept, so the evidence of several variants reads it once.
    """

    def __init__(self, source: OutcomeSource, feature: str) -> None:
        self._source = source
        self.feature = feature
        self._cache: dict[tuple[str, date, date], pd.DataFrame] = {}

    def _read(self, kind: str, start: date, end: date, model_version: str | None, variant: str | None
              ) -> pd.DataFrame:  # fmt: skip
        read = self._source.race_outcomes if kind == "races" else self._source.market_outcomes
        if model_version is not None or variant is not None:
            return read(
                start, end, model_version=model_version, variant=variant, rollout_feature=self.feature
            )
        key = (kind, start, end)
        if key not in self._cache:
            self._cache[key] = read(start, end, rollout_feature=self.feature)
        return self._cache[key]

    def race_outcomes(
        self, start_date: date, end_date: date, *, model_version: str | None = None,
        variant: str | None = None, rollout_feature: str | None = None,
    ) -> pd.DataFrame:  # fmt: skip
        self._check(rollout_feature)
        return self._read("races", start_date, end_date, model_version, variant)

    def market_outcomes(
        self, start_date: date, end_date: date, *, model_version: str | None = None,
        variant: str | None = None, rollout_feature: str | None = None,
    ) -> pd.DataFrame:  # fmt: skip
        self._check(rollout_feature)
        return self._read("markets", start_date, end_date, model_version, variant)

    def _check(self, rollout_feature: str | None) -> None:
        if rollout_feature not in (None, self.feature):
            raise ConfigError(
                f"This ledger view is of the feature {self.feature!r}; 'rollout_feature' {rollout_feature!r} "
                f"cannot be read through it (accepted: None or {self.feature!r})."
            )


class FeatureLedgerSums(FeatureLedger):
    """A :class:`FeatureLedger` over a ledger that sums in the database (:class:`OutcomeSums`)."""

    def __init__(self, source: OutcomeSource, feature: str) -> None:
        if not isinstance(source, OutcomeSums):
            raise TypeError(f"{type(source).__name__} cannot sum outcomes (no race_outcome_sums)")
        super().__init__(source, feature)
        self._summing: OutcomeSums = source
        self._sums: dict[tuple[Any, ...], pd.DataFrame] = {}

    def race_outcome_sums(
        self, start_date: date, end_date: date, *, values: Sequence[str] = (),
        pairs: Sequence[tuple[str, str]] = (), rollout_feature: str | None = None,
    ) -> pd.DataFrame:  # fmt: skip
        self._check(rollout_feature)
        key = (start_date, end_date, tuple(values), tuple(pairs))
        if key not in self._sums:
            self._sums[key] = self._summing.race_outcome_sums(
                start_date, end_date, values=values, pairs=pairs, rollout_feature=self.feature
            )
        return self._sums[key]


def routed_ledger(source: OutcomeSource, feature: str) -> FeatureLedger:
    """``source`` as ``feature``'s controller reads it (summing in the database when ``source`` can)."""
    if isinstance(source, OutcomeSums):
        return FeatureLedgerSums(source, feature)
    return FeatureLedger(source, feature)


def _record(decision: Decision) -> dict[str, Any]:
    return {k: v for k, v in decision.as_dict().items() if k != "applied"}


def _reason(decision: Decision) -> str:
    return f"controller {decision.action} of variant {decision.variant}: " + "; ".join(decision.reasons)


def apply_variants(
    rollout: GradualRollout,
    outcomes: OutcomeSource,
    decided: VariantsDecision,
    *,
    now: datetime,
    actor: str,
    split: Mapping[str, Any],
) -> VariantsDecision:
    """Write ``decided`` (see the module docstring); nothing when the feature changed meanwhile.

    ``split`` is what the decision was made on: the feature's ``stage``, ``killed``, ``variants``
    and ``retired_variants``. When the stored feature differs now, nothing is applied and every
    decision becomes ``none`` (run again).
    """
    feature = decided.feature
    rollout.refresh(force=True)
    current = rollout.feature(feature)
    now_split = {
        "stage": current.stage.name, "killed": current.killed is not None,
        "variants": current.extra.get("variants"), RETIRED_KEY: list(current.extra.get(RETIRED_KEY, ())),
    }  # fmt: skip
    if now_split != dict(split):
        reason = (
            f"the feature changed while deciding (now stage {current.stage.name!r}, variants "
            f"{now_split['variants']}, retired {now_split[RETIRED_KEY]}); nothing applied, run again"
        )
        none = {v: replace(d, action="none", to_stage=d.from_stage, reasons=(reason,))
                for v, d in decided.variants.items()}  # fmt: skip
        summary = replace(decided.summary, action="none", to_stage=current.stage.name, reasons=(reason,))
        return replace(decided, variants=none, rolled_back=(), promoted=None, disable=False, summary=summary)
    effective = first_unserved_day(outcomes, now.date(), unit_domain(rollout)).isoformat()
    applied: dict[str, Decision] = {}
    # rollbacks first: a promotion replaces the split, after which there is nothing left to retire
    order = sorted(decided.variants.items(), key=lambda item: item[1].action == "promote")
    for variant, decision in order:
        if decision.action == "rollback" and not decided.disable:
            decision = replace(decision, numbers={**decision.numbers, "split_effective_from": effective})
            rollout.retire_variants(
                feature, [variant], reason=_reason(decision), actor=actor,
                details={"controller": _record(decision), "effective_from": effective},
            )  # fmt: skip
        elif decision.action == "promote":
            decision = replace(decision, numbers={**decision.numbers, "stage_effective_from": effective})
            rollout.promote_variant(
                feature, variant, decision.to_stage, reason=_reason(decision), actor=actor,
                details={"controller": _record(decision), "effective_from": effective},
            )  # fmt: skip
        elif decision.action == "rollback":  # every variant is harmful: the last one disables the feature
            last = variant == decided.rolled_back[-1]
            if last:
                rollout.update_rollout_stage(
                    feature, DISABLED, reason=_reason(decision), actor=actor,
                    details={"controller": _record(decision)},
                )  # fmt: skip
            else:
                rollout.record_audit(
                    feature, "controller_rollback", reason=_reason(decision), actor=actor,
                    details={"controller": _record(decision)},
                )  # fmt: skip
        else:
            rollout.record_audit(
                feature, f"controller_{decision.action}", reason=_reason(decision), actor=actor,
                details={"controller": _record(decision)},
            )  # fmt: skip
        applied[variant] = replace(decision, applied=True)
    applied = {v: applied[v] for v in decided.variants}
    numbers = {**decided.summary.numbers, "variants": {v: d.as_dict() for v, d in applied.items()}}
    summary = replace(decided.summary, applied=True, numbers=numbers)
    return replace(decided, variants=applied, summary=summary)
