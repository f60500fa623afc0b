"""The command line: ``python -m fastce bench``."""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from ._base import BUSY_WARNING, DTYPES, RETRY_WAIT_S, TOTAL_WAIT_S, Threads
from .cases import Case, OPERATIONS, PROFILES, Profile, cases
from .contenders import Contender, ceiling_contenders, default_contenders, peer_contenders
from .load import _load_note, wait_for_quiet
from .results import CaseResult, run_case
from .targets import evaluate_targets, format_targets
from .report import (RATIO_LEGEND, _problem_lines, environment, format_header, format_table,
                     progress_line, ratio_table_rows, time_table_rows, write_json)
from .plot import _import_pyplot, write_plot


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def _thread_list(text: str) -> List[int]:
    """``"1,2"`` -> ``[1, 2]`` (distinct, in the given order)."""
    values = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            values.append(_positive_int(part))
        except (ValueError, argparse.ArgumentTypeError):
            raise argparse.ArgumentTypeError(
                f"expected positive integers like 1,2; got {part!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one thread count, e.g. 1,2")
    return list(dict.fromkeys(values))


def _positive_float(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError("must be a finite number > 0")
    return value


# argparse names a type's function in its message for a value the function
# cannot parse ("invalid _positive_float value"): name them for the reader
_positive_int.__name__ = "positive integer"
_non_negative_int.__name__ = "non-negative integer"
_positive_float.__name__ = "positive number"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``fastce bench``."""
    parser.add_argument("--quick", action="store_true",
                        help="small shapes (<= ~1M elements) and few repeats; under a minute")
    parser.add_argument("--dtype", choices=(*DTYPES, "all"), default="all",
                        help="dtype(s) to benchmark (default: all)")
    parser.add_argument("--threads", type=_thread_list, default=None, metavar="N[,N...]",
                        help="thread counts, e.g. 1,2: every case runs at each (fastce "
                             "n_threads, torch.set_num_threads, sklearn n_threads); "
                             "default: fastce's default")
    parser.add_argument("--peers", action="store_true",
                        help="add PyTorch, JAX and scikit-learn columns (those importable) "
                             "and the x.sum() and x.max() ceilings")
    parser.add_argument("--targets", action="store_true",
                        help="after the tables, check the issue's targets on this run "
                             "(implies --peers)")
    parser.add_argument("--filter", action="append", default=None, metavar="SUBSTRING",
                        help="only operations whose name or label contains SUBSTRING "
                             "(case-insensitive; repeat for several)")
    parser.add_argument("--json", default=None, metavar="FILE",
                        help="also write the results as JSON to FILE")
    parser.add_argument("--plot", default=None, metavar="FILE.png",
                        help="also draw a bar chart of the throughputs (needs matplotlib)")
    parser.add_argument("--budget", type=_positive_float, default=None, metavar="SECONDS",
                        help="timing budget per case and thread count "
                             "(default: 0.15 with --quick, else 0.8)")
    parser.add_argument("--retries", type=_non_negative_int, default=2, metavar="N",
                        help="rerun a case up to N times when other processes kept the CPUs "
                             "busy during it, after waiting for them (up to "
                             f"{RETRY_WAIT_S:g} s per rerun, {TOTAL_WAIT_S:g} s per run, "
                             "after which loaded cases are kept as measured and flagged); "
                             "the quietest run is kept (default: 2)")
    parser.add_argument("--list", action="store_true",
                        help="list the selected cases and exit")


def _contenders(want_peers: bool) -> Tuple[List[Contender], Dict[str, str]]:
    """NumPy and fastce, plus (if asked) the importable peers and the ceiling."""
    contenders = default_contenders()
    if not want_peers:
        return contenders, {}
    peers, missing = peer_contenders()
    return contenders + peers + ceiling_contenders(), missing


@dataclass
class _WaitBudget:
    """Seconds a run may still spend waiting for a quiet machine."""

    left: float = TOTAL_WAIT_S
    #: whether the run was told that the budget is used up (said once)
    told: bool = False

    @property
    def spent(self) -> bool:
        return self.left <= 0.0

    def take(self, seconds: float) -> None:
        """Count ``seconds`` waited (a wait may overshoot what was left)."""
        self.left = max(0.0, self.left - seconds)


def _quietest_run(case: Case, contenders: Sequence[Contender], profile: Profile,
                  budget: Optional[float], threads: Sequence[Threads],
                  retries: int, waits: _WaitBudget) -> CaseResult:
    """Run a case; rerun it (up to ``retries`` times) while other processes load the CPUs.

    Before each rerun, waits (within ``waits``) for the other processes to
    finish. Keeps the attempt during which they used the fewest CPUs. Once
    the run's waiting budget is spent, a loaded case is not rerun: without
    the wait the load is most likely still there, and reruns only multiply a
    loaded run's time. Its measurement is kept, flagged as under other load.
    """
    best = run_case(case, contenders, profile, budget, threads)
    for attempt in range(1, retries + 1):
        if not _load_note(best.other_load):
            break
        if waits.spent:
            if not waits.told:
                waits.told = True
                print(f"  .. other processes used {best.other_load:.1f} CPU during {case.id}: "
                      f"not rerunning it, nor later cases, as this run's {TOTAL_WAIT_S:g} s "
                      "of waiting for them is used up (their timings are flagged)",
                      file=sys.stderr, flush=True)
            break
        wait = min(RETRY_WAIT_S, waits.left)
        print(f"  .. other processes used {best.other_load:.1f} CPU during {case.id}: "
              f"rerunning it ({attempt}/{retries}) once they stop (waiting up to {wait:.0f} s)",
              file=sys.stderr, flush=True)
        waits.take(wait_for_quiet(wait))
        again = run_case(case, contenders, profile, budget, threads)
        again.attempts = best.attempts + 1
        if (again.other_load or 0.0) < (best.other_load or 0.0):
            best = again
        else:
            best.attempts = again.attempts
    return best


def _run_all(selected: Sequence[Case], contenders: Sequence[Contender], profile: Profile,
             budget: Optional[float], threads: Sequence[Threads],
             retries: int = 0) -> Tuple[List[CaseResult], bool]:
    """Run the cases with progress on stderr; the results and whether it was interrupted."""
    names = [c.name for c in contenders]
    roles = {c.name: c.role for c in contenders}
    total = len(selected) * len(threads)
    results: List[CaseResult] = []
    waits = _WaitBudget()
    try:
        for i, case in enumerate(selected):
            result = _quietest_run(case, contenders, profile, budget, threads, retries, waits)
            results.append(result)
            for j, row in enumerate(result.rows()):
                print(progress_line(i * len(threads) + j + 1, total, row, names),
                      file=sys.stderr, flush=True)
            for line in _problem_lines([result], roles, peers=False):
                print(f"  !! {line}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted: reporting the finished cases", file=sys.stderr)
        return results, True
    return results, False


def _report(results: Sequence[CaseResult], names: Sequence[str]) -> None:
    """Both tables."""
    rows = [row for r in results for row in r.rows()]
    print("Time per call")
    print(format_table(time_table_rows(rows, names), text_last=True))
    print("\nThroughput (G elements/s) and ratios")
    print(format_table(ratio_table_rows(rows, names)))
    print(RATIO_LEGEND)


def _loaded_cases_line(results: Sequence[CaseResult]) -> Optional[str]:
    """A warning naming how many cases ran while other processes used the CPUs."""
    loaded = [r for r in results if _load_note(r.other_load)]
    if not loaded:
        return None
    worst = max(r.other_load or 0.0 for r in loaded)
    return (f"WARNING: {len(loaded)} case(s) ran while other processes kept >= {BUSY_WARNING:g} "
            f"CPU busy (up to {worst:.1f}; marked 'other load' in the check column): "
            f"their timings are unreliable, rerun on a quiet machine")


def _check_plot_available(path: Optional[str]) -> Optional[str]:
    """An error message if ``--plot`` was given but matplotlib is missing,
    or cannot write that format."""
    if path is None:
        return None
    try:
        _import_pyplot()
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError as exc:
        return (f"fastce bench: --plot needs matplotlib ({exc}); install it with "
                f"'pip install matplotlib' or leave out --plot")
    ext = os.path.splitext(path)[1].lstrip(".").lower()
    formats = FigureCanvasBase.get_supported_filetypes()  # (a class method: no figure made)
    if ext not in formats:
        what = f"{ext!r} files" if ext else "a file without an extension"
        return (f"fastce bench: --plot {path!r}: matplotlib cannot write {what}; "
                f"end the name in one of .{', .'.join(sorted(formats))}")
    return None


def _check_writable(path: Optional[str], option: str) -> Optional[str]:
    """An error message if the file an option names cannot be written: told
    before the run, not after it (the results of a run would be lost)."""
    if path is None:
        return None
    if os.path.exists(path) and not os.path.isfile(path):  # (a FIFO would block the open)
        return f"fastce bench: {option} {path!r} is not a regular file"
    existed = os.path.exists(path)
    try:
        with open(path, "a"):
            pass
    except OSError as exc:
        return f"fastce bench: {option} {path!r} cannot be written: {exc.strerror}"
    if not existed:
        os.remove(path)
    return None


def run(args: argparse.Namespace) -> int:
    """Run ``fastce bench``; the exit status (1 if fastce disagreed with the reference or raised).

    Peers that disagree or raise are reported but do not change the status.
    """
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
    same = args.json and args.plot and os.path.abspath(args.json) == os.path.abspath(args.plot)
    for error in ("fastce bench: --json and --plot name the same file" if same else None,
                  _check_plot_available(args.plot), _check_writable(args.json, "--json"),
                  _check_writable(args.plot, "--plot")):
        if error:
            print(error, file=sys.stderr)
            return 2

    threads: List[Threads] = list(args.threads) if args.threads else [None]
    contenders, missing = _contenders(args.peers or args.targets)
    names = [c.name for c in contenders]
    roles = {c.name: c.role for c in contenders}
    env = environment(threads, contenders, missing)
    print(format_header(env, profile, args.budget, args.retries), flush=True)

    start = time.perf_counter()
    results, interrupted = _run_all(selected, contenders, profile, args.budget, threads,
                                    args.retries)
    elapsed = time.perf_counter() - start

    print()
    if results:
        _report(results, names)
    print(f"\n{len(results)} of {len(selected)} cases x {len(threads)} thread count(s) "
          f"in {elapsed:.1f} s")
    loaded = _loaded_cases_line(results)
    if loaded:
        print(loaded)
    outcomes = None
    if args.targets and results:
        outcomes = evaluate_targets([row for r in results for row in r.rows()])
        if profile.name != "full":
            print("\nnote: --quick shapes are not the issue's; the checklist is indicative only")
        print()
        print(format_targets(outcomes))
    if args.json and results:  # (an existing file is not replaced by an empty run)
        write_json(args.json, env, profile, results, names, outcomes,
                   {"budget_s": profile.budget if args.budget is None else args.budget,
                    "retries": args.retries, "threads": threads,
                    "dtypes": list(dtypes), "filters": args.filter,
                    # (a run stopped by Ctrl-C keeps the cases it finished)
                    "cases_selected": len(selected), "interrupted": interrupted})
        print(f"results written to {args.json}")
    if args.plot and results:
        write_plot(args.plot, results, names,
                   f"fastce {env['fastce']} ({profile.name} profile): throughput, "
                   f"G elements/s (log scale; higher is better)")
        print(f"bar chart written to {args.plot}")

    peer_lines = _problem_lines(results, roles, peers=True)
    if peer_lines:
        print(f"\npeers that disagree with fastce.reference or raised ({len(peer_lines)}; "
              f"informational, their cells are marked '!' or '-'):")
        for line in peer_lines:
            print(f"  {line}")
    failures = _problem_lines(results, roles, peers=False)
    if failures:
        print(f"\nFAILED: {len(failures)} problem(s) -- fastce disagrees with "
              f"fastce.reference or raised:", file=sys.stderr)
        for line in failures:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 130 if interrupted else 0
