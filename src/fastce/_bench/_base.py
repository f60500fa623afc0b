"""Names, constants and type aliases shared by the benchmark modules."""

from __future__ import annotations

from typing import Any, Callable, Optional, Tuple

import numpy as np

Shape = Tuple[int, int]
Inputs = Tuple[np.ndarray, ...]
Call = Callable[[], Any]
Threads = Optional[int]  # None: the library default
Key = Tuple[str, Threads]  # (contender name, thread count; None for unthreaded contenders)

#: Seed of every generated input (mixed with the case id, see :func:`make_inputs`).
SEED = 20240611
#: The dtypes benchmarked by ``--dtype all``.
DTYPES: Tuple[str, ...] = ("float32", "float64")
#: Name of the contender every other one is checked against and compared to.
BASELINE = "NumPy"
#: Name of the library under test.
SUBJECT = "fastce"
#: Name of the ceiling the targets use: ``x.sum()`` on the same logits.
CEILING = "x.sum()"
#: Name of the read ceiling: ``x.max()``, which NumPy vectorises, so it runs
#: at the speed of one pass over memory (``x.sum()`` is 2-4x slower).
READ = "x.max()"
#: Both ceilings: computed on the input, not checked, never "rivals".
CEILINGS: Tuple[str, ...] = (CEILING, READ)
#: Peer libraries, in column order.
PEER_NAMES: Tuple[str, ...] = ("torch", "JAX", "sklearn")
#: Tolerance of the correctness check, in units of the dtype's machine epsilon.
TOLERANCE_ULPS = 64
#: CPUs used by other processes (before a run, or during a case) from which
#: the timings are flagged as unreliable (and the case rerun, see ``--retries``).
BUSY_WARNING = 0.25
#: Before rerunning a case that ran under other load, wait up to this many
#: seconds for the other processes to finish, and at most :data:`TOTAL_WAIT_S`
#: in a whole run.
RETRY_WAIT_S = 30.0
TOTAL_WAIT_S = 120.0



def _shape_str(shape: Shape) -> str:
    return f"({shape[0]}, {shape[1]})"


def _threads_str(threads: Threads) -> str:
    return "default" if threads is None else str(threads)
