"""Benchmark harness behind ``python -m fastce bench`` and the ``bench/`` suite.

Everything here uses only NumPy and the standard library. The module defines

* the benchmarked **operations** (:data:`OPERATIONS`) and their input
  generators (:func:`make_inputs`, seeded per case, so any subset of cases
  reproduces the same arrays),
* the **case lists** of each profile (:func:`cases`: ``"full"``, ``"quick"``
  and ``"pytest"``, the last one used by ``bench/conftest.py``),
* the **correctness check** of a result against ``fastce.reference``
  (:func:`compare`, tolerance scaled by the dtype's machine epsilon),
* the **timer** (:func:`time_interleaved`: medians of auto-sized repeats,
  the contenders interleaved round by round so that they share the machine's
  state),
* and the command line (:func:`add_arguments`, :func:`run`).

The contenders are :class:`Contender` objects: the baseline (``NumPy``, i.e.
``fastce.reference``) and ``fastce``. Peer libraries (torch, jax, ...) can be
added later as further contenders without touching the timing or the checks.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import math
import os
import platform
import statistics
import sys
import time
import traceback
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np

__all__ = [
    "BASELINE",
    "Case",
    "CaseResult",
    "Contender",
    "DTYPES",
    "OPERATIONS",
    "Operation",
    "Profile",
    "PROFILES",
    "Timing",
    "add_arguments",
    "as_arrays",
    "bind_call",
    "cases",
    "compare",
    "default_contenders",
    "make_inputs",
    "run",
    "run_case",
    "time_interleaved",
]

Shape = Tuple[int, int]
Inputs = Tuple[np.ndarray, ...]
Call = Callable[[], Any]

#: Seed of every generated input (mixed with the case id, see :func:`make_inputs`).
SEED = 20240611
#: The dtypes benchmarked by ``--dtype all``.
DTYPES: Tuple[str, ...] = ("float32", "float64")
#: Name of the contender every other one is checked against and compared to.
BASELINE = "NumPy"
#: Tolerance of the correctness check, in units of the dtype's machine epsilon.
TOLERANCE_ULPS = 64


# --------------------------------------------------------------------------
# Input generators
# --------------------------------------------------------------------------

def _logits(rng: np.random.Generator, shape: Shape, dtype: np.dtype) -> np.ndarray:
    """Gaussian logits with standard deviation 2 (a few confident rows)."""
    x = rng.standard_normal(shape, dtype=np.float64)
    x *= 2.0
    return x.astype(dtype)


def _class_labels(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """One int64 class index in ``[0, C)`` per row of a ``(rows, C)`` shape."""
    return rng.integers(0, shape[1], size=shape[0], dtype=np.int64)


def _binary_targets(rng: np.random.Generator, shape: Shape, dtype: np.dtype) -> np.ndarray:
    """Hard 0/1 targets of the given float dtype."""
    return (rng.random(shape) < 0.5).astype(dtype)


def _probabilities(rng: np.random.Generator, shape: Shape, dtype: np.dtype) -> np.ndarray:
    """Rows of class probabilities: the softmax of :func:`_logits`, in float64."""
    x = _logits(rng, shape, np.dtype(np.float64))
    x -= x.max(axis=1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=1, keepdims=True)
    return x.astype(dtype)


def _bernoulli_probs(rng: np.random.Generator, shape: Shape, dtype: np.dtype) -> np.ndarray:
    """Elementwise probabilities in (0, 1): the sigmoid of :func:`_logits`."""
    x = _logits(rng, shape, np.dtype(np.float64))
    return (1.0 / (1.0 + np.exp(-x))).astype(dtype)


def _sparse_softmax_inputs(rng: np.random.Generator, shape: Shape, dtype: np.dtype) -> Inputs:
    return _logits(rng, shape, dtype), _class_labels(rng, shape)


def _sigmoid_inputs(rng: np.random.Generator, shape: Shape, dtype: np.dtype) -> Inputs:
    return _logits(rng, shape, dtype), _binary_targets(rng, shape, dtype)


def _categorical_inputs(rng: np.random.Generator, shape: Shape, dtype: np.dtype) -> Inputs:
    # Dense soft targets: with class indices the kernel would read one
    # probability per row, which says nothing about its throughput.
    return _probabilities(rng, shape, dtype), _probabilities(rng, shape, dtype)


def _binary_inputs(rng: np.random.Generator, shape: Shape, dtype: np.dtype) -> Inputs:
    return _bernoulli_probs(rng, shape, dtype), _binary_targets(rng, shape, dtype)


def _logits_only(rng: np.random.Generator, shape: Shape, dtype: np.dtype) -> Inputs:
    return (_logits(rng, shape, dtype),)


# --------------------------------------------------------------------------
# Operations, cases and profiles
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Operation:
    """One benchmarked call: ``fastce.<func>(*inputs, **kwargs)``.

    ``family`` selects the shapes: ``"softmax"`` operations reduce over the
    last axis (rows of classes); ``"elementwise"`` ones do not.
    ``outputs`` names the parts of the result (``("loss", "grad")`` when the
    call returns the gradient too).
    """

    name: str
    label: str
    family: str
    func: str
    make_inputs: Callable[[np.random.Generator, Shape, np.dtype], Inputs]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    outputs: Tuple[str, ...] = ("loss",)


def _operations() -> Dict[str, Operation]:
    ops = [
        Operation("softmax_ce", "softmax CE fwd (sparse, mean)", "softmax",
                  "softmax_cross_entropy", _sparse_softmax_inputs),
        Operation("softmax_ce_grad", "softmax CE fwd+grad (sparse, mean)", "softmax",
                  "softmax_cross_entropy", _sparse_softmax_inputs,
                  {"return_grad": True}, ("loss", "grad")),
        Operation("sigmoid_ce", "sigmoid CE fwd (mean)", "elementwise",
                  "sigmoid_cross_entropy", _sigmoid_inputs),
        Operation("sigmoid_ce_grad", "sigmoid CE fwd+grad (mean)", "elementwise",
                  "sigmoid_cross_entropy", _sigmoid_inputs,
                  {"return_grad": True}, ("loss", "grad")),
        Operation("categorical_ce", "categorical CE fwd (dense, mean)", "softmax",
                  "categorical_cross_entropy", _categorical_inputs),
        Operation("binary_ce", "binary CE fwd (mean)", "elementwise",
                  "binary_cross_entropy", _binary_inputs),
        Operation("log_softmax", "log_softmax", "softmax",
                  "log_softmax", _logits_only, outputs=("output",)),
    ]
    return {op.name: op for op in ops}


#: The benchmarked operations, by name, in table order.
OPERATIONS: Dict[str, Operation] = _operations()


@dataclass(frozen=True)
class Profile:
    """Shapes per operation family, and the per-case timing budget."""

    name: str
    shapes: Mapping[str, Tuple[Shape, ...]]
    budget: float  # seconds of timed calls per case (all contenders together)
    min_repeats: int
    max_repeats: int = 200


PROFILES: Dict[str, Profile] = {
    "full": Profile(
        "full",
        {
            "softmax": ((65536, 10), (262144, 16), (16384, 1000), (2048, 32000), (256, 131072)),
            "elementwise": ((65536, 64),),
        },
        budget=1.0, min_repeats=5,
    ),
    # --quick: at most ~1M elements per case, a few repeats.
    "quick": Profile(
        "quick",
        {
            "softmax": ((65536, 10), (1024, 1000), (32, 32000)),
            "elementwise": ((16384, 64),),
        },
        budget=0.2, min_repeats=3, max_repeats=50,
    ),
    # bench/ (pytest-benchmark does its own timing; only the shapes are used).
    "pytest": Profile(
        "pytest",
        {
            "softmax": ((16384, 16), (512, 1000), (16, 32000)),
            "elementwise": ((8192, 64),),
        },
        budget=0.5, min_repeats=5,
    ),
}


@dataclass(frozen=True)
class Case:
    """One operation on one input shape and dtype."""

    op: Operation
    shape: Shape
    dtype: str

    @property
    def id(self) -> str:
        """Stable identifier, e.g. ``softmax_ce-16384x1000-float32``."""
        return f"{self.op.name}-{self.shape[0]}x{self.shape[1]}-{self.dtype}"

    @property
    def elements(self) -> int:
        """Number of elements of the logits (or probabilities)."""
        return self.shape[0] * self.shape[1]


def _matches(op: Operation, filters: Optional[Sequence[str]]) -> bool:
    """True when no filter is given or one is a substring of the op's name or label."""
    if not filters:
        return True
    haystack = f"{op.name} {op.label}".lower()
    return any(f.lower() in haystack for f in filters)


