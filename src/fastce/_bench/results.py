"""Running one case: binding, checking and timing every contender, and the
resulting rows."""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ._base import BASELINE, CEILING, CEILINGS, Inputs, Key, READ, SUBJECT, Threads
from .cases import Case, Profile, make_inputs
from .contenders import Bound, Contender
from .check import as_arrays, compare
from .timing import Timing, cpu_limit, time_interleaved
from .load import LoadMeter


@dataclass
class CaseResult:
    """Outcome of one case at every thread count: timings and checks per contender.

    Keys are ``(contender, threads)``; an unthreaded contender's key has
    ``threads=None``.
    """

    case: Case
    threads: Tuple[Threads, ...] = (None,)
    timings: Dict[Key, Timing] = field(default_factory=dict)
    problems: Dict[Key, str] = field(default_factory=dict)  # what differs from the reference
    errors: Dict[Key, str] = field(default_factory=dict)  # the exception raised
    other_load: Optional[float] = None  # CPUs used by other processes meanwhile
    attempts: int = 1  # runs of the case (see --retries); this is the quietest

    def rows(self) -> List["Row"]:
        """One :class:`Row` per thread count."""
        return [Row(self, t) for t in self.threads]


def _lookup(table: Mapping[Key, Any], name: str, threads: Threads) -> Any:
    """The entry of ``name`` at ``threads``, else its unthreaded one."""
    if (name, threads) in table:
        return table[(name, threads)]
    return table.get((name, None))


@dataclass(frozen=True)
class Row:
    """One case at one thread count: a row of the tables and of the JSON."""

    result: CaseResult
    threads: Threads

    @property
    def case(self) -> Case:
        return self.result.case

    def timing(self, name: str) -> Optional[Timing]:
        return _lookup(self.result.timings, name, self.threads)

    def problem(self, name: str) -> Optional[str]:
        return _lookup(self.result.problems, name, self.threads)

    def error(self, name: str) -> Optional[str]:
        return _lookup(self.result.errors, name, self.threads)

    def median(self, name: str) -> Optional[float]:
        """Median seconds per call of a contender, if it was timed."""
        t = self.timing(name)
        return t.median if t else None

    def throughput(self, name: str) -> Optional[float]:
        """Giga-elements of logits per second."""
        t = self.median(name)
        return self.case.elements / t / 1e9 if t else None

    def speedup_over(self, name: str) -> Optional[float]:
        """``name``'s time over fastce's: how many times faster fastce is."""
        other, mine = self.median(name), self.median(SUBJECT)
        return other / mine if other and mine else None

    def speedup(self, name: str) -> Optional[float]:
        """Baseline time over ``name``'s time (the original ``speed-up`` column)."""
        base, other = self.median(BASELINE), self.median(name)
        return base / other if base and other else None

    def ceiling_ratio(self, name: str = CEILING) -> Optional[float]:
        """fastce's time over a ceiling's, ``x.sum()`` unless said (1.0 = as fast)."""
        mine, ceiling = self.median(SUBJECT), self.median(name)
        return mine / ceiling if mine and ceiling else None

    def scaling(self) -> Optional[float]:
        """fastce's 1-thread time over this row's (rows with more than one thread)."""
        if self.threads is None or self.threads <= 1 or 1 not in self.result.threads:
            return None
        one = self.result.timings.get((SUBJECT, 1))
        mine = self.median(SUBJECT)
        return one.median / mine if one and mine else None

    @property
    def status(self) -> str:
        """fastce's check: ``"ok"``, ``"MISMATCH"`` or ``"ERROR"`` (also if the baseline raised)."""
        if self.error(SUBJECT) or self.error(BASELINE):
            return "ERROR"
        return "MISMATCH" if self.problem(SUBJECT) else "ok"

    def peer_notes(self, names: Sequence[str]) -> List[str]:
        """``"<peer> mismatch"`` / ``"<peer> error"`` for the peers in ``names``."""
        notes = []
        for name in names:
            if name in (SUBJECT, BASELINE):
                continue
            if self.error(name):
                notes.append(f"{name} error")
            elif self.problem(name):
                notes.append(f"{name} mismatch")
        return notes

    def to_json(self, names: Sequence[str]) -> Dict[str, Any]:
        """Plain-data form, for ``--json``."""
        timings = {n: t for n in names if (t := self.timing(n)) is not None}
        timed = list(timings)
        peers = [n for n in timed if n not in (SUBJECT, BASELINE, *CEILINGS)]
        return {
            "id": self.case.id, "operation": self.case.op.name, "label": self.case.op.label,
            "function": self.case.op.func, "kwargs": dict(self.case.op.kwargs),
            "shape": list(self.case.shape), "dtype": self.case.dtype,
            "elements": self.case.elements, "threads": self.threads,
            "status": self.status, "other_cpu_load": self.result.other_load,
            "attempts": self.result.attempts,
            "check": {n: ("error" if self.error(n) else "mismatch" if self.problem(n) else
                          "not checked" if n in CEILINGS else "ok")
                      for n in names if self.timing(n) or self.error(n)},
            "problems": {n: self.problem(n) for n in names if self.problem(n)},
            "errors": {n: self.error(n) for n in names if self.error(n)},
            "timings": {n: t.to_json() for n, t in timings.items()},
            "throughput_Gelem_s": {n: self.throughput(n) for n in timed},
            "ratios": {
                "fastce_speedup_vs": {n: self.speedup_over(n) for n in [BASELINE, *peers]
                                      if n in timed},
                "fastce_time_over_sum": self.ceiling_ratio(),
                "fastce_time_over_max": self.ceiling_ratio(READ),
                "fastce_scaling_vs_1_thread": self.scaling(),
            },
            # The original column: baseline time over each contender's.
            "speedup": {n: self.speedup(n) for n in timed if n not in (BASELINE, *CEILINGS)},
        }


