"""Run search jobs in-process, in a local process pool or on Dask, while watching the storage.

Jobs come in chains: a chain's jobs run one after another (each one trial of a study, the last
one also scoring the study's choice), chains side by side, and a job may take the result of its
chain's previous job (the study's sampler). Splitting a study into one-trial jobs lets two
workers share its work, so a long study (the naive one) no longer decides when the search ends;
keeping a study's trials one after another, with one sampler handed along, keeps what TPE samples
independent of how many workers there are and of their timing.

Workers write every trial to the study storage; the parent learns about progress by reading
it (once a second), so the progress bar is the same whether the trials run here, in a pool
or on another host.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

__all__ = [
    "ChainQueue",
    "Job",
    "SearchProgress",
    "Span",
    "Workers",
    "schedule_summary",
    "watch_storage",
]


@dataclass(frozen=True)
class SearchProgress:
    """Finished trials so far, the trials asked for, and the best inner score so far (None before one)."""

    done: int
    total: int
    best: float | None


@dataclass(frozen=True)
class Job:
    """A module-level function, its (picklable) argument and its expected work.

    ``cost`` is in any unit the jobs of one run share (the search uses training rows fitted): the
    scheduler starts the chain with the most work left first. With ``takes_previous`` the function
    is called with ``(argument, result of the chain's previous job)`` (None for a chain's first job).
    """

    function: Callable[[Any], Any]
    argument: Any
    cost: float = 1.0
    takes_previous: bool = False

    def __call__(self, previous: Any = None) -> Any:
        return self.function((self.argument, previous) if self.takes_previous else self.argument)


@dataclass(frozen=True)
class Span:
    """When one job ran and where: ``worker`` is ``"main"`` (this process) or a pool process id.

    ``start`` and ``end`` are :func:`time.perf_counter` seconds, a clock every local process shares.
    """

    chain: int
    job: int
    worker: str
    start: float
    end: float


class ChainQueue:
    """Which job runs next: a chain's jobs in order and never two at once, chains side by side.

    Of the chains whose next job may start, :meth:`take` gives the one with the most work left
    (ties: the earlier chain), so the longest chains start first and the jobs left for the end are
    short ones. Pure bookkeeping: the caller runs the jobs and reports each with :meth:`finish`.
    """

    def __init__(self, costs: Sequence[Sequence[float]]) -> None:
        self._costs = [list(c) for c in costs]
        self._next = [0] * len(self._costs)
        self._left = [float(sum(c)) for c in self._costs]
        self._running = [False] * len(self._costs)
        self._stopped = [False] * len(self._costs)

    def _ready(self, chain: int) -> bool:
        return not (
            self._running[chain] or self._stopped[chain] or self._next[chain] >= len(self._costs[chain])
        )

    def ready(self) -> bool:
        """Whether a job may start now."""
        return any(self._ready(c) for c in range(len(self._costs)))

    def take(self) -> tuple[int, int] | None:
        """The next job as ``(chain, position in the chain)``, marked running; None when none may start."""
        ready = [c for c in range(len(self._costs)) if self._ready(c)]
        if not ready:
            return None
        chain = max(ready, key=lambda c: (self._left[c], -c))
        job = self._next[chain]
        self._running[chain] = True
        self._next[chain] += 1
        self._left[chain] -= self._costs[chain][job]
        return chain, job

    def finish(self, chain: int, failed: bool = False) -> None:
        """The chain's running job ended; after a failure the rest of the chain never starts."""
        self._running[chain] = False
        self._stopped[chain] = self._stopped[chain] or failed

    def done(self) -> bool:
        """Nothing runs and nothing is left to start."""
        return not any(self._running) and not self.ready()


def schedule_summary(spans: Sequence[Span], n_workers: int) -> dict[str, float | int]:
    """How evenly the jobs filled the workers: the makespan against the total work over ``n_workers``.

    ``efficiency`` is ideal / makespan: 1 when every worker was busy from the first job's start
    to the last job's end. It measures the scheduling, not the machine: on a loaded machine every
    job is slower, the ratio much less so.
    """
    if not spans:
        return {"workers": n_workers, "jobs": 0}
    makespan = max(s.end for s in spans) - min(s.start for s in spans)
    busy = sum(s.end - s.start for s in spans)
    ideal = busy / n_workers
    return {
        "workers": n_workers,
        "jobs": len(spans),
        "busy_seconds": round(busy, 3),
        "makespan_seconds": round(makespan, 3),
        "ideal_seconds": round(ideal, 3),
        "efficiency": round(ideal / makespan, 4) if makespan > 0 else 1.0,
    }


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


def _timed(job: Job, previous: Any) -> tuple[Any, float, float, int]:
    """What a pool process runs: the job, with when it ran and where."""
    start = time.perf_counter()
    result = job(previous)
    return result, start, time.perf_counter(), os.getpid()


