"""The load meter: how many CPUs other processes used while a case ran."""

from __future__ import annotations

import os
import time
from typing import Optional, Tuple

from ._base import BUSY_WARNING


def _cpu_jiffies() -> Optional[Tuple[float, float]]:
    """(busy, total) jiffies of all CPUs together from ``/proc/stat``; ``None`` elsewhere."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = [float(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


class LoadMeter:
    """How many CPUs *other* processes kept busy since the meter was made (Linux).

    The machine's busy time from ``/proc/stat`` minus this process's CPU
    time (all its threads, JAX's and torch's pools included). Timings taken
    while other processes compete for the CPUs, multi-threaded ones above
    all, say little about the code.
    """

    def __init__(self) -> None:
        self._start = self._sample()

    @staticmethod
    def _sample() -> Optional[Tuple[float, float, float]]:
        jiffies = _cpu_jiffies()
        return None if jiffies is None else (*jiffies, time.process_time())

    def others(self) -> Optional[float]:
        """Average number of CPUs used by other processes so far; ``None`` if unknown."""
        end = self._sample()
        if self._start is None or end is None or end[1] <= self._start[1]:
            return None
        busy, total = end[0] - self._start[0], end[1] - self._start[1]
        own = (end[2] - self._start[2]) * os.sysconf("SC_CLK_TCK")
        return max(0.0, (busy - own) / total * (os.cpu_count() or 1))


def busy_cpus(interval: float = 0.5) -> Optional[float]:
    """CPUs kept busy by other processes over the next ``interval`` seconds."""
    meter = LoadMeter()
    time.sleep(interval)
    return meter.others()


def wait_for_quiet(max_wait: float, poll: float = 1.0) -> float:
    """Wait until other processes use fewer than :data:`BUSY_WARNING` CPUs, at most ``max_wait`` s.

    Returns the seconds waited.
    """
    start = time.perf_counter()
    while time.perf_counter() - start < max_wait:
        load = busy_cpus(min(poll, max(0.05, max_wait - (time.perf_counter() - start))))
        if load is None or load < BUSY_WARNING:
            break
    return time.perf_counter() - start


def _load_note(load: Optional[float]) -> Optional[str]:
    """``"other load 1.0 CPU"`` when other processes used at least :data:`BUSY_WARNING` CPUs."""
    if load is None or load < BUSY_WARNING:
        return None
    return f"other load {load:.1f} CPU"
