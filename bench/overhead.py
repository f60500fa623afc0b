"""What one call costs on a small batch: the time outside the kernels.

    python bench/overhead.py [--rows N] [--classes C] [--repeats R]

On a training step's batch (default 32 x 10, float32) the kernels take well
under a microsecond; the call's time is argument checking, array wrapping
and the result's allocation. This script times fastce's public functions on
such a batch, and PyTorch's and JAX's counterparts (those importable: PyTorch
eager, JAX jitted), one thread each, as the median of ``R`` rounds of many
calls, rounds interleaved between the libraries, and prints microseconds
per call and fastce's ratio from the same run.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

import fastce

Case = Tuple[str, Callable[[], object], Optional[Callable[[], object]], Optional[Callable[[], object]]]


def torch_calls(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> Dict[str, Callable[[], object]]:
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return {}
    torch.set_num_threads(1)
    tx, ty, tz = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(z)

    def fwd_grad():
        xg = tx.detach().requires_grad_()
        F.cross_entropy(xg, ty).backward()
        return xg.grad

    return {
        "softmax CE fwd": lambda: F.cross_entropy(tx, ty),
        "softmax CE fwd+grad": fwd_grad,
        "nll_loss fwd": lambda: F.nll_loss(tx, ty),
        "sigmoid CE fwd": lambda: F.binary_cross_entropy_with_logits(tx, tz),
        "logsumexp": lambda: torch.logsumexp(tx, dim=-1),
        "log_softmax": lambda: F.log_softmax(tx, dim=-1),
    }


def jax_calls(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> Dict[str, Callable[[], object]]:
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return {}
    jx, jy, jz = jnp.asarray(x), jnp.asarray(y), jnp.asarray(z)

    def ce(a, b):
        lp = jax.nn.log_softmax(a, axis=-1)
        return -jnp.mean(jnp.take_along_axis(lp, b[:, None], axis=-1))

    def sig(a, b):
        return jnp.mean(jnp.maximum(a, 0) - a * b + jnp.log1p(jnp.exp(-jnp.abs(a))))

    def nll(a, b):
        return -jnp.mean(jnp.take_along_axis(a, b[:, None], axis=-1))

    f_ce, f_grad, f_nll = jax.jit(ce), jax.jit(jax.value_and_grad(ce)), jax.jit(nll)
    f_sig = jax.jit(sig)
    f_lse = jax.jit(lambda a: jax.nn.logsumexp(a, axis=-1))
    f_ls = jax.jit(lambda a: jax.nn.log_softmax(a, axis=-1))
    block = jax.block_until_ready
    return {
        "softmax CE fwd": lambda: block(f_ce(jx, jy)),
        "softmax CE fwd+grad": lambda: block(f_grad(jx, jy)),
        "nll_loss fwd": lambda: block(f_nll(jx, jy)),
        "sigmoid CE fwd": lambda: block(f_sig(jx, jz)),
        "logsumexp": lambda: block(f_lse(jx)),
        "log_softmax": lambda: block(f_ls(jx)),
    }


def per_call_us(f: Callable[[], object], calls: int) -> float:
    t = time.perf_counter()
    for _ in range(calls):
        f()
    return (time.perf_counter() - t) / calls * 1e6


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=32)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--repeats", type=int, default=15, help="rounds per library (default 15)")
    args = p.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):  # one CPU, as the benchmark's 1-thread rows
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.rows, args.classes)).astype(np.float32)
    y = rng.integers(0, args.classes, args.rows)
    z = rng.random((args.rows, args.classes)).astype(np.float32)
    ours = {
        "softmax CE fwd": lambda: fastce.softmax_cross_entropy(x, y, n_threads=1),
        "softmax CE fwd+grad": lambda: fastce.softmax_cross_entropy(
            x, y, return_grad=True, n_threads=1),
        "nll_loss fwd": lambda: fastce.nll_loss(x, y, n_threads=1),
        "sigmoid CE fwd": lambda: fastce.sigmoid_cross_entropy(x, z, n_threads=1),
        "logsumexp": lambda: fastce.logsumexp(x, axis=-1, n_threads=1),
        "log_softmax": lambda: fastce.log_softmax(x, axis=-1, n_threads=1),
    }
    peers = {"PyTorch": torch_calls(x, y, z), "JAX": jax_calls(x, y, z)}
    peers = {name: calls for name, calls in peers.items() if calls}

    print(f"Time per call (us), float32 ({args.rows}, {args.classes}), one thread; "
          f"median of {args.repeats} rounds")
    header = f"{'operation':<22}{'fastce':>9}" + "".join(f"{n:>9}{'ratio':>8}" for n in peers)
    print(header)
    print("-" * len(header))
    for op, f in ours.items():
        contenders = [f] + [calls[op] for calls in peers.values()]
        for g in contenders:  # warm up (and compile, for JAX)
            per_call_us(g, 50)
        # calls per round: about 20 ms of fastce
        calls = max(100, int(20e3 / max(per_call_us(f, 200), 0.1)))
        rounds: List[List[float]] = [[] for _ in contenders]
        for _ in range(args.repeats):
            for i, g in enumerate(contenders):
                rounds[i].append(per_call_us(g, calls))
        med = [statistics.median(r) for r in rounds]
        row = f"{op:<22}{med[0]:>9.2f}"
        for m in med[1:]:
            row += f"{m:>9.2f}{m / med[0]:>7.2f}x"
        print(row)
    print("ratio = the peer's time / fastce's (fastce's speed-up)")


if __name__ == "__main__":
    main()