def _try_call(bound: Bound) -> Tuple[Optional[Tuple[np.ndarray, ...]], Optional[str]]:
    """Run a call once; ``(arrays, None)`` or ``(None, formatted exception)``."""
    try:
        return as_arrays(bound.run_once()), None
    except Exception as exc:  # noqa: BLE001 - reported, never swallowed
        return None, "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _bind_all(case: Case, inputs: Inputs, contenders: Sequence[Contender],
              threads: Sequence[Threads], result: CaseResult) -> Dict[Key, Bound]:
    """Every contender's call at every thread count it distinguishes."""
    bounds: Dict[Key, Bound] = {}
    for c in contenders:
        for t in (threads if c.threaded else (None,)):
            try:
                bound = c.bind(case, inputs, t)
            except Exception as exc:  # noqa: BLE001 - reported as an error of that cell
                result.errors[c.key(t)] = f"{type(exc).__name__}: {exc}"
                continue
            if bound is not None:
                bounds[c.key(t)] = bound
    return bounds


def _check_all(case: Case, bounds: Mapping[Key, Bound], checked: Mapping[str, bool],
               result: CaseResult) -> List[Key]:
    """Call each once (the warm-up), check against the baseline; the keys that ran.

    The baseline runs first and only its result is kept, so at most two
    results are held at a time.
    """
    base_key = (BASELINE, None)
    expected = None
    ran: List[Key] = []
    for key in sorted(bounds, key=lambda k: k != base_key):
        got, error = _try_call(bounds[key])
        if got is None:
            result.errors[key] = error or "no result"
            continue
        ran.append(key)
        if key == base_key:
            expected = got
        elif expected is not None and checked.get(key[0], True):
            problem = compare(got, expected, case.dtype, case.op.outputs)
            if problem:
                result.problems[key] = problem
        del got
    return ran


def run_case(case: Case, contenders: Sequence[Contender], profile: Profile,
             budget: Optional[float] = None,
             threads: Sequence[Threads] = (None,)) -> CaseResult:
    """Check every contender against the baseline, then time them all together.

    Each thread count's calls are timed in interleaved rounds, under
    :func:`cpu_limit` (a 1-thread row runs on one CPU, whatever thread pools
    a contender keeps); the unthreaded contenders are timed with the first
    thread count. The checking call doubles as the warm-up (and as JAX's
    compilation). A contender that raises is reported and left out of the
    timing; a mismatching one is still timed. ``budget`` is per thread count.
    """
    result = CaseResult(case, tuple(threads))
    meter = LoadMeter()
    inputs = make_inputs(case)
    bounds = _bind_all(case, inputs, contenders, threads, result)
    ran = _check_all(case, bounds, {c.name: c.checked for c in contenders}, result)
    share = profile.budget if budget is None else budget
    timings: Dict[Key, Timing] = {}
    for i, t in enumerate(threads):
        keys = [k for k in ran if k[1] == t or (i == 0 and k[1] is None)]
        with cpu_limit(t):
            got = time_interleaved([bounds[k] for k in keys], share,
                                   profile.min_repeats, profile.max_repeats)
        timings.update(zip(keys, got))
    result.timings = {k: timings[k] for k in ran}
    result.other_load = meter.others()
    return result
