from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from stagewise import DataValidationError
from stagewise.metrics.intervals import wilson_interval
from stagewise.metrics.markets import direction_metrics, signal_returns


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_direction_metrics_agree_with_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, 300)
    pred = np.where(rng.random(300) < 0.7, truth, 1 - truth)
    m = direction_metrics(truth, pred)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(truth, pred))
    assert m["precision"] == pytest.approx(skm.precision_score(truth, pred))
    assert m["recall"] == pytest.approx(skm.recall_score(truth, pred))
    assert m["f1"] == pytest.approx(skm.f1_score(truth, pred))
    assert m["mcc"] == pytest.approx(skm.matthews_corrcoef(truth, pred))
    assert m["accuracy_ci"] == list(wilson_interval(int((truth == pred).sum()), 300))


def test_a_model_that_never_says_up_has_zero_precision_not_an_error() -> None:
    m = direction_metrics([1, 0, 1], [0, 0, 0])
    assert (m["precision"], m["recall"], m["f1"]) == (0.0, 0.0, 0.0)


def test_labels_must_be_binary() -> None:
    with pytest.raises(DataValidationError, match=r"y_pred must hold only 0 or 1; got 2 at position 1"):
        direction_metrics([1, 0], [1, 2])


def test_signal_return_goes_long_on_up_and_short_on_down_by_hand() -> None:
    fwd = [0.01, -0.02, 0.03, -0.01]
    pred = [1, 0, 0, 1]
    r = signal_returns(fwd, pred)
    earned = [0.01, 0.02, -0.03, -0.01]
    assert r["mean_return"] == pytest.approx(np.mean(earned))
    assert r["total_return"] == pytest.approx(np.prod(1 + np.array(earned)) - 1)
    flat = signal_returns(fwd, pred, allow_short=False)
    assert flat["total_return"] == pytest.approx(1.01 * 0.99 - 1)


def test_signal_return_refuses_unknown_future() -> None:
    with pytest.raises(DataValidationError, match="position 1"):
        signal_returns([0.01, float("nan")], [1, 1])
