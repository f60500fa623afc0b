"""sigmoid_cross_entropy (alias binary_cross_entropy_with_logits) against
fastce.reference, with weight and pos_weight broadcasting."""
import numpy as np
import pytest

import fastce
from fastce import reference as ref

from helpers import DTYPES, LAYOUTS, assert_close, central_difference, in_layout, logits

SHAPE = (6, 5)
r = np.random.default_rng(7)
WEIGHTS = {
    "plain": {},
    "weight-full": {"weight": r.uniform(0.5, 2, SHAPE)},
    "weight-rows": {"weight": r.uniform(0.5, 2, (6, 1))},
    "pos_weight": {"pos_weight": r.uniform(0.5, 3, 5)},
    "both": {"weight": r.uniform(0.5, 2, 5), "pos_weight": r.uniform(0.5, 3, (6, 5))},
    "scalars": {"weight": 2.0, "pos_weight": np.float32(3.0)},
}


def targets(kind, dtype):
    g = np.random.default_rng(8)
    if kind == "hard":
        return (g.random(SHAPE) < 0.5).astype(dtype)
    return g.random(SHAPE).astype(dtype)


@pytest.mark.parametrize("kind", ["hard", "soft"])
@pytest.mark.parametrize("opts", list(WEIGHTS))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_matches_reference(dtype, reduction, opts, kind):
    x, z = logits(SHAPE, dtype, scale=4), targets(kind, dtype)
    kw = WEIGHTS[opts]
    loss, grad = fastce.sigmoid_cross_entropy(x, z, reduction=reduction, return_grad=True, **kw)
    want_loss, want_grad = ref.sigmoid_cross_entropy(x, z, reduction=reduction, return_grad=True, **kw)
    assert_close(loss, want_loss, dtype)
    assert_close(grad, want_grad, dtype)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_layouts(layout):
    x, z = logits(SHAPE, np.float32), targets("soft", np.float32)
    kw = WEIGHTS["both"]
    got = fastce.sigmoid_cross_entropy(in_layout(x, layout), in_layout(z, layout), **kw)
    assert_close(got, ref.sigmoid_cross_entropy(x, z, **kw), np.float32)


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_gradient_central_differences(reduction):
    x, z = logits((3, 4), np.float64, scale=2), np.random.default_rng(1).random((3, 4))
    kw = {"weight": np.array([1.0, 2.0, 0.5, 1.5]), "pos_weight": np.array([2.0, 1.0, 3.0, 0.5])}
    _, g = fastce.sigmoid_cross_entropy(x, z, reduction=reduction, return_grad=True, **kw)
    num = central_difference(lambda v: np.sum(fastce.sigmoid_cross_entropy(v, z, reduction=reduction, **kw)), x)
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-9)


def test_alias_and_bool_targets():
    assert fastce.binary_cross_entropy_with_logits is fastce.sigmoid_cross_entropy
    x = logits((4,), np.float64)
    assert_close(fastce.sigmoid_cross_entropy(x, np.array([True, False, True, False])),
                 fastce.sigmoid_cross_entropy(x, [1.0, 0.0, 1.0, 0.0]), np.float64, k=1)


def test_extreme_logits_hard_targets():
    x = np.array([100.0, -100.0, 40.0, -40.0, np.inf, -np.inf])
    z = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    loss = fastce.sigmoid_cross_entropy(x, z, reduction="none")
    expect = np.log1p(np.exp(-np.abs(x)))  # the exact loss of a correct, confident guess
    assert_close(loss, expect, np.float64, k=2)
    assert np.all(loss[:4] > 0)
    wrong = fastce.sigmoid_cross_entropy(x, 1 - z, reduction="none")
    assert wrong[4] == np.inf and wrong[5] == np.inf
    assert_close(wrong[:4], np.abs(x[:4]) + expect[:4], np.float64, k=2)


def test_scalar_logits():
    got = fastce.sigmoid_cross_entropy(0.0, 1.0, reduction="none")
    assert got.shape == () and np.isclose(got, np.log(2.0))
