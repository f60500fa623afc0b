"""What a class axis that is not the last costs: (N, C, H, W) batches.

    python bench/class_axis.py [--repeats N] [--shapes 8x21x128x128,4x150x64x64]

PyTorch's segmentation losses take logits of shape (N, C, H, W), the class
axis second; fastce takes them with ``axis=1``. Up to 32 classes its
row-parallel kernels read such samples where they are, 16 side by side;
with more classes it copies runs of samples into contiguous tiles
(csrc/row_impl.h) and runs the same code as for a last class axis. This script times softmax CE (forward, and with
the gradient into a kept buffer), ``log_softmax`` and ``accuracy`` on one
thread with ``axis=1``, the same data with the class axis last, the NumPy
reference and, when importable, PyTorch (``F.cross_entropy`` and
``log_softmax`` on the (N, C, H, W) tensor), and prints G elements/s.
"""
from __future__ import annotations

import argparse
from typing import List, Optional

import numpy as np

import fastce
from fastce import reference
from _timing import median_s


def torch_calls(x, y):
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return {}
    torch.set_num_threads(1)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def fwd_grad():
        xg = tx.detach().requires_grad_()
        F.cross_entropy(xg, ty).backward()
        return xg.grad

    return {"softmax CE": lambda: F.cross_entropy(tx, ty), "+ gradient": fwd_grad,
            "log_softmax": lambda: F.log_softmax(tx, dim=1)}


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--shapes", default="8x21x128x128,4x150x64x64",
                   help="(N, C, H, W) shapes, comma-separated, e.g. 8x21x120x136")
    args = p.parse_args(argv)
    shapes = [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")]
    if any(len(s) != 4 for s in shapes):
        p.error(f"--shapes: expected N x C x H x W shapes such as 8x21x128x128, got {args.shapes!r}")
    rng = np.random.default_rng(0)
    print(f"fastce {fastce.__version__}, kernels: {fastce.show_config(print_out=False)['isa']}, "
          "1 thread, G elements/s (median)")
    print(f"{'dtype':8s} {'shape':18s} {'call':12s} {'axis=1':>7s} {'last':>7s} "
          f"{'NumPy':>7s} {'PyTorch':>8s}")
    for dtype in (np.float32, np.float64):
        for shape in shapes:
            x = rng.standard_normal(shape).astype(dtype)
            y = rng.integers(0, shape[1], (shape[0],) + shape[2:])
            xl = np.ascontiguousarray(np.moveaxis(x, 1, -1))
            g, gl = np.empty_like(x), np.empty_like(xl)
            grad = {"return_grad": True, "n_threads": 1}
            cases = {
                "softmax CE": (lambda: fastce.softmax_cross_entropy(x, y, axis=1, n_threads=1),
                               lambda: fastce.softmax_cross_entropy(xl, y, n_threads=1),
                               lambda: reference.softmax_cross_entropy(x, y, axis=1)),
                "+ gradient": (lambda: fastce.softmax_cross_entropy(x, y, axis=1, grad_out=g, **grad),
                               lambda: fastce.softmax_cross_entropy(xl, y, grad_out=gl, **grad),
                               None),
                "log_softmax": (lambda: fastce.log_softmax(x, axis=1, out=g, n_threads=1),
                                lambda: fastce.log_softmax(xl, out=gl, n_threads=1),
                                lambda: reference.log_softmax(x, axis=1)),
                "accuracy": (lambda: fastce.accuracy(x, y, axis=1, n_threads=1),
                             lambda: fastce.accuracy(xl, y, n_threads=1),
                             lambda: reference.accuracy(x, y, axis=1)),
            }
            peers = torch_calls(x, y)
            for name, (strided, last, ref) in cases.items():
                speeds = [x.size / median_s(f, args.repeats) / 1e9 for f in (strided, last)]
                ref_s = x.size / median_s(ref, 3) / 1e9 if ref else float("nan")
                torch_s = (x.size / median_s(peers[name], args.repeats) / 1e9
                           if name in peers else float("nan"))
                ref_cell = f"{ref_s:7.2f}" if ref else f"{'-':>7s}"  # (no such call there)
                torch_cell = f"{torch_s:8.2f}" if name in peers else f"{'-':>8s}"
                print(f"{np.dtype(dtype).name:8s} {'x'.join(map(str, shape)):18s} {name:12s} "
                      f"{speeds[0]:7.2f} {speeds[1]:7.2f} {ref_cell} {torch_cell}")


if __name__ == "__main__":
    main()
