"""The timers of the bench/ scripts (run as ``python bench/<name>.py``,
whose folder is then on ``sys.path``)."""
from __future__ import annotations

import statistics
import time
from typing import Callable, List


def times_s(f: Callable[[], object], repeats: int) -> List[float]:
    """``repeats`` timed calls of ``f``, in seconds."""
    times: List[float] = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return times


def median_s(f: Callable[[], object], repeats: int) -> float:
    """The median of ``repeats`` timed calls of ``f``, in seconds."""
    return statistics.median(times_s(f, repeats))
