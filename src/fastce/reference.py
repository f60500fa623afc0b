"""Slow, obviously-correct NumPy twins of every public fastce function.

This module is the oracle the test suite compares the C kernels against, and
the place to read what each function computes. Every function here has the
same name and signature as its fast counterpart in :mod:`fastce`.

Conventions shared by all functions
-----------------------------------
* Inputs go through :func:`numpy.asarray` and all arithmetic is float64. The
  result dtype follows the main input (``logits``, ``probs``, ``scores``,
  ``p``): float16, float32 and float64 are kept, anything else (integer,
  bool, ...) gives float64. Reduced results are NumPy scalars of that dtype.
* ``axis`` is the class axis (default -1), of length C > 0. Per-sample
  results have the input's shape without the class axis; gradients have the
  input's shape. Internally the class axis is moved to the end.
* Targets: an *integer* target of shape ``logits.shape`` minus the class axis
  holds class indices ("sparse"); a floating (or bool) target of
  ``logits.shape`` holds one-hot or soft probabilities ("dense").
* ``reduction``: ``"none"`` returns the per-sample (or per-element) losses,
  already multiplied by their weights; ``"sum"`` their sum; ``"mean"`` their
  sum divided by a denominator given with each function. A zero denominator
  (e.g. an empty batch, or every sample ignored) gives a NaN mean and an
  all-zero gradient.
* ``return_grad=True`` returns ``(loss, grad)``: the derivative of the
  returned loss (of the sum of the losses for ``"none"``) with respect to the
  first argument.
* A term whose coefficient is exactly 0 is 0, even when the factor it
  multiplies is inf or NaN (``0 * log 0 = 0``).
* A softmax row of only -inf (every class masked) has logsumexp -inf,
  log_softmax -inf, softmax 0; its cross-entropy loss is +inf and its
  gradient 0.
"""

from __future__ import annotations

from typing import Optional, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "logsumexp",
    "log_softmax",
    "softmax",
    "softmax_cross_entropy",
    "cross_entropy",
    "nll_loss",
    "sigmoid_cross_entropy",
    "binary_cross_entropy_with_logits",
    "categorical_cross_entropy",
    "binary_cross_entropy",
    "accuracy",
    "entropy",
    "kl_divergence",
]

_REDUCTIONS = ("none", "mean", "sum")

Loss = Union[np.ndarray, np.floating]
LossAndGrad = Union[Loss, Tuple[Loss, np.ndarray]]


# --------------------------------------------------------------- helpers


def _quiet() -> np.errstate:
    """Silence the warnings of inf - inf, 0 * inf, log(0), overflow to inf
    and underflow to subnormals or 0: the IEEE results are either what we
    want or replaced with ``np.where``, as in the C kernels, which never
    warn (so that np.errstate(all="raise") in a caller does not raise)."""
    return np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore")


def _result_dtype(a: np.ndarray) -> np.dtype:
    """float16/32/64 stay as they are; every other dtype gives float64."""
    if a.dtype.type in (np.float16, np.float32, np.float64):
        return np.dtype(a.dtype.type)
    return np.dtype(np.float64)


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _classes_last(a: np.ndarray, axis: int) -> NDArray[np.float64]:
    """``a`` as float64 with the class axis moved to the end (C > 0)."""
    moved = np.moveaxis(a, axis, -1)
    if moved.shape[-1] == 0:
        raise ValueError("the class axis has length 0")
    return moved.astype(np.float64)


def _is_sparse(target: np.ndarray) -> bool:
    """Integer targets are class indices; anything else is dense."""
    return np.issubdtype(target.dtype, np.integer)


def _check_shape(a: np.ndarray, shape: tuple, what: str) -> None:
    if a.shape != tuple(shape):
        raise ValueError(f"{what} has shape {a.shape}, expected {tuple(shape)}")


def _ignored(y: np.ndarray, C: int, ignore_index: Optional[int]) -> NDArray[np.bool_]:
    """Mask of ignored labels; IndexError for any other label outside [0, C)."""
    if ignore_index is None:
        ignored = np.zeros(y.shape, dtype=bool)
    else:
        ignored = y == ignore_index
    bad = ~ignored & ((y < 0) | (y >= C))
    if bad.any():
        raise IndexError(f"label {y[bad].flat[0]} is out of range for {C} classes")
    return ignored


