"""Shared pieces of the search suites: small data, cheap models, a noise feature function."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeClassifier

from stagewise.search import IntRange, SearchSpace, SklearnTarget


def noise_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Four columns of seeded standard-normal noise, one row per input row (no information at all).

    Independent of time, so bar outcomes scored on them are independent draws and the Wilson
    interval is exact; indicator features are autocorrelated, which would widen the true spread.
    """
    rng = np.random.default_rng(12345)
    return pd.DataFrame(rng.standard_normal((len(frame), 4)), index=frame.index, columns=["a", "b", "c", "d"])


def tree_target() -> SklearnTarget:
    """Random trees: ``max_features=1`` makes each random_state a different model."""
    return SklearnTarget(DecisionTreeClassifier, {"max_features": 1})


def tree_space() -> SearchSpace:
    return SearchSpace({"max_depth": IntRange(2, 12), "random_state": IntRange(0, 1_000_000)})


class FlakyTree(DecisionTreeClassifier):  # type: ignore[misc]
    """A tree that crashes when asked for depth 3: a configuration the model cannot fit."""

    def fit(self, X: object, y: object, sample_weight: object = None, check_input: bool = True) -> FlakyTree:
        if self.max_depth == 3:
            raise RuntimeError("depth 3 is not supported by this model")
        super().fit(X, y, sample_weight=sample_weight, check_input=check_input)
        return self


class SlowTree(DecisionTreeClassifier):  # type: ignore[misc]
    """A tree that takes a tenth of a second to fit, so that a search can be killed in the middle."""

    def fit(self, X: object, y: object, sample_weight: object = None, check_input: bool = True) -> SlowTree:
        import time

        time.sleep(0.1)
        super().fit(X, y, sample_weight=sample_weight, check_input=check_input)
        return self


def resumable_search_main(storage: str, output_dir: str, n_trials: int) -> None:
    """What the killed-and-restarted process runs (``python -c`` from the resume test)."""
    from stagewise.data import synthetic_bars
    from stagewise.search import NestedSearch, SklearnTarget

    bars = synthetic_bars(24 * 50, freq="1h", seed=5)
    search = NestedSearch(
        "markets",
        data=bars,
        space=tree_space(),
        target=SklearnTarget(SlowTree, {"max_features": 1}),
        n_trials=n_trials,
        storage=storage,
        study_name="resume",
        inner_train_days=10,
        inner_test_days=5,
        naive=False,
        n_candidates=0,
        heartbeat=(1, 2),
        html=False,
    )
    search.run(
        bars.index[24 * 40],
        bars.index[24 * 45],
        train_days=21,
        test_days=10,
        step_days=10,
        output_dir=output_dir,
    )


def square_or_fail(value: int) -> int:
    """A job for the worker pool: its square, or a ValueError for a negative value."""
    if value < 0:
        raise ValueError(f"job {value} failed")
    return value * value


def sleep_or_fail(argument: tuple[float, bool]) -> int:
    """A job for the scheduler tests: sleep (no CPU), then return this process's id, or raise."""
    import os
    import time

    seconds, fail = argument
    time.sleep(seconds)
    if fail:
        raise ValueError(f"job of {seconds} s failed")
    return os.getpid()
