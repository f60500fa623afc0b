"""The median timer of the bench/ scripts (run as ``python bench/<name>.py``,
whose folder is then on ``sys.path``)."""
from __future__ import annotations

import statistics
import time
from typing import Callable, List


def median_s(f: Callable[[], object], repeats: int) -> float:
    """The median of ``repeats`` timed calls of ``f``, in seconds."""
    times: List[float] = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)