def _class_weight(weight: Optional[ArrayLike], C: int) -> NDArray[np.float64]:
    if weight is None:
        return np.ones(C)
    w = np.asarray(weight, dtype=np.float64)
    _check_shape(w, (C,), "weight")
    return w


def _sample_weight(sample_weight: Optional[ArrayLike], shape: tuple) -> NDArray[np.float64]:
    if sample_weight is None:
        return np.ones(shape)
    sw = np.asarray(sample_weight, dtype=np.float64)
    _check_shape(sw, shape, "sample_weight")
    return sw


def _broadcast(a: Optional[ArrayLike], shape: tuple) -> NDArray[np.float64]:
    """An elementwise weight broadcast to ``shape`` (ones when None)."""
    if a is None:
        return np.ones(shape)
    return np.broadcast_to(np.asarray(a, dtype=np.float64), shape)


def _term(coef: ArrayLike, value: np.ndarray) -> np.ndarray:
    """``coef * value``, but exactly 0 where ``coef == 0`` (an absent term)."""
    with _quiet():
        return np.where(np.asarray(coef) == 0, 0.0, coef * value)


def _rows(x: np.ndarray):
    """Split the rows of ``x`` (classes last) around their maximum.

    Returns ``(m, d, rest, is_arg)``: the row max ``m`` (shape (..., 1)), the
    shifted logits ``d = x - m`` (exactly 0 at every maximum, a +inf one
    too, so that several +inf share the probability; all -inf in a row of
    only -inf; all NaN in a row with a NaN), ``rest = sum(exp(d))`` over the
    classes but the first argmax (shape (..., 1)) and the boolean mask
    ``is_arg`` of the first argmax.
    Since ``sum(exp(x - m)) = 1 + rest``::

        logsumexp = m + log(sum(exp(x - m))) = m + log1p(rest)
        log_softmax = d - log1p(rest)
        softmax = exp(d) / (1 + rest),   1 - softmax = rest / (1 + rest) at the argmax

    Keeping the argmax's exp(0) = 1 out of ``rest`` and using log1p is what
    keeps a confident row's tiny loss ``log1p(rest)`` accurate.
    """
    C = x.shape[-1]
    arg = np.argmax(x, axis=-1)[..., None]  # first maximum; a NaN wins
    m = np.take_along_axis(x, arg, axis=-1)
    is_arg = np.arange(C) == arg
    with _quiet():
        d = np.where(x == m, 0.0, x - m)
    d = np.where(np.isnan(m), np.nan, d)  # np.argmax picks a NaN: the row is NaN
    d = np.where(m == -np.inf, -np.inf, d)  # every class masked
    rest = np.where(is_arg, 0.0, np.exp(d)).sum(axis=-1, keepdims=True)
    # a NaN row's rest is NaN even with one class (nothing but the argmax)
    rest = np.where(np.isnan(m), np.nan, rest)
    return m, d, rest, is_arg


def _reduce(losses: np.ndarray, den: float, reduction: str, dtype: np.dtype) -> Loss:
    if reduction == "none":
        return losses.astype(dtype)
    total = losses.sum()
    if reduction == "sum":
        return dtype.type(total)
    return dtype.type(total / den if den != 0 else np.nan)


def _finish(
    losses: np.ndarray,
    grad: np.ndarray,
    den: float,
    reduction: str,
    return_grad: bool,
    dtype: np.dtype,
    axis: Optional[int] = None,
) -> LossAndGrad:
    """Reduce the losses; scale the gradient (1/den for a mean, 0 if den == 0)
    and move its class axis back to ``axis``."""
    loss = _reduce(losses, den, reduction, dtype)
    if not return_grad:
        return loss
    if reduction == "mean":
        grad = grad / den if den != 0 else np.zeros_like(grad)
    if axis is not None:
        grad = np.moveaxis(grad, -1, axis)
    return loss, grad.astype(dtype)


# --------------------------------------------------------------- softmax


