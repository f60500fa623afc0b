"""The correctness check of a contender's result against ``fastce.reference``."""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple

import numpy as np

from ._base import TOLERANCE_ULPS


def as_arrays(result: Any) -> Tuple[np.ndarray, ...]:
    """A result (array, scalar, tensor or tuple of them) as a tuple of NumPy arrays."""
    parts = result if isinstance(result, (tuple, list)) else (result,)
    return tuple(np.asarray(p) for p in parts)


def _compare_part(name: str, got: np.ndarray, expected: np.ndarray, rtol: float) -> Optional[str]:
    """Describe how ``got`` differs from ``expected``, or ``None`` when it agrees.

    ``|got - expected| <= rtol * (|expected| + max|expected|)``: a relative
    tolerance plus an absolute one scaled by the magnitude of the result.
    Non-finite values must match exactly (same positions, same values).
    """
    if got.shape != expected.shape:
        return f"{name}: shape {got.shape} != expected {expected.shape}"
    if got.ndim and got.dtype != expected.dtype:
        return f"{name}: dtype {got.dtype} != expected {expected.dtype}"
    g = got.astype(np.float64, copy=False)
    e = expected.astype(np.float64, copy=False)
    finite = np.isfinite(e)
    if not np.array_equal(np.isfinite(g), finite) or not np.array_equal(g[~finite], e[~finite]):
        return (f"{name}: non-finite values differ ({np.count_nonzero(~np.isfinite(g))} in "
                f"result, {np.count_nonzero(~finite)} expected)")
    if not finite.any():
        return None
    g, e = g[finite], e[finite]
    scale = float(np.max(np.abs(e)))
    err = np.abs(g - e)
    bad = err > rtol * (np.abs(e) + scale)
    if not bad.any():
        return None
    worst = int(np.argmax(np.where(bad, err, -1.0)))
    return (f"{name}: {np.count_nonzero(bad)} of {e.size} values out of tolerance; worst "
            f"{g[worst]:.17g} vs expected {e[worst]:.17g} (|diff| {err[worst]:.3g}, "
            f"rtol {rtol:.3g}, atol {rtol * scale:.3g})")


def compare(got: Sequence[np.ndarray], expected: Sequence[np.ndarray], dtype: str,
            names: Sequence[str] = ("loss", "grad")) -> Optional[str]:
    """Check a result against the reference one; ``None`` if it agrees, else why not.

    The tolerance is :data:`TOLERANCE_ULPS` machine epsilons of ``dtype``.
    """
    if len(got) != len(expected):
        return f"returned {len(got)} value(s), expected {len(expected)}"
    rtol = TOLERANCE_ULPS * float(np.finfo(dtype).eps)
    problems = [_compare_part(name, g, e, rtol)
                for name, g, e in zip(names, got, expected)]
    found = [p for p in problems if p]
    return "; ".join(found) if found else None
