"""Declared guardrails by simulation: family-wise false rollbacks (A/A) and CUPED's power.

Two measurements, written to the "guardrails" section of BENCHMARKS.md:

1. A/A: three guardrails (win hit, trifecta hit, score accuracy) judged every day for 30 days by the
   one-sided always-valid test, Holm across them at α = 0.05; correlated (a trifecta is a win, a win
   lifts the score) and independent; 10 % and 50 % stages; with and without CUPED. The family-wise
   false-rollback rate with its 95 % Wilson interval (the upper bound is the claim: ≤ α).
1b. A/A for A/B/n: three variants equal to control, three guardrails each, Holm over all nine against
   no correction.
2. Win hit 25 % → 20 % at a 10 % stage within 30 days: power of today's controller test (pooled two
   proportions), the unadjusted guardrail and the CUPED guardrail on the same months, beside the
   measured variance ratio; the A/A rate of each; the negative control (covariate = pure noise);
   and how the gain grows with the spread of the races' true win probabilities (``q_sd``).

Run: ``.venv/bin/python bench/run.py guardrails`` (``GUARDRAIL_BENCH_SIMS`` scales the CUPED runs,
default 10,000; the A/A family runs use 4,000 each).
"""

from __future__ import annotations

import os
import time

from _report import write_section
from stagewise.rollout.experiments.aa import RuleOutcome
from stagewise.rollout.guardrails.simulate import simulate_cuped, simulate_family, simulate_variants

CUPED_SIMS = int(os.environ.get("GUARDRAIL_BENCH_SIMS", "10000"))
FAMILY_SIMS = max(2000, CUPED_SIMS * 2 // 5)


def _rate(r: RuleOutcome) -> str:
    low, high = r.interval()
    return f"{r.rate:.1%} [{low:.1%}, {high:.1%}]"


def _family_table() -> list[str]:
    rows = [
        "| metrics | stage | CUPED | family-wise false rollback [95 % Wilson] | win | trifecta | score |",
        "|---|---|---|---|---|---|---|",
    ]
    for correlated, share, cuped in (
        (True, 0.1, False), (True, 0.5, False), (False, 0.1, False), (False, 0.5, False), (True, 0.1, True),
    ):  # fmt: skip
        r = simulate_family(
            n_sims=FAMILY_SIMS, treatment_share=share, correlated=correlated, cuped=cuped, seed=0
        )
        per = [f"{m.rate:.1%}" for m in r.per_metric.values()]
        kind = "correlated" if correlated else "independent"
        adjusted = "yes" if cuped else "no"
        rows.append(f"| {kind} | {share:.0%} | {adjusted} | **{_rate(r.family)}** | {' | '.join(per)} |")
    return rows


def _variants_table() -> list[str]:
    rows = [
        "| metrics | stage (3 variants together) | Holm over 9 [95 % Wilson] | no correction [95 % Wilson] |",
        "|---|---|---|---|",
    ]
    for correlated, share in ((True, 0.5), (True, 0.1), (False, 0.5), (False, 0.1)):
        r = simulate_variants(n_sims=FAMILY_SIMS, n_variants=3, treatment_share=share, correlated=correlated)
        kind = "correlated" if correlated else "independent"
        rows.append(f"| {kind} | {share:.0%} | **{_rate(r.holm)}** | {_rate(r.uncorrected)} |")
    return rows


def _cuped_table() -> list[str]:
    rows = [
        "| covariate | q_sd | challenger | today's test (two proportions) | unadjusted | CUPED | "
        "only CUPED / only unadjusted fired | variance ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    runs = [
        ("champion", 0.15, 0.20, 1), ("champion", 0.15, 0.25, 2),
        ("noise", 0.15, 0.20, 1), ("noise", 0.15, 0.25, 2),
        ("champion", 0.10, 0.20, 1), ("champion", 0.20, 0.20, 1),
    ]  # fmt: skip
    for covariate, q_sd, p_challenger, seed in runs:
        r = simulate_cuped(
            n_sims=CUPED_SIMS,
            p_challenger=p_challenger,
            covariate=covariate,
            q_sd=q_sd,
            seed=seed,  # type: ignore[arg-type]
        )
        what = "20 % (power)" if p_challenger < 0.25 else "25 % (A/A)"
        rows.append(
            f"| {covariate} | {q_sd} | {what} | {_rate(r.two_proportions)} | {_rate(r.unadjusted)} | "
            f"**{_rate(r.cuped)}** | {r.only_cuped} / {r.only_unadjusted} | {r.variance_ratio:.3f} |"
        )
    return rows


def main() -> None:
    load = os.getloadavg()
    start = time.perf_counter()
    family = _family_table()
    t_family = time.perf_counter() - start
    start = time.perf_counter()
    variants = _variants_table()
    t_variants = time.perf_counter() - start
    start = time.perf_counter()
    cuped = _cuped_table()
    t_cuped = time.perf_counter() - start
    body = "\n".join(
        [
            f"Load average at the start: {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f} (1, 5, 15 min).",
            "",
            f"**A/A, three guardrails, Holm at α = 0.05**: {FAMILY_SIMS:,} simulated months each, "
            "30 daily looks, 140 races a day, win 25 %, trifecta 7 %, score 0.9·Beta(6, 3) + 0.1·win "
            "(`simulate_family(..., seed=0)`). The per-metric columns count months in which that metric "
            f"alone reached α/3. ({t_family:.0f} s.)",
            "",
            *family,
            "",
            f"**A/A for A/B/n**: 3 variants equal to control, the same three guardrails each against one "
            f"shared control, {FAMILY_SIMS:,} simulated months per row, 30 daily looks, 140 races a day, "
            "α = 0.05 (`simulate_variants(..., seed=0)`). A month counts when any variant is ever rolled "
            "back: Holm over all 9 hypotheses (the controller) against each hypothesis at α. "
            f"({t_variants:.0f} s.)",
            "",
            *variants,
            "",
            f"**Win hit 25 % → 20 % at a 10 % stage within 30 days**: {CUPED_SIMS:,} simulated months "
            "per row, 140 races a day, α = 0.05, τ = 0.05, no minimum sample (as the 38 % figure in "
            "docs/rollout-statistics.md); each race's true win probability q ~ Beta(mean 0.25, sd q_sd), "
            "the covariate is the champion's predicted probability expit(logit q + N(0, 0.5²)) or, for the "
            "negative control, N(0, 1) noise (`simulate_cuped(...)`). Rates with their 95 % Wilson interval; "
            "the variance ratio is the mean of the last look's adjusted/unadjusted variance. "
            f"({t_cuped:.0f} s.)",
            "",
            *cuped,
        ]
    )
    write_section("guardrails", ".venv/bin/python bench/run.py guardrails", body)


if __name__ == "__main__":
    main()
