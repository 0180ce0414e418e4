"""How a search's jobs are spread over the workers: one job per trial, a study's trials in order,
the study with the most work left first, so two workers end together instead of waiting on one study."""

from __future__ import annotations

import heapq
import itertools
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.search.search_support import sleep_or_fail

from stagewise.search.execution import ChainQueue, Job, Span, Workers, schedule_summary


def _simulate(costs: list[list[float]], n_workers: int) -> list[Span]:
    """Run the queue on ``n_workers`` simulated workers, each job taking its cost in seconds."""
    queue = ChainQueue(costs)
    free, now = list(range(n_workers)), 0.0
    running: list[tuple[float, int, int, int, float]] = []
    spans: list[Span] = []
    while True:
        while free and (picked := queue.take()) is not None:
            chain, job = picked
            heapq.heappush(running, (now + costs[chain][job], chain, job, free.pop(0), now))
        if not running:
            assert queue.done()
            return spans
        end, chain, job, worker, start = heapq.heappop(running)
        now = end
        queue.finish(chain)
        free.append(worker)
        spans.append(Span(chain, job, str(worker), start, end))


#: The probe of 2026-12-03 (2 workers, bench size): the naive study's 12 trials took 13.5 s, each outer
#: step's 12 trials 5.2-6.3 s (its last job also fits the outer window). One job per study, as before,
#: ended at 23.0 s against an ideal of 21.2 s: the naive study ran alone for its whole length.
NAIVE = [1.125] * 12
STEP = [0.45] * 11 + [0.8]


def test_one_job_per_trial_ends_within_one_trial_of_the_ideal_where_one_job_per_study_did_not() -> None:
    per_trial = [NAIVE, *[STEP] * 5]
    summary = schedule_summary(_simulate(per_trial, 2), 2)
    ideal = sum(map(sum, per_trial)) / 2
    assert summary["ideal_seconds"] == pytest.approx(ideal)
    assert summary["makespan_seconds"] <= ideal + max(NAIVE)
    assert summary["efficiency"] >= 0.98
    # the same work as one job per study: the longest study decides the end, about 8 % past the ideal
    per_study = [[sum(chain)] for chain in per_trial]
    assert schedule_summary(_simulate(per_study, 2), 2)["efficiency"] < 0.93


def test_the_longest_study_starts_first_even_when_it_comes_last() -> None:
    spans = _simulate([*[STEP] * 5, NAIVE], 2)
    assert {s.chain for s in spans if s.start == 0.0} == {5, 0}
    assert schedule_summary(spans, 2)["efficiency"] >= 0.98


chains_strategy = st.lists(
    st.lists(st.integers(1, 20).map(float), min_size=1, max_size=8), min_size=1, max_size=8
)


@settings(max_examples=200, deadline=None)
@given(costs=chains_strategy, n_workers=st.integers(1, 4))
def test_every_job_runs_once_in_chain_order_and_no_worker_waits_needlessly(
    costs: list[list[float]], n_workers: int
) -> None:
    spans = _simulate(costs, n_workers)
    every_job = [(c, j) for c, chain in enumerate(costs) for j in range(len(chain))]
    assert sorted((s.chain, s.job) for s in spans) == every_job
    for chain in range(len(costs)):
        mine = sorted((s for s in spans if s.chain == chain), key=lambda s: s.job)
        assert all(a.end <= b.start for a, b in itertools.pairwise(mine))  # in order, never two at once
    # Graham's bound for list scheduling with chains: a worker idles only while the longest chain runs
    work, longest = sum(map(sum, costs)), max(map(sum, costs))
    makespan = max(s.end for s in spans)
    assert makespan <= work / n_workers + (1 - 1 / n_workers) * longest + 1e-9


@settings(max_examples=200, deadline=None)
@given(costs=chains_strategy, data=st.data())
def test_the_queue_gives_the_ready_chain_with_the_most_work_left_and_drops_a_failed_chain(
    costs: list[list[float]], data: st.DataObject
) -> None:
    queue = ChainQueue(costs)
    left = [sum(chain) for chain in costs]
    taken: list[tuple[int, int]] = []
    running: set[int] = set()
    failed: set[int] = set()
    while not queue.done():
        started = [sum(1 for t in taken if t[0] == c) for c in range(len(costs))]
        ready = [c for c in range(len(costs)) if c not in running | failed and started[c] < len(costs[c])]
        assert queue.ready() == bool(ready)
        if ready and (not running or data.draw(st.booleans(), label="take")):
            chain, job = queue.take()  # type: ignore[misc]
            assert left[chain] == max(left[c] for c in ready)
            assert chain == min(c for c in ready if left[c] == left[chain])  # ties: the earlier chain
            assert job == started[chain]
            taken.append((chain, job))
            left[chain] -= costs[chain][job]
            running.add(chain)
        else:
            assert running  # otherwise the queue would be done
            chain = data.draw(st.sampled_from(sorted(running)), label="finish")
            fail = data.draw(st.booleans(), label="fail")
            queue.finish(chain, failed=fail)
            running.discard(chain)
            if fail:
                failed.add(chain)
    assert queue.take() is None
    for chain in range(len(costs)):
        count = sum(1 for t in taken if t[0] == chain)
        assert count == len(costs[chain]) or chain in failed


def test_this_process_and_the_pool_take_jobs_by_work_left_in_chain_order_and_stop_a_failed_chain() -> None:
    long_chain = [Job(sleep_or_fail, (0.15, False), 3.0) for _ in range(6)]
    short = [[Job(sleep_or_fail, (0.05, False), 1.0) for _ in range(2)] for _ in range(2)]
    with Workers(2, None) as workers:
        results = workers.run_chains([*short, long_chain])
        timeline = list(workers.timeline)
        # each chain's result is its last job's: the id of the process that ran it, as the timeline says
        last = {s.chain: s.worker for s in timeline if s.job == len([*short, long_chain][s.chain]) - 1}
        assert [("main" if r == os.getpid() else str(r)) for r in results] == [last[0], last[1], last[2]]
        assert len({s.worker for s in timeline}) == 2  # this process and the pool's both worked
        assert min(timeline, key=lambda s: s.start).chain == 2  # the most work left starts first
        for chain in range(3):
            mine = sorted((s for s in timeline if s.chain == chain), key=lambda s: s.job)
            assert [s.job for s in mine] == list(range(len(mine)))
            assert all(a.end <= b.start for a, b in itertools.pairwise(mine))

        workers.timeline.clear()
        fine = [Job(sleep_or_fail, (0.05, False)) for _ in range(3)]
        failing = [Job(sleep_or_fail, (0.05, fail)) for fail in (False, True, False)]
        also = [Job(sleep_or_fail, (0.06, True))]
        with pytest.raises(ValueError, match=r"job of 0\.05 s failed"):  # the first failed chain's error
            workers.run_chains([fine, failing, also])
        # a failed job is not in the timeline and the job after it never ran; the other chains went on
        assert sorted((s.chain, s.job) for s in workers.timeline) == [(0, 0), (0, 1), (0, 2), (1, 0)]
        assert len(workers.run_chains([fine, fine])) == 2  # the pool is still usable