def _run_chain(chain: Sequence[Job]) -> Any:
    """A whole chain as one job (on Dask): its last job's result."""
    result = None
    for job in chain:
        result = job(result)
    return result


class Workers:
    """Where a search's jobs run: in this process, in this process and a local pool, or on Dask.

    With ``n_workers=K`` locally, this process runs jobs itself (it is warm: the data, the imports)
    beside ``K - 1`` worker processes; whoever is free takes the next job (:class:`ChainQueue`).
    The pool is started when the search starts, so that its processes come up (forked from a fork
    server that imported the model libraries once) while this process prepares the data, and it
    serves every phase of the search (the trials, then the CPCV candidates). On Dask each chain
    runs as one task. ``timeline`` collects a :class:`Span` per job run locally.
    """

    def __init__(self, n_workers: int, scheduler: str | None) -> None:
        self.n_workers = n_workers
        self.scheduler = scheduler
        self.timeline: list[Span] = []
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
        return self.run_chains([[j] for j in jobs])

    def run_chains(self, chains: Sequence[Sequence[Job]]) -> list[Any]:
        """Each chain's last result, in chain order; the first failed chain's error is raised once
        every job has stopped (a failed job's chain stops there, the others go on)."""
        if self.scheduler is not None:
            from distributed import Client

            with Client(self.scheduler, set_as_default=False) as client:  # type: ignore[no-untyped-call]
                # the chains with the most work first: Dask starts tasks in the order they come
                order = sorted(range(len(chains)), key=lambda c: -sum(j.cost for j in chains[c]))
                futures = {c: client.submit(_run_chain, list(chains[c]), pure=False) for c in order}
                return [futures[c].result() for c in range(len(chains))]
        if self._pool is not None and sum(len(c) for c in chains) > 1:
            return _shared(chains, self._pool, self.n_workers - 1, self.timeline)
        results: list[Any] = []
        for c, chain in enumerate(chains):
            result = None
            for j, job in enumerate(chain):
                start = time.perf_counter()
                result = job(result)
                self.timeline.append(Span(c, j, "main", start, time.perf_counter()))
            results.append(result)
        return results

    def close(self, wait: bool = True) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, exc_type: object, *_exc: object) -> None:
        # after an error (bad dates, a refused study) the caller need not wait for processes still starting
        self.close(wait=exc_type is None)


def _shared(
    chains: Sequence[Sequence[Job]], pool: ProcessPoolExecutor, n_remote: int, timeline: list[Span]
) -> list[Any]:
    """Run ``chains`` on this process and the pool's ``n_remote`` processes: whoever is free takes
    the next job of :class:`ChainQueue` (a pool fed everything at once would leave this process idle
    and could run two trials of one study at once)."""
    queue = ChainQueue([[j.cost for j in chain] for chain in chains])
    results: list[Any] = [None] * len(chains)
    errors: dict[int, BaseException] = {}
    state = threading.Condition()
    idle = [n_remote]  # pool processes with no job sent

    def ended(chain: int, error: BaseException | None) -> None:
        with state:
            if error is not None:
                errors.setdefault(chain, error)
            queue.finish(chain, failed=error is not None)
            state.notify_all()

    def dispatch() -> None:
        """Send jobs that may start to idle pool processes (decided under the lock, sent outside it)."""
        while True:
            with state:
                picked = queue.take() if idle[0] > 0 else None
                if picked is None:
                    return
                idle[0] -= 1
            chain, job = picked
            try:
                future = pool.submit(_timed, chains[chain][job], results[chain])
            except Exception as exc:  # a broken pool: the job failed, nothing will call back
                with state:
                    idle[0] += 1
                ended(chain, exc)
                continue
            future.add_done_callback(partial(back, chain, job))

    def back(chain: int, job: int, future: Future[tuple[Any, float, float, int]]) -> None:
        error = future.exception()
        with state:
            idle[0] += 1
            if error is None:
                result, start, end, pid = future.result()
                results[chain] = result
                timeline.append(Span(chain, job, str(pid), start, end))
        ended(chain, error)
        dispatch()

    while True:
        # this process takes its job before the pool is fed: it is ready now, the pool's may still be starting
        with state:
            state.wait_for(lambda: queue.ready() or queue.done())
            mine = queue.take()
        if mine is None:
            break
        dispatch()
        chain, job = mine
        start = time.perf_counter()
        try:
            outcome = chains[chain][job](results[chain])
        except Exception as exc:
            ended(chain, exc)
            continue
        with state:
            results[chain] = outcome
            timeline.append(Span(chain, job, "main", start, time.perf_counter()))
        ended(chain, None)
    if errors:
        raise errors[min(errors)]
    return results


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