def cases(profile: str = "full", dtypes: Iterable[str] = DTYPES,
          filters: Optional[Sequence[str]] = None) -> List[Case]:
    """The cases of a profile: operations (in table order) x shapes x dtypes."""
    shapes = PROFILES[profile].shapes
    return [
        Case(op, shape, dtype)
        for op in OPERATIONS.values() if _matches(op, filters)
        for shape in shapes[op.family]
        for dtype in dtypes
    ]


def make_inputs(case: Case, seed: int = SEED) -> Inputs:
    """The case's input arrays, from a generator seeded by ``seed`` and the case id."""
    rng = np.random.default_rng([seed, zlib.crc32(case.id.encode())])
    return case.op.make_inputs(rng, case.shape, np.dtype(case.dtype))


# --------------------------------------------------------------------------
# Contenders and calls
# --------------------------------------------------------------------------

def bind_call(module: Any, case: Case, inputs: Inputs, **extra: Any) -> Call:
    """A no-argument callable running ``module.<func>(*inputs, **kwargs, **extra)``."""
    func = getattr(module, case.op.func)
    kwargs = {**case.op.kwargs, **extra}
    return lambda: func(*inputs, **kwargs)


@dataclass(frozen=True)
class Contender:
    """An implementation timed on every case.

    ``bind(case, inputs)`` returns the call to time, or ``None`` when the
    contender does not support the case (its column then stays empty).
    """

    name: str
    bind: Callable[[Case, Inputs], Optional[Call]]


