"""The benchmark's CPU confinement: a 1-thread row runs every thread of the
process (JAX's pool included) on one CPU, and the process gets all of them
back afterwards."""
import os
import threading

import pytest

from fastce._bench import cpu_limit

pytestmark = pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs CPU affinity and two usable CPUs")


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


@pytest.mark.parametrize("extra", [None, 0, 64])
def test_cpu_limit_leaves_enough_cpus_alone(extra):
    before = os.sched_getaffinity(0)
    with cpu_limit(None if extra is None else len(before) + extra):
        assert os.sched_getaffinity(0) == before
    assert os.sched_getaffinity(0) == before
