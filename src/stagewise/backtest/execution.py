"""Run chunk tasks in-process, in a process pool or on a Dask cluster, through the step cache.

Results come back in chunk order whatever the order of completion, so 1 worker, N workers
and Dask give identical outputs. Each finished chunk is written to the cache at once, so an
interrupted run loses at most the chunks that were still running.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed

from stagewise._exceptions import ConfigError
from stagewise.backtest.steps import ChunkResult, ChunkTask, StepCache, run_chunk

__all__ = ["ProgressCallback", "check_parallelism", "execute"]

#: ``progress(done, total, result)``: called after each chunk, cached or computed.
ProgressCallback = Callable[[int, int, ChunkResult], None]


def check_parallelism(n_workers: int | None, model_threads: int) -> int:
    """The pool size to use; ``None`` means as many workers as the cores allow.

    ``n_workers * model_threads`` must not exceed ``os.cpu_count()``: more would only make
    the workers fight for cores (and slow every step down), so it is refused, not clamped.
    """
    cores = os.cpu_count() or 1
    if isinstance(model_threads, bool) or not isinstance(model_threads, int) or model_threads < 1:
        raise ConfigError(
            f"The 'model_threads' parameter must be an int >= 1. Got {model_threads!r} instead."
        )
    if model_threads > cores:
        raise ConfigError(
            f"The 'model_threads' parameter must be at most the {cores} cores. Got {model_threads} instead."
        )
    if n_workers is None:
        return max(1, cores // model_threads)
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise ConfigError(
            f"The 'n_workers' parameter must be an int >= 1 or None. Got {n_workers!r} instead."
        )
    if n_workers * model_threads > cores:
        raise ConfigError(
            f"The 'n_workers' parameter times model_threads ({model_threads}) must be at most the {cores} "
            f"cores. Got n_workers={n_workers} instead; use n_workers <= {max(1, cores // model_threads)}."
        )
    return n_workers


def _start_method() -> str:
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def execute(
    tasks: Sequence[ChunkTask],
    n_workers: int,
    scheduler: str | None = None,
    cache: StepCache | None = None,
    progress: ProgressCallback | None = None,
) -> list[ChunkResult]:
    """Results of every task, in task order; cached chunks are not recomputed."""
    results: dict[int, ChunkResult] = {}
    total = len(tasks)

    def finished(result: ChunkResult, key: str | None) -> None:
        results[result.chunk] = result
        if cache is not None and key is not None and not result.cached:
            cache.put(key, result)
        if progress is not None:
            progress(len(results), total, result)

    pending: list[ChunkTask] = []
    for task in tasks:
        hit = cache.get(task.key, task.chunk) if cache is not None else None
        if hit is not None:
            finished(hit, None)
        else:
            pending.append(task)
    keys = {t.chunk: t.key for t in pending}

    if pending and scheduler is not None:
        from distributed import Client
        from distributed import as_completed as dask_completed

        with Client(scheduler, set_as_default=False) as client:  # type: ignore[no-untyped-call]
            # scatter ships each task's arrays straight to a worker instead of inside the task graph
            data = client.scatter(pending)
            futures = [
                client.submit(run_chunk, d, key=f"stagewise-chunk-{t.chunk}-{t.key}")
                for d, t in zip(data, pending, strict=True)
            ]
            for future in dask_completed(futures, loop=client.loop):  # type: ignore[no-untyped-call]
                result = future.result()
                finished(result, keys[result.chunk])
    elif pending and n_workers > 1 and len(pending) > 1:
        context = multiprocessing.get_context(_start_method())
        with ProcessPoolExecutor(max_workers=min(n_workers, len(pending)), mp_context=context) as pool:
            for future in as_completed([pool.submit(run_chunk, t) for t in pending]):
                result = future.result()
                finished(result, keys[result.chunk])
    else:
        for task in pending:
            finished(run_chunk(task), task.key)
    return [results[t.chunk] for t in tasks]
