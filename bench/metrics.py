"""What accuracy, entropy and kl_divergence cost, against fastce.reference.

    python bench/metrics.py [--repeats N] [--isa NAME]

The metrics run the vector row kernels (row_argmax, entropy_row and
entropy_terms in csrc/vec_*.c) on contiguous rows. This script times them on
one thread for few and many classes, float32 and float64, with Dirichlet
probability rows (labels uniform), next to their NumPy twins in
``fastce.reference`` (NumPy's argmax for accuracy), and prints the medians in
G elements/s and fastce's speed-up. ``--isa`` pins an instruction set (as
``FASTCE_ISA`` does).
"""
from __future__ import annotations

import argparse
from typing import List, Optional

import numpy as np

import fastce
from _timing import median_s
from fastce import reference


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=11)
    p.add_argument("--isa", default=None)
    args = p.parse_args(argv)
    if args.isa:
        fastce.select_isa(args.isa)
    rng = np.random.default_rng(0)
    print(f"fastce {fastce.__version__}, kernels: {fastce.show_config(print_out=False)['isa']}, "
          "1 thread, G elements/s (median)")
    print(f"{'dtype':8s} {'shape':12s} {'metric':14s} {'NumPy':>7s} {'fastce':>7s} {'ratio':>7s}")
    for dtype in (np.float32, np.float64):
        for n, C in ((65536, 10), (4096, 1000)):
            probs = rng.dirichlet(np.ones(C), n).astype(dtype)
            other = rng.dirichlet(np.ones(C), n).astype(dtype)
            labels = rng.integers(0, C, n)
            cases = (("accuracy", (probs, labels)), ("entropy", (probs,)),
                     ("kl_divergence", (probs, other)))
            for name, operands in cases:
                fast = getattr(fastce, name)
                ref = getattr(reference, name)
                t_fast = median_s(lambda: fast(*operands, n_threads=1), args.repeats)
                t_ref = median_s(lambda: ref(*operands), max(3, args.repeats // 3))
                print(f"{np.dtype(dtype).name:8s} {f'{n}x{C}':12s} {name:14s} "
                      f"{probs.size / t_ref / 1e9:7.2f} {probs.size / t_fast / 1e9:7.2f} "
                      f"{t_ref / t_fast:6.1f}x")


if __name__ == "__main__":
    main()
