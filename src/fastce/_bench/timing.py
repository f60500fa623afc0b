"""The timer: medians of auto-sized repeats in bursts per contender, and the
CPU confinement of a row's thread count."""

from __future__ import annotations

import contextlib
import gc
import math
import os
import statistics
import time
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Sequence, Tuple, Union

from ._base import Call, Threads
from .contenders import Bound


@dataclass
class Timing:
    """Timed samples of one contender on one case (seconds per call)."""

    samples: List[float]
    number: int  # calls per sample

    @property
    def median(self) -> float:
        """Median seconds per call."""
        return statistics.median(self.samples)

    @property
    def repeats(self) -> int:
        """Number of samples."""
        return len(self.samples)

    def to_json(self) -> Dict[str, Any]:
        """Plain-data form, for ``--json``."""
        return {"median_s": self.median, "min_s": min(self.samples),
                "max_s": max(self.samples), "repeats": self.repeats,
                "calls_per_repeat": self.number, "samples_s": self.samples}


def _as_bound(call: Union[Bound, Call]) -> Bound:
    return call if isinstance(call, Bound) else Bound(call)


def _seconds_per_call(bound: Bound, number: int) -> float:
    """Wall time of ``number`` back-to-back calls (inside the context), divided by ``number``."""
    call = bound.call
    with bound.context():
        start = time.perf_counter()
        for _ in range(number):
            call()
        return (time.perf_counter() - start) / number


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Disable the cyclic garbage collector for the duration (as ``timeit`` does)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _process_threads() -> List[int]:
    """The ids of this process's threads (Linux), else just this one."""
    try:
        return [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return [0]


@contextlib.contextmanager
def cpu_limit(threads: Threads) -> Iterator[None]:
    """Confine every thread of this process to ``threads`` CPUs for the duration.

    Thread pools that do not take a thread count (XLA's, OpenBLAS's) then
    share ``threads`` cores on a ``threads``-thread row like every other
    contender, instead of spreading over all of them. No-op for ``None``, for
    ``threads`` >= the usable CPUs, or where affinity cannot be set.
    """
    getter = getattr(os, "sched_getaffinity", None)
    if threads is None or getter is None:
        yield
        return
    usable = sorted(getter(0))
    if threads >= len(usable):
        yield
        return
    saved = {}
    for tid in _process_threads():  # a thread may end meanwhile: skip it
        with contextlib.suppress(OSError):
            saved[tid] = os.sched_getaffinity(tid)
            os.sched_setaffinity(tid, usable[:threads])
    try:
        yield
    finally:
        for tid in _process_threads():  # threads started meanwhile too
            with contextlib.suppress(OSError):
                os.sched_setaffinity(tid, saved.get(tid, usable))


#: Rounds of bursts per timing, and the pause before each burst (seconds).
BURST_ROUNDS = 2
SETTLE_S = 0.02


def _burst_rounds(n_calls: int, repeats: Sequence[int],
                  rounds: int = BURST_ROUNDS) -> List[List[Tuple[int, int]]]:
    """``(call, samples)`` bursts of each round: call ``i``'s ``repeats[i]``
    samples split over the rounds, the order of the calls reversed every
    other round."""
    schedule = []
    for r in range(rounds):
        order = list(range(n_calls)) if r % 2 == 0 else list(range(n_calls))[::-1]
        schedule.append([(i, (r + 1) * repeats[i] // rounds - r * repeats[i] // rounds)
                         for i in order])
    return schedule


def time_interleaved(calls: Sequence[Union[Bound, Call]], budget: float, min_repeats: int = 5,
                     max_repeats: int = 200, min_sample: float = 2e-3,
                     settle: float = SETTLE_S) -> List[Timing]:
    """Time several calls against each other; one :class:`Timing` per call.

    Each call is first timed once (after the caller's warm-up) to choose how
    many back-to-back calls make one sample (at least ``min_sample`` seconds,
    so fast calls are not lost in timer noise) and how many samples fit in
    its equal share of ``budget`` (clamped to ``[min_repeats, max_repeats]``:
    a slow baseline does not starve the fast calls of samples).

    The samples are taken in bursts: in each of :data:`BURST_ROUNDS` rounds
    every call takes its part of its samples back to back, after a pause of
    ``settle`` seconds and one discarded sample, and the order of the calls
    alternates between rounds, so slow drifts (clock boost, other load)
    affect every contender alike. Bursts, not samples taken in turn: the
    thread pools of OpenMP (fastce, torch, scikit-learn) keep spinning for
    milliseconds after a call, and a JAX sample taken right after a fastce
    one ran at half its speed (measured); each library is timed as a loop of
    its own calls runs, with the machine to itself.
    """
    if not calls:
        return []
    bounds = [_as_bound(c) for c in calls]
    share = budget / len(bounds)
    with _gc_paused():
        estimates = [max(_seconds_per_call(b, 1), 1e-9) for b in bounds]
        numbers = [max(1, min(10_000, math.ceil(min_sample / t))) for t in estimates]
        repeats = [max(min_repeats, min(max_repeats, int(share / (n * t))))
                   for n, t in zip(numbers, estimates)]
        samples: List[List[float]] = [[] for _ in bounds]
        for burst in _burst_rounds(len(bounds), repeats):
            for i, count in burst:
                if not count:
                    continue
                time.sleep(settle)
                _seconds_per_call(bounds[i], numbers[i])  # wakes its threads: not kept
                for _ in range(count):
                    samples[i].append(_seconds_per_call(bounds[i], numbers[i]))
    return [Timing(s, n) for s, n in zip(samples, numbers)]
