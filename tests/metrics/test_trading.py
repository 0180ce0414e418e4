"""Trading evaluation: costs, net return with intervals, the zero-edge proof, cost monotonicity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stagewise._exceptions import ConfigError
from stagewise.data import synthetic_bars
from stagewise.metrics.trading import TradingCosts, trading_report


@pytest.mark.parametrize("field", ["spread_bps", "commission_bps", "slippage_bps"])
@pytest.mark.parametrize("value", [-0.1, float("nan"), float("inf")], ids=["negative", "nan", "inf"])
def test_bad_costs_are_one_line_errors(field: str, value: float) -> None:
    with pytest.raises(ConfigError) as caught:
        TradingCosts(**{field: value})
    assert f"'{field}' parameter must be a number >= 0 (basis points)" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_costs_by_hand() -> None:
    # long, long, short, flat: turnover 1, 0, 2, 1; cost per unit 1 bp
    r = trading_report([1, 1, -1, 0], [0.01, 0.02, -0.01, 0.05], ["a", "a", "b", "b"], TradingCosts(0, 1, 0))
    assert r.turnover == pytest.approx(1.0)
    assert r.gross_mean == pytest.approx((0.01 + 0.02 + 0.01) / 4)
    assert r.cost_mean == pytest.approx(4e-4 / 4)
    assert r.net_mean == pytest.approx(r.gross_mean - r.cost_mean)
    assert r.equity[-1] == pytest.approx(1 + r.net_total)


def test_zero_edge_bars_lose_the_costs() -> None:
    bars = synthetic_bars(24 * 250, freq="1h", seed=5)
    ret = bars["close"].pct_change().shift(-1).to_numpy()[:-1]
    days = bars.index[:-1].normalize().to_numpy()
    position = np.where(np.random.default_rng(0).random(len(ret)) < 0.5, 1.0, -1.0)  # a coin: no edge
    costs = TradingCosts(spread_bps=2.0, commission_bps=1.0, slippage_bps=1.0)
    r = trading_report(position, ret, days, costs)
    expected = -float(np.abs(np.diff(position, prepend=0.0)).mean()) * costs.per_unit  # −turnover · cost
    low, high = r.net_mean_interval
    assert low <= expected <= high
    assert r.net_mean == pytest.approx(expected, abs=3 * (high - low))
    assert not r.edge


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from([-1.0, 0.0, 1.0]), st.floats(-0.05, 0.05)), min_size=2, max_size=80),
    st.floats(0, 50),
    st.floats(0, 50),
)
def test_more_cost_never_raises_net_return(bars: list[tuple[float, float]], low: float, extra: float) -> None:
    position, ret = (np.array(x) for x in zip(*bars, strict=True))
    days = np.arange(len(bars)) // 5
    cheap = trading_report(position, ret, days, TradingCosts(spread_bps=low), n_resamples=20)
    dear = trading_report(position, ret, days, TradingCosts(spread_bps=low + extra), n_resamples=20)
    assert dear.net_mean <= cheap.net_mean + 1e-15
    assert dear.net_total <= cheap.net_total + 1e-12
    assert dear.gross_mean == cheap.gross_mean


def test_returns_that_never_vary_give_no_sharpe_interval_and_no_warning() -> None:
    # a flat signal never trades: every resampled Sharpe ratio is undefined (Hypothesis found this case)
    days = np.repeat(np.array(["2025-01-01", "2025-01-02", "2025-01-03"], dtype="datetime64[D]"), 4)
    report = trading_report(np.zeros(12), np.zeros(12), days, TradingCosts(), n_resamples=20)
    assert np.isnan(report.sharpe_interval).all()
    assert np.isnan(report.sortino_interval).all()
    assert report.net_mean_interval == (0.0, 0.0)
