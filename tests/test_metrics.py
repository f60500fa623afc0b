"""accuracy, entropy and kl_divergence against fastce.reference."""
import numpy as np
import pytest

import fastce
from fastce import reference as ref

from helpers import AXES, DTYPES, LAYOUTS, assert_close, in_layout, labels_for, logits


@pytest.mark.parametrize("dense", [False, True], ids=["sparse", "dense"])
@pytest.mark.parametrize("shape, axis", AXES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_accuracy_matches_reference(dtype, shape, axis, dense):
    x = logits(shape, dtype)
    ax = axis % len(shape)
    t = logits(shape, dtype, seed=4) if dense else labels_for(shape, ax)
    got = fastce.accuracy(x, t, axis=axis)
    assert isinstance(got, np.float64)
    assert got == ref.accuracy(x, t, axis=axis)


def test_accuracy_ties_and_nan_follow_argmax():
    x = np.array([[1.0, 1.0, 0.0], [0.0, np.nan, 5.0], [np.nan, np.nan, 1.0]])
    assert fastce.accuracy(x, [0, 1, 0]) == 1.0
    assert fastce.accuracy(x, [1, 2, 2]) == 0.0


@pytest.mark.parametrize("shape, axis", AXES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_entropy_and_kl_match_reference(dtype, shape, axis):
    p = fastce.softmax(logits(shape, dtype), axis=axis)
    q = fastce.softmax(logits(shape, dtype, seed=5), axis=axis)
    p.flat[::5] = 0.0
    assert_close(fastce.entropy(p, axis=axis), ref.entropy(p, axis=axis), dtype)
    assert_close(fastce.kl_divergence(p, q, axis=axis), ref.kl_divergence(p, q, axis=axis), dtype)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_metric_layouts(layout):
    p = fastce.softmax(logits((5, 4), np.float64))
    q = fastce.softmax(logits((5, 4), np.float64, seed=2))
    y = labels_for((5, 4), 1)
    assert fastce.accuracy(in_layout(p, layout), in_layout(y, layout)) == ref.accuracy(p, y)
    assert_close(fastce.entropy(in_layout(p, layout)), ref.entropy(p), np.float64)
    assert_close(fastce.kl_divergence(in_layout(p, layout), in_layout(q, layout)),
                 ref.kl_divergence(p, q), np.float64)


def test_entropy_and_kl_exact_values():
    assert fastce.entropy([[1.0, 0.0], [0.5, 0.5]]).tolist() == [0.0, np.log(2.0)]
    kl = fastce.kl_divergence([[0.0, 1.0], [1.0, 0.0]], [[0.5, 0.5], [0.0, 1.0]])
    assert_close(kl[0], np.log(2.0), np.float64, k=1)
    assert kl[1] == np.inf