def default_contenders(n_threads: Optional[int] = None) -> List[Contender]:
    """The baseline (``fastce.reference``) and ``fastce`` itself."""
    import fastce
    from fastce import reference

    extra = {} if n_threads is None else {"n_threads": n_threads}
    return [
        Contender(BASELINE, lambda case, inputs: bind_call(reference, case, inputs)),
        Contender("fastce", lambda case, inputs: bind_call(fastce, case, inputs, **extra)),
    ]


# --------------------------------------------------------------------------
# Correctness check
# --------------------------------------------------------------------------

def as_arrays(result: Any) -> Tuple[np.ndarray, ...]:
    """A result (array, scalar or tuple of them) as a tuple of arrays."""
    parts = result if isinstance(result, tuple) else (result,)
    return tuple(np.asarray(p) for p in parts)


def _compare_part(name: str, got: np.ndarray, expected: np.ndarray, rtol: float) -> Optional[str]:
    """Describe how ``got`` differs from ``expected``, or ``None`` when it agrees.

    ``|got - expected| <= rtol * (|expected| + max|expected|)``: a relative
    tolerance plus an absolute one scaled by the magnitude of the result.
    Non-finite values must match exactly (same positions, same values).
    """
    if got.shape != expected.shape:
        return f"{name}: shape {got.shape} != expected {expected.shape}"
    if got.ndim and got.dtype != expected.dtype:
        return f"{name}: dtype {got.dtype} != expected {expected.dtype}"
    g = got.astype(np.float64, copy=False)
    e = expected.astype(np.float64, copy=False)
    finite = np.isfinite(e)
    if not np.array_equal(np.isfinite(g), finite) or not np.array_equal(g[~finite], e[~finite]):
        return f"{name}: non-finite values differ ({np.count_nonzero(~np.isfinite(g))} in result, " \
               f"{np.count_nonzero(~finite)} expected)"
    if not finite.any():
        return None
    g, e = g[finite], e[finite]
    scale = float(np.max(np.abs(e)))
    err = np.abs(g - e)
    bad = err > rtol * (np.abs(e) + scale)
    if not bad.any():
        return None
    worst = int(np.argmax(np.where(bad, err, -1.0)))
    return (f"{name}: {np.count_nonzero(bad)} of {e.size} values out of tolerance; worst "
            f"{g[worst]:.17g} vs expected {e[worst]:.17g} (|diff| {err[worst]:.3g}, "
            f"rtol {rtol:.3g}, atol {rtol * scale:.3g})")


