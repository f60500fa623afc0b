"""The compiled bindings, each specialised for one dtype.

Every binding in ``_kernels.pyx`` is a Cython fused function with a float32
and a float64 version. Called as such, Cython picks the version from the
arguments' types on every call, which costs about a quarter of a microsecond
(a small batch's whole kernel time); ``for_dtype(compute)`` hands out the
versions picked once, at import::

    total = for_dtype(compute).softmax_ce_sparse(x, y, ...)
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from . import _kernels

_TYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}

_BY_DTYPE = {
    dt: SimpleNamespace(**{
        name: fn[ctype] for name, fn in vars(_kernels).items()
        if getattr(fn, "__signatures__", None)
    })
    for dt, ctype in _TYPES.items()
}


def for_dtype(dtype: np.dtype) -> SimpleNamespace:
    """The bindings for compute dtype ``dtype`` (float32 or float64)."""
    return _BY_DTYPE[dtype]
