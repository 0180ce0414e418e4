"""Run search tasks in-process, in a local process pool or on Dask, while watching the storage.

Workers write every trial to the study storage; the parent learns about progress by reading
it (once a second), so the progress bar is the same whether the trials run here, in a pool
or on another host.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

__all__ = ["Job", "SearchProgress", "Workers", "run_jobs", "watch_storage"]


@dataclass(frozen=True)
class SearchProgress:
    """Finished trials so far, the trials asked for, and the best inner score so far (None before one)."""

    done: int
    total: int
    best: float | None


@dataclass(frozen=True)
class Job:
    """A module-level function and its (picklable) argument."""

    function: Callable[[Any], Any]
    argument: Any


#: Imported once by the fork server, so that every worker process it forks starts with them loaded.
PRELOAD = (
    "stagewise.search.study",
    "stagewise.search.diagnostics",
    "stagewise.models.ensemble",
    "lightgbm",
    "xgboost",
    "sklearn.ensemble",
    "optuna",
    "sqlalchemy",
)


def _ready() -> None:
    """A no-op job: one per worker makes the pool start its processes now, not at the first trial."""


class Workers:
    """Where a search's jobs run: in this process, in this process and a local pool, or on Dask.

    With ``n_workers=K`` locally, this process runs jobs itself (it is warm: the data, the imports)
    beside ``K - 1`` worker processes, each taking the next job in order when it is free. The pool
    is started when the search starts, so that its processes come up (forked from a fork server that
    imported the model libraries once) while this process prepares the data, and it serves every
    phase of the search (the trials, then the CPCV candidates).
    """

    def __init__(self, n_workers: int, scheduler: str | None) -> None:
        self.n_workers = n_workers
        self.scheduler = scheduler
        self._pool: ProcessPoolExecutor | None = None
        if scheduler is None and n_workers > 1:
            method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
            context = multiprocessing.get_context(method)
            if isinstance(context, multiprocessing.context.ForkServerContext):
                # no effect once the fork server runs; it only saves each worker the imports
                context.set_forkserver_preload(list(PRELOAD))
            self._pool = ProcessPoolExecutor(max_workers=n_workers - 1, mp_context=context)
            for _ in range(n_workers - 1):
                self._pool.submit(_ready)

    def run(self, jobs: Sequence[Job]) -> list[Any]:
        """Results in job order; the first error of a job is raised once every job has stopped."""
        if self.scheduler is not None:
            from distributed import Client

            with Client(self.scheduler, set_as_default=False) as client:  # type: ignore[no-untyped-call]
                futures = [client.submit(j.function, j.argument, pure=False) for j in jobs]
                return [f.result() for f in futures]
        if self._pool is not None and len(jobs) > 1:
            return _shared(jobs, self._pool, self.n_workers - 1)
        return [j.function(j.argument) for j in jobs]

    def close(self, wait: bool = True) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, exc_type: object, *_exc: object) -> None:
        # after an error (bad dates, a refused study) the caller need not wait for processes still starting
        self.close(wait=exc_type is None)


def _shared(jobs: Sequence[Job], pool: ProcessPoolExecutor, n_remote: int) -> list[Any]:
    """Run ``jobs`` in order on this process and the pool's ``n_remote`` processes, each taking the next
    job when it is free (a pool fed everything at once would leave this process idle)."""
    results: list[Any] = [None] * len(jobs)
    errors: dict[int, BaseException] = {}
    pending = iter(range(len(jobs)))
    state = threading.Condition()
    counts = {"sent": 0, "back": 0}

    def send_next() -> None:
        with state:  # taking a job and counting it as sent is one step, so the final wait cannot miss it
            i = next(pending, None)
            if i is None:
                return
            counts["sent"] += 1
        try:
            pool.submit(jobs[i].function, jobs[i].argument).add_done_callback(lambda f: back(i, f))
        except Exception as exc:  # a broken pool: the job failed, nothing will call back
            errors[i] = exc
            with state:
                counts["back"] += 1
                state.notify_all()

    def back(i: int, future: Future[Any]) -> None:
        error = future.exception()
        if error is None:
            results[i] = future.result()
        else:
            errors[i] = error
        send_next()  # counted as sent before this one is counted back
        with state:
            counts["back"] += 1
            state.notify_all()

    # this process is ready now, the pool's may still be starting: the first (longest) job stays here
    with state:
        mine = next(pending, None)
    for _ in range(n_remote):
        send_next()
    while mine is not None:
        try:
            results[mine] = jobs[mine].function(jobs[mine].argument)
        except Exception as exc:
            errors[mine] = exc
        with state:
            mine = next(pending, None)
    with state:
        state.wait_for(lambda: counts["back"] == counts["sent"])
    if errors:
        raise errors[min(errors)]
    return results


def run_jobs(jobs: Sequence[Job], n_workers: int, scheduler: str | None) -> list[Any]:
    """Run ``jobs`` on a pool made for them alone (see :class:`Workers`)."""
    with Workers(n_workers if len(jobs) > 1 else 1, scheduler) as workers:
        return workers.run(jobs)


def watch_storage(
    url: str,
    study_names: Sequence[str],
    total: int,
    progress: Callable[[SearchProgress], None],
    stop: threading.Event,
    every_seconds: float = 1.0,
) -> threading.Thread:
    """A daemon thread calling ``progress`` with the storage's trial counts until ``stop`` is set."""

    def poll_once(storage: Any) -> None:
        from optuna.trial import TrialState

        finished = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
        done = 0
        best: float | None = None
        for name in study_names:
            try:
                study_id = storage.get_study_id_from_name(name)
            except KeyError:
                continue
            trials = storage.get_all_trials(study_id, deepcopy=False, states=finished)
            done += len(trials)
            values = [t.value for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
            if values:
                best = max(values) if best is None else max(best, *values)
        progress(SearchProgress(done, total, best))

    def poll() -> None:
        from stagewise.search.storage import close_storage, open_storage

        storage = open_storage(url)
        try:
            poll_once(storage)
            while not stop.wait(every_seconds):
                poll_once(storage)
            poll_once(storage)  # the final counts, after the last trial
        finally:
            close_storage(storage)

    thread = threading.Thread(target=poll, name="stagewise-search-progress", daemon=True)
    thread.start()
    return thread
