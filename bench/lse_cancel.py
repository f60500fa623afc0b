"""What logsumexp's extra-precision rows cost.

    python bench/lse_cancel.py [--repeats N]

Where ``max + log1p(rest)`` cancels (a negative max and a result near 0),
fastce recomputes the row: float32 rows in double, float64 rows (and float32
ones whose result is within 2^-26 of cancelling entirely) in double-double
(csrc/ddmath.h; four or eight lanes at a time with AVX2 or AVX-512 where the
class axis is contiguous, scalar otherwise). This script times ``fastce.logsumexp`` on one
thread on rows where that happens against rows of the same shape where it
does not, and prints the medians and their ratio:

- log-probabilities (a ``log_softmax`` output, 2048 x 1000): every row;
- standard normal logits at C = 2 (about a quarter of the rows) and C = 4
  (about 6%), against the same logits shifted by +5 (no row).
"""
from __future__ import annotations

import argparse
from typing import List, Optional

import numpy as np

import fastce
from _timing import median_s


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"{'rows':<34}{'dtype':<9}{'plain ms':>10}{'cancelling ms':>15}{'ratio':>9}")
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((2048, 1000)).astype(dtype)
        lp = fastce.log_softmax(x)
        cases = [("log-probabilities 2048 x 1000", x, lp)]
        for C in (2, 4):
            z = rng.standard_normal((65536, C)).astype(dtype)
            cases.append((f"logits near 0, 65536 x {C}", z + 5, z))
        for name, plain, cancelling in cases:
            a = 1e3 * median_s(lambda: fastce.logsumexp(plain, n_threads=1), args.repeats)
            b = 1e3 * median_s(lambda: fastce.logsumexp(cancelling, n_threads=1), args.repeats)
            print(f"{name:<34}{np.dtype(dtype).name:<9}{a:>10.2f}{b:>15.2f}{b / a:>8.0f}x")


if __name__ == "__main__":
    main()
