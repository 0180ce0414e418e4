"""Family-wise control over several always-valid p-values: Holm's step-down (pure).

Each guardrail's always-valid p-value ``p_k`` satisfies ``P(p_k ever ≤ a) ≤ a`` under its null,
whatever the looks. **Bonferroni** keeps that for the family: a false rollback needs some true
null's ``p_k`` to reach ``α/K`` at some look, which has probability at most ``K · α/K = α``.
**Holm** (1979) tests the smallest p-value at ``α/K``, the next at ``α/(K−1)``, and so on, stopping
at the first that fails. It rejects everything Bonferroni rejects and more, and keeps the same
guarantee under continuous monitoring: the first true null Holm rejects, at any look, is rejected
with at most ``K − m₀`` others before it, so at a level ``≤ α/m₀`` (``m₀`` true nulls); the event
"some true null's p-value ever reaches ``α/m₀``" has probability at most ``m₀ · α/m₀ = α``, because
each always-valid p-value is a running minimum. Neither needs the metrics to be independent: win
hit, trifecta hit and score accuracy of the same races are strongly correlated, which only makes
the bound conservative. In an A/A test every null is true, so Holm's first step decides, and the
family-wise false-rollback rate is that of Bonferroni.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["holm_levels", "holm_rejections"]


def holm_rejections(p_values: npt.ArrayLike, alpha: float) -> npt.NDArray[np.bool_]:
    """Which hypotheses Holm's step-down rejects at family-wise level ``alpha``.

    The **last axis** holds the family (vectorised over any leading shape, e.g. simulations and
    looks). NaN p-values count as 1 (no evidence).

    Examples
    --------
    >>> holm_rejections([0.01, 0.04, 0.02], alpha=0.05).tolist()   # .01 ≤ .05/3, .02 ≤ .05/2, .04 ≤ .05
    [True, True, True]
    >>> holm_rejections([0.02, 0.04, 0.03], alpha=0.05).tolist()   # 0.02 > .05/3: nothing
    [False, False, False]
    """
    p = np.nan_to_num(np.asarray(p_values, dtype=np.float64), nan=1.0)
    k = p.shape[-1]
    if k == 0:
        return np.zeros(p.shape, dtype=bool)
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=-1)
    levels = alpha / (k - np.arange(k))
    passed = np.logical_and.accumulate(ranked <= levels, axis=-1)
    out = np.empty_like(passed)
    np.put_along_axis(out, order, passed, axis=-1)
    return out


def holm_levels(p_values: npt.ArrayLike, alpha: float) -> npt.NDArray[np.float64]:
    """The level Holm compares each p-value with (``α / (K − rank)``), for the decision record.

    Examples
    --------
    >>> holm_levels([0.2, 0.01, 0.03], alpha=0.06).round(3).tolist()
    [0.06, 0.02, 0.03]
    """
    p = np.nan_to_num(np.asarray(p_values, dtype=np.float64), nan=1.0)
    k = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    levels = np.broadcast_to(alpha / (k - np.arange(k)), p.shape)
    out = np.empty_like(p)
    np.put_along_axis(out, order, levels, axis=-1)
    return out
