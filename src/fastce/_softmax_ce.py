"""softmax_cross_entropy (from logits) and nll_loss (from log-probabilities)."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ._bindings import for_dtype
from ._inputs import (Grad, Reduction, check_bool, check_ignore_index, check_interval,
                      check_reduction, check_shape, check_threads, class_layout,
                      class_weight, dtypes, grad_scale,
                      is_labels, kernel_ignore_index, operand,
                      per_sample_buffer, real_array, reduce, sample_weights)
from ._weights import dense_class_weight, dense_denominator, unscale, weighted_labels


def softmax_cross_entropy(
    logits: Any,
    target: Any,
    *,
    axis: int = -1,
    weight: Any = None,
    sample_weight: Any = None,
    ignore_index: Optional[int] = -100,
    label_smoothing: float = 0.0,
    reduction: Reduction = "mean",
    return_grad: bool = False,
    grad_out: Optional[np.ndarray] = None,
    n_threads: Optional[int] = None,
):
    """Softmax cross-entropy from logits, fused and numerically stable.

    The semantics of ``torch.nn.functional.cross_entropy`` for the same class
    axis, plus per-sample weights and the gradient from the same pass.

    Parameters
    ----------
    logits : array_like, shape (..., C, ...)
        Unnormalised scores; the class axis is ``axis``.
    target : array_like
        Either integer class indices of ``logits.shape`` without the class
        axis (sparse), or floating one-hot / soft probabilities of
        ``logits.shape`` (dense).
    axis : int, default -1
        The class axis of ``logits``.
    weight : array_like, shape (C,), optional
        Per-class weights ``w``.
    sample_weight : array_like, optional
        Per-sample weights ``sw``, the shape of ``logits`` without the class axis.
    ignore_index : int or None, default -100
        Sparse targets equal to it give loss 0, gradient 0, and leave the mean's
        denominator (None: ignore nothing). Any other label outside ``[0, C)``
        raises ``IndexError``.
    label_smoothing : float in [0, 1], default 0
        ``e`` mixes the target with the uniform distribution over C classes.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        ``'none'`` returns the per-sample losses, each multiplied by its weights.
    return_grad : bool, default False
        Also return the gradient with respect to ``logits`` of the returned
        loss (for ``'none'``, of the sum of the per-sample losses).
    grad_out : ndarray, optional
        Receives the gradient: C-contiguous, ``logits.shape``, the result
        dtype, writeable. It may be ``logits`` itself to overwrite it in place.
    n_threads : int or None, default None
        OpenMP threads; None uses what OpenMP would (``OMP_NUM_THREADS``).

    Returns
    -------
    loss : ndarray or scalar
        A NumPy scalar of the result dtype for ``'mean'`` and ``'sum'``, and
        for ``'none'`` when there is one sample (1-D logits).
    grad : ndarray
        Only when ``return_grad``; the shape of ``logits``.

    Notes
    -----
    With ``l_c = logsumexp(x) - x_c`` the sparse per-sample loss is
    ``sw * ((1-e) * w[y] * l_y + (e/C) * sum_c w[c] * l_c)``; the dense one is
    ``sw * sum_c w[c] * t'_c * l_c`` with ``t' = (1-e)*t + e/C`` and
    ``0 * l_c = 0`` (a zero target on a ``-inf`` logit contributes nothing).
    Sparse ``'mean'`` divides by ``sum sw*w[y]`` over non-ignored samples (NaN
    when that is 0, with a zero gradient); dense ``'mean'`` divides by the
    number of samples (by ``sum sw`` when ``sample_weight`` is given).

    ``l_c`` is evaluated as ``(m - x_c) + log1p(sum_{j != k} exp(x_j - m))``
    with ``m = x_k`` the row maximum: two non-negative terms, so a confident,
    correct row keeps its tiny loss instead of rounding to 0, and ``exp``
    never overflows. ``-inf`` logits are masked classes (probability 0).

    Examples
    --------
    >>> import fastce
    >>> round(float(fastce.softmax_cross_entropy([[3.0, 1.0, -3.0]], [0])), 12)
    0.12910890883
    >>> loss, grad = fastce.softmax_cross_entropy([[0.0, 0.0]], [1], return_grad=True)
    >>> grad.tolist()
    [[0.5, -0.5]]
    """
    x = real_array(logits, "logits")
    compute, result = dtypes(x.dtype)
    layout = class_layout(x.shape, axis, "logits")
    reduction = check_reduction(reduction)
    e = check_interval(label_smoothing, "label_smoothing", 0.0, 1.0, closed=True)
    nt = check_threads(n_threads)
    return_grad = check_bool(return_grad, "return_grad")
    ignore = check_ignore_index(ignore_index)
    t = real_array(target, "target")
    w = class_weight(weight, layout, compute)
    sw = sample_weights(sample_weight, layout.sample_shape, compute)
    grad = Grad(return_grad, grad_out, x.shape, compute, result)
    loss = per_sample_buffer(reduction, layout.n_samples, compute)

    if is_labels(t):
        y, den, w, sw, scaled = weighted_labels(t, layout, ignore, w, sw, compute, reduction,
                                                smoothing=e / layout.C > 0.0)
        xc = operand(x, compute)
        if grad.direct:  # the caller's grad_out may overlap them
            xc, y, w, sw = grad.detach(xc, y, w, sw)
        scale = grad_scale(reduction, den)
        total = for_dtype(compute).softmax_ce_sparse(
            xc, y, *layout.dims, w, sw, kernel_ignore_index(ignore), e, loss, grad.buffer,
            scale, nt)
    else:
        check_shape(t, x.shape, "target",
                    "floating targets are probabilities with the logits' shape; "
                    "pass integer class indices for a sparse target")
        w, scaled = dense_class_weight(w, compute)
        sw, den = dense_denominator(reduction, layout.n_samples, sw, w)
        xc, tc = operand(x, compute), operand(t, compute)
        if grad.direct:  # the caller's grad_out may overlap them
            xc, tc, w, sw = grad.detach(xc, tc, w, sw)
        scale = grad_scale(reduction, den)
        total = for_dtype(compute).softmax_ce_dense(
            xc, tc, *layout.dims, w, sw, e, loss, grad.buffer,
            scale, nt)

    unscale(scaled, loss, grad.buffer)
    out = reduce(reduction, total, loss, den, layout.sample_shape, result, scaled)
    return (out, grad.result(result, reduction, den)) if return_grad else out


def nll_loss(
    log_probs: Any,
    target: Any,
    *,
    axis: int = -1,
    weight: Any = None,
    sample_weight: Any = None,
    ignore_index: Optional[int] = -100,
    reduction: Reduction = "mean",
    return_grad: bool = False,
    grad_out: Optional[np.ndarray] = None,
    n_threads: Optional[int] = None,
):
    """Negative log-likelihood of class indices under log-probabilities.

    ``torch.nn.functional.nll_loss`` for the same class axis.

    Parameters
    ----------
    log_probs : array_like, shape (..., C, ...)
        Log-probabilities (e.g. from :func:`log_softmax`); class axis ``axis``.
    target : array_like of int
        Class indices, the shape of ``log_probs`` without the class axis.
    axis, weight, sample_weight, ignore_index, reduction, return_grad, grad_out, n_threads
        As in :func:`softmax_cross_entropy`.

    Returns
    -------
    loss : ndarray or scalar
    grad : ndarray
        Only when ``return_grad``: ``-sw*w[y]`` (divided by the denominator for
        ``'mean'``) at each target entry, 0 elsewhere.

    Notes
    -----
    Per sample ``-sw * w[y] * log_probs[y]``; 0 for ignored samples. ``'mean'``
    divides by ``sum sw*w[y]`` over the samples not ignored.

    Examples
    --------
    >>> import numpy as np, fastce
    >>> float(fastce.nll_loss(np.log([[0.25, 0.75]]), [1]))
    0.2876820724517809
    """
    x = real_array(log_probs, "log_probs")
    compute, result = dtypes(x.dtype)
    layout = class_layout(x.shape, axis, "log_probs")
    reduction = check_reduction(reduction)
    nt = check_threads(n_threads)
    return_grad = check_bool(return_grad, "return_grad")
    ignore = check_ignore_index(ignore_index)
    t = real_array(target, "target")
    if not is_labels(t):
        raise TypeError(f"target must hold integer class indices; got dtype {t.dtype}")
    w = class_weight(weight, layout, compute)
    sw = sample_weights(sample_weight, layout.sample_shape, compute)
    grad = Grad(return_grad, grad_out, x.shape, compute, result, zeroed=True)
    loss = per_sample_buffer(reduction, layout.n_samples, compute)
    y, den, w, sw, scaled = weighted_labels(t, layout, ignore, w, sw, compute, reduction)
    xc = operand(x, compute)
    if grad.direct:  # the caller's grad_out may overlap them
        xc, y, w, sw = grad.detach(xc, y, w, sw)
    scale = grad_scale(reduction, den)
    total = for_dtype(compute).nll(xc, y, *layout.dims, w, sw, kernel_ignore_index(ignore), loss,
                                   grad.buffer, scale, grad.zeroed, nt)
    unscale(scaled, loss, grad.buffer)
    out = reduce(reduction, total, loss, den, layout.sample_shape, result, scaled)
    return (out, grad.result(result, reduction, den)) if return_grad else out
