"""A search on two local worker processes or on Dask chooses and scores exactly what one process does."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest
from tests.search.search_support import tree_space, tree_target

from stagewise.data import synthetic_bars
from stagewise.search import NestedSearch
from stagewise.search.storage import close_storage, open_storage
from stagewise.search.study import run_outer_step, run_trials, trial_jobs


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
    result = _run(bars, tmp_path, n_workers=2)
    assert _outcome(result) == one_worker
    schedule = result["timing"]["schedule"]
    assert schedule["workers"] == 2
    assert schedule["jobs"] == len(result["trials"])  # one job per trial
    assert 0 < schedule["efficiency"] <= 1


def test_a_study_run_one_trial_per_job_in_two_processes_draws_what_one_job_draws(
    bars: pd.DataFrame, tmp_path: Path
) -> None:
    search = NestedSearch(
        "markets", data=bars, space=tree_space(), target=tree_target(), n_trials=8, inner_train_days=10,
        inner_test_days=5,
    )  # fmt: skip
    prepared = search._prepare()
    windows = {"start_date": bars.index[24 * 32], "end_date": bars.index[24 * 48], "train_days": 21}
    step = search._plan(prepared, {**windows, "test_days": 5, "step_days": 5})[0]
    outcomes = []
    for how in ("one-job", "one-job-per-trial"):
        url = f"sqlite:///{tmp_path / how}.db"
        storage = open_storage(url)
        optuna.create_study(study_name="split:outer-000", storage=storage, direction="maximize")
        assert search.space is not None
        assert search.target is not None
        task = search._outer_task(
            step.outer.step, "split:outer-000", url, search.space, search.target, prepared,
            search._rows(prepared), step.inner, step.outer,
        )  # fmt: skip
        if how == "one-job":
            run_outer_step(task)
        else:
            chain = trial_jobs(storage, task)
            assert len(chain) == 8
            # the chain's jobs alternate between a worker process and this one, the sampler handed along
            previous = None
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
                for i, job in enumerate(chain):
                    if i % 2 == 0:
                        previous = pool.submit(run_trials, (job.argument, previous)).result()
                    else:
                        previous = job(previous)
        study = optuna.load_study(study_name="split:outer-000", storage=storage)
        trials = [(t.number, t.state.name, t.value, t.params) for t in study.get_trials()]
        outer = {k: v for k, v in study.user_attrs["outer"].items() if k != "fit_seconds"}
        outcomes.append((trials, outer))
        close_storage(storage)
    assert outcomes[0] == outcomes[1]
    assert len({str(params) for _n, _s, _v, params in outcomes[0][0]}) > 1


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
