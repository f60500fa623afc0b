"""What categorical CE costs with one-hot dense targets.

    python bench/one_hot.py [--repeats N]

In ``categorical_cross_entropy`` a zero target contributes nothing, and the
vector kernels skip blocks of zero targets (in chunks of 1024 elements that
start with 64 of them: csrc/vec_avx2.c, csrc/vec_avx512_pointwise.c), so a
one-hot dense target costs about a log per row, not one per element. This script times the forward and forward +
gradient (into a buffer kept by the caller) on one thread with soft targets,
one-hot dense targets and the class indices they encode, and prints the
medians in G elements/s and the one-hot / soft ratio.
"""
from __future__ import annotations

import argparse
from typing import List, Optional

import numpy as np

import fastce
from _timing import median_s


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=15)
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"fastce {fastce.__version__}, kernels: {fastce.show_config(print_out=False)['isa']}, "
          "1 thread, G elements/s (median)")
    print(f"{'dtype':8s} {'shape':12s} {'call':10s} {'soft':>6s} {'one-hot':>8s} "
          f"{'indices':>8s} {'one-hot/soft':>13s}")
    for dtype in (np.float32, np.float64):
        for n, C in ((256, 1000), (4096, 10), (16384, 1000)):
            probs = rng.dirichlet(np.ones(C), n).astype(dtype)
            soft = rng.dirichlet(np.ones(C), n).astype(dtype)
            labels = rng.integers(0, C, n)
            one_hot = np.eye(C, dtype=dtype)[labels]
            grad = np.empty_like(probs)
            for call, kw in (("forward", {}), ("+gradient", {"return_grad": True, "grad_out": grad})):
                speed = {}
                for name, target in (("soft", soft), ("one-hot", one_hot), ("indices", labels)):
                    t = median_s(lambda: fastce.categorical_cross_entropy(
                        probs, target, n_threads=1, **kw), args.repeats)
                    speed[name] = probs.size / t / 1e9
                print(f"{np.dtype(dtype).name:8s} {f'{n}x{C}':12s} {call:10s} "
                      f"{speed['soft']:6.2f} {speed['one-hot']:8.2f} {speed['indices']:8.2f} "
                      f"{speed['one-hot'] / speed['soft']:12.1f}x")


if __name__ == "__main__":
    main()
