"""The README's performance table, from the JSON of one benchmark run.

    python -m fastce bench --peers --targets --threads 1,2 --json run.json
    python bench/readme_table.py run.json

prints a Markdown table of the float32 softmax and sigmoid cross-entropy
throughputs (G elements of the logits per second) at each thread count of
the run, then which of the issue's targets that run met.
"""
from __future__ import annotations

import json
import sys
from typing import Any, Dict, List

OPERATIONS = ("softmax_ce", "softmax_ce_grad", "sigmoid_ce", "sigmoid_ce_grad")
NAMES = {"softmax_ce": "softmax CE forward", "softmax_ce_grad": "softmax CE forward + gradient",
         "sigmoid_ce": "sigmoid CE forward", "sigmoid_ce_grad": "sigmoid CE forward + gradient"}
COLUMNS = (("NumPy", "NumPy"), ("fastce", "fastce"), ("torch", "PyTorch"), ("JAX", "JAX"),
           ("sklearn", "scikit-learn"), ("x.sum()", "`x.sum()`"), ("x.max()", "`x.max()`"))


def table(run: Dict[str, Any]) -> List[str]:
    lines = ["| operation | shape | threads | " + " | ".join(t for _, t in COLUMNS) + " |",
             "|---|---|---|" + "---|" * len(COLUMNS)]
    for op in OPERATIONS:
        for r in run["results"]:
            if r["operation"] != op or r["dtype"] != "float32":
                continue
            g = r["throughput_Gelem_s"]
            cells = [f"**{g[k]:.2f}**" if k == "fastce" and k in g else
                     (f"{g[k]:.2f}" if k in g else "") for k, _ in COLUMNS]
            shape = "(" + ", ".join(str(s) for s in r["shape"]) + ")"
            lines.append(f"| {NAMES[op]} | {shape} | {r['threads'] or 'default'} | "
                         + " | ".join(cells) + " |")
    return lines


def targets(run: Dict[str, Any]) -> List[str]:
    out = []
    for t in run.get("targets", []):
        rows = [r for r in t["rows"] if r["pass"] is not None]
        by_threads: Dict[Any, List[bool]] = {}
        for r in rows:
            by_threads.setdefault(r["threads"], []).append(r["pass"])
        parts = [f"{sum(v)}/{len(v)} rows at {k or 'default'} thread(s)"
                 for k, v in sorted(by_threads.items(), key=lambda kv: kv[0] or 0)]
        out.append(f"- {t['verdict']}: {t['target']} ({'; '.join(parts)})")
    return out


def main(argv: List[str]) -> int:
    if len(argv) == 2 and argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as fh:
            run = json.load(fh)
    except (OSError, ValueError) as exc:
        print(f"readme_table.py: cannot read {argv[1]!r} as a benchmark run's JSON: {exc}",
              file=sys.stderr)
        return 2
    try:
        lines = table(run)
    except (KeyError, TypeError, AttributeError) as exc:
        print(f"readme_table.py: {argv[1]!r} is not the JSON of a benchmark run "
              f"(python -m fastce bench --json): {exc!r}", file=sys.stderr)
        return 2
    if len(lines) <= 2:  # the header alone
        print(f"readme_table.py: {argv[1]!r} has none of the table's rows (softmax and "
              "sigmoid CE, float32): run the benchmark without --filter", file=sys.stderr)
        return 1
    print("\n".join(lines))
    print()
    print("\n".join(targets(run)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
