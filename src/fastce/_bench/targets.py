"""The issue's performance targets, checked on a run's rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ._base import BASELINE, PEER_NAMES, Shape, _shape_str
from .cases import OPERATIONS
from .load import _load_note
from .results import Row


@dataclass(frozen=True)
class Target:
    """One line of the issue's targets: a ratio over the matching rows.

    ``metric`` is ``"ceiling"`` (fastce time / x.sum() time, at most
    ``bound``), ``"scaling"`` (fastce 1-thread time / 2-thread time, at least
    ``bound``) or a contender's name (its time / fastce's, at least ``bound``).
    """

    title: str
    ops: Tuple[str, ...]
    dtype: Optional[str]  # None: both
    where: str  # the shape condition, as printed
    shape_ok: Callable[[Shape], bool]
    metric: str
    bound: float
    threads: Optional[int] = None  # only rows at this thread count

    @property
    def at_most(self) -> bool:
        return self.metric == "ceiling"

    def describe(self) -> str:
        """E.g. ``time / x.sum() <= 1.5x`` or ``>= 8x torch``."""
        if self.metric == "ceiling":
            return f"fastce time / x.sum() time <= {self.bound:g}x"
        if self.metric == "scaling":
            return f"fastce 2 threads vs 1 >= {self.bound:g}x"
        return f"fastce >= {self.bound:g}x faster than {self.metric}"

    def value(self, row: Row) -> Optional[float]:
        if self.metric == "ceiling":
            return row.ceiling_ratio()
        if self.metric == "scaling":
            return row.scaling()
        return row.speedup_over(self.metric)

    def applies(self, row: Row) -> bool:
        return (row.case.op.name in self.ops
                and (self.dtype is None or row.case.dtype == self.dtype)
                and (self.threads is None or row.threads == self.threads)
                and self.shape_ok(row.case.shape))

    def passes(self, value: float) -> bool:
        return value <= self.bound if self.at_most else value >= self.bound


def _targets() -> Tuple[Target, ...]:
    big_c = lambda s: s[1] >= 1000  # noqa: E731
    small_c = lambda s: s[1] in (10, 16)  # noqa: E731
    any_shape = lambda s: True  # noqa: E731
    four_m = lambda s: s[0] * s[1] >= 4_000_000  # noqa: E731
    million = lambda s: s[0] * s[1] >= 1_000_000  # noqa: E731
    fwd, grad, sig = ("softmax_ce",), ("softmax_ce_grad",), ("sigmoid_ce", "sigmoid_ce_grad")
    f32 = "float32"
    return (
        Target("softmax CE fwd (mean) float32", fwd, f32, "C >= 1000", big_c, "ceiling", 1.5),
        Target("softmax CE fwd (mean) float32", fwd, f32, "C >= 1000", big_c, "JAX", 4.0),
        Target("softmax CE fwd (mean) float32", fwd, f32, "C >= 1000", big_c, "torch", 8.0),
        Target("softmax CE fwd (mean) float32", fwd, f32, "C = 10, 16", small_c, "ceiling", 3.0),
        Target("softmax CE fwd (mean) float32", fwd, f32, "C = 10, 16", small_c, "JAX", 2.0),
        Target("softmax CE fwd+grad float32", grad, f32, "all shapes", any_shape, "JAX", 4.0),
        Target("softmax CE fwd+grad float32", grad, f32, "all shapes", any_shape, "torch", 8.0),
        Target("sigmoid CE fwd / fwd+grad float32", sig, f32, "4M elements", four_m, "JAX", 2.0),
        Target("sigmoid CE fwd / fwd+grad float32", sig, f32, "4M elements", four_m, "torch", 8.0),
        Target("softmax CE fwd (mean) float64", fwd, "float64", "C >= 1000", big_c, "torch", 8.0),
        Target("everything", tuple(OPERATIONS), None, "all shapes", any_shape, BASELINE, 10.0),
        Target("2 threads vs 1 (every operation)", tuple(OPERATIONS), None, "N*C >= 1e6",
               million, "scaling", 1.7, threads=2),
    )


#: The targets of the issue, checked by ``--targets``.
TARGETS: Tuple[Target, ...] = _targets()


@dataclass
class TargetOutcome:
    """A target evaluated on a run: its rows' values, and the verdict."""

    target: Target
    values: List[Tuple[Row, Optional[float]]]
    peer_mismatch: List[Row]

    @property
    def measured(self) -> List[Tuple[Row, float]]:
        return [(r, v) for r, v in self.values if v is not None]

    @property
    def failures(self) -> List[Tuple[Row, float]]:
        return [(r, v) for r, v in self.measured if not self.target.passes(v)]

    @property
    def verdict(self) -> str:
        """``PASS`` (every row), ``FAIL`` (any row) or ``n/a`` (nothing measured)."""
        if not self.measured:
            return "n/a"
        return "FAIL" if self.failures else "PASS"

    def worst(self) -> Optional[Tuple[Row, float]]:
        pick = max if self.target.at_most else min
        return pick(self.measured, key=lambda rv: rv[1]) if self.measured else None

    def to_json(self) -> Dict[str, Any]:
        return {
            "target": f"{self.target.title}, {self.target.where}: {self.target.describe()}",
            "metric": self.target.metric, "bound": self.target.bound,
            "verdict": self.verdict,
            "rows": [{"id": r.case.id, "threads": r.threads, "value": v,
                      "pass": None if v is None else self.target.passes(v),
                      "peer_mismatch": r in self.peer_mismatch}
                     for r, v in self.values],
        }


