"""Speed across class counts, where the kernels change: the row-parallel
kernels take up to 32 classes in every layout and contiguous rows up to
128, longer rows go in batches of 8 (``csrc/vec.h``: FASTCE_SMALL_C,
FASTCE_ROWS_C; ``csrc/row_impl.h``: FASTCE_ROW_BATCH).

    python bench/class_counts.py [--classes 16,32,33,48,64,65,100,200,1000]
                                 [--elements 131072] [--repeats 101]
                                 [--dtype float32] [--target sparse]

One thread, class axis last, N = elements // C rows of standard normal
logits (131072 float32 elements are 512 KB: the caches, where the
arithmetic shows; pass --elements 4194304 for arrays in memory). Times
softmax CE forward, forward + gradient into a kept buffer (class indices,
or with ``--target dense`` probabilities drawn from a flat Dirichlet),
logsumexp, and
log_softmax and softmax into kept buffers, and, when PyTorch is importable,
its same calls (``F.cross_entropy``, its gradient by ``backward``, which
allocates; ``torch.logsumexp``; ``log_softmax`` and ``softmax`` with
``out=``). Prints G elements/s (median of --repeats calls) and fastce's
speed over PyTorch's.
"""
from __future__ import annotations

import argparse
from typing import Callable, List, Optional

import numpy as np

import fastce
from _timing import median_s

OPS = ["CE", "CE+grad", "logsumexp", "log_softmax", "softmax"]


def torch_calls(x: np.ndarray, y: np.ndarray) -> Optional[List[Callable[[], object]]]:
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
    torch.set_num_threads(1)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    out = torch.empty_like(tx)

    def fwd_grad():
        xg = tx.detach().requires_grad_()
        F.cross_entropy(xg, ty).backward()
        return xg.grad

    return [lambda: F.cross_entropy(tx, ty), fwd_grad, lambda: torch.logsumexp(tx, -1),
            lambda: torch.log_softmax(tx, -1, out=out), lambda: torch.softmax(tx, -1, out=out)]


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--classes", default="16,32,33,48,64,65,100,200,1000",
                   help="class counts, comma-separated")
    p.add_argument("--elements", type=int, default=131072, help="logits per array (about)")
    p.add_argument("--repeats", type=int, default=101)
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--target", choices=["sparse", "dense"], default="sparse",
                   help="class indices, or probabilities of the logits' shape")
    args = p.parse_args(argv)
    try:
        classes = [int(c) for c in args.classes.split(",")]
    except ValueError:
        p.error(f"--classes: expected integers such as 16,33,100, got {args.classes!r}")
    if any(c < 1 for c in classes) or args.elements < 1:
        p.error("--classes and --elements: expected positive integers")
    dtype = np.dtype(args.dtype)
    rng = np.random.default_rng(0)
    print(f"fastce {fastce.__version__}, kernels: {fastce.show_config(print_out=False)['isa']}, "
          f"{dtype.name}, {args.target} targets, 1 thread, about {args.elements} elements, G elements/s (median); "
          "fastce / PyTorch in brackets")
    print(f"{'C':>6s} {'N':>7s} " + " ".join(f"{op:>16s}" for op in OPS))
    for C in classes:
        N = max(1, args.elements // C)
        x = rng.standard_normal((N, C)).astype(dtype)
        y = rng.integers(0, C, N)
        if args.target == "dense":
            y = rng.dirichlet(np.ones(C), N).astype(dtype)
        g, o = np.empty_like(x), np.empty_like(x)
        ours = [lambda: fastce.softmax_cross_entropy(x, y, n_threads=1),
                lambda: fastce.softmax_cross_entropy(x, y, return_grad=True, grad_out=g,
                                                     n_threads=1),
                lambda: fastce.logsumexp(x, n_threads=1),
                lambda: fastce.log_softmax(x, out=o, n_threads=1),
                lambda: fastce.softmax(x, out=o, n_threads=1)]
        peers = torch_calls(x, y) or [None] * len(OPS)
        cells = []
        for f, t in zip(ours, peers):
            s = x.size / median_s(f, args.repeats) / 1e9
            if t is None:
                cells.append(f"{s:16.2f}")
                continue
            ts = x.size / median_s(t, args.repeats) / 1e9
            cells.append(f"{s:8.2f} ({s / ts:4.2f}x)")
        print(f"{C:6d} {N:7d} " + " ".join(cells), flush=True)


if __name__ == "__main__":
    main()
