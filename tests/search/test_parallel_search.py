"""A search on two local worker processes or on Dask chooses and scores exactly what one process does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tests.search.search_support import tree_space, tree_target

from stagewise.data import synthetic_bars
from stagewise.search import NestedSearch


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return synthetic_bars(24 * 50, freq="1h", seed=8)


def _run(bars: pd.DataFrame, folder: Path, **kwargs: Any) -> dict[str, Any]:
    search = NestedSearch(
        "markets", data=bars, space=tree_space(), target=tree_target(), n_trials=4,
        storage=f"sqlite:///{folder / 'ledger.db'}", study_name="parallel", inner_train_days=10,
        inner_test_days=5, cpcv_groups=4, cpcv_test_groups=1, n_candidates=2, html=False, **kwargs,
    )  # fmt: skip
    return search.run(bars.index[24 * 32], bars.index[24 * 48], 21, 5, 5, folder / "out")


def _outcome(result: dict[str, Any]) -> dict[str, Any]:
    trials = sorted(
        (t["study"], t["number"], t["state"], t["value"], str(t["params"])) for t in result["trials"]
    )
    steps = [(s["step"], s["chosen_params"], s.get("outer")) for s in result["steps"]]
    cpcv = result["diagnostics"]["cpcv"]
    return {
        "trials": trials,
        "steps": steps,
        "nested": result["nested"],
        "naive": result["naive"],
        "cpcv": cpcv,
    }


@pytest.fixture(scope="module")
def one_worker(bars: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _outcome(_run(bars, tmp_path_factory.mktemp("one")))


def test_two_local_workers_give_the_results_of_one(
    bars: pd.DataFrame, one_worker: dict[str, Any], tmp_path: Path
) -> None:
    assert _outcome(_run(bars, tmp_path, n_workers=2)) == one_worker


@pytest.mark.slow
def test_a_dask_cluster_gives_the_results_of_one_worker(
    bars: pd.DataFrame, one_worker: dict[str, Any], tmp_path: Path
) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1"
    ) as cluster:
        result = _run(bars, tmp_path, scheduler=cluster.scheduler_address)
    assert _outcome(result) == one_worker


def test_this_process_and_the_pool_run_every_job_and_keep_their_order() -> None:
    from tests.search.search_support import square_or_fail

    from stagewise.search.execution import Job, Workers

    with Workers(2, None) as workers:
        assert workers.run([Job(square_or_fail, v) for v in range(7)]) == [v * v for v in range(7)]
        with pytest.raises(ValueError, match="job -2 failed"):  # the first failed job's error, by order
            workers.run([Job(square_or_fail, v) for v in (1, -2, 3, -4, 5)])
        assert workers.run([Job(square_or_fail, 3), Job(square_or_fail, 4)]) == [9, 16]  # still usable
