"""The row-parallel kernel for few classes (C <= 32, class axis last, many
rows) against fastce.reference, with every option, and with rows the generic
path must take (masked, +inf, NaN) scattered among ordinary ones."""
import numpy as np
import pytest

import fastce
from fastce import reference as ref

from helpers import DTYPES, assert_close, labels_for, logits

N = 203  # groups of 8 rows plus a tail


@pytest.mark.parametrize("C", [2, 8, 10, 16, 24, 32, 33])
@pytest.mark.parametrize("option", ["plain", "all", "smoothing-only"])
@pytest.mark.parametrize("reduction", ["mean", "none"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_matches_reference(dtype, reduction, option, C):
    x = logits((N, C), dtype, seed=C)
    y = labels_for((N, C), 1, ignore_frac=0.2 if option == "all" else 0.0)
    r = np.random.default_rng(C)
    kw = {"reduction": reduction}
    if option == "all":
        kw.update(weight=r.uniform(0.5, 2, C), sample_weight=r.uniform(0.5, 2, N),
                  label_smoothing=0.1)
    elif option == "smoothing-only":
        kw.update(label_smoothing=1.0)
    loss, grad = fastce.softmax_cross_entropy(x, y, return_grad=True, **kw)
    want_loss, want_grad = ref.softmax_cross_entropy(x, y, return_grad=True, **kw)
    assert_close(loss, want_loss, dtype)
    assert_close(grad, want_grad, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_edge_rows_among_ordinary_ones(dtype):
    x = logits((64, 10), dtype)
    y = labels_for((64, 10), 1)
    x[3] = -np.inf                      # every class masked: loss inf, grad 0
    x[12, 4] = np.inf                   # a dominant +inf logit
    y[12] = 4
    x[21, 7] = np.nan                   # NaN in a used row
    x[30] = np.nan                      # an ignored row full of NaN
    y[30] = -100
    x[45, [1, 2]] = 50.0                # ties at the max
    loss, grad = fastce.softmax_cross_entropy(x, y, reduction="none", return_grad=True)
    assert loss[3] == np.inf and np.all(grad[3] == 0)
    assert loss[12] == 0 and grad[12, 4] == 0 and np.all(grad[12][np.arange(10) != 4] == 0)
    assert np.isnan(loss[21])
    assert loss[30] == 0 and np.all(grad[30] == 0)
    ordinary = np.setdiff1d(np.arange(64), [3, 12, 21, 30])
    want_loss, want_grad = ref.softmax_cross_entropy(x[ordinary], y[ordinary],
                                                     reduction="none", return_grad=True)
    assert_close(loss[ordinary], want_loss, dtype)
    assert_close(grad[ordinary], want_grad, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_in_place_gradient(dtype):
    x = logits((40, 10), dtype)
    y = labels_for((40, 10), 1)
    want_loss, want_grad = fastce.softmax_cross_entropy(x, y, return_grad=True)
    loss, grad = fastce.softmax_cross_entropy(x, y, return_grad=True, grad_out=x)
    assert grad is x and loss == want_loss
    np.testing.assert_array_equal(x, want_grad)


def test_confident_rows_keep_their_loss():
    """Margin 20 over 9 classes, float32: loss 9*exp(-20) ~ 1.9e-8, to an ulp."""
    x = np.zeros((16, 10), np.float32)
    x[:, 0] = 20.0
    exact = np.log1p(9 * np.exp(-20.0))
    loss = fastce.softmax_cross_entropy(x, np.zeros(16, int), reduction="none")
    assert np.all(np.abs(loss - exact) <= np.spacing(np.float32(exact)))


@pytest.mark.parametrize("name", ["logsumexp", "log_softmax", "softmax"])
@pytest.mark.parametrize("C", [2, 8, 10, 16, 24, 32, 33])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_softmax_family_matches_reference(dtype, C, name):
    x = logits((N, C), dtype, seed=C)
    assert_close(getattr(fastce, name)(x), getattr(ref, name)(x), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_softmax_family_edge_rows(dtype):
    x = logits((40, 10), dtype)
    x[3] = -np.inf
    x[12, 4] = np.inf
    x[21, 7] = np.nan
    assert fastce.logsumexp(x)[3] == -np.inf and fastce.logsumexp(x)[12] == np.inf
    assert np.isnan(fastce.logsumexp(x)[21])
    p = fastce.softmax(x)
    assert np.all(p[3] == 0) and p[12, 4] == 1 and np.isnan(p[21]).all()
    lp = fastce.log_softmax(x)
    assert np.all(lp[3] == -np.inf) and lp[12, 4] == 0
    ordinary = np.setdiff1d(np.arange(40), [3, 12, 21])
    for name in ("logsumexp", "log_softmax", "softmax"):
        assert_close(getattr(fastce, name)(x)[ordinary], getattr(ref, name)(x[ordinary]), dtype)