def compare(got: Sequence[np.ndarray], expected: Sequence[np.ndarray], dtype: str,
            names: Sequence[str] = ("loss", "grad")) -> Optional[str]:
    """Check a result against the reference one; ``None`` if it agrees, else why not.

    The tolerance is :data:`TOLERANCE_ULPS` machine epsilons of ``dtype``.
    """
    if len(got) != len(expected):
        return f"returned {len(got)} value(s), expected {len(expected)}"
    rtol = TOLERANCE_ULPS * float(np.finfo(dtype).eps)
    problems = [_compare_part(name, g, e, rtol)
                for name, g, e in zip(names, got, expected)]
    found = [p for p in problems if p]
    return "; ".join(found) if found else None


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------

@dataclass
class Timing:
    """Timed samples of one contender on one case (seconds per call)."""

    samples: List[float]
    number: int  # calls per sample

    @property
    def median(self) -> float:
        """Median seconds per call."""
        return statistics.median(self.samples)

    @property
    def repeats(self) -> int:
        """Number of samples."""
        return len(self.samples)

    def to_json(self) -> Dict[str, Any]:
        """Plain-data form, for ``--json``."""
        return {"median_s": self.median, "min_s": min(self.samples),
                "max_s": max(self.samples), "repeats": self.repeats,
                "calls_per_repeat": self.number, "samples_s": self.samples}


def _seconds_per_call(call: Call, number: int) -> float:
    """Wall time of ``number`` back-to-back calls, divided by ``number``."""
    start = time.perf_counter()
    for _ in range(number):
        call()
    return (time.perf_counter() - start) / number


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Disable the cyclic garbage collector for the duration (as ``timeit`` does)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def time_interleaved(calls: Sequence[Call], budget: float, min_repeats: int = 5,
                     max_repeats: int = 200, min_sample: float = 2e-3) -> List[Timing]:
    """Time several calls against each other; one :class:`Timing` per call.

    Each call is first timed once (after the caller's warm-up) to choose how
    many back-to-back calls make one sample (at least ``min_sample`` seconds,
    so fast calls are not lost in timer noise) and how many rounds fit in
    ``budget`` (clamped to ``[min_repeats, max_repeats]``). Each round takes
    one sample of every call, in alternating order, so slow drifts (clock
    boost, other load) affect every contender alike.
    """
    if not calls:
        return []
    with _gc_paused():
        estimates = [max(_seconds_per_call(c, 1), 1e-9) for c in calls]
        numbers = [max(1, min(10_000, math.ceil(min_sample / t))) for t in estimates]
        per_round = sum(n * t for n, t in zip(numbers, estimates))
        repeats = max(min_repeats, min(max_repeats, int(budget / per_round)))
        samples: List[List[float]] = [[] for _ in calls]
        order = list(range(len(calls)))
        for r in range(repeats):
            for i in (order if r % 2 == 0 else order[::-1]):
                samples[i].append(_seconds_per_call(calls[i], numbers[i]))
    return [Timing(s, n) for s, n in zip(samples, numbers)]


# --------------------------------------------------------------------------
# Running one case
# --------------------------------------------------------------------------

@dataclass
class CaseResult:
    """Outcome of one case: timings per contender and the correctness check."""

    case: Case
    timings: Dict[str, Timing] = field(default_factory=dict)
    problems: Dict[str, str] = field(default_factory=dict)  # contender -> what went wrong
    errors: Dict[str, str] = field(default_factory=dict)  # contender -> exception

    @property
    def status(self) -> str:
        """``"ok"``, ``"MISMATCH"`` or ``"ERROR"``."""
        if self.errors:
            return "ERROR"
        return "MISMATCH" if self.problems else "ok"

    def median(self, name: str) -> Optional[float]:
        """Median seconds per call of a contender, if it was timed."""
        t = self.timings.get(name)
        return t.median if t else None

    def speedup(self, name: str) -> Optional[float]:
        """Baseline median over the contender's median."""
        base, other = self.median(BASELINE), self.median(name)
        return base / other if base and other else None

    def throughput(self, name: str) -> Optional[float]:
        """Giga-elements of logits per second."""
        t = self.median(name)
        return self.case.elements / t / 1e9 if t else None

    def to_json(self) -> Dict[str, Any]:
        """Plain-data form, for ``--json``."""
        return {
            "id": self.case.id, "operation": self.case.op.name, "label": self.case.op.label,
            "function": self.case.op.func, "kwargs": dict(self.case.op.kwargs),
            "shape": list(self.case.shape), "dtype": self.case.dtype,
            "elements": self.case.elements, "status": self.status,
            "problems": self.problems, "errors": self.errors,
            "timings": {k: v.to_json() for k, v in self.timings.items()},
            "speedup": {k: self.speedup(k) for k in self.timings if k != BASELINE},
            "throughput_Gelem_s": {k: self.throughput(k) for k in self.timings},
        }


