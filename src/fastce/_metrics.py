"""accuracy, entropy and kl_divergence over a class axis."""
from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np

from ._bindings import for_dtype
from ._inputs import (as_result, check_shape, check_threads, class_layout, dtypes,
                      is_labels, labels, operand, real_array)


def accuracy(scores: Any, target: Any, *, axis: int = -1,
             n_threads: Optional[int] = None) -> np.float64:
    """Fraction of samples whose highest score is the target class.

    Parameters
    ----------
    scores : array_like, shape (..., C, ...)
        Logits or probabilities; class axis ``axis``.
    target : array_like
        Integer class indices (``scores.shape`` without the class axis), or a
        floating dense target of ``scores.shape`` whose argmax is the class.
    axis : int, default -1
        The class axis.
    n_threads : int or None, default None
        OpenMP threads; None uses what OpenMP would.

    Returns
    -------
    numpy.float64
        In [0, 1]; NaN for an empty batch.

    Notes
    -----
    Ties go to the first index and a NaN counts as the maximum, like
    ``numpy.argmax``. Labels outside ``[0, C)`` raise ``IndexError``.

    Examples
    --------
    >>> import fastce
    >>> s = [[0.7, 0.2, 0.1], [0.5, 0.1, 0.4], [0.02, 0.9, 0.08]]
    >>> float(fastce.accuracy(s, [0, 1, 1]))
    0.6666666666666666
    """
    x = real_array(scores, "scores")
    compute, _ = dtypes(x.dtype)
    layout = class_layout(x.shape, axis, "scores")
    nt = check_threads(n_threads)
    t = real_array(target, "target")
    if is_labels(t):
        y, _, _ = labels(t, layout, None, None, None, compute)
        dense = None
    else:
        check_shape(t, x.shape, "target", "a dense target has the shape of scores")
        y, dense = None, operand(t, compute)
    hits = for_dtype(compute).accuracy(operand(x, compute), y, dense, *layout.dims, nt)
    n = layout.n_samples
    return np.float64(hits / n if n else np.nan)


def _entropy(p: Any, q: Any, axis: int,
             n_threads: Optional[int]) -> Union[np.ndarray, np.floating]:
    pa = real_array(p, "p")
    qa = None if q is None else real_array(q, "q")
    compute, result = dtypes(pa.dtype if qa is None else np.result_type(pa, qa))
    layout = class_layout(pa.shape, axis, "p")
    nt = check_threads(n_threads)
    if qa is not None:
        check_shape(qa, pa.shape, "q", "the shape of p")
    out = np.empty(layout.sample_shape, compute)
    for_dtype(compute).entropy(operand(pa, compute),
                               None if qa is None else operand(qa, compute),
                               *layout.dims, out.reshape(-1), nt)
    return as_result(out.astype(result, copy=False))


def entropy(p: Any, *, axis: int = -1,
            n_threads: Optional[int] = None) -> Union[np.ndarray, np.floating]:
    """Shannon entropy ``-sum p*log(p)`` (nats) of each distribution.

    Parameters
    ----------
    p : array_like, shape (..., C, ...)
        Probabilities along ``axis``.
    axis : int, default -1
        The class axis.
    n_threads : int or None, default None
        OpenMP threads; None uses what OpenMP would.

    Returns
    -------
    ndarray or scalar
        The shape of ``p`` without ``axis``; a NumPy scalar for 1-D ``p``.

    Notes
    -----
    ``0 * log(0)`` is taken as 0, so one-hot rows have entropy exactly 0.
    Each product ``p*log(p)`` is kept exactly (its rounding error carried)
    in a compensated sum computed in float64, so only the logs' own errors
    remain (float64 results within an ulp of the exact entropy).

    Examples
    --------
    >>> import fastce
    >>> fastce.entropy([[0.5, 0.5], [1.0, 0.0]]).tolist()
    [0.6931471805599453, 0.0]
    """
    return _entropy(p, None, axis, n_threads)


def kl_divergence(p: Any, q: Any, *, axis: int = -1,
                  n_threads: Optional[int] = None) -> Union[np.ndarray, np.floating]:
    """Kullback-Leibler divergence ``sum p*log(p/q)`` of each pair of rows.

    Parameters
    ----------
    p, q : array_like, shape (..., C, ...)
        Probabilities along ``axis``, the same shape.
    axis : int, default -1
        The class axis.
    n_threads : int or None, default None
        OpenMP threads; None uses what OpenMP would.

    Returns
    -------
    ndarray or scalar
        The shape of ``p`` without ``axis`` (a NumPy scalar for 1-D ``p``);
        ``inf`` where ``q`` is 0 and ``p`` is not.

    Notes
    -----
    Terms with ``p == 0`` are 0. Each term is ``p * log(p/q)``, never
    ``log(p) - log(q)``, which cancels when p ~ q; in float64 the rounding of
    the ratio ``r`` is taken back too, ``log(p/q) = log(r) + (p - r*q)/p``
    with the remainder exact (one FMA), so each term is right to about an
    ulp even where ``p/q = 1 + 1e-12`` (the plain ratio: 10^11 ulp off).
    The terms are summed as in :func:`entropy`; a sum that cancels (two
    close distributions, whose KL is much smaller than its terms) keeps the
    terms' errors, not their relative size.

    Examples
    --------
    >>> import fastce
    >>> fastce.kl_divergence([[0.5, 0.5]], [[0.25, 0.75]]).round(6).tolist()
    [0.143841]
    """
    return _entropy(p, q, axis, n_threads)
