"""The seed's rollout plan (disabled → 10% → 50% → 100%, a week per stage) with target dates (pure).

Examples
--------
>>> from datetime import date
>>> from stagewise.rollout.config import FeatureRollout
>>> from stagewise.rollout.health import RACES_POLICY
>>> from stagewise.rollout.stages import parse_stage
>>> feature = FeatureRollout("f", parse_stage("disabled"), salt="s")
>>> plan = build_plan(feature, RACES_POLICY, date(2025, 12, 2), 7)
>>> [(s["stage"], s.get("target_date")) for s in plan["stages"]]
[('disabled', None), ('10%', '2025-12-02'), ('50%', '2025-12-09'), ('100%', '2025-12-16')]
>>> plan["rollback_criteria"][0]
'hit_rate_1st (win hit rate) < 15.00%'
"""

from __future__ import annotations

import contextlib
from datetime import date, timedelta
from typing import Any, Literal

from stagewise.rollout.config import FeatureRollout
from stagewise.rollout.health import HealthPolicy
from stagewise.rollout.stages import DISABLED, SEED_STAGES

__all__ = ["build_plan"]

_TEXTS = {
    "en": {
        "disabled": ("before start", "validate with a walk-forward backtest"),
        "10%": ("{days} days", "canary on 10% of races; check health daily"),
        "50%": ("{days} days", "expand to 50% of races if the 10% stage stayed HEALTHY"),
        "100%": ("permanent", "enable for all races if the 50% stage stayed HEALTHY"),
    },
    "ja": {
        "disabled": ("開始前", "walk-forward バックテストで検証"),
        "10%": ("{days}日間", "10%のレースで試験運用、毎日健全性チェック"),
        "50%": ("{days}日間", "問題なければ50%に拡大"),
        "100%": ("恒久", "問題なければ全レースで有効化"),
    },
}


def build_plan(
    feature: FeatureRollout,
    policy: HealthPolicy,
    today: date,
    stage_days: int,
    *,
    lang: Literal["en", "ja"] = "en",
) -> dict[str, Any]:
    """The dict ``GradualRollout.rollout_plan`` returns.

    Target dates start at ``enabled_at`` when the feature is enabled (else ``today``)
    and step by ``stage_days``; ``disabled`` has no target date.
    """
    start = today
    if not feature.stage.is_disabled and feature.enabled_at:
        with contextlib.suppress(ValueError):
            start = date.fromisoformat(feature.enabled_at[:10])
    texts = _TEXTS[lang]
    stages: list[dict[str, Any]] = []
    for offset, name in enumerate(SEED_STAGES):
        duration, description = texts[name]
        stage: dict[str, Any] = {
            "stage": name,
            "duration": duration.format(days=stage_days),
            "description": description,
        }
        if name != DISABLED:
            stage["target_date"] = (start + timedelta(days=stage_days * (offset - 1))).isoformat()
        stages.append(stage)
    criteria = []
    for rule in policy.rules:
        sign = "<" if rule.higher_is_better else "≥"
        label = (rule.label_ja or rule.label) if lang == "ja" else rule.label
        criteria.append(f"{rule.metric} ({label}) {sign} {rule.show(rule.critical)}")
    if policy.critical_rule == "upper_bound":
        criteria.append(
            "率は観測レース数の Wilson 95% 信頼区間全体が基準を越えた場合のみ (critical_rule=upper_bound)"
            if lang == "ja"
            else "rates count only when their whole Wilson 95 % interval over the races seen is past "
            "the line (critical_rule=upper_bound)"
        )
    return {
        "feature_name": feature.name,
        "current_stage": feature.stage.name,
        "stages": stages,
        "rollback_criteria": criteria,
    }
