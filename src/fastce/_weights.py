"""Class and sample weights as the kernels should see them.

Rewrites, each exact, each on the rare inputs that need it:

- Without label smoothing a class-index loss reads only its targets'
  class weights: an infinite or NaN weight of a class no target names
  (ignored samples aside) is set to 0. The kernels would give the same
  result, but a call with such a weight leaves the group kernels for the
  generic rows (which keep the absent smoothing terms, ``0 * w_j`` and
  ``0 * sum(w)``, from making the gradient NaN).
- A weighted mean is unchanged when every sample weight, or (class-index
  targets) every class weight, is multiplied by one power of two, and the
  product is exact. Weights near the bottom of float64's range make the
  products ``sw * w * loss`` and the gradient's underflow and lose their low
  bits, and dividing by their tiny sum magnified that (means up to 6e-4 off
  relatively, gradient entries by factors up to 100, NaN where every
  product rounded to 0): such weights are raised first.
- A float64 ``"none"`` or ``"sum"`` of class-index targets with class
  weights and sample weights or label smoothing is raised the same way, and its losses and
  gradient are multiplied back by the inverse power of two (``sw * w[y]``
  rounded among the subnormals had left losses of about 2^-1000 up to 1%
  off). So are float64 class weights of dense targets below 2^-64, for
  every reduction (``w[c] * t[c]`` rounded there: 3e5 ulp off). The
  product back is exact where the result is normal and rounds once more
  where it is subnormal.
- Near the top of float64's range the reverse: class weights whose
  magnitudes sum past the range under label smoothing, and the weights
  of a mean whose denominator does, are lowered by a power of two
  (:func:`_lowered`, :func:`dense_denominator`), and "none" and "sum"
  results multiplied back as above.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ._inputs import Layout, labels

#: A mean whose denominator is below this (or 0) may divide products of
#: weights that underflowed: its weights are checked.
SMALL_MEAN_DENOMINATOR = 2.0 ** -64
#: The largest product of weights in use is raised to about 2^RAISED_PRODUCT
#: (each of two sets to half that): far from underflow, and far enough from
#: overflow that no weighted sum of finite losses, nor a sample weight over
#: the denominator, can reach it.
RAISED_PRODUCT = -60
#: A sum of weights that overflows (a mean's denominator; with label
#: smoothing the class weights' magnitudes, check_labels' weights_finite 2)
#: is lowered by a power of two just until it is below 2^LOWERED_SUM: room
#: for sums of losses up to 2^64 times it, while the smallest weights of the
#: set lose no more range than that. (Lowering every set to a fixed 2^256,
#: tried first, sent small weights beside huge ones below the normal range,
#: which the unlowered sums had kept: a review found a NaN mean.)
LOWERED_SUM = 957


def _exponent(a: np.ndarray) -> Optional[int]:
    """e with max|a| in [2^e, 2^(e+1)); None when ``a`` is empty, all 0, or
    holds an infinity or a NaN."""
    if not a.size:
        return None
    m = float(np.max(np.abs(a)))
    if not 0.0 < m < math.inf:  # (NaN fails too)
        return None
    return math.frexp(m)[1] - 1


def _raise(weights: np.ndarray, exponent: Optional[int], target: int) -> int:
    """k > 0 such that ``weights`` times 2^k brings the largest of those in
    use (2^exponent) to 2^target, or 0 when no raise is due. k is capped so
    that no finite entry (ignored samples' included) comes within 2^24 of
    overflowing the dtype."""
    if exponent is None or exponent >= target:
        return 0
    top = _exponent(weights[np.isfinite(weights)])
    if top is None:
        return 0
    return max(0, min(target - exponent, np.finfo(weights.dtype).maxexp - 25 - top))


def _unused_class_weights_zeroed(weight: np.ndarray, flat: np.ndarray,
                                 used: Optional[np.ndarray]) -> np.ndarray:
    unused = np.ones(weight.shape, bool)
    unused[flat if used is None else flat[used]] = False
    return np.where(unused & ~np.isfinite(weight), 0, weight).astype(weight.dtype)


def weighted_labels(target: np.ndarray, layout: Layout, ignore_index: Optional[int],
                    weight: Optional[np.ndarray], sample_weight: Optional[np.ndarray],
                    compute: np.dtype, reduction: str, smoothing: bool = False):
    """``labels()`` for a loss whose mean divides by ``sum sw * w[y]``:
    ``(y, denominator, weight, sample_weight, scaled)``, rewritten as the
    module docstring says. ``smoothing``: whether the loss reads every class
    weight (label smoothing whose ``e/C`` is not 0). A ``"none"`` or
    ``"sum"`` result, and its gradient, must be multiplied by
    ``2^-scaled`` (:func:`unscale`): the weights were multiplied by
    ``2^scaled``; a mean needs nothing (scaled is 0).

    Raising takes each set separately, so that its largest weight in use
    (samples not ignored; their targets' classes, or every class with
    smoothing) reaches 2^(RAISED_PRODUCT/2). A product of a large weight of
    one sample and a tiny one of another's class is left as it is."""
    y, den, finite = labels(target, layout, ignore_index, weight, sample_weight, compute)
    zero_unused = not finite and not smoothing  # (finite without class weights)
    # "none" and "sum": only a product with a class weight rounds early
    # (sw * w[y]; with smoothing (1-e) * w[y] and (e/C) * w[c] too), and
    # only in float64 (float32 is computed in double)
    products = compute == np.float64 and weight is not None and (
        sample_weight is not None or smoothing)
    tiny = (reduction == "mean" or products) and abs(den) < SMALL_MEAN_DENOMINATOR
    # sums that overflow: the class weights' with smoothing, a mean's denominator
    sum_over = finite == 2 and smoothing
    den_over = bool(finite) and reduction == "mean" and not math.isfinite(den)
    if not (zero_unused or tiny or sum_over or den_over):  # the common case
        return y, den, weight, sample_weight, 0
    flat = y.reshape(-1)
    used = None if ignore_index is None else flat != ignore_index
    # the labels and sample weights of the samples not ignored
    in_use = flat if used is None else flat[used]
    sw_in_use = None if sample_weight is None else sample_weight.reshape(-1)
    if sw_in_use is not None and used is not None:
        sw_in_use = sw_in_use[used]
    if sum_over or den_over:
        huge = _lowered(in_use, sw_in_use, weight, sample_weight, sum_over, den_over)
        if huge is not None:
            weight, sample_weight, k = huge
            y, den, _ = labels(target, layout, ignore_index, weight, sample_weight, compute)
            return y, den, weight, sample_weight, 0 if reduction == "mean" else -k
    if zero_unused and weight is not None:
        weight = _unused_class_weights_zeroed(weight, flat, used)
    if not tiny:
        return y, den, weight, sample_weight, 0
    half = RAISED_PRODUCT // 2
    k_sw = k_w = 0
    if sample_weight is not None:
        k_sw = _raise(sample_weight, _exponent(sw_in_use), half)
    if weight is not None:
        k_w = _raise(weight, _exponent(weight if smoothing else weight[in_use]), half)
    if not (k_sw or k_w):
        return y, den, weight, sample_weight, 0
    weight, sample_weight = _scaled(weight, k_w), _scaled(sample_weight, k_sw)
    y, den, _ = labels(target, layout, ignore_index, weight, sample_weight, compute)
    return y, den, weight, sample_weight, 0 if reduction == "mean" else k_sw + k_w


def _lowering(exponent: Optional[int], count: int) -> int:
    """k >= 0 such that ``count`` terms below 2^(exponent+1), times 2^-k,
    sum below 2^LOWERED_SUM; 0 when they do already, or ``exponent`` is None
    (an inf or NaN among them)."""
    if exponent is None:
        return 0
    return max(0, exponent + 1 + int(count).bit_length() - LOWERED_SUM)


def _lowered(in_use, sw_in_use, weight, sample_weight, sum_over: bool, den_over: bool):
    """Class-index weights near the top of float64's range, whose sums the
    kernels form overflow where the results need not: with label smoothing
    the class weights' sum W (``sum_over``: the gradient's ``W * p_j - w_j``
    was inf where it is finite, of the wrong sign at the target), and for a
    mean its denominator ``sum sw * w[y]`` (``den_over``) and the weighted
    sum of losses over it: lowered as LOWERED_SUM says, the class weights
    for W, and for the denominator the set with the larger weights in use
    (``in_use``, ``sw_in_use``: the labels and sample weights of the
    samples not ignored). Returns ``(weight, sample_weight, k)``, the two sets' product
    lowered by 2^k, or None when nothing is lowered."""
    k_w = k_sw = 0
    if weight is not None and sum_over:
        k_w = _lowering(_exponent(weight), weight.size)
    if den_over:
        e_w = 0 if weight is None else _exponent(weight[in_use])
        e_sw = 0 if sw_in_use is None else _exponent(sw_in_use)
        if e_w is not None and e_sw is not None:
            k = _lowering(e_w - k_w + e_sw + 1, in_use.size)  # (the products below 2^(e_w+e_sw+2))
            if weight is not None and (sample_weight is None or e_w >= e_sw):
                k_w += k
            else:
                k_sw = k
    if not (k_w or k_sw):
        return None
    return _scaled(weight, -k_w), _scaled(sample_weight, -k_sw), k_w + k_sw


def _scaled(a: Optional[np.ndarray], k: int) -> Optional[np.ndarray]:
    """``a`` times 2^k (an entry out of range goes to 0 or inf quietly)."""
    if a is None or not k:
        return a
    with np.errstate(over="ignore", under="ignore"):
        return np.ldexp(a, k)


def unscale(k: int, per_sample: Optional[np.ndarray], grad: Optional[np.ndarray]) -> None:
    """Multiply the per-sample losses and the gradient, computed with
    weights scaled by 2^k (:func:`weighted_labels`, :func:`dense_class_weight`),
    back by 2^-k, in place (``reduce(..., scaled=k)`` does the total). For
    k < 0 a result may overflow to inf: the true one does."""
    if k:
        with np.errstate(over="ignore", under="ignore"):  # (never raise: grad may be the caller's)
            for a in (per_sample, grad):
                if a is not None:
                    np.ldexp(a, -k, out=a)


def dense_class_weight(weight: Optional[np.ndarray], compute: np.dtype):
    """``(weight, scaled)`` for dense float64 targets, whose terms
    ``w[c] * t[c] * l_c`` round ``w[c] * t[c]`` first: class weights whose
    largest is below 2^-64 are raised to 2^(RAISED_PRODUCT/2), and the
    result (whatever the reduction: the mean does not divide by them) and
    its gradient must be multiplied by ``2^-scaled`` (:func:`unscale`, and
    ``reduce``'s ``scaled``).
    Subnormal class weights had left losses near 2^-1000 3e5 ulp off."""
    if weight is None or compute != np.float64:
        return weight, 0
    e_w = _exponent(weight)
    if e_w is None or 2.0 ** e_w >= SMALL_MEAN_DENOMINATOR:
        return weight, 0
    k = _raise(weight, e_w, RAISED_PRODUCT // 2)
    return (_scaled(weight, k), k) if k else (weight, 0)


def dense_denominator(reduction: str, n_samples: int, sample_weight: Optional[np.ndarray],
                      weight: Optional[np.ndarray] = None):
    """``(sample_weight, denominator)`` of a dense-target mean, which divides
    by the number of samples, or by ``sum sw``. The class weights are not in
    it, so only the sample weights can be raised: so that their largest
    times the largest class weight reaches 2^RAISED_PRODUCT (a sample weight
    over the denominator stays at most 1)."""
    if sample_weight is None:
        return None, float(n_samples)
    with np.errstate(over="ignore", invalid="ignore"):  # (weights summing past the range)
        den = float(sample_weight.sum(dtype=np.float64))
    if reduction == "mean" and not math.isfinite(den):  # (see _lowered)
        k = _lowering(_exponent(sample_weight), sample_weight.size)
        if k:
            lowered = _scaled(sample_weight, -k)
            return lowered, float(lowered.sum(dtype=np.float64))
    if reduction != "mean" or not abs(den) < SMALL_MEAN_DENOMINATOR:
        return sample_weight, den
    e_sw = _exponent(sample_weight)
    e_w = 0 if weight is None else _exponent(weight)
    if e_sw is None or e_w is None:
        return sample_weight, den
    k = _raise(sample_weight, e_sw + e_w, RAISED_PRODUCT)
    if not k:
        return sample_weight, den
    raised = _scaled(sample_weight, k)
    return raised, float(raised.sum(dtype=np.float64))