def logsumexp(x: ArrayLike, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    r"""Log of the sum of exponentials along ``axis``, without overflow.

    .. math:: \mathrm{lse}(x) = m + \log \sum_c e^{x_c - m}, \quad m = \max_c x_c

    A row of only -inf gives -inf.
    """
    x = np.asarray(x)
    m, _, rest, _ = _rows(_classes_last(x, axis))
    out = (m + np.log1p(rest))[..., 0]
    if keepdims:
        out = np.expand_dims(out, axis)
    return out.astype(_result_dtype(x))


def log_softmax(x: ArrayLike, axis: int = -1) -> np.ndarray:
    r"""Logarithm of :func:`softmax`: :math:`x_j - \mathrm{lse}(x)`.

    Computed as ``(x_j - m) - log(sum(exp(x - m)))``; a row of only -inf
    gives -inf everywhere, a single -inf entry gives -inf.
    """
    x = np.asarray(x)
    _, d, rest, _ = _rows(_classes_last(x, axis))
    return np.moveaxis(d - np.log1p(rest), -1, axis).astype(_result_dtype(x))


def softmax(x: ArrayLike, axis: int = -1) -> np.ndarray:
    r"""Softmax along ``axis``: :math:`p_j = e^{x_j - m} / \sum_c e^{x_c - m}`.

    -inf entries get probability 0; a row of only -inf is all 0.
    """
    x = np.asarray(x)
    _, d, rest, _ = _rows(_classes_last(x, axis))
    return np.moveaxis(np.exp(d) / (1.0 + rest), -1, axis).astype(_result_dtype(x))


# ------------------------------------------------- softmax cross-entropy


def _softmax_ce_sparse(x, y, w, sw, ignore_index, e):
    """Per-sample losses, unscaled gradient and mean denominator, class-index targets."""
    C = x.shape[-1]
    ignored = _ignored(y, C, ignore_index)
    y = np.where(ignored, 0, y)[..., None]  # any valid class; masked out below
    x = np.where(ignored[..., None], 0.0, x)  # ignored logits are never used
    m, d, rest, is_arg = _rows(x)
    masked = m[..., 0] == -np.inf  # every class masked

    # l_c = lse - x_c = log1p(rest) - d_c: two non-negative parts.
    l = np.log1p(rest) - d
    w_y = w[y][..., 0]
    l_y = np.take_along_axis(l, y, axis=-1)[..., 0]
    loss = _term(1.0 - e, w_y * l_y) + _term(e / C, (w * l).sum(axis=-1))
    loss = sw * np.where(masked, np.inf, loss)
    loss = np.where(ignored, 0.0, loss)

    # d loss / d x_j = sw * ((1-e)*w_y*(p_j - [j==y]) + (e/C)*(W*p_j - w_j))
    p = np.exp(d) / (1.0 + rest)
    one_minus_p = np.where(is_arg, rest / (1.0 + rest), 1.0 - p)  # no cancellation
    p_minus_onehot = np.where(np.arange(C) == y, -one_minus_p, p)
    # (without smoothing the last term is absent: a class weight no target
    # uses, even an infinite or NaN one, is never read)
    grad = (1.0 - e) * w_y[..., None] * p_minus_onehot + _term(e / C, w.sum() * p - w)
    grad = np.where((ignored | masked)[..., None], 0.0, sw[..., None] * grad)

    den = np.where(ignored, 0.0, sw * w_y).sum()
    return loss, grad, den


def _softmax_ce_dense(x, t, w, sw, e):
    """Per-sample losses, unscaled gradient and mean denominator, dense targets."""
    C = x.shape[-1]
    m, d, rest, is_arg = _rows(x)
    masked = m[..., 0] == -np.inf

    wt = w * ((1.0 - e) * t + e / C)  # w_c * t'_c
    l = np.log1p(rest) - d  # lse - x_c; +inf for masked classes and rows
    loss = sw * _term(wt, l).sum(axis=-1)

    # d loss / d x_j = sw * (B*p_j - w_j*t'_j), B = sum_c w_c*t'_c. At the
    # argmax (p ~ 1) the same value is B_other - B*(1 - p), B_other the sum
    # of w_c*t'_c over the other classes, which avoids the cancellation.
    p = np.exp(d) / (1.0 + rest)
    B = wt.sum(axis=-1, keepdims=True)
    B_other = np.where(is_arg, 0.0, wt).sum(axis=-1, keepdims=True)
    grad = np.where(is_arg, B_other - B * rest / (1.0 + rest), B * p - wt)
    # a masked row, or one with no target mass (every w_c*t'_c is 0, a loss
    # of 0 whatever the logits hold, NaN too), has no gradient; with negative
    # weights or targets B may be 0 where the terms are not
    no_mass = (wt == 0).all(axis=-1, keepdims=True)
    grad = np.where(masked[..., None] | no_mass, 0.0, sw[..., None] * grad)
    return loss, grad, sw.sum()


def softmax_cross_entropy(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    axis: int = -1,
    weight: Optional[ArrayLike] = None,
    sample_weight: Optional[ArrayLike] = None,
    ignore_index: Optional[int] = -100,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    return_grad: bool = False,
) -> LossAndGrad:
    r"""Cross-entropy of ``softmax(logits)`` against class indices or probabilities.

    With :math:`l_c = \mathrm{lse}(x) - x_c`, class weights :math:`w`, sample
    weight :math:`s_i` and smoothing :math:`\epsilon`, a class-index target
    :math:`y_i` gives

    .. math:: L_i = s_i \big((1-\epsilon) w_{y_i} l_{y_i}
              + \tfrac{\epsilon}{C} \textstyle\sum_c w_c l_c\big)

    (0 for ``y_i == ignore_index``, whose logits are never used) and
    ``"mean"`` divides the sum by :math:`\sum_{i \text{ not ignored}} s_i w_{y_i}`.
    A dense target :math:`t` gives, with :math:`t' = (1-\epsilon) t + \epsilon/C`,

    .. math:: L_i = s_i \textstyle\sum_c w_c t'_c l_c

    (a term with :math:`w_c t'_c = 0` is 0) and ``"mean"`` divides by
    :math:`\sum_i s_i`. ``weight`` has shape (C,); ``sample_weight`` the shape
    of ``logits`` without the class axis.
    """
    _check_reduction(reduction)
    e = float(label_smoothing)
    if not 0.0 <= e <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing!r}")
    logits = np.asarray(logits)
    target = np.asarray(target)
    dtype = _result_dtype(logits)
    with _quiet():
        x = _classes_last(logits, axis)
        C, batch = x.shape[-1], x.shape[:-1]
        w = _class_weight(weight, C)
        sw = _sample_weight(sample_weight, batch)
        if _is_sparse(target):
            _check_shape(target, batch, "class-index target")
            losses, grad, den = _softmax_ce_sparse(x, target, w, sw, ignore_index, e)
        else:
            _check_shape(target, logits.shape, "dense target")
            t = np.moveaxis(target, axis, -1).astype(np.float64)
            losses, grad, den = _softmax_ce_dense(x, t, w, sw, e)
        return _finish(losses, grad, den, reduction, return_grad, dtype, axis)


