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


def _loaded_bench(monkeypatch, loads):
    """The bench's rerun loop with run_case and wait_for_quiet stubbed out:
    each run reports the next of ``loads`` (CPUs used by other processes),
    and each wait 'lasts' a little longer than allowed (as a real poll may).
    Returns the list of waits asked for. Nothing sleeps or is timed."""
    from fastce._bench import cli
    from fastce._bench.results import CaseResult

    loads = iter(loads)
    asked = []
    monkeypatch.setattr(cli, "run_case", lambda case, *a: CaseResult(case, other_load=next(loads)))
    monkeypatch.setattr(cli, "wait_for_quiet", lambda s: asked.append(s) or s + 0.5)
    return asked


def test_bench_stops_rerunning_once_the_wait_budget_is_spent(monkeypatch, capsys):
    """A loaded case is rerun (after a wait) while the run's waiting budget
    lasts; once it is spent, loaded cases are kept as measured, flagged, and
    not rerun: the reruns had gone on without waiting, tripling a loaded
    run's time, and announced 'waiting up to -0 s'."""
    from types import SimpleNamespace

    from fastce._bench import cli
    from fastce._bench._base import RETRY_WAIT_S

    asked = _loaded_bench(monkeypatch, [2.0] * 20)
    waits = cli._WaitBudget(left=RETRY_WAIT_S * 1.5)
    case = SimpleNamespace(id="case")
    first = cli._quietest_run(case, [], None, None, [None], 3, waits)
    assert asked == [RETRY_WAIT_S, RETRY_WAIT_S * 0.5 - 0.5]  # what is left, never more
    assert first.attempts == 3 and waits.spent and waits.left == 0.0
    later = [cli._quietest_run(case, [], None, None, [None], 3, waits) for _ in range(3)]
    assert [r.attempts for r in later] == [1, 1, 1] and len(asked) == 2
    assert all(cli._load_note(r.other_load) for r in later)  # flagged as under load
    err = capsys.readouterr().err
    assert "-0 s" not in err and err.count("used up") == 1


def test_bench_reruns_a_loaded_case_until_it_is_quiet(monkeypatch):
    from types import SimpleNamespace

    from fastce._bench import cli

    asked = _loaded_bench(monkeypatch, [2.0, 1.0, 0.0, 5.0])
    result = cli._quietest_run(SimpleNamespace(id="case"), [], None, None, [None], 5,
                               cli._WaitBudget())
    assert result.other_load == 0.0 and result.attempts == 3 and len(asked) == 2


def test_cli_stops_quietly_when_its_reader_goes_away(monkeypatch):
    """``fastce bench --list | head``: a closed pipe ends the command with
    status 1, not a BrokenPipeError traceback."""
    import io

    from fastce.__main__ import main

    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("sys.stdout", ClosedPipe())
    assert main(["bench", "--list", "--quick"]) == 1
