"""What a fresh output array costs: each call's result in new memory, or in a
buffer the caller reuses.

    python bench/reuse.py [--repeats N] [--shapes 16384x1000,65536x10]

A call that returns a large new array (a gradient, ``log_softmax``) gets its
memory from the OS: glibc maps arrays above 32 MB afresh on every call, and
the kernel zeroes each new page when it is first written, on whichever
thread writes it. That zeroing is part of the call's time (and of the
benchmark's, as for every library it times), does not shrink with more
threads, and is gone when the caller passes a buffer it keeps:
``grad_out=`` for the losses, ``out=`` for ``softmax`` and ``log_softmax``.
(``nll_loss`` writes its gradient's zeros into a reused buffer, where a fresh
one gets them from the OS: with few classes, writing them is most of the call.)
This script times both ways, float32, at 1 and 2 threads, interleaved, and
prints medians and their ratio from the same run.
"""
from __future__ import annotations

import argparse
import time
from typing import Callable, List

import numpy as np

import fastce

SHAPES = "16384x1000,256x131072,65536x10"
THREADS = (1, 2)


def median_ms(calls: List[Callable[[], object]], repeats: int) -> List[float]:
    """Median wall time of each call, in milliseconds, taking turns."""
    for f in calls:
        f()
    times: List[List[float]] = [[] for _ in calls]
    for _ in range(repeats):
        for f, ts in zip(calls, times):
            t0 = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t0)
    return [1e3 * float(np.median(ts)) for ts in times]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=21)
    ap.add_argument("--shapes", default=SHAPES, help="(N, C) shapes, comma-separated")
    args = ap.parse_args()
    shapes = [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")]
    if any(len(s) != 2 for s in shapes):
        ap.error(f"--shapes: expected N x C shapes such as 16384x1000, got {args.shapes!r}")
    rng = np.random.default_rng(0)
    print(f"{'operation':<30} {'shape':<14} {'threads':>7} {'fresh':>9} {'reused':>9} {'ratio':>6}")
    for shape in shapes:
        x = rng.standard_normal(shape, dtype=np.float32)
        y = rng.integers(0, shape[1], shape[0])
        lp = fastce.log_softmax(x)
        buf = np.empty_like(x)
        for nt in THREADS:
            cases = [
                ("softmax CE forward + gradient",
                 lambda: fastce.softmax_cross_entropy(x, y, return_grad=True, n_threads=nt),
                 lambda: fastce.softmax_cross_entropy(x, y, return_grad=True, grad_out=buf,
                                                      n_threads=nt)),
                ("nll_loss forward + gradient",
                 lambda: fastce.nll_loss(lp, y, return_grad=True, n_threads=nt),
                 lambda: fastce.nll_loss(lp, y, return_grad=True, grad_out=buf, n_threads=nt)),
                ("log_softmax",
                 lambda: fastce.log_softmax(x, n_threads=nt),
                 lambda: fastce.log_softmax(x, out=buf, n_threads=nt)),
            ]
            for name, fresh, reused in cases:
                a, b = median_ms([fresh, reused], args.repeats)
                print(f"{name:<30} {str(shape):<14} {nt:>7} {a:>6.2f} ms {b:>6.2f} ms {a / b:>5.2f}x")


if __name__ == "__main__":
    main()
