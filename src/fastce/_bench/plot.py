"""The bar chart (matplotlib, optional)."""

from __future__ import annotations

from typing import Any, Dict, List, Sequence

from ._base import BASELINE, CEILING, CEILINGS, READ, SUBJECT, _threads_str
from .cases import OPERATIONS, Operation
from .results import CaseResult, Row


#: Bar colours per contender (the peers in muted tones, fastce stands out).
_COLOURS = {BASELINE: "#9e9e9e", SUBJECT: "#d62728", "torch": "#1f77b4", "JAX": "#2ca02c",
            "sklearn": "#ff7f0e", CEILING: "#000000", READ: "#555555"}


def _import_pyplot() -> Any:
    """matplotlib's pyplot on the non-interactive Agg backend; ``ImportError`` if missing."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_group_label(row: Row, many_threads: bool) -> str:
    n, c = row.case.shape
    dtype = "f32" if row.case.dtype == "float32" else "f64"
    threads = f" {_threads_str(row.threads)}T" if many_threads else ""
    return f"{n}x{c}\n{dtype}{threads}"


def _plot_operation(ax: Any, op: Operation, rows: Sequence[Row], names: Sequence[str]) -> None:
    """One subplot: for each row of the operation, a bar per contender timed on it."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    names = [n for n in names if any(row.timing(n) for row in rows)]
    many_threads = len({r.threads for r in rows}) > 1
    width = 0.8 / len(names)
    for j, name in enumerate(names):
        xs = [i + (j - (len(names) - 1) / 2) * width for i in range(len(rows))]
        ys = [row.throughput(name) or 0.0 for row in rows]
        ax.bar(xs, ys, width, label=name, color=_COLOURS.get(name),
               hatch="//" if name in CEILINGS else None,
               fill=name not in CEILINGS, edgecolor=_COLOURS.get(name))
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_title(op.label, fontsize=10, loc="left")
    ax.set_ylabel("G elements/s")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([_plot_group_label(r, many_threads) for r in rows], fontsize=7)
    ax.grid(axis="y", which="major", alpha=0.4)
    ax.set_xlim(-0.6, len(rows) - 0.4)


def write_plot(path: str, results: Sequence[CaseResult], names: Sequence[str],
               title: str) -> None:
    """Grouped bar chart of throughput per case (log scale), one subplot per operation."""
    plt = _import_pyplot()
    by_op: Dict[str, List[Row]] = {}
    for r in results:
        by_op.setdefault(r.case.op.name, []).extend(r.rows())
    shown = [n for n in names if any(row.timing(n) for rows in by_op.values() for row in rows)]
    widest = max(len(rows) for rows in by_op.values())
    fig, axes = plt.subplots(len(by_op), 1, squeeze=False,
                             figsize=(min(24.0, max(8.0, 0.25 * widest * len(shown) + 2)),
                                      2.6 * len(by_op) + 1.0))
    for ax, (op_name, rows) in zip(axes[:, 0], by_op.items()):
        _plot_operation(ax, OPERATIONS[op_name], rows, shown)
    handles = [plt.Rectangle((0, 0), 1, 1, color=_COLOURS.get(n), fill=n not in CEILINGS,
                             hatch="//" if n in CEILINGS else None) for n in shown]
    fig.legend(handles, shown, ncol=len(shown), loc="upper left",
               bbox_to_anchor=(0.01, 1.0 - 0.3 / fig.get_figheight()),
               fontsize=9, frameon=False)
    top = 1.0 - 0.5 / fig.get_figheight()  # room for the title and the legend
    fig.suptitle(title, fontsize=11, x=0.01, y=1.0 - 0.05 / fig.get_figheight(), ha="left",
                 va="top")
    fig.tight_layout(rect=(0, 0, 1, top))
    fig.savefig(path, dpi=100)
    plt.close(fig)
