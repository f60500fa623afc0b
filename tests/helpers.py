"""Shared helpers for the fastce tests: inputs in every layout, and
comparisons whose tolerance scales with the dtype's epsilon."""
from __future__ import annotations

from typing import Optional

import numpy as np
import pytest

DTYPES = [np.float32, np.float64]
LAYOUTS = ["C", "F", "strided", "readonly"]

#: Shapes and class axes: last, first, and the middle of (N, C, d1, d2).
AXES = [
    pytest.param((7, 5), -1, id="NC-last"),
    pytest.param((5, 7), 0, id="CN-first"),
    pytest.param((3, 4, 2, 3), 1, id="NCdd-middle"),
]


def under_asan() -> bool:
    """Whether AddressSanitizer's runtime is loaded (.ci/sanitize): its
    quarantine keeps freed memory resident, so RSS says nothing about leaks,
    and its redzones make every stack frame larger."""
    try:
        with open("/proc/self/maps") as f:
            return "libasan" in f.read()
    except OSError:  # no /proc: not Linux, and not .ci/sanitize
        return False


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def in_layout(a: np.ndarray, layout: str) -> np.ndarray:
    """The same values as ``a`` in a C-contiguous, Fortran-ordered, strided
    (every other element of a larger array), reversed (negative strides) or
    read-only array."""
    a = np.asarray(a)
    if a.ndim == 0 and layout != "readonly":
        return a.copy()  # (np.ascontiguousarray would make it 1-d)
    if layout == "C":
        return np.ascontiguousarray(a)
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "strided":
        big = np.zeros(tuple(2 * s + 1 for s in a.shape), a.dtype)
        view = big[tuple(slice(1, None, 2) for _ in a.shape)]
        view[...] = a
        return view
    if layout == "reversed":
        flipped = np.ascontiguousarray(a[tuple(slice(None, None, -1) for _ in a.shape)])
        return flipped[tuple(slice(None, None, -1) for _ in a.shape)]
    if layout == "readonly":
        b = a.copy()
        b.setflags(write=False)
        return b
    raise ValueError(layout)


def tol(dtype, k: float = 16.0) -> float:
    return k * float(np.finfo(dtype).eps)


def assert_close(actual, expected, dtype, k: float = 16.0, abs_k: Optional[float] = None) -> None:
    """|actual - expected| <= k*eps*|expected| + abs_k*eps*max(1, max|expected|),
    abs_k = k/8 unless given."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    finite = np.isfinite(expected)
    scale = max(1.0, float(np.max(np.abs(expected[finite]), initial=0.0)))
    eps = tol(dtype, k)
    atol = tol(dtype, k / 8 if abs_k is None else abs_k) * scale
    np.testing.assert_allclose(actual, expected, rtol=eps, atol=atol,
                               equal_nan=True)


def logits(shape, dtype, seed=0, scale=3.0) -> np.ndarray:
    return (scale * rng(seed).standard_normal(shape)).astype(dtype)


def labels_for(shape, axis, seed=1, ignore_frac=0.0, ignore_index=-100):
    """Class indices for logits of ``shape`` with classes along ``axis``."""
    axis %= len(shape)
    C = shape[axis]
    sample_shape = shape[:axis] + shape[axis + 1:]
    r = rng(seed)
    y = r.integers(0, C, size=sample_shape)
    if ignore_frac:
        y[r.random(sample_shape) < ignore_frac] = ignore_index
    return y


def soft_target(shape, axis, dtype, seed=2) -> np.ndarray:
    """Random probabilities along ``axis``, with a few exact zeros."""
    t = rng(seed).random(shape)
    t[t < 0.2] = 0.0
    t /= np.maximum(t.sum(axis=axis, keepdims=True), 1e-12)
    return t.astype(dtype)


def central_difference(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Numerical gradient of the scalar function f at x (float64)."""
    x = np.array(x, dtype=np.float64)
    g = np.empty_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        up = float(f(x))
        x[i] = old - h
        down = float(f(x))
        x[i] = old
        g[i] = (up - down) / (2 * h)
    return g
