"""categorical_cross_entropy and binary_cross_entropy (clipped
probabilities) against fastce.reference."""
import numpy as np
import pytest

import fastce
from fastce import reference as ref

from helpers import (AXES, DTYPES, LAYOUTS, assert_close, central_difference,
                     in_layout, labels_for, soft_target)


def probs(shape, axis, dtype, seed=0):
    p = np.random.default_rng(seed).random(shape) + 1e-3
    p /= p.sum(axis=axis, keepdims=True)
    return p.astype(dtype)


@pytest.mark.parametrize("dense", [False, True], ids=["sparse", "dense"])
@pytest.mark.parametrize("weighted", [False, True], ids=["", "sw"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape, axis", AXES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_categorical_matches_reference(dtype, shape, axis, reduction, weighted, dense):
    ax = axis % len(shape)
    p = probs(shape, ax, dtype)
    p.flat[::7] = 0.0  # exercise the clip
    t = soft_target(shape, ax, dtype) if dense else labels_for(shape, ax)
    kw = dict(axis=axis, reduction=reduction, eps=1e-4)
    if weighted:
        kw["sample_weight"] = np.random.default_rng(3).uniform(0.5, 2, shape[:ax] + shape[ax + 1:])
    loss, grad = fastce.categorical_cross_entropy(p, t, return_grad=True, **kw)
    want_loss, want_grad = ref.categorical_cross_entropy(p, t, return_grad=True, **kw)
    assert_close(loss, want_loss, dtype)
    assert_close(grad, want_grad, dtype)
    assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("weight", [None, "full", "column"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_binary_matches_reference(dtype, reduction, weight):
    g = np.random.default_rng(4)
    p = g.random((5, 6)).astype(dtype)
    p[0, :3] = [0.0, 1.0, 0.5]
    z = (g.random((5, 6)) < 0.5).astype(dtype)
    z[1] = g.random(6)  # a soft row
    w = {None: None, "full": g.uniform(0.5, 2, (5, 6)), "column": g.uniform(0.5, 2, (5, 1))}[weight]
    loss, grad = fastce.binary_cross_entropy(p, z, weight=w, reduction=reduction, return_grad=True)
    want_loss, want_grad = ref.binary_cross_entropy(p, z, weight=w, reduction=reduction, return_grad=True)
    assert_close(loss, want_loss, dtype)
    assert_close(grad, want_grad, dtype)
    assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_layouts(layout):
    p = probs((4, 5), 1, np.float64)
    y = labels_for((4, 5), 1)
    got = fastce.categorical_cross_entropy(in_layout(p, layout), in_layout(y, layout))
    assert_close(got, ref.categorical_cross_entropy(p, y), np.float64)
    z = (p > 0.2).astype(np.float64)
    got = fastce.binary_cross_entropy(in_layout(p, layout), in_layout(z, layout))
    assert_close(got, ref.binary_cross_entropy(p, z), np.float64)


def test_gradients_central_differences_inside_the_clip():
    p = probs((3, 4), 1, np.float64, seed=9)
    t = soft_target((3, 4), 1, np.float64)
    _, g = fastce.categorical_cross_entropy(p, t, return_grad=True)
    num = central_difference(lambda v: fastce.categorical_cross_entropy(v, t), p, h=1e-7)
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-7)
    z = np.random.default_rng(2).random((3, 4))
    _, g = fastce.binary_cross_entropy(p, z, return_grad=True)
    num = central_difference(lambda v: fastce.binary_cross_entropy(v, z), p, h=1e-7)
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-7)


def test_nan_probability_is_not_clipped_away():
    loss = fastce.binary_cross_entropy([np.nan, 0.5], [1, 1], reduction="none")
    assert np.isnan(loss[0]) and np.isfinite(loss[1])
