"""fastce, PyTorch and JAX each timed alone, in a fresh process of its own.

    python bench/alone.py [--json FILE]

``python -m fastce bench --peers`` times every library in one process, in
bursts. On this project's 2-core machine that process still showed JAX up
to 2x slower than JAX in a process of its own (its thread pool shares the
cores with the others' OpenMP pools, which spin after each call). This
script is the cross-check: for the float32 softmax CE rows of the README
table (forward, and forward + gradient), each library runs in its own
``python`` subprocess where only it (and NumPy) does any work, at 1 and 2
threads (the process confined to that many CPUs, as in the benchmark), and
prints G elements/s and fastce's ratios.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any, Dict, List

OPERATIONS = ("softmax_ce", "softmax_ce_grad")
LIBRARIES = ("fastce", "torch", "JAX")
THREADS = (1, 2)


def child(name: str) -> List[Dict[str, Any]]:
    """Time library ``name`` on every selected float32 case; one record per case and thread count."""
    from fastce import _bench

    if name == "fastce":
        contender = [c for c in _bench.default_contenders() if c.name == _bench.SUBJECT][0]
    else:
        peers, missing = _bench.peer_contenders((name,))
        if not peers:
            raise SystemExit(f"{name}: {missing.get(name, 'not importable')}")
        contender = peers[0]
    profile = _bench.PROFILES["full"]
    out = []
    for case in _bench.cases("full", ("float32",)):
        if case.op.name not in OPERATIONS:
            continue
        inputs = _bench.make_inputs(case)
        for threads in THREADS:
            bound = contender.bind(case, inputs, threads)
            if bound is None:
                continue
            bound.run_once()  # warm-up (and JAX's compilation)
            with _bench.cpu_limit(threads):
                (timing,) = _bench.time_interleaved([bound], profile.budget,
                                                    profile.min_repeats, profile.max_repeats)
            out.append({"library": name, "id": case.id, "op": case.op.name,
                        "shape": list(case.shape), "threads": threads,
                        "Gelem_s": case.elements / timing.median / 1e9})
    return out


def run(libraries=LIBRARIES) -> List[Dict[str, Any]]:
    records = []
    for name in libraries:
        done = subprocess.run([sys.executable, __file__, "--child", name],
                              capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{name}: skipped ({done.stderr.strip().splitlines()[-1:]})", file=sys.stderr)
            continue
        records += json.loads(done.stdout)
    return records


def table(records: List[Dict[str, Any]]) -> List[str]:
    speed = {(r["library"], r["id"], r["threads"]): r["Gelem_s"] for r in records}
    rows = sorted({(r["op"], tuple(r["shape"]), r["id"], r["threads"]) for r in records},
                  key=lambda k: (OPERATIONS.index(k[0]), k[1][1], k[3]))
    lines = ["| operation | shape | threads | fastce | PyTorch | JAX | vs PyTorch | vs JAX |",
             "|---|---|---|---|---|---|---|---|"]
    for op, shape, cid, t in rows:
        f = speed.get(("fastce", cid, t))
        cells = [f"{speed[(lib, cid, t)]:.2f}" if (lib, cid, t) in speed else ""
                 for lib in LIBRARIES]
        ratios = [f"{f / speed[(lib, cid, t)]:.2f}x" if f and (lib, cid, t) in speed else ""
                  for lib in ("torch", "JAX")]
        name = "forward" if op == "softmax_ce" else "forward + gradient"
        lines.append(f"| softmax CE {name} | {shape} | {t} | " + " | ".join(cells + ratios) + " |")
    return lines


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", choices=LIBRARIES, help=argparse.SUPPRESS)
    parser.add_argument("--json", metavar="FILE", help="also write the records as JSON")
    args = parser.parse_args(argv)
    if args.child:
        json.dump(child(args.child), sys.stdout)
        return 0
    records = run()
    print("\n".join(table(records)))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(records, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
