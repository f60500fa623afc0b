"""Class and sample weights as the kernels should see them.

Two rewrites, each exact, each on the rare inputs that need it:

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


def _exponent(a: np.ndarray) -> Optional[int]:
    """e with max|a| in [2^e, 2^(e+1)); None when ``a`` is empty, all 0, or
    holds an infinity or a NaN."""
    if not a.size:
        return None
    m = float(np.max(np.abs(a)))
    if not 0.0 < m < math.inf:  # (NaN fails too)
        return None
    return math.frexp(m)[1] - 1


def _raised(weights: np.ndarray, exponent: Optional[int], target: int) -> Optional[np.ndarray]:
    """``weights`` times 2^k, k > 0, so that the largest of those in use
    (2^exponent) reaches 2^target; None when no raise is due. k is capped
    so that no finite entry (ignored samples' included) comes within 2^24 of
    overflowing the dtype."""
    if exponent is None or exponent >= target:
        return None
    top = _exponent(weights[np.isfinite(weights)])
    if top is None:
        return None
    k = min(target - exponent, np.finfo(weights.dtype).maxexp - 25 - top)
    return np.ldexp(weights, k) if k > 0 else None


def _unused_class_weights_zeroed(weight: np.ndarray, flat: np.ndarray,
                                 used: Optional[np.ndarray]) -> np.ndarray:
    unused = np.ones(weight.shape, bool)
    unused[flat if used is None else flat[used]] = False
    return np.where(unused & ~np.isfinite(weight), 0, weight).astype(weight.dtype)


def weighted_labels(target: np.ndarray, layout: Layout, ignore_index: Optional[int],
                    weight: Optional[np.ndarray], sample_weight: Optional[np.ndarray],
                    compute: np.dtype, reduction: str, smoothing: bool = False):
    """``labels()`` for a loss whose mean divides by ``sum sw * w[y]``:
    ``(y, denominator, weight, sample_weight)``, rewritten as the module
    docstring says. ``smoothing``: whether the loss reads every class weight
    (label smoothing whose ``e/C`` is not 0).

    Raising takes each set separately, so that its largest weight in use
    (samples not ignored; their targets' classes, or every class with
    smoothing) reaches 2^(RAISED_PRODUCT/2). A product of a large weight of
    one sample and a tiny one of another's class is left as it is."""
    y, den, finite = labels(target, layout, ignore_index, weight, sample_weight, compute)
    zero_unused = not finite and not smoothing  # (finite without class weights)
    tiny = reduction == "mean" and abs(den) < SMALL_MEAN_DENOMINATOR
    if not (zero_unused or tiny):  # the common case: nothing to rewrite
        return y, den, weight, sample_weight
    flat = y.reshape(-1)
    used = None if ignore_index is None else flat != ignore_index
    if zero_unused and weight is not None:
        weight = _unused_class_weights_zeroed(weight, flat, used)
    if not tiny:
        return y, den, weight, sample_weight
    half = RAISED_PRODUCT // 2
    sw = w = None
    if sample_weight is not None:
        flat_sw = sample_weight.reshape(-1)
        sw = _raised(sample_weight, _exponent(flat_sw if used is None else flat_sw[used]), half)
    if weight is not None:
        in_use = weight if smoothing else weight[flat if used is None else flat[used]]
        w = _raised(weight, _exponent(in_use), half)
    if sw is None and w is None:
        return y, den, weight, sample_weight
    weight = weight if w is None else w
    sample_weight = sample_weight if sw is None else sw
    y, den, _ = labels(target, layout, ignore_index, weight, sample_weight, compute)
    return y, den, weight, sample_weight


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
    if reduction != "mean" or not abs(den) < SMALL_MEAN_DENOMINATOR:
        return sample_weight, den
    e_sw = _exponent(sample_weight)
    e_w = 0 if weight is None else _exponent(weight)
    if e_sw is None or e_w is None:
        return sample_weight, den
    raised = _raised(sample_weight, e_sw + e_w, RAISED_PRODUCT)
    if raised is None:
        return sample_weight, den
    return raised, float(raised.sum(dtype=np.float64))