def nll_loss(
    log_probs: ArrayLike,
    target: ArrayLike,
    *,
    axis: int = -1,
    weight: Optional[ArrayLike] = None,
    sample_weight: Optional[ArrayLike] = None,
    ignore_index: Optional[int] = -100,
    reduction: str = "mean",
    return_grad: bool = False,
) -> LossAndGrad:
    r"""Negative log-likelihood of class indices given log-probabilities.

    .. math:: L_i = -s_i w_{y_i} \log p_{i, y_i}

    0 for ignored samples; ``"mean"`` divides by
    :math:`\sum_{i \text{ not ignored}} s_i w_{y_i}`. The gradient is
    :math:`-s_i w_{y_i}` at the target entry and 0 elsewhere.
    """
    _check_reduction(reduction)
    log_probs = np.asarray(log_probs)
    target = np.asarray(target)
    dtype = _result_dtype(log_probs)
    with _quiet():
        lp = _classes_last(log_probs, axis)
        C, batch = lp.shape[-1], lp.shape[:-1]
        if not _is_sparse(target):
            raise TypeError("nll_loss needs integer class-index targets")
        _check_shape(target, batch, "class-index target")
        w = _class_weight(weight, C)
        sw = _sample_weight(sample_weight, batch)

        ignored = _ignored(target, C, ignore_index)
        y = np.where(ignored, 0, target)[..., None]
        coef = np.where(ignored, 0.0, sw * w[y][..., 0])  # s_i * w_{y_i}
        lp_y = np.take_along_axis(lp, y, axis=-1)[..., 0]
        losses = np.where(ignored, 0.0, -coef * lp_y)
        at_target = (np.arange(C) == y) & ~ignored[..., None]
        grad = np.where(at_target, -coef[..., None], 0.0)
        return _finish(losses, grad, coef.sum(), reduction, return_grad, dtype, axis)


# ------------------------------------------------- sigmoid cross-entropy


def _softplus(t: np.ndarray) -> np.ndarray:
    """log(1 + exp(t)) = max(t, 0) + log1p(exp(-|t|)), never overflowing."""
    return np.maximum(t, 0.0) + np.log1p(np.exp(-np.abs(t)))


