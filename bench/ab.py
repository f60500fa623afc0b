"""Two builds of fastce against each other, for a kernel change: which
cases got faster or slower, beyond what the machine's noise does.

    python bench/ab.py PYTHON_A PYTHON_B [--rounds 8] [--repeats 20]
                       [--isa avx2] [--cases sigmoid_f32,entropy_f64] [--list]

PYTHON_A and PYTHON_B are the interpreters of two virtual environments,
each with one build installed (``pip install .`` of each commit). Every
round runs one process of each, A then B, and each process times every case
``repeats`` times on one thread; a case's time is the minimum over all its
rounds, the figure least moved by other load on a shared machine. The
script prints both and their ratio B/A (below 1: B is faster).

Run it once with the same interpreter as A and B first: how far that A/A
ratio strays from 1 (a few percent here, on some cases) is the noise that a
difference must clear. ``--isa`` sets ``FASTCE_ISA`` in both (``avx2`` on
a machine with AVX-512 times the AVX2 kernels).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Callable, Dict, List

from _timing import times_s  # bench/ is on sys.path when run as a script

CASES = ("softmax_ce_c10_f32", "softmax_ce_c1000_f32", "softmax_ce_grad_c1000_f32",
         "softmax_ce_c1000_f64", "log_softmax_c1000_f32", "sigmoid_f32", "sigmoid_grad_f32",
         "sigmoid_f64", "binary_f32", "binary_f64", "categorical_dense_f32",
         "categorical_dense_f64", "entropy_f32", "entropy_f64", "kl_f32", "kl_f64")


def _cases() -> Dict[str, Callable[[], object]]:
    """The timed calls, on fixed inputs in the caches (one thread each);
    imported in the worker processes only, from their own build."""
    import numpy as np

    import fastce

    rng = np.random.default_rng(0)
    few = rng.standard_normal((65536, 10)).astype(np.float32)
    few_y = rng.integers(0, 10, 65536)
    many = rng.standard_normal((4096, 1000)).astype(np.float32)
    many_y = rng.integers(0, 1000, 4096)
    many64 = many.astype(np.float64)
    grad = np.empty_like(many)
    out = np.empty_like(many)
    x = rng.standard_normal((16384, 64)).astype(np.float32)
    z = (rng.random((16384, 64)) < 0.3).astype(np.float32)
    pb = rng.random((16384, 64)).astype(np.float32)
    p = rng.dirichlet(np.ones(1000), 1024).astype(np.float32)
    q = rng.dirichlet(np.ones(1000), 1024).astype(np.float32)
    x64, z64, pb64, p64, q64 = (a.astype(np.float64) for a in (x, z, pb, p, q))
    one = {"n_threads": 1}
    cases = {
        "softmax_ce_c10_f32": lambda: fastce.cross_entropy(few, few_y, **one),
        "softmax_ce_c1000_f32": lambda: fastce.cross_entropy(many, many_y, **one),
        "softmax_ce_grad_c1000_f32": lambda: fastce.cross_entropy(
            many, many_y, return_grad=True, grad_out=grad, **one),
        "softmax_ce_c1000_f64": lambda: fastce.cross_entropy(many64, many_y, **one),
        "log_softmax_c1000_f32": lambda: fastce.log_softmax(many, out=out, **one),
        "sigmoid_f32": lambda: fastce.sigmoid_cross_entropy(x, z, **one),
        "sigmoid_grad_f32": lambda: fastce.sigmoid_cross_entropy(x, z, return_grad=True, **one),
        "sigmoid_f64": lambda: fastce.sigmoid_cross_entropy(x64, z64, **one),
        "binary_f32": lambda: fastce.binary_cross_entropy(pb, z, **one),
        "binary_f64": lambda: fastce.binary_cross_entropy(pb64, z64, **one),
        "categorical_dense_f32": lambda: fastce.categorical_cross_entropy(p, q, **one),
        "categorical_dense_f64": lambda: fastce.categorical_cross_entropy(p64, q64, **one),
        "entropy_f32": lambda: fastce.entropy(p, **one),
        "entropy_f64": lambda: fastce.entropy(p64, **one),
        "kl_f32": lambda: fastce.kl_divergence(p, q, **one),
        "kl_f64": lambda: fastce.kl_divergence(p64, q64, **one),
    }
    assert tuple(cases) == CASES
    return cases


def _worker(names: List[str], repeats: int) -> None:
    """One process of a round: each case's least time, as JSON on stdout."""
    cases = _cases()
    best: Dict[str, float] = {}
    for name in names:
        f = cases[name]
        f()  # first call: page in, warm up
        best[name] = min(times_s(f, repeats))
    print(json.dumps(best))


def _round(python: str, names: List[str], repeats: int, env: Dict[str, str]) -> Dict[str, float]:
    cmd = [python, os.path.abspath(__file__), "--worker", "--repeats", str(repeats),
           "--cases", ",".join(names)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"ab.py: {python} failed:\n{done.stderr.strip()}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("python_a", nargs="?", help="interpreter of build A")
    ap.add_argument("python_b", nargs="?", help="interpreter of build B")
    ap.add_argument("--rounds", type=int, default=8, help="processes of each build (default 8)")
    ap.add_argument("--repeats", type=int, default=20, help="timed calls a case a process")
    ap.add_argument("--isa", help="FASTCE_ISA for both builds (scalar, avx2, avx512)")
    ap.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    names = args.cases.split(",") if args.cases else list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        ap.error(f"--cases: unknown {', '.join(unknown)}; --list shows the cases")
    if args.list:
        print("\n".join(CASES))
        return
    if args.worker:
        _worker(names, args.repeats)
        return
    if not (args.python_a and args.python_b):
        ap.error("expected two interpreters, PYTHON_A and PYTHON_B")
    if args.rounds < 1 or args.repeats < 1:
        ap.error("--rounds and --repeats must be at least 1")
    for python in (args.python_a, args.python_b):
        if not (os.path.isfile(python) and os.access(python, os.X_OK)):
            ap.error(f"{python!r} is not an executable interpreter (a venv's bin/python)")
    env = dict(os.environ)
    if args.isa:
        env["FASTCE_ISA"] = args.isa
    a: Dict[str, float] = {}
    b: Dict[str, float] = {}
    for _ in range(args.rounds):
        for best, python in ((a, args.python_a), (b, args.python_b)):
            for name, t in _round(python, names, args.repeats, env).items():
                best[name] = min(t, best.get(name, t))
    print(f"{'case':<28} {'A (ms)':>9} {'B (ms)':>9} {'B/A':>6}")
    for name in names:
        print(f"{name:<28} {1e3 * a[name]:9.3f} {1e3 * b[name]:9.3f} {b[name] / a[name]:6.3f}")


if __name__ == "__main__":
    main()
