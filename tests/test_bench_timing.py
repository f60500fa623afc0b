"""The benchmark's CPU confinement: a 1-thread row runs every thread of the
process (JAX's pool included) on one CPU, and the process gets all of them
back afterwards."""
import os
import threading

import pytest

from fastce._bench.timing import _burst_rounds, cpu_limit

needs_affinity = pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs CPU affinity and two usable CPUs")


@needs_affinity
def test_cpu_limit_confines_every_thread_and_restores_them():
    before = os.sched_getaffinity(0)
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait)  # a pool thread started before
    worker.start()
    try:
        with cpu_limit(1):
            tids = [int(t) for t in os.listdir("/proc/self/task")]
            assert len(tids) >= 2
            assert all(len(os.sched_getaffinity(t)) == 1 for t in tids)
        assert all(os.sched_getaffinity(int(t)) == before
                   for t in os.listdir("/proc/self/task"))
    finally:
        stop.set()
        worker.join()


@needs_affinity
@pytest.mark.parametrize("extra", [0, 64])
def test_cpu_limit_leaves_enough_cpus_alone(extra):
    before = os.sched_getaffinity(0)
    with cpu_limit(None if extra is None else len(before) + extra):
        assert os.sched_getaffinity(0) == before
    assert os.sched_getaffinity(0) == before


@pytest.mark.parametrize("repeats", [[3, 5, 200], [1, 2, 7], [4]])
def test_bursts_take_every_sample_once_in_alternating_order(repeats):
    rounds = _burst_rounds(len(repeats), repeats, rounds=2)
    assert [i for i, _ in rounds[0]] == list(range(len(repeats)))
    assert [i for i, _ in rounds[1]] == list(range(len(repeats)))[::-1]
    for i, want in enumerate(repeats):
        assert sum(n for burst in rounds for j, n in burst if j == i) == want