def _try_call(call: Call) -> Tuple[Optional[Tuple[np.ndarray, ...]], Optional[str]]:
    """Run a call once; ``(arrays, None)`` or ``(None, formatted exception)``."""
    try:
        return as_arrays(call()), None
    except Exception as exc:  # noqa: BLE001 - reported, never swallowed
        return None, "".join(traceback.format_exception_only(type(exc), exc)).strip()


def run_case(case: Case, contenders: Sequence[Contender], profile: Profile,
             budget: Optional[float] = None) -> CaseResult:
    """Check every contender against the baseline, then time them together.

    The checking call doubles as the warm-up. A contender that raises is
    reported and left out of the timing; a mismatching one is still timed.
    """
    result = CaseResult(case)
    inputs = make_inputs(case)
    calls = {c.name: c.bind(case, inputs) for c in contenders}
    calls = {name: call for name, call in calls.items() if call is not None}
    outputs = {}
    for name, call in calls.items():
        out, error = _try_call(call)
        if error is not None:
            result.errors[name] = error
        else:
            outputs[name] = out
    expected = outputs.get(BASELINE)
    if expected is not None:
        for name, got in outputs.items():
            if name != BASELINE:
                problem = compare(got, expected, case.dtype, case.op.outputs)
                if problem:
                    result.problems[name] = problem
    timed = [name for name in calls if name in outputs]
    timings = time_interleaved([calls[n] for n in timed],
                               profile.budget if budget is None else budget,
                               profile.min_repeats, profile.max_repeats)
    result.timings = dict(zip(timed, timings))
    return result


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------

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


def _shape_str(shape: Shape) -> str:
    return f"({shape[0]}, {shape[1]})"


def table_rows(results: Sequence[CaseResult], names: Sequence[str]) -> List[List[str]]:
    """Header and body rows of the results table; ``names[0]`` is the baseline."""
    others = [n for n in names if n != BASELINE]
    header = ["operation", "shape", "dtype"]
    header += [f"{n} time" for n in names]
    header += [f"{n} speed-up" if len(others) > 1 else "speed-up" for n in others]
    header += [f"{n} Gelem/s" for n in names]
    header += ["check"]
    rows = [header]
    for r in results:
        row = [r.case.op.label, _shape_str(r.case.shape), r.case.dtype]
        row += [format_seconds(r.median(n)) for n in names]
        row += [_fmt(r.speedup(n), ".2f", "x") for n in others]
        row += [_fmt(r.throughput(n), ".3f") for n in names]
        row += [r.status]
        rows.append(row)
    return rows


