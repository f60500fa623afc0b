"""What the options of softmax CE cost: label smoothing, class weights and
dense (soft) targets (also with smoothing or class weights), against the
plain loss.

    python bench/options.py [--repeats N] [--shapes 16384x1000,65536x150]

Times ``fastce.softmax_cross_entropy`` forward and forward + gradient (into a
kept buffer) on one thread, class axis last, for each option, with the
NumPy reference and, when importable, PyTorch's ``F.cross_entropy`` with the
same option (its gradient by ``backward``), and prints G elements/s of the
logits. Dense targets are softmax probabilities of other random logits;
class weights are uniform on [0.5, 2].
"""
from __future__ import annotations

import argparse
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

import fastce
from fastce import reference
from _timing import median_s


def torch_call(x: np.ndarray, target: np.ndarray, kw: dict, grad: bool) -> Optional[Callable]:
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
    torch.set_num_threads(1)
    tx, tt = torch.from_numpy(x), torch.from_numpy(target)
    tkw = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    if not grad:
        return lambda: F.cross_entropy(tx, tt, **tkw)

    def fwd_grad():
        xg = tx.detach().requires_grad_()
        F.cross_entropy(xg, tt, **tkw).backward()
        return xg.grad

    return fwd_grad


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--shapes", default="16384x1000,65536x150,262144x16",
                   help="(N, C) shapes, comma-separated")
    args = p.parse_args(argv)
    shapes = [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")]
    if any(len(s) != 2 for s in shapes):
        p.error(f"--shapes: expected N x C shapes such as 16384x1000, got {args.shapes!r}")
    rng = np.random.default_rng(0)
    print(f"fastce {fastce.__version__}, kernels: {fastce.show_config(print_out=False)['isa']}, "
          "1 thread, G elements/s (median)")
    print(f"{'dtype':8s} {'shape':12s} {'option':16s} {'fastce':>7s} {'+grad':>7s} "
          f"{'NumPy':>7s} {'PyTorch':>8s} {'+grad':>7s}")
    for dtype in (np.float32, np.float64):
        for shape in shapes:
            N, C = shape
            x = rng.standard_normal(shape).astype(dtype)
            y = rng.integers(0, C, N)
            soft = fastce.softmax(rng.standard_normal(shape).astype(dtype))
            w = rng.uniform(0.5, 2.0, C).astype(dtype)
            g = np.empty_like(x)
            options: Dict[str, Tuple[np.ndarray, dict]] = {
                "plain": (y, {}),
                "smoothing 0.1": (y, {"label_smoothing": 0.1}),
                "class weights": (y, {"weight": w}),
                "dense": (soft, {}),
                "dense smoothing": (soft, {"label_smoothing": 0.1}),
                "dense weights": (soft, {"weight": w}),
            }
            for name, (target, kw) in options.items():
                fwd = lambda: fastce.softmax_cross_entropy(x, target, n_threads=1, **kw)  # noqa: E731
                both = lambda: fastce.softmax_cross_entropy(  # noqa: E731
                    x, target, n_threads=1, return_grad=True, grad_out=g, **kw)
                speeds = [x.size / median_s(f, args.repeats) / 1e9 for f in (fwd, both)]
                ref_s = x.size / median_s(lambda: reference.softmax_cross_entropy(x, target, **kw),
                                          3) / 1e9
                peers = [torch_call(x, target, kw, grad) for grad in (False, True)]
                torch_s = [x.size / median_s(f, args.repeats) / 1e9 if f else float("nan")
                           for f in peers]
                print(f"{np.dtype(dtype).name:8s} {'x'.join(map(str, shape)):12s} {name:16s} "
                      f"{speeds[0]:7.2f} {speeds[1]:7.2f} {ref_s:7.2f} {torch_s[0]:8.2f} "
                      f"{torch_s[1]:7.2f}")


if __name__ == "__main__":
    main()