def evaluate_targets(rows: Sequence[Row],
                     targets: Sequence[Target] = TARGETS) -> List[TargetOutcome]:
    """Every target's values on the matching rows of one run."""
    outcomes = []
    for target in targets:
        matching = [r for r in rows if target.applies(r)]
        values = [(r, target.value(r)) for r in matching]
        peer_mismatch = [r for r in matching if target.metric in PEER_NAMES
                         and (r.problem(target.metric) or r.error(target.metric))]
        outcomes.append(TargetOutcome(target, values, peer_mismatch))
    return outcomes


def _row_tag(row: Row) -> str:
    threads = "" if row.threads is None else f" {row.threads}T"
    return f"{row.case.op.name} {_shape_str(row.case.shape)} {row.case.dtype}{threads}"


def _missing_reason(outcome: TargetOutcome) -> str:
    """Why a target has no measured value."""
    metric = outcome.target.metric
    if not outcome.values:
        return "no matching row in this run"
    if metric == "scaling":
        return "needs --threads with 1 and 2"
    if metric == "ceiling":
        return "x.sum() not timed (run with --peers)"
    return f"{metric} not timed (not importable, or it raised: see above)"


def _outcome_lines(outcome: TargetOutcome, max_listed: int) -> List[str]:
    """The checklist lines of one target: a summary, then rows (all, or the failing ones)."""
    t = outcome.target
    head = f"[{outcome.verdict:>4}] {t.title}, {t.where}: {t.describe()}"
    worst = outcome.worst()
    if worst is None:
        return [f"{head} -- {_missing_reason(outcome)}"]
    n, fails = len(outcome.measured), len(outcome.failures)
    head += f" -- worst {worst[1]:.2f}x ({_row_tag(worst[0])}); {n - fails}/{n} rows pass"
    loaded = sum(bool(_load_note(r.result.other_load)) for r, _ in outcome.measured)
    if loaded:
        head += f" ({loaded} measured under other load: unreliable)"
    listed = outcome.measured if n <= max_listed else outcome.failures
    lines = [head]
    for row, value in listed[:max_listed]:
        flag = "PASS" if t.passes(value) else "FAIL"
        notes = [f"{t.metric} result mismatched the reference"] * (row in outcome.peer_mismatch)
        notes += [n for n in [_load_note(row.result.other_load)] if n]
        mark = f" ({'; '.join(notes)})" if notes else ""
        lines.append(f"         {flag}  {value:8.2f}x  {_row_tag(row)}{mark}")
    if len(listed) > max_listed:
        lines.append(f"         ... and {len(listed) - max_listed} more failing rows")
    return lines


def format_targets(outcomes: Sequence[TargetOutcome], max_listed: int = 12) -> str:
    """The ``--targets`` checklist."""
    counts = {v: sum(o.verdict == v for o in outcomes) for v in ("PASS", "FAIL", "n/a")}
    lines = [f"Targets (issue), from this run: {counts['PASS']} PASS, {counts['FAIL']} FAIL, "
             f"{counts['n/a']} n/a (a target passes when every matching row does)"]
    for outcome in outcomes:
        lines += _outcome_lines(outcome, max_listed)
    return "\n".join(lines)
