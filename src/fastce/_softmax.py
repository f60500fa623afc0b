"""logsumexp, log_softmax and softmax over a class axis."""
from __future__ import annotations

import math
from typing import Any, Optional, Union

import numpy as np

from ._bindings import for_dtype
from ._inputs import (as_result, check_bool, check_threads, class_layout, dtypes, operand,
                      out_array, real_array)


def _run(kernel: str, x: Any, axis: int, n_threads: Optional[int], per_row: bool,
         out: Any = None):
    a = real_array(x, "x")
    compute, result = dtypes(a.dtype)
    layout = class_layout(a.shape, axis, "x")
    nt = check_threads(n_threads)
    shape = layout.sample_shape if per_row else a.shape
    dest = None if out is None else out_array(out, "out", shape, result)
    direct = dest is not None and dest.dtype == compute
    buf = np.asarray(dest).reshape(-1) if direct else np.empty(math.prod(shape), compute)
    xc = operand(a, compute)
    # the kernels may write a row over itself (out is x): they read an entry
    # for the last time before writing it; any other overlap is copied away
    if direct and not (xc.ctypes.data == buf.ctypes.data and xc.size == buf.size) \
            and np.may_share_memory(xc, buf):
        xc = xc.copy()
    getattr(for_dtype(compute), kernel)(xc, *layout.dims, buf, nt)
    if dest is None:
        return buf.reshape(shape).astype(result, copy=False), layout
    if not direct:
        np.copyto(dest, buf.reshape(shape), casting="unsafe")
    return dest, layout


def logsumexp(x: Any, axis: int = -1, keepdims: bool = False, *,
              n_threads: Optional[int] = None) -> Union[np.ndarray, np.floating]:
    """Log of the sum of exponentials along the class axis, without overflow.

    Parameters
    ----------
    x : array_like
        Scores (logits), any shape with at least one dimension.
    axis : int, default -1
        The class axis.
    keepdims : bool, default False
        Keep the reduced axis with length 1.
    n_threads : int or None, default None
        OpenMP threads; None uses what OpenMP would (``OMP_NUM_THREADS``).

    Returns
    -------
    ndarray or scalar
        ``log(sum(exp(x), axis))`` of x's shape without ``axis`` (or with it of
        length 1 when ``keepdims``); a NumPy scalar for 1-D x, as NumPy's
        reductions return. float32 and float64 inputs keep their dtype,
        float16 is computed in float32, integers give float64.

    Notes
    -----
    Computed as ``m + log1p(sum_{j != k} exp(x_j - m))`` where ``m = x_k`` is
    the row maximum: no term exceeds 1, so nothing overflows, and ``log1p``
    keeps the contribution of the other classes when it is tiny. A row of only
    ``-inf`` gives ``-inf``.

    Examples
    --------
    >>> import fastce
    >>> float(fastce.logsumexp([1000.0, 1000.0]))  # np.log(np.sum(np.exp(x))) is inf
    1000.6931471805599
    """
    keepdims = check_bool(keepdims, "keepdims")
    out, layout = _run("logsumexp", x, axis, n_threads, per_row=True)
    return np.expand_dims(out, layout.axis) if keepdims else as_result(out)


def log_softmax(x: Any, axis: int = -1, *, out: Optional[np.ndarray] = None,
                n_threads: Optional[int] = None) -> np.ndarray:
    """Logarithm of the softmax along the class axis, computed stably.

    Parameters
    ----------
    x : array_like
        Scores (logits), any shape with at least one dimension.
    axis : int, default -1
        The class axis.
    out : ndarray, optional
        Where to write the result: the shape of ``x``, the result dtype,
        C-contiguous and writeable. It may be ``x`` itself (in place). A
        buffer reused across calls saves the allocation, and on large arrays
        the OS's zeroing of fresh pages (see the README's performance notes).
    n_threads : int or None, default None
        OpenMP threads; None uses what OpenMP would.

    Returns
    -------
    ndarray
        ``x - logsumexp(x, axis, keepdims=True)``, the shape of ``x``.

    Notes
    -----
    Each entry is ``(x_j - m) - log1p(sum_{i != k} exp(x_i - m))``, a sum of
    two non-positive terms, so it never suffers cancellation. A ``-inf`` entry
    (a masked class) gives ``-inf``; a row of only ``-inf`` gives all ``-inf``.

    Examples
    --------
    >>> import fastce
    >>> fastce.log_softmax([0.0, 0.0]).tolist()
    [-0.6931471805599453, -0.6931471805599453]
    """
    return _run("log_softmax", x, axis, n_threads, per_row=False, out=out)[0]


def softmax(x: Any, axis: int = -1, *, out: Optional[np.ndarray] = None,
            n_threads: Optional[int] = None) -> np.ndarray:
    """Softmax along the class axis: ``exp(x) / sum(exp(x))``, without overflow.

    Parameters
    ----------
    x : array_like
        Scores (logits), any shape with at least one dimension.
    axis : int, default -1
        The class axis.
    out : ndarray, optional
        Where to write the result: the shape of ``x``, the result dtype,
        C-contiguous and writeable. It may be ``x`` itself (in place). A
        buffer reused across calls saves the allocation, and on large arrays
        the OS's zeroing of fresh pages (see the README's performance notes).
    n_threads : int or None, default None
        OpenMP threads; None uses what OpenMP would.

    Returns
    -------
    ndarray
        Probabilities summing to 1 along ``axis``, the shape of ``x``.

    Notes
    -----
    Computed as ``exp(x_j - m) / (1 + sum_{i != k} exp(x_i - m))`` with ``m``
    the row maximum. ``-inf`` entries (masked classes) get probability 0; a row
    of only ``-inf`` has no probability mass and gives all zeros.

    Examples
    --------
    >>> import fastce
    >>> fastce.softmax([1.0, 2.0, 3.0]).round(4).tolist()
    [0.09, 0.2447, 0.6652]
    """
    return _run("softmax", x, axis, n_threads, per_row=False, out=out)[0]
