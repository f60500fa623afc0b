"""The reports: tables, the header, progress lines and the JSON file."""

from __future__ import annotations

import contextlib
import io
import json
import os
import platform
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from ._base import (BASELINE, BUSY_WARNING, CEILINGS, RETRY_WAIT_S, SEED, SUBJECT, TOLERANCE_ULPS,
                    Threads, _shape_str, _threads_str)
from .cases import Profile
from .contenders import Contender
from .timing import BURST_ROUNDS
from .load import _load_note, busy_cpus
from .results import CaseResult, Row
from .targets import TargetOutcome


def format_seconds(t: Optional[float]) -> str:
    """Seconds in a readable unit (``"12.3 ms"``); ``"-"`` when missing."""
    if t is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if t >= scale:
            return f"{t / scale:.3g} {unit}" if t / scale < 100 else f"{t / scale:.0f} {unit}"
    return f"{t * 1e9:.0f} ns"


def _fmt(value: Optional[float], spec: str, suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def _mark(row: Row, name: str) -> str:
    """``"!"`` after a value whose result disagreed with the reference."""
    return "!" if row.problem(name) else ""


def _row_label(row: Row) -> List[str]:
    return [row.case.op.label, _shape_str(row.case.shape), row.case.dtype,
            _threads_str(row.threads)]


_LABEL_HEADER = ["operation", "shape", "dtype", "threads"]


def time_table_rows(rows: Sequence[Row], names: Sequence[str]) -> List[List[str]]:
    """Header and body of the time table: seconds per call of every contender, and the check."""
    table = [_LABEL_HEADER + [f"{n} time" for n in names] + ["check"]]
    for row in rows:
        cells = [format_seconds(row.median(n)) + _mark(row, n) for n in names]
        load = _load_note(row.result.other_load)
        check = ", ".join([row.status] + row.peer_notes(names) + ([load] if load else []))
        table.append(_row_label(row) + cells + [check])
    return table


def ratio_table_rows(rows: Sequence[Row], names: Sequence[str]) -> List[List[str]]:
    """Header and body of the throughput table: G elements/s and every ratio of the row."""
    rivals = [n for n in names if n not in (SUBJECT, *CEILINGS)]
    ceilings = [n for n in CEILINGS if n in names]
    show_scaling = any(r.scaling() is not None for r in rows)
    header = _LABEL_HEADER + [f"{n} Gel/s" for n in names]
    header += [f"vs {n}" for n in rivals]
    header += [f"/ {n}" for n in ceilings] + ["vs 1 thread"] * show_scaling
    table = [header]
    for row in rows:
        cells = [_fmt(row.throughput(n), ".3f") + _mark(row, n) for n in names]
        cells += [_fmt(row.speedup_over(n), ".2f", "x") for n in rivals]
        cells += [_fmt(row.ceiling_ratio(n), ".2f", "x") for n in ceilings]
        cells += [_fmt(row.scaling(), ".2f", "x")] * show_scaling
        table.append(_row_label(row) + cells)
    return table


RATIO_LEGEND = ("Gel/s = 1e9 logits elements per second. 'vs X' = X's time / fastce's time "
                "(fastce's speed-up); '/ x.sum()' = fastce's time / x.sum()'s (the targets' "
                "yardstick, NumPy's pairwise sum); '/ x.max()' = fastce's time / one vectorised "
                "read's (1.00x = as fast as reading the array); 'vs 1 thread' = fastce's 1-thread time / this row's. "
                "'!' = the result differs from fastce.reference beyond the tolerance.")


def format_table(rows: Sequence[Sequence[str]], left: int = 4, text_last: bool = False) -> str:
    """Align rows into a plain-text table.

    The first ``left`` columns (and the last one if ``text_last``) are text,
    left-aligned; the others are numbers, right-aligned.
    """
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    left_columns = set(range(left)) | ({len(widths) - 1} if text_last else set())

    def line(row: Sequence[str]) -> str:
        cells = [c.ljust(w) if i in left_columns else c.rjust(w)
                 for i, (c, w) in enumerate(zip(row, widths))]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(rows[0]), rule] + [line(r) for r in rows[1:]])


def progress_line(index: int, total: int, row: Row, names: Sequence[str]) -> str:
    """One line per finished case and thread count, for stderr."""
    width = len(str(total))
    parts = [f"fastce {format_seconds(row.median(SUBJECT))}"]
    parts += [f"{row.speedup_over(n):.2f}x vs {n}{_mark(row, n)}" for n in names
              if n not in (SUBJECT, *CEILINGS) and row.speedup_over(n) is not None]
    if row.ceiling_ratio() is not None:
        parts.append(f"{row.ceiling_ratio():.2f}x x.sum()")
    if row.scaling() is not None:
        parts.append(f"{row.scaling():.2f}x vs 1 thread")
    load = _load_note(row.result.other_load)
    threads = "" if row.threads is None else f" {row.threads}T"
    return (f"[{index:>{width}}/{total}] {row.case.op.label} {_shape_str(row.case.shape)} "
            f"{row.case.dtype}{threads}: " + " | ".join(parts) + f" | {row.status}"
            + (f" ({load}!)" if load else ""))


def _show_config_text(module: Any) -> Optional[str]:
    """Whatever ``module.show_config()`` prints or returns, if it exists."""
    show = getattr(module, "show_config", None)
    if not callable(show):
        return None
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            returned = show()
    except Exception as exc:  # noqa: BLE001 - informative only
        return f"show_config() raised {exc!r}"
    text = buffer.getvalue().rstrip()
    if not text and returned is not None:  # it returned its report instead of printing it
        if isinstance(returned, Mapping):
            text = "\n".join(f"{key}: {value}" for key, value in returned.items())
        else:
            text = str(returned).rstrip()
    return text or None