def sigmoid_cross_entropy(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    weight: Optional[ArrayLike] = None,
    pos_weight: Optional[ArrayLike] = None,
    reduction: str = "mean",
    return_grad: bool = False,
) -> LossAndGrad:
    r"""Elementwise binary cross-entropy of ``sigmoid(logits)`` against ``target``.

    With :math:`q` = ``pos_weight`` (1 if None) and :math:`w` = ``weight``,
    both broadcast against ``logits``:

    .. math:: L = w \big(q z \,\mathrm{softplus}(-x) + (1-z)\,\mathrm{softplus}(x)\big)

    :math:`-\log\sigma(x) = \mathrm{softplus}(-x)`; a term with a zero
    coefficient is 0, in the loss and the gradient (an element whose two
    are 0 gives 0 and 0 even for a NaN logit). ``"mean"`` averages over all
    elements. Gradient:
    :math:`w((1-z)\sigma(x) - q z \sigma(-x))`.
    """
    _check_reduction(reduction)
    logits = np.asarray(logits)
    target = np.asarray(target)
    dtype = _result_dtype(logits)
    _check_shape(target, logits.shape, "target")
    with _quiet():
        x = logits.astype(np.float64)
        z = target.astype(np.float64)
        w = _broadcast(weight, x.shape)
        q = _broadcast(pos_weight, x.shape)
        losses = w * (_term(q * z, _softplus(-x)) + _term(1.0 - z, _softplus(x)))

        # sigmoid(x) and sigmoid(-x), both from exp(-|x|) <= 1.
        ex = np.exp(-np.abs(x))
        big, small = 1.0 / (1.0 + ex), ex / (1.0 + ex)
        sig_pos = np.where(x >= 0, big, small)
        sig_neg = np.where(x >= 0, small, big)
        grad = w * (_term(1.0 - z, sig_pos) - _term(q * z, sig_neg))
        return _finish(losses, grad, x.size, reduction, return_grad, dtype)


# ----------------------------------- cross-entropies of probabilities


def _check_eps(eps: float) -> float:
    eps = float(eps)
    if not 0.0 < eps < 0.5:
        raise ValueError(f"eps must be in (0, 0.5), got {eps!r}")
    return eps


def categorical_cross_entropy(
    probs: ArrayLike,
    target: ArrayLike,
    *,
    axis: int = -1,
    eps: float = 1e-7,
    sample_weight: Optional[ArrayLike] = None,
    reduction: str = "mean",
    return_grad: bool = False,
) -> LossAndGrad:
    r"""Cross-entropy of probabilities (Keras style), clipped to [eps, 1 - eps].

    With :math:`\hat p = \mathrm{clip}(p, \epsilon, 1-\epsilon)`:

    .. math:: L_i = -s_i \textstyle\sum_c t_c \log \hat p_c

    where a zero :math:`t_c` contributes 0 and a class-index target is
    one-hot (every label must be in [0, C)). ``"mean"`` divides by
    :math:`\sum_i s_i`. The gradient with respect to ``probs`` is
    :math:`-s_i t_c / \hat p_c`.
    """
    _check_reduction(reduction)
    eps = _check_eps(eps)
    probs = np.asarray(probs)
    target = np.asarray(target)
    dtype = _result_dtype(probs)
    with _quiet():
        p = _classes_last(probs, axis)
        C, batch = p.shape[-1], p.shape[:-1]
        sw = _sample_weight(sample_weight, batch)
        if _is_sparse(target):
            _check_shape(target, batch, "class-index target")
            _ignored(target, C, None)  # range check only
            t = (np.arange(C) == target[..., None]).astype(np.float64)
        else:
            _check_shape(target, probs.shape, "dense target")
            t = np.moveaxis(target, axis, -1).astype(np.float64)
        pc = np.clip(p, eps, 1.0 - eps)
        losses = -sw * _term(t, np.log(pc)).sum(axis=-1)
        grad = np.where(t == 0, 0.0, -sw[..., None] * t / pc)
        return _finish(losses, grad, sw.sum(), reduction, return_grad, dtype, axis)


