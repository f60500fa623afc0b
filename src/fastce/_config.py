"""Build and run-time configuration: the kernel instruction set, OpenMP.

At import fastce picks the widest instruction set the CPU supports. The
environment variable ``FASTCE_ISA`` (``scalar``, ``avx2`` or ``avx512``) forces one,
e.g. to compare paths or to rule one out when debugging.
"""
from __future__ import annotations

import os
import platform
from typing import Any, Dict

from . import _kernels
from ._inputs import check_bool

ISAS = ("scalar", "avx2", "avx512")


def select_isa(name: str | None = None) -> str:
    """Use instruction set ``name`` (default: ``$FASTCE_ISA``, else the best).

    Raises ``ValueError`` for an unknown name or one this CPU cannot run.
    Not thread-safe: meant for import time and for tests.
    """
    source = "name"
    if name is None:
        source, name = "FASTCE_ISA", os.environ.get("FASTCE_ISA") or _kernels.best_isa()
    if name not in ISAS:
        raise ValueError(f"{source} must be one of {', '.join(ISAS)}; got {name!r}")
    if not _kernels.set_isa(name):
        raise ValueError(f"instruction set {name!r} is not supported by this CPU or "
                         f"build; the best available is {_kernels.best_isa()!r}")
    return name


def show_config(print_out: bool = True) -> Dict[str, Any]:
    """Report the build: version, instruction set (kernel path), OpenMP and thread count.

    Parameters
    ----------
    print_out : bool, default True
        Print the report as ``key: value`` lines.

    Returns
    -------
    dict
        ``version``; ``isa``, the instruction set the kernels use;
        ``isa_available``, the widest this CPU supports; ``openmp``, whether
        the build has OpenMP; ``threads``, what ``n_threads=None`` resolves
        to now; ``machine``.

    Examples
    --------
    >>> import fastce
    >>> sorted(fastce.show_config(print_out=False))
    ['isa', 'isa_available', 'machine', 'openmp', 'threads', 'version']
    """
    from . import __version__

    print_out = check_bool(print_out, "print_out")
    info = {
        "version": __version__,
        "isa": _kernels.current_isa(),
        "isa_available": _kernels.best_isa(),
        "openmp": _kernels.openmp_enabled(),
        "threads": _kernels.default_threads(),
        "machine": platform.machine(),
    }
    if print_out:
        for key, value in info.items():
            print(f"{key}: {value}")
    return info
