"""Hypothesis strategies for the fuzz tests: inputs of every shape, dtype and
memory layout, and the options of every fastce function."""
from __future__ import annotations

import os
from typing import Optional

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from helpers import in_layout

# ----------------------------------------------------------------- profiles

settings.register_profile(
    "fastce",
    max_examples=60,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
)
settings.register_profile("heavy", settings.get_profile("fastce"), max_examples=3000)


def profile() -> settings:
    """HYPOTHESIS_PROFILE=heavy gives thousands of examples per test; any
    other value (or none) the quick default."""
    name = os.environ.get("HYPOTHESIS_PROFILE", "fastce")
    return settings.get_profile("heavy" if name == "heavy" else "fastce")


# ------------------------------------------------------------------- values

#: Input dtypes: the three floats, and integers/bools (computed as float64).
FLOAT_DTYPES = [np.float16, np.float32, np.float64]
INPUT_DTYPES = FLOAT_DTYPES + [np.int32, np.bool_]
LABEL_DTYPES = [np.int64, np.int32, np.int8, np.uint8]
LAYOUTS = ["C", "F", "strided", "reversed", "readonly"]


def compute_dtype(dtype) -> np.dtype:
    """What fastce computes an input of ``dtype`` in: float32 for float16
    and float32, float64 for everything else."""
    dtype = np.dtype(dtype)
    return np.dtype(np.float32) if dtype in (np.float16, np.float32) else np.dtype(np.float64)


def narrowest(*dtypes) -> np.dtype:
    """The float dtype of least precision among ``dtypes`` (non-floats are
    ignored): its values are exact in all the others."""
    floats = [np.dtype(d) for d in dtypes if np.dtype(d).kind == "f"]
    return min(floats, key=lambda d: d.itemsize) if floats else np.dtype(np.float64)


def values(dtype, lo: float = -60.0, hi: float = 60.0, specials: bool = False,
           huge: bool = False, within=None, min_magnitude: float = 0.0):
    """Elements of ``dtype``: mostly moderate, optionally huge, and with
    ``specials`` also +-inf and NaN. ``within``: draw values of that float
    dtype (exact in ``dtype`` too); ``min_magnitude``: nonzero values below it
    become 0."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return st.booleans()
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return st.integers(max(int(lo), info.min), min(int(hi), info.max))
    src = narrowest(dtype, within) if within is not None else dtype
    width = src.itemsize * 8
    lo, hi = float(src.type(lo)), float(src.type(hi))  # representable bounds
    picks = sorted({v for v in (0.0, 1.0, -1.0, lo, hi) if lo <= v <= hi})
    strategies = [st.floats(lo, hi, width=width), st.sampled_from(picks)]
    if huge:
        big = float(np.finfo(src).max) / 4 if src == np.float16 else 1e4
        strategies.append(st.floats(-big, big, width=width))
    if specials:
        strategies.append(st.sampled_from([np.inf, -np.inf, np.nan]))
    out = st.one_of(*strategies)
    if min_magnitude:
        out = out.map(lambda v: v if not abs(v) < min_magnitude else 0.0)
    return out


@st.composite
def arrays(draw, dtype, shape, elements=None, **kw):
    """An array of ``dtype`` and ``shape`` in a random memory layout; a
    zero-stride broadcast view when some axis is longer than 1."""
    elements = elements if elements is not None else values(dtype, **kw)
    shape = tuple(shape)
    broadcast_axes = [i for i, s in enumerate(shape) if s > 1]
    if broadcast_axes and draw(st.integers(0, 9)) == 0:
        ax = draw(st.sampled_from(broadcast_axes))
        small = shape[:ax] + (1,) + shape[ax + 1:]
        a = draw(hnp.arrays(dtype, small, elements=elements))
        return np.broadcast_to(a, shape)
    a = draw(hnp.arrays(dtype, shape, elements=elements))
    return in_layout(a, draw(st.sampled_from(LAYOUTS)))


@st.composite
def class_shape_and_axis(draw, max_dims: int = 4, max_side: int = 5,
                         allow_scalar: bool = True):
    """A shape (0 and 1 sized axes included; rarely a scalar) and an axis
    (rarely out of range)."""
    if allow_scalar and draw(st.integers(0, 19)) == 0:
        return (), draw(st.sampled_from([-1, 0]))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=max_dims, min_side=0,
                                  max_side=max_side))
    n = len(shape)
    if draw(st.integers(0, 24)) == 0:
        return shape, draw(st.sampled_from([n, -n - 1]))
    return shape, draw(st.integers(-n, n - 1))


def sample_shape(shape: tuple, axis: int) -> Optional[tuple]:
    """``shape`` without the class axis (None when the axis is invalid)."""
    n = len(shape)
    if not n or not -n <= axis < n:
        return None
    axis %= n
    return shape[:axis] + shape[axis + 1:]


@st.composite
def labels(draw, shape, axis, ignore_index):
    """Class indices for logits of ``shape`` (class axis ``axis``): mostly
    valid, some ``ignore_index``, rarely out of range; rarely a wrong shape."""
    samples = sample_shape(shape, axis)
    C = shape[axis] if samples is not None else 3
    if samples is None or draw(st.integers(0, 29)) == 0:
        samples = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    dtype = draw(st.sampled_from(LABEL_DTYPES))
    choices = [st.integers(0, max(C - 1, 0))] * 6
    if ignore_index is not None and np.can_cast(np.min_scalar_type(ignore_index), dtype):
        choices.append(st.just(ignore_index))
    if draw(st.integers(0, 9)) == 0:
        choices.append(st.sampled_from([-1, C, C + 3]).filter(
            lambda v: np.can_cast(np.min_scalar_type(v), dtype)))
    return draw(arrays(dtype, samples, elements=st.one_of(*choices)))


def options(**kw):
    """A dict strategy of keyword options (each optional)."""
    return st.fixed_dictionaries({}, optional=kw)


reductions = st.sampled_from(["mean", "sum", "none", "none", "mean"])
bad_reduction = st.sampled_from(["avg", "Mean", ""])
threads = st.sampled_from([None, 1, 2])
