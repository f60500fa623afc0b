"""logsumexp, log_softmax and softmax against fastce.reference."""
import numpy as np
import pytest

import fastce
from fastce import reference as ref

from helpers import AXES, DTYPES, LAYOUTS, assert_close, in_layout, logits

FUNCS = ["logsumexp", "log_softmax", "softmax"]


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("shape, axis", AXES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_matches_reference(name, dtype, shape, axis):
    x = logits(shape, dtype)
    got = getattr(fastce, name)(x, axis=axis)
    want = getattr(ref, name)(x, axis=axis)
    assert got.dtype == dtype and got.shape == want.shape
    assert_close(got, want, dtype)


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_layouts(name, layout):
    x = logits((5, 4, 3), np.float32)
    got = getattr(fastce, name)(in_layout(x, layout), axis=1)
    assert_close(got, getattr(ref, name)(x, axis=1), np.float32)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_logsumexp_keepdims(axis):
    x = logits((3, 4), np.float64)
    got = fastce.logsumexp(x, axis=axis, keepdims=True)
    assert_close(got, ref.logsumexp(x, axis=axis, keepdims=True), np.float64)


def test_softmax_rows_sum_to_one_and_shift_invariance():
    x = logits((50, 7), np.float64, scale=30)
    p = fastce.softmax(x)
    assert_close(p.sum(axis=-1), np.ones(50), np.float64, k=8)
    assert_close(fastce.log_softmax(x + 1234.5), fastce.log_softmax(x), np.float64, k=4096)


def test_masked_classes_and_rows():
    x = np.array([[0.0, -np.inf, 0.0], [-np.inf, -np.inf, -np.inf]])
    assert fastce.logsumexp(x).tolist() == [np.log(2.0), -np.inf]
    assert fastce.softmax(x).tolist() == [[0.5, 0.0, 0.5], [0.0, 0.0, 0.0]]
    ls = fastce.log_softmax(x)
    assert ls[0, 1] == -np.inf and np.all(ls[1] == -np.inf)


def test_nan_propagates():
    x = np.array([[0.0, np.nan, 1.0], [np.nan, 0.0, 1.0]])
    assert np.all(np.isnan(fastce.logsumexp(x)))
    assert np.all(np.isnan(fastce.softmax(x)))


def test_float16_is_computed_in_float32_and_returned_as_float16():
    x = logits((4, 6), np.float16)
    got = fastce.softmax(x)
    assert got.dtype == np.float16
    assert_close(got, ref.softmax(x.astype(np.float32)), np.float16, k=1)


def test_integer_input_is_float64():
    got = fastce.log_softmax([[1, 2, 3]])
    assert got.dtype == np.float64
    assert_close(got, ref.log_softmax(np.array([[1.0, 2.0, 3.0]])), np.float64)
