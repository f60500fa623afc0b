"""sigmoid_cross_entropy: binary cross-entropy from logits, elementwise."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ._bindings import for_dtype
from ._inputs import (Grad, Reduction, broadcast_operands, check_bool, check_reduction,
                      check_shape, check_threads, dtypes, grad_scale,
                      operand, per_sample_buffer, real_array, reduce)


def sigmoid_cross_entropy(
    logits: Any,
    target: Any,
    *,
    weight: Any = None,
    pos_weight: Any = None,
    reduction: Reduction = "mean",
    return_grad: bool = False,
    grad_out: Optional[np.ndarray] = None,
    n_threads: Optional[int] = None,
):
    """Sigmoid (binary) cross-entropy from logits, elementwise and stable.

    ``torch.nn.functional.binary_cross_entropy_with_logits``, plus the
    gradient from the same pass.

    Parameters
    ----------
    logits : array_like
        Scores ``x``, any shape.
    target : array_like
        Targets ``z`` in [0, 1] (hard or soft; bool, int or float), the shape
        of ``logits``.
    weight : array_like, optional
        Multiplies each element's loss; broadcasts against ``logits``.
    pos_weight : array_like, optional
        Weight ``q`` of the positive term; broadcasts against ``logits``
        (typically shape ``(C,)`` for the last axis).
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        ``'mean'`` averages ``weight * loss`` over all elements.
    return_grad, grad_out, n_threads
        As in :func:`softmax_cross_entropy`.

    Returns
    -------
    loss : ndarray or scalar
        ``logits.shape`` for ``'none'`` (a NumPy scalar for a scalar logit),
        else a NumPy scalar.
    grad : ndarray
        Only when ``return_grad``: ``weight * ((1-z)*sigmoid(x) - q*z*sigmoid(-x))``
        (divided by the number of elements for ``'mean'``).

    Notes
    -----
    The loss ``-w * (q*z*log(sigmoid(x)) + (1-z)*log(1-sigmoid(x)))`` equals
    the textbook ``max(x,0) - x*z + log1p(exp(-|x|))`` (for q = 1) and torch's
    ``(1-z)*x + (1+(q-1)*z) * (log1p(exp(-|x|)) + max(-x,0))``. fastce
    evaluates it as ``w * (q*z*softplus(-x) + (1-z)*softplus(x))`` with
    ``softplus(t) = max(t,0) + log1p(exp(-|x|))``: a sum of two non-negative
    terms, so there is no cancellation, and a confident correct element keeps
    its tiny loss (``log1p(exp(-|x|))``) instead of rounding to 0.

    Examples
    --------
    >>> import fastce
    >>> fastce.sigmoid_cross_entropy([0.5, -40.0], [1, 0], reduction="none").tolist()
    [0.4740769841801067, 4.248354255291589e-18]
    """
    x = real_array(logits, "logits")
    compute, result = dtypes(x.dtype)
    reduction = check_reduction(reduction)
    nt = check_threads(n_threads)
    return_grad = check_bool(return_grad, "return_grad")
    z = real_array(target, "target")
    check_shape(z, x.shape, "target", "the shape of the logits")
    P, (w, q) = broadcast_operands(x.shape, compute, weight=weight, pos_weight=pos_weight)
    grad = Grad(return_grad, grad_out, x.shape, compute, result)
    loss = per_sample_buffer(reduction, x.size, compute)
    xc, zc = operand(x, compute), operand(z, compute)
    if grad.direct:  # the caller's grad_out may overlap them
        xc, zc, w, q = grad.detach(xc, zc, w, q)
    den = float(x.size)
    scale = grad_scale(reduction, den)
    total = for_dtype(compute).sigmoid_ce(xc, zc, P, w, q, loss, grad.buffer, scale, nt)
    out = reduce(reduction, total, loss, den, x.shape, result)
    return (out, grad.result(result, reduction, den)) if return_grad else out
