"""The A/A harness: vectorised numpy against a plain per-experiment, per-day Python loop.

Both compute the same thing on the same simulated counts: for every experiment and every
daily look, the one-sided mSPRT always-valid p-value (challenger worse) and the naive
one-sided z-test, and whether each rule ever fires. The loop is the straightforward way to
write it (``math`` only, one look at a time, as a daily job would); the vectorised path is
what ``simulate_aa`` does. The decisions must agree exactly; the ratio is the speed-up.

Run: ``.venv/bin/python bench/run.py rollout_aa`` (``AA_BENCH_SIMS`` changes the size).
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
from scipy.stats import norm

from _report import write_section
from stagewise.rollout.experiments.aa import simulate_aa
from stagewise.rollout.experiments.sequential import (
    always_valid_p_values,
    msprt_log_lr,
    two_proportion_estimates,
)

SIMS = int(os.environ.get("AA_BENCH_SIMS", "2000"))
DAYS, RACES, SHARE, P, ALPHA, TAU = 30, 140, 0.5, 0.25, 0.05, 0.05
ROUNDS = 3


def _counts(rng: np.random.Generator, sims: int) -> list[np.ndarray]:
    treated = rng.binomial(RACES, SHARE, size=(sims, DAYS))
    control = RACES - treated
    return [
        np.cumsum(a, axis=1) for a in (rng.binomial(control, P), control, rng.binomial(treated, P), treated)
    ]


def vectorised(cum: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    estimate, variance = two_proportion_estimates(*cum)
    log_lr = msprt_log_lr(estimate, variance, tau=TAU, alternative="less")
    seq = (always_valid_p_values(log_lr) < ALPHA).any(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.nan_to_num(estimate / np.sqrt(variance), nan=0.0)
    return seq, (z < norm.ppf(ALPHA)).any(1)


def _log_lr_less(est: float, v: float) -> float:
    tau2 = TAU * TAU
    log_lr = 0.5 * math.log(v / (v + tau2)) + tau2 * est * est / (2 * v * (v + tau2))
    mean, sd = tau2 * est / (v + tau2), math.sqrt(v * tau2 / (v + tau2))
    return math.log(2.0) + log_lr + math.log(0.5 * math.erfc((mean / sd) / math.sqrt(2.0)))


def loop(cum: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    ch, cn, th, tn = (a.tolist() for a in cum)
    z_crit = float(norm.ppf(ALPHA))
    seq_out, naive_out = [], []
    for s in range(len(ch)):
        p_value, seq_fired, naive_fired = 1.0, False, False
        for d in range(DAYS):
            a_hits, a_n, b_hits, b_n = ch[s][d], cn[s][d], th[s][d], tn[s][d]
            if a_n == 0 or b_n == 0:
                continue
            pooled = (a_hits + b_hits) / (a_n + b_n)
            v = pooled * (1 - pooled) * (1 / a_n + 1 / b_n)
            if v <= 0:
                continue
            est = b_hits / b_n - a_hits / a_n
            p_value = min(p_value, math.exp(-max(_log_lr_less(est, v), 0.0)))
            seq_fired = seq_fired or p_value < ALPHA
            naive_fired = naive_fired or est / math.sqrt(v) < z_crit
        seq_out.append(seq_fired)
        naive_out.append(naive_fired)
    return np.array(seq_out), np.array(naive_out)


def _best(fn, cum):  # type: ignore[no-untyped-def]
    best, out = math.inf, None
    for _ in range(ROUNDS):
        start = time.perf_counter()
        out = fn(cum)
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    cum = _counts(np.random.default_rng(0), SIMS)
    t_vec, (seq_v, naive_v) = _best(vectorised, cum)
    t_loop, (seq_l, naive_l) = _best(loop, cum)
    agree = bool((seq_v == seq_l).all() and (naive_v == naive_l).all())
    start = time.perf_counter()
    result = simulate_aa(n_sims=10_000, seed=0)
    t_full = time.perf_counter() - start
    body = "\n".join(
        [
            f"{SIMS} simulated A/A experiments x {DAYS} daily looks ({RACES} races a day, 50/50 split), "
            f"both rules, best of {ROUNDS} rounds on the same counts.",
            "",
            "| implementation | time | per experiment | ratio |",
            "|---|---|---|---|",
            f"| Python loop (math, one look at a time) | {t_loop * 1e3:.0f} ms "
            f"| {t_loop / SIMS * 1e6:.0f} µs | 1× |",
            f"| stagewise vectorised (numpy) | {t_vec * 1e3:.1f} ms | {t_vec / SIMS * 1e6:.1f} µs "
            f"| **{t_loop / t_vec:.0f}× faster** |",
            "",
            f"Decisions identical for every experiment and both rules: {'yes' if agree else 'NO'} "
            f"(mSPRT fired in {int(seq_v.sum())}, naive in {int(naive_v.sum())} of {SIMS}).",
            "",
            f"`simulate_aa(n_sims=10_000)` end to end, drawing included: {t_full * 1e3:.0f} ms "
            f"(false rollbacks: mSPRT {result.sequential.rate:.1%}, naive {result.naive.rate:.1%}).",
        ]
    )
    write_section("rollout_aa", ".venv/bin/python bench/run.py rollout_aa", body)


if __name__ == "__main__":
    main()
