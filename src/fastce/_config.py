"""show_config: how this build of fastce runs."""
from __future__ import annotations

import platform

from . import _kernels


def show_config(print_out: bool = True) -> dict:
    """Report the build: version, kernel path, OpenMP and thread count.

    Parameters
    ----------
    print_out : bool, default True
        Print the report as ``key: value`` lines.

    Returns
    -------
    dict
        ``version``, ``isa`` (the kernel path in use), ``openmp`` (compiled
        with OpenMP), ``threads`` (what ``n_threads=None`` resolves to now),
        ``machine``.

    Examples
    --------
    >>> import fastce
    >>> sorted(fastce.show_config(print_out=False))
    ['isa', 'machine', 'openmp', 'threads', 'version']
    """
    from . import __version__

    info = {
        "version": __version__,
        "isa": "portable C (scalar)",
        "openmp": _kernels.openmp_enabled(),
        "threads": _kernels.default_threads(),
        "machine": platform.machine(),
    }
    if print_out:
        for key, value in info.items():
            print(f"{key}: {value}")
    return info
