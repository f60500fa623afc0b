"""The long-row passes (C > 32: the row max, the rest sum with its exps, the
second pass that writes probabilities, log-probabilities or the gradient)
against fastce.reference at every tail length of a vector step (16 floats
or 8 doubles in AVX-512 lanes, 8 or 4 in AVX2; two vectors a step), with
ties, -inf, +inf and NaN placed in the first vector, in the middle and in
the masked tail."""
import numpy as np
import pytest

import fastce
from fastce import reference as ref

from helpers import DTYPES, assert_close, logits

CLASSES = list(range(33, 82))  # every C mod 32, 16 and 8


def special_rows(C, dtype):
    """Ordinary rows, then rows with one special value at a head, middle or tail position."""
    x = logits((12, C), dtype, seed=C)
    x[1, [0, C // 2, C - 1]] = x[1].max() + 1  # three tied maxima
    x[2, C - 1] = -np.inf
    x[3, 0] = -np.inf
    x[4, C // 2] = np.inf
    x[5, C - 1] = np.inf
    x[6, C - 1] = np.nan
    x[7, 0] = np.nan
    x[8, :] = -np.inf
    x[9, C - 1] = x[9].max() + 50  # a confident row: tiny rest, from the tail
    x[10, :] = 3.0  # all tied
    return x


@pytest.mark.parametrize("C", CLASSES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_softmax_family(dtype, C):
    x = special_rows(C, dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        for name in ("logsumexp", "log_softmax", "softmax"):
            assert_close(getattr(fastce, name)(x, axis=1), getattr(ref, name)(x, axis=1), dtype)


@pytest.mark.parametrize("C", CLASSES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_softmax_cross_entropy(dtype, C):
    x = special_rows(C, dtype)
    y = np.arange(12) * 7 % C
    y[9] = C - 1  # the confident row's label is its max
    r = np.random.default_rng(C)
    for kw in ({}, {"weight": r.uniform(0.5, 2, C), "label_smoothing": 0.1}):
        with np.errstate(invalid="ignore", over="ignore"):
            got = fastce.softmax_cross_entropy(x, y, reduction="none", return_grad=True, **kw)
            want = ref.softmax_cross_entropy(x, y, reduction="none", return_grad=True, **kw)
        assert_close(got[0], want[0], dtype)
        assert_close(got[1], want[1], dtype)
