"""Command line of fastce: ``python -m fastce bench`` (also the ``fastce`` script)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence

from fastce import _bench


def build_parser() -> argparse.ArgumentParser:
    """The ``fastce`` argument parser and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="fastce",
        description="fastce: fast, numerically stable cross-entropy losses for NumPy.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    bench = commands.add_parser(
        "bench",
        help="time fastce against its pure-NumPy reference (and peers) and check the results",
        description="Time fastce against fastce.reference (NumPy) on the same inputs, "
                    "after checking that both agree; with --peers also against PyTorch, JAX "
                    "and scikit-learn (those importable) and two yardsticks on the same "
                    "array, x.sum() and x.max(); with --targets check the issue's performance targets. "
                    "Exits non-zero when fastce disagrees with the reference or raises "
                    "(a disagreeing peer is only reported).",
    )
    _bench.add_arguments(bench)
    bench.set_defaults(handler=_bench.run)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(handler(args))
    except BrokenPipeError:
        # the reader went away (``fastce bench --list | head``): stop quietly,
        # and keep Python's final flush of stdout from raising again
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):  # (a stdout with no file)
            pass
        return 1


if __name__ == "__main__":
    sys.exit(main())
