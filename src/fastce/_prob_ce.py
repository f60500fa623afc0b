"""Cross-entropies of probabilities (the classic clipped forms):
categorical_cross_entropy and binary_cross_entropy."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ._bindings import for_dtype
from ._inputs import (Grad, Reduction, broadcast_operands, check_bool, check_interval,
                      check_reduction, check_shape, check_threads,
                      class_layout, dtypes, grad_scale,
                      is_labels, operand, per_sample_buffer,
                      real_array, reduce, sample_weights)
from ._weights import dense_denominator, weighted_labels


def categorical_cross_entropy(
    probs: Any,
    target: Any,
    *,
    axis: int = -1,
    eps: float = 1e-7,
    sample_weight: Any = None,
    reduction: Reduction = "mean",
    return_grad: bool = False,
    grad_out: Optional[np.ndarray] = None,
    n_threads: Optional[int] = None,
):
    """Cross-entropy of predicted probabilities, clipped to ``[eps, 1-eps]``.

    The clipped form of Keras' ``categorical_crossentropy`` and scikit-learn's
    ``log_loss``, for when the model already outputs probabilities. The rows
    are used as given: unlike Keras, fastce does not rescale them to sum to
    1, and it does not check that they lie in [0, 1]. Prefer
    :func:`softmax_cross_entropy` on logits when you have them.

    Parameters
    ----------
    probs : array_like, shape (..., C, ...)
        Predicted probabilities; class axis ``axis``.
    target : array_like
        Integer class indices (``probs.shape`` without the class axis) or
        floating one-hot / soft targets (``probs.shape``).
    axis : int, default -1
        The class axis.
    eps : float in (0, 0.5), default 1e-7
        Clipping bound.
    sample_weight : array_like, optional
        Per-sample weights, the shape of ``probs`` without the class axis.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        ``'mean'`` divides by the number of samples (by ``sum sw`` when
        ``sample_weight`` is given).
    return_grad : bool, default False
        Also return the gradient with respect to ``probs``.
    grad_out : ndarray, optional
        Receives the gradient: C-contiguous, ``probs.shape``, the result
        dtype, writeable. It may be ``probs`` itself to overwrite it in place.
    n_threads : int or None, default None
        OpenMP threads; None uses what OpenMP would.

    Returns
    -------
    loss : ndarray or scalar
    grad : ndarray
        Only when ``return_grad``: ``-sw * t / clip(p)``, finite unless p is NaN.

    Notes
    -----
    Per sample ``-sw * sum_c t_c * log(clip(p_c, eps, 1-eps))``, a zero
    ``t_c`` contributing 0. The gradient treats the clip as the identity but
    keeps the clipped value in the denominator, so it is finite everywhere.

    Examples
    --------
    >>> import fastce
    >>> p = [[0.7, 0.1, 0.2], [0.1, 0.5, 0.4], [0.02, 0.9, 0.08]]
    >>> round(float(fastce.categorical_cross_entropy(p, [0, 1, 1])), 12)
    0.385060880052
    """
    p = real_array(probs, "probs")
    compute, result = dtypes(p.dtype)
    layout = class_layout(p.shape, axis, "probs")
    eps = check_interval(eps, "eps", 0.0, 0.5, closed=False)
    reduction = check_reduction(reduction)
    nt = check_threads(n_threads)
    return_grad = check_bool(return_grad, "return_grad")
    t = real_array(target, "target")
    sw = sample_weights(sample_weight, layout.sample_shape, compute)
    grad = Grad(return_grad, grad_out, p.shape, compute, result)
    loss = per_sample_buffer(reduction, layout.n_samples, compute)
    if is_labels(t):
        y, den, _, sw, _ = weighted_labels(t, layout, None, None, sw, compute, reduction)
        pc = operand(p, compute)
        if grad.direct:  # the caller's grad_out may overlap them
            pc, y, sw = grad.detach(pc, y, sw)
        scale = grad_scale(reduction, den)
        total = for_dtype(compute).categorical_ce_sparse(
            pc, y, *layout.dims, sw, eps, loss, grad.buffer, scale, nt)
    else:
        check_shape(t, p.shape, "target",
                    "floating targets are probabilities with the shape of probs; "
                    "pass integer class indices for a sparse target")
        sw, den = dense_denominator(reduction, layout.n_samples, sw)
        pc, tc = operand(p, compute), operand(t, compute)
        if grad.direct:  # the caller's grad_out may overlap them
            pc, tc, sw = grad.detach(pc, tc, sw)
        scale = grad_scale(reduction, den)
        total = for_dtype(compute).categorical_ce_dense(
            pc, tc, *layout.dims, sw, eps, loss, grad.buffer, scale, nt)
    out = reduce(reduction, total, loss, den, layout.sample_shape, result)
    return (out, grad.result(result, reduction, den)) if return_grad else out


def binary_cross_entropy(
    probs: Any,
    target: Any,
    *,
    eps: float = 1e-7,
    weight: Any = None,
    reduction: Reduction = "mean",
    return_grad: bool = False,
    grad_out: Optional[np.ndarray] = None,
    n_threads: Optional[int] = None,
):
    """Binary cross-entropy of probabilities, elementwise, clipped to ``[eps, 1-eps]``.

    The clipped form (Keras, scikit-learn), not PyTorch's
    ``F.binary_cross_entropy``, which caps each log at -100 instead: for
    ``p = 1e-9`` and ``z = 1`` fastce gives ``-log(1e-7) = 16.12`` with the
    default ``eps``, PyTorch ``20.72``. Probabilities outside [0, 1] are
    clipped too, not refused (PyTorch raises): pass logits to
    :func:`sigmoid_cross_entropy` instead.

    Parameters
    ----------
    probs : array_like
        Predicted probabilities ``p``, any shape.
    target : array_like
        Targets ``z`` in [0, 1], the shape of ``probs``.
    eps : float in (0, 0.5), default 1e-7
        Clipping bound.
    weight : array_like, optional
        Multiplies each element's loss; broadcasts against ``probs``.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        ``'mean'`` averages over all elements.
    return_grad : bool, default False
        Also return the gradient with respect to ``probs``.
    grad_out : ndarray, optional
        Receives the gradient: C-contiguous, ``probs.shape``, the result
        dtype, writeable. It may be ``probs`` itself to overwrite it in place.
    n_threads : int or None, default None
        OpenMP threads; None uses what OpenMP would.

    Returns
    -------
    loss : ndarray or scalar
    grad : ndarray
        Only when ``return_grad``: ``w * ((1-z)/(1-pc) - z/pc)``.

    Notes
    -----
    ``-w * (z*log(pc) + (1-z)*log(1-pc))`` with ``pc = clip(p, eps, 1-eps)``,
    ``log(1-pc)`` evaluated as ``log1p(-pc)``, which keeps the digits that
    rounding ``1 - pc`` loses when ``pc`` is small.

    Examples
    --------
    >>> import fastce
    >>> round(float(fastce.binary_cross_entropy([0.1, 0.8, 0.1], [0, 1, 0],
    ...                                          eps=1e-5, reduction="sum")), 12)
    0.43386458263
    """
    p = real_array(probs, "probs")
    compute, result = dtypes(p.dtype)
    eps = check_interval(eps, "eps", 0.0, 0.5, closed=False)
    reduction = check_reduction(reduction)
    nt = check_threads(n_threads)
    return_grad = check_bool(return_grad, "return_grad")
    z = real_array(target, "target")
    check_shape(z, p.shape, "target", "the shape of probs")
    P, (w,) = broadcast_operands(p.shape, compute, weight=weight)
    grad = Grad(return_grad, grad_out, p.shape, compute, result)
    loss = per_sample_buffer(reduction, p.size, compute)
    pc, zc = operand(p, compute), operand(z, compute)
    if grad.direct:  # the caller's grad_out may overlap them
        pc, zc, w = grad.detach(pc, zc, w)
    den = float(p.size)
    scale = grad_scale(reduction, den)
    total = for_dtype(compute).binary_ce(pc, zc, P, w, eps, loss, grad.buffer, scale, nt)
    out = reduce(reduction, total, loss, den, p.shape, result)
    return (out, grad.result(result, reduction, den)) if return_grad else out