def binary_cross_entropy(
    probs: ArrayLike,
    target: ArrayLike,
    *,
    eps: float = 1e-7,
    weight: Optional[ArrayLike] = None,
    reduction: str = "mean",
    return_grad: bool = False,
) -> LossAndGrad:
    r"""Elementwise binary cross-entropy of probabilities, clipped to [eps, 1 - eps].

    .. math:: L = -w \big(z \log \hat p + (1-z) \log(1 - \hat p)\big),
              \quad \hat p = \mathrm{clip}(p, \epsilon, 1-\epsilon)

    with :math:`\log(1-\hat p)` evaluated as ``log1p(-p_hat)`` and a zero
    coefficient term being 0. ``weight`` broadcasts against ``probs``;
    ``"mean"`` averages over all elements. Gradient:
    :math:`w((1-z)/(1-\hat p) - z/\hat p)`.
    """
    _check_reduction(reduction)
    eps = _check_eps(eps)
    probs = np.asarray(probs)
    target = np.asarray(target)
    dtype = _result_dtype(probs)
    _check_shape(target, probs.shape, "target")
    with _quiet():
        pc = np.clip(probs.astype(np.float64), eps, 1.0 - eps)
        z = target.astype(np.float64)
        w = _broadcast(weight, pc.shape)
        losses = -w * (_term(z, np.log(pc)) + _term(1.0 - z, np.log1p(-pc)))
        # (1-z)/(1-pc) - z/pc as one quotient: the two cancel where pc is near z
        grad = w * ((pc - z) / (pc * (1.0 - pc)))
        return _finish(losses, grad, pc.size, reduction, return_grad, dtype)


# --------------------------------------------------------------- metrics


def accuracy(scores: ArrayLike, target: ArrayLike, *, axis: int = -1) -> np.float64:
    """Fraction of samples whose highest score is at the target class.

    The predicted class is ``np.argmax(scores, axis)`` (first index on ties, a
    NaN counts as the maximum); the target is a class index, or the argmax of a
    dense target row. An empty batch gives NaN.
    """
    scores = np.asarray(scores)
    target = np.asarray(target)
    s = np.moveaxis(scores, axis, -1)
    C, batch = s.shape[-1], s.shape[:-1]
    if C == 0:
        raise ValueError("the class axis has length 0")
    if _is_sparse(target):
        _check_shape(target, batch, "class-index target")
        _ignored(target, C, None)  # range check only
        want = target
    else:
        _check_shape(target, scores.shape, "dense target")
        want = np.argmax(np.moveaxis(target, axis, -1), axis=-1)
    hits = np.argmax(s, axis=-1) == want
    return np.float64(hits.sum() / hits.size) if hits.size else np.float64(np.nan)


def entropy(p: ArrayLike, *, axis: int = -1) -> np.ndarray:
    r"""Shannon entropy of each row: :math:`H(p) = -\sum_c p_c \log p_c`, with 0 log 0 = 0."""
    p = np.asarray(p)
    with _quiet():
        p64 = _classes_last(p, axis)
        out = -_term(p64, np.log(p64)).sum(axis=-1)
    return out.astype(_result_dtype(p))


def kl_divergence(p: ArrayLike, q: ArrayLike, *, axis: int = -1) -> np.ndarray:
    r"""Kullback-Leibler divergence of each row: :math:`\sum_c p_c \log(p_c / q_c)`.

    Terms with :math:`p_c = 0` are 0; ``q`` has the shape of ``p``. The
    result dtype follows from both (NumPy's promotion of p and q). Where
    the ratio leaves the normal range (a subnormal q) and p and q are
    positive and finite, the log is :math:`\log p_c - \log q_c`.
    """
    p = np.asarray(p)
    q = np.asarray(q)
    _check_shape(q, p.shape, "q")
    with _quiet():
        p64 = _classes_last(p, axis)
        q64 = np.moveaxis(q, axis, -1).astype(np.float64)
        r = p64 / q64
        tiny = np.finfo(np.float64).tiny
        out_of_range = ~((r >= tiny) & (r < np.inf)) & (p64 > 0) & (q64 > 0) & \
            np.isfinite(p64) & np.isfinite(q64)
        lg = np.where(out_of_range, np.log(p64) - np.log(q64), np.log(r))
        out = _term(p64, lg).sum(axis=-1)
    return out.astype(_result_dtype(np.empty(0, np.result_type(p, q))))


# ------------------------------------------------------ torch-style names

cross_entropy = softmax_cross_entropy
binary_cross_entropy_with_logits = sigmoid_cross_entropy
