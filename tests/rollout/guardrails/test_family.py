"""Holm's step-down over always-valid p-values."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from stagewise.rollout.guardrails.family import holm_levels, holm_rejections


def _holm_by_hand(p: list[float], alpha: float) -> list[bool]:
    order = sorted(range(len(p)), key=lambda i: p[i])
    out = [False] * len(p)
    for rank, i in enumerate(order):
        if p[i] > alpha / (len(p) - rank):
            break
        out[i] = True
    return out


p_values = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=6)


@settings(max_examples=200, deadline=None)
@given(p=p_values, alpha=st.floats(0.001, 0.2))
def test_holm_matches_the_textbook_loop_and_rejects_at_least_what_bonferroni_rejects(
    p: list[float], alpha: float
) -> None:
    got = holm_rejections(p, alpha)
    assert got.tolist() == _holm_by_hand(p, alpha)
    assert (got >= (np.array(p) <= alpha / len(p))).all()


def test_vectorised_over_leading_axes_like_one_call_per_row() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.06, size=(50, 7, 3))
    got = holm_rejections(p, 0.05)
    for idx in np.ndindex(50, 7):
        assert got[idx].tolist() == _holm_by_hand(p[idx].tolist(), 0.05)


def test_nan_is_no_evidence_and_levels_follow_the_ranks() -> None:
    assert holm_rejections([np.nan, 0.001], 0.05).tolist() == [False, True]
    assert holm_levels([0.5, 0.001, 0.02], 0.06).tolist() == [0.06, 0.02, 0.03]
    assert holm_rejections(np.empty(0), 0.05).size == 0