def environment(threads: Sequence[Threads], contenders: Sequence[Contender] = (),
                missing: Optional[Mapping[str, str]] = None) -> Dict[str, Any]:
    """Versions and machine facts printed in the header and saved in the JSON."""
    import fastce

    affinity = getattr(os, "sched_getaffinity", None)
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "numpy": np.__version__,
        "fastce": getattr(fastce, "__version__", "unknown"),
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(affinity(0)) if affinity else None,
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "busy_cpus_before": busy_cpus(),
        "n_threads": list(threads),
        "contenders": {c.name: {"role": c.role, "version": c.version, "threaded": c.threaded,
                                "note": c.note} for c in contenders},
        "missing_peers": dict(missing or {}),
        "show_config": _show_config_text(fastce),
    }


def _contender_lines(env: Mapping[str, Any]) -> List[str]:
    lines = []
    for name, info in env["contenders"].items():
        if info["role"] in ("peer", "ceiling"):
            version = f" {info['version']}" if info["version"] else ""
            lines.append(f"  {name}{version}: {info['note']}")
    lines += [f"  {name}: not importable ({why}); column absent"
              for name, why in env["missing_peers"].items()]
    return (["contenders:"] + lines) if lines else []


def _unthreaded_note(env: Mapping[str, Any]) -> str:
    """Which contenders ignore the thread count (timed once per case)."""
    names = [n for n, info in env["contenders"].items() if not info["threaded"]]
    verb = "ignores" if len(names) == 1 else "ignore"
    return (f"{', '.join(names)} {verb} the thread count: timed once per case, "
            f"shown on each thread count's row")


def _threads_means(env: Mapping[str, Any]) -> str:
    """What the thread count of a row sets, for the contenders of this run."""
    setters = {SUBJECT: "fastce n_threads", "torch": "torch.set_num_threads",
               "sklearn": "sklearn n_threads", "JAX": "the CPUs JAX's pool may use"}
    parts = [text for name, text in setters.items() if name in env["contenders"]]
    return ", ".join(parts) + "; 'default' = fastce's default"


def format_header(env: Mapping[str, Any], profile: Profile, budget: Optional[float] = None,
                  retries: int = 0) -> str:
    """The lines printed before the tables (``budget``: the ``--budget`` override)."""
    threads = ", ".join(_threads_str(t) for t in env["n_threads"])
    cpus = env["cpu_count"] if env["usable_cpus"] in (None, env["cpu_count"]) \
        else f"{env['cpu_count']} ({env['usable_cpus']} usable)"
    load = env["load_average_1min"]
    lines = [
        f"fastce {env['fastce']} benchmark ({profile.name} profile) -- "
        f"NumPy = fastce.reference on the same inputs",
        f"python {env['python']}, numpy {env['numpy']}, {env['platform']}",
        f"CPUs: {cpus}; threads per row: {threads} ({_threads_means(env)})"
        + ("" if load is None else f"; load average {load:.2f}"),
        f"timing: medians of repeats in bursts per contender, {BURST_ROUNDS} rounds "
        f"(>= {profile.min_repeats} each, "
        f"~{profile.budget if budget is None else budget:g} s per case and thread count); "
        + _unthreaded_note(env),
        f"other load: a case during which other processes used >= {BUSY_WARNING:g} CPU "
        + (f"is rerun up to {retries} time(s), each after waiting up to {RETRY_WAIT_S:g} s "
           f"for quiet, keeping the quietest run" if retries
           else "is only marked (--retries 0)"),
        f"check: rtol = atol/max|ref| = {TOLERANCE_ULPS} eps of the dtype, every contender "
        f"against fastce.reference before timing",
    ]
    busy = env["busy_cpus_before"]
    if busy is not None and busy >= BUSY_WARNING:
        lines.append(f"WARNING: other processes kept {busy:.1f} CPU(s) busy just before the run: "
                     f"timings, multi-threaded ones above all, are unreliable")
    lines += _contender_lines(env)
    if env["show_config"]:
        lines.append("fastce.show_config():")
        lines += ["  " + line for line in env["show_config"].splitlines()]
    return "\n".join(lines)


def _problem_lines(rows_or_results: Sequence[CaseResult], roles: Mapping[str, str],
                   peers: bool) -> List[str]:
    """Mismatches and errors of fastce and the baseline (``peers=False``) or of the peers."""
    lines = []
    for r in rows_or_results:
        for kind, table in (("MISMATCH", r.problems), ("ERROR   ", r.errors)):
            for (name, threads), text in table.items():
                if (roles.get(name) == "peer") != peers:
                    continue
                at = "" if threads is None else f" at {threads} threads"
                lines.append(f"{kind} {r.case.id} [{name}{at}]: {text}")
    return lines


def write_json(path: str, env: Mapping[str, Any], profile: Profile,
               results: Sequence[CaseResult], names: Sequence[str],
               targets: Optional[Sequence[TargetOutcome]] = None,
               settings: Optional[Mapping[str, Any]] = None) -> None:
    """Save the run in machine-readable form: one entry per case and thread count.

    ``settings`` adds to (or overrides) the profile's settings, e.g. ``--budget``.
    """
    payload = {
        "environment": dict(env),
        "settings": {"profile": profile.name, "budget_s": profile.budget,
                     "min_repeats": profile.min_repeats, "tolerance_eps": TOLERANCE_ULPS,
                     "seed": SEED, "baseline": BASELINE, "contenders": list(names),
                     **(settings or {})},
        "results": [row.to_json(names) for r in results for row in r.rows()],
    }
    if targets is not None:
        payload["targets"] = [o.to_json() for o in targets]
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=2)
        fh.write("\n")
