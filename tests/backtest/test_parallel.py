"""1 worker, a process pool of 2 and a Dask cluster give the same bytes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from backtest_setup import SEED_WINDOWS, SMALL_MODEL

from stagewise.backtest import WalkForwardBacktest


def _run(races: pd.DataFrame, out: Path, **kwargs: object) -> tuple[dict[str, object], pd.DataFrame]:
    bt = WalkForwardBacktest(
        "races", data=races, model_params=SMALL_MODEL, html=False, n_resamples=200, **kwargs
    )  # type: ignore[arg-type]
    result = bt.run_walkforward(**SEED_WINDOWS, output_dir=out)
    return result, pd.read_parquet(out / "walkforward_predictions.parquet")


@pytest.fixture(scope="module")
def sequential(
    small_races: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, object], pd.DataFrame]:
    return _run(small_races, tmp_path_factory.mktemp("one"), n_workers=1)


def test_process_pool_is_bit_identical_to_one_worker(
    small_races: pd.DataFrame, sequential: tuple[dict[str, object], pd.DataFrame], tmp_path: Path
) -> None:
    result, predictions = _run(small_races, tmp_path, n_workers=2)
    assert result["timing"]["n_workers"] == 2  # type: ignore[index]
    pd.testing.assert_frame_equal(predictions, sequential[1], check_exact=True)
    assert result["summary"] == sequential[0]["summary"]


def test_dask_cluster_is_bit_identical_to_one_worker(
    small_races: pd.DataFrame, sequential: tuple[dict[str, object], pd.DataFrame], tmp_path: Path
) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1"
    ) as cluster:
        result, predictions = _run(small_races, tmp_path, n_workers=1, scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(predictions, sequential[1], check_exact=True)
    assert result["summary"] == sequential[0]["summary"]
    assert result["config"]["scheduler"].startswith("tcp://127.0.0.1")  # type: ignore[index]