def format_table(rows: Sequence[Sequence[str]]) -> str:
    """Align rows into a plain-text table (text left-aligned, numbers right-aligned)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    left = {0, 1, 2, len(widths) - 1}

    def line(row: Sequence[str]) -> str:
        cells = [c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(rows[0]), rule] + [line(r) for r in rows[1:]])


def progress_line(index: int, total: int, result: CaseResult, names: Sequence[str]) -> str:
    """One line per finished case, for stderr."""
    width = len(str(total))
    times = " | ".join(f"{n} {format_seconds(result.median(n))}" for n in names)
    speed = " ".join(_fmt(result.speedup(n), ".2f", "x") for n in names if n != BASELINE)
    return (f"[{index:>{width}}/{total}] {result.case.op.label} {_shape_str(result.case.shape)} "
            f"{result.case.dtype}: {times} | {speed} {result.status}")


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


def environment(n_threads: Optional[int]) -> Dict[str, Any]:
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
        "n_threads": n_threads,
        "show_config": _show_config_text(fastce),
    }


def format_header(env: Mapping[str, Any], profile: Profile) -> str:
    """The lines printed before the table."""
    threads = "library default" if env["n_threads"] is None else env["n_threads"]
    cpus = env["cpu_count"] if env["usable_cpus"] in (None, env["cpu_count"]) \
        else f"{env['cpu_count']} ({env['usable_cpus']} usable)"
    lines = [
        f"fastce {env['fastce']} benchmark ({profile.name} profile) -- "
        f"NumPy = fastce.reference on the same inputs",
        f"python {env['python']}, numpy {env['numpy']}, {env['platform']}",
        f"CPUs: {cpus}; fastce n_threads: {threads}"
        + ("" if env["load_average_1min"] is None else f"; load average {env['load_average_1min']:.2f}"),
        f"timing: median of repeats (>= {profile.min_repeats}, ~{profile.budget:g} s per case); "
        f"check: rtol = atol/max|ref| = {TOLERANCE_ULPS} eps",
    ]
    if env["show_config"]:
        lines += ["fastce.show_config():"] + ["  " + l for l in env["show_config"].splitlines()]
    return "\n".join(lines)


def _failure_report(results: Sequence[CaseResult]) -> List[str]:
    """Lines describing every mismatch and error, for the end of the run."""
    lines = []
    for r in results:
        for name, problem in r.problems.items():
            lines.append(f"MISMATCH {r.case.id} [{name}]: {problem}")
        for name, error in r.errors.items():
            lines.append(f"ERROR    {r.case.id} [{name}]: {error}")
    return lines


def write_json(path: str, env: Mapping[str, Any], profile: Profile,
               results: Sequence[CaseResult]) -> None:
    """Save the run in machine-readable form."""
    payload = {
        "environment": dict(env),
        "settings": {"profile": profile.name, "budget_s": profile.budget,
                     "min_repeats": profile.min_repeats, "tolerance_eps": TOLERANCE_ULPS,
                     "seed": SEED, "baseline": BASELINE},
        "results": [r.to_json() for r in results],
    }
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=2)
        fh.write("\n")


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------

def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``fastce bench``."""
    parser.add_argument("--quick", action="store_true",
                        help="small shapes (<= ~1M elements) and few repeats; under a minute")
    parser.add_argument("--dtype", choices=(*DTYPES, "all"), default="all",
                        help="dtype(s) to benchmark (default: all)")
    parser.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                        help="n_threads passed to fastce (default: the library's default)")
    parser.add_argument("--filter", action="append", default=None, metavar="SUBSTRING",
                        help="only operations whose name or label contains SUBSTRING "
                             "(case-insensitive; repeat for several)")
    parser.add_argument("--json", default=None, metavar="FILE",
                        help="also write the results as JSON to FILE")
    parser.add_argument("--budget", type=_positive_float, default=None, metavar="SECONDS",
                        help="timing budget per case (default: 0.2 with --quick, else 1.0)")
    parser.add_argument("--list", action="store_true",
                        help="list the selected cases and exit")


def run(args: argparse.Namespace) -> int:
    """Run ``fastce bench``; the exit status (1 if any check failed or call raised)."""
    profile = PROFILES["quick" if args.quick else "full"]
    dtypes = DTYPES if args.dtype == "all" else (args.dtype,)
    selected = cases(profile.name, dtypes, args.filter)
    if not selected:
        print(f"fastce bench: no operation matches {args.filter}; known: "
              f"{', '.join(OPERATIONS)}", file=sys.stderr)
        return 2
    if args.list:
        print("\n".join(c.id for c in selected))
        return 0

    env = environment(args.threads)
    print(format_header(env, profile), flush=True)
    contenders = default_contenders(args.threads)
    names = [c.name for c in contenders]
    results: List[CaseResult] = []
    start = time.perf_counter()
    interrupted = False
    try:
        for i, case in enumerate(selected, 1):
            result = run_case(case, contenders, profile, args.budget)
            results.append(result)
            print(progress_line(i, len(selected), result, names), file=sys.stderr, flush=True)
            for line in _failure_report([result]):
                print(f"  !! {line}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: reporting the finished cases", file=sys.stderr)
    elapsed = time.perf_counter() - start

    print()
    if results:
        print(format_table(table_rows(results, names)))
    print(f"\n{len(results)} of {len(selected)} cases in {elapsed:.1f} s")
    if args.json:
        write_json(args.json, env, profile, results)
        print(f"results written to {args.json}")
    failures = _failure_report(results)
    if failures:
        print(f"\nFAILED: {len(failures)} problem(s) -- fastce disagrees with "
              f"fastce.reference or raised:", file=sys.stderr)
        for line in failures:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 130 if interrupted else 0
