"""categorical_cross_entropy and binary_cross_entropy (clipped
probabilities) against fastce.reference."""
import math

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


# Contiguous rows (class axis last) go through the vector table's
# categorical_row; other layouts through the strided loop. Row lengths
# around the 4- and 8-element steps and the masked tail.
ROW_LENGTHS = [1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 31, 1000]


def _dense_case(n, C, dtype, seed=0):
    g = np.random.default_rng(seed)
    p = probs((n, C), 1, dtype, seed=seed)
    p[g.random((n, C)) < 0.1] = 0.0  # clipped to eps
    p[g.random((n, C)) < 0.05] = 1.0  # clipped to 1 - eps
    t = g.random((n, C))
    t[g.random((n, C)) < 0.4] = 0.0  # zero targets
    return p, t.astype(dtype)


@pytest.mark.parametrize("weighted", [False, True], ids=["", "sw"])
@pytest.mark.parametrize("C", ROW_LENGTHS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_categorical_dense_contiguous_rows(dtype, C, weighted):
    p, t = _dense_case(6, C, dtype, seed=C)
    kw = dict(reduction="none", eps=1e-4)
    if weighted:
        kw["sample_weight"] = np.random.default_rng(5).uniform(0.5, 2, 6)
    loss, grad = fastce.categorical_cross_entropy(p, t, return_grad=True, **kw)
    want_loss, want_grad = ref.categorical_cross_entropy(p, t, return_grad=True, **kw)
    assert_close(loss, want_loss, dtype)
    assert_close(grad, want_grad, dtype)
    # The gradient is rounded as the strided loop rounds it: bit for bit.
    loss_s, grad_s = fastce.categorical_cross_entropy(
        np.asfortranarray(p), np.asfortranarray(t), return_grad=True, **kw)
    np.testing.assert_array_equal(grad, grad_s)
    assert_close(loss, loss_s, dtype)
    # Loss without gradient is the same loss.
    np.testing.assert_array_equal(fastce.categorical_cross_entropy(p, t, **kw), loss)


@pytest.mark.parametrize("C", [3, 4, 5, 8, 9, 17])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_categorical_dense_contiguous_special_values(dtype, C):
    n = 8
    p, t = _dense_case(n, C, dtype, seed=100 + C)
    j = C - 1  # the last element: in the masked tail for C % 4 != 0
    p[0, j], t[0, j] = np.nan, 0.0     # zero target: NaN p contributes 0
    p[1, j], t[1, j] = np.nan, 0.5     # NaN p, live target: NaN
    p[2, j], t[2, j] = np.inf, 0.5     # clipped to 1 - eps
    p[3, j], t[3, j] = -np.inf, 0.5    # clipped to eps
    p[4, 0], t[4, 0] = 0.3, np.nan     # NaN target: NaN
    p[5, 0], t[5, 0] = 0.3, np.inf     # inf target: inf loss
    p[6, :] = np.nan                   # a NaN row with all-zero targets
    t[6, :] = 0.0
    p[7, 0], t[7, 0] = 0.5, -2.0       # a negative target
    kw = dict(reduction="none", eps=1e-3)
    loss, grad = fastce.categorical_cross_entropy(p, t, return_grad=True, **kw)
    want_loss, want_grad = ref.categorical_cross_entropy(p, t, return_grad=True, **kw)
    assert_close(loss, want_loss, dtype)
    assert_close(grad, want_grad, dtype)
    assert np.isfinite(loss[0]) and np.isnan(loss[1]) and np.isnan(loss[4])
    assert loss[5] == np.inf and loss[6] == 0.0
    assert grad[0, j] == 0.0 and np.isnan(grad[1, j]) and np.all(grad[6] == 0.0)
    _, grad_s = fastce.categorical_cross_entropy(
        np.asfortranarray(p), np.asfortranarray(t), return_grad=True, **kw)
    np.testing.assert_array_equal(grad, grad_s)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_categorical_dense_long_rows_and_threads(dtype):
    p, t = _dense_case(5, 4099, dtype, seed=7)
    kw = dict(reduction="none", eps=1e-7)
    loss1, grad1 = fastce.categorical_cross_entropy(p, t, return_grad=True, n_threads=1, **kw)
    loss2, grad2 = fastce.categorical_cross_entropy(p, t, return_grad=True, n_threads=2, **kw)
    np.testing.assert_array_equal(loss1, loss2)
    np.testing.assert_array_equal(grad1, grad2)
    want_loss, want_grad = ref.categorical_cross_entropy(p, t, return_grad=True, **kw)
    assert_close(loss1, want_loss, dtype, k=4)
    assert_close(grad1, want_grad, dtype)
    # inputs are never modified
    p0, t0 = _dense_case(5, 4099, dtype, seed=7)
    np.testing.assert_array_equal(p, p0)
    np.testing.assert_array_equal(t, t0)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_categorical_dense_log_accuracy(dtype):
    # One-hot rows: the row's loss is -log(clip(p)) of its one live element,
    # whatever the lane it lands in; within 1 ulp of the correctly rounded log.
    mpmath = pytest.importorskip("mpmath")
    g = np.random.default_rng(11)
    n, C = 1200, 9
    tiny = np.finfo(dtype).tiny
    logs = g.uniform(np.log(tiny) if dtype == np.float32 else -700.0, 0.0, n)
    live = np.exp(logs).astype(dtype)
    live[:40] = np.linspace(0.25, 1.0, 40, dtype=dtype)  # near 1: log's cancellation
    if dtype == np.float64:
        live[40:50] = np.geomspace(4e-318, 1e-309, 10)  # subnormal (eps below them)
    eps = 1e-320 if dtype == np.float64 else 1e-45
    p = g.random((n, C)).astype(dtype)
    t = np.zeros((n, C), dtype)
    hot = g.integers(0, C, n)
    p[np.arange(n), hot] = live
    t[np.arange(n), hot] = 1.0
    loss = fastce.categorical_cross_entropy(p, t, eps=eps, reduction="none")
    pc = np.clip(live.astype(np.float64), eps, 1.0 - eps)
    with mpmath.workdps(40):
        want = np.array([-float(mpmath.log(mpmath.mpf(float(v)))) for v in pc]).astype(dtype)
    ulps = np.abs(loss.astype(np.float64) - want) / np.spacing(np.maximum(np.abs(want), tiny))
    assert np.max(ulps) <= 1.0, (np.max(ulps), pc[np.argmax(ulps)])


@pytest.mark.parametrize("C", [10, 64, 1000, 2500])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_categorical_one_hot_dense_targets(dtype, C):
    # The vector kernels skip blocks of zero targets in chunks that start
    # with 64 of them (CAT_CHUNK): hot classes at the start, in the middle
    # and at the end of rows and of the 1024-element chunks, a soft row
    # among one-hot ones, a NaN p where the target is 0 (term and gradient
    # 0, as elsewhere) and -0.0 targets; the gradient buffer starts as
    # garbage, so every zero must be written.
    n = 37
    g = np.random.default_rng(C)
    p = probs((n, C), 1, dtype, seed=C)
    hot = g.integers(0, C, n)
    hot[:6] = [0, C - 1, min(63, C - 1), min(64, C - 1), min(1023, C - 1), min(1024, C - 1)]
    t = np.zeros((n, C), dtype)
    t[np.arange(n), hot] = 1.0
    t[7] = soft_target((1, C), 1, dtype)[0]       # a soft row
    t[8, t[8] == 0] = -0.0                         # negative zeros
    p[9, (hot[9] + 1) % C] = np.nan                # NaN p, zero target
    sw = g.uniform(0.5, 2.0, n)
    for kw in (dict(reduction="none"), dict(reduction="mean"), dict(reduction="sum", sample_weight=sw)):
        grad_out = np.full((n, C), 7.0, dtype)
        loss, grad = fastce.categorical_cross_entropy(p, t, return_grad=True, grad_out=grad_out,
                                                      eps=1e-6, **kw)
        want_loss, want_grad = ref.categorical_cross_entropy(p, t, return_grad=True, eps=1e-6, **kw)
        assert grad is grad_out
        assert_close(loss, want_loss, dtype)
        assert_close(grad, want_grad, dtype)
        assert np.all(grad[t == 0] == 0), "a zero target's gradient is 0"
        assert np.all(np.isfinite(loss))
        # the loss alone is the same loss
        np.testing.assert_array_equal(
            fastce.categorical_cross_entropy(p, t, eps=1e-6, **kw), loss)
    # one-hot rows agree with the class indices they encode (row 7 is soft)
    rows = np.r_[0:7, 8:n]
    dense = fastce.categorical_cross_entropy(p[rows], t[rows], eps=1e-6, reduction="none")
    sparse = fastce.categorical_cross_entropy(p[rows], hot[rows], eps=1e-6, reduction="none")
    assert_close(dense, sparse, dtype)


@pytest.mark.skipif(np.finfo(np.longdouble).nmant < 63,
                    reason="needs an extended long double for the exact values")
@pytest.mark.parametrize("C", [2, 3, 10, 33])
def test_categorical_float64_losses_within_2_ulp(C, isa):
    # Soft targets with sample weights, against long double: each product
    # t*log(p) and the weight are carried exactly and the loss is rounded
    # once, so only the logs' own errors remain (rounding every product and
    # the weight: up to 3 ulp at C = 2 and 3). C = 33 takes the AVX-512
    # long-row kernel, the others its flat one; axis=0 the strided loop.
    r = np.random.default_rng(C)
    n = 20_000
    p = r.dirichlet(np.full(C, 0.5), n)
    p[: n // 4] = r.dirichlet(np.full(C, 0.05), n // 4)  # confident rows, tiny entries
    t = r.dirichlet(np.ones(C), n)
    t[n // 2: 3 * n // 4] = r.dirichlet(np.full(C, 0.1), n // 4)  # peaked targets
    t[r.random((n, C)) < 0.1] = 0.0
    sw = r.uniform(0, 3, n)
    L = np.longdouble
    eps = 1e-12
    exact = -(t.astype(L) * np.log(np.clip(p, eps, 1 - eps).astype(L))).sum(axis=1) * sw.astype(L)
    spacing = np.spacing(np.abs(exact.astype(np.float64))).astype(L)
    worst = 0.0
    for axis in (-1, 0):
        pa, ta = (p, t) if axis == -1 else (p.T, t.T)
        for weight, want in ((sw, exact), (None, exact / sw.astype(L))):
            got = fastce.categorical_cross_entropy(pa, ta, sample_weight=weight, eps=eps,
                                                   axis=axis, reduction="none")
            sp = spacing if weight is not None else \
                np.spacing(np.abs(want.astype(np.float64))).astype(L)
            err = np.abs(got.astype(L) - want) / sp
            worst = max(worst, float(err.max()))
            assert float(err.max()) <= 2.0, (axis, weight is not None, float(err.max()),
                                              p[err.argmax()], t[err.argmax()])
    print(f"\n{isa:6s} categorical_cross_entropy float64 C={C} max {worst:.3f} ulp")


@pytest.mark.parametrize("n, C", [(1, 1), (3, 5), (7, 10), (33, 10), (8, 16), (5, 17), (3, 1001)])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_categorical_dense_total_alone(dtype, n, C):
    # With neither per-sample losses nor weights to return, the vector
    # tables sum all n*C terms in one run instead of row by row: the same
    # total (to the rounding of the row losses), the same gradient bits,
    # NaN where a live target meets a NaN probability and not where the
    # target is 0. n*C runs through every tail length of the 8- and
    # 16-element steps.
    p, t = _dense_case(n, C, dtype, seed=n * C)
    kw = dict(eps=1e-4)
    rows, grad_rows = fastce.categorical_cross_entropy(p, t, reduction="none",
                                                       return_grad=True, **kw)
    exact = math.fsum(rows.astype(np.float64))
    for reduction, want in (("sum", exact), ("mean", exact / n)):
        got, grad = fastce.categorical_cross_entropy(p, t, reduction=reduction,
                                                     return_grad=True, **kw)
        # each row loss was rounded to dtype once: half an ulp of each
        bound = n * np.finfo(dtype).eps * max(np.abs(rows).max(), np.finfo(dtype).tiny)
        assert abs(float(got) - want) <= bound / (n if reduction == "mean" else 1), \
            (reduction, float(got), want)
        if reduction == "sum":
            np.testing.assert_array_equal(grad, grad_rows)
        else:
            assert_close(grad, grad_rows / dtype(n), dtype)
    q = p.copy()
    q.flat[-1], t.flat[-1] = np.nan, 0.0  # the last element, in a tail: contributes 0
    assert np.isfinite(fastce.categorical_cross_entropy(q, t, reduction="sum", **kw))
    t.flat[-1] = 0.5
    assert np.isnan(fastce.categorical_cross_entropy(q, t, reduction="sum", **kw))


@pytest.mark.parametrize("dense, in_place", [
    (False, "probs"), (False, "buffer"), (True, "probs"), (True, "target"), (True, "buffer")],
    ids=["sparse-probs", "sparse-buffer", "dense-probs", "dense-target", "dense-buffer"])
@pytest.mark.parametrize("reduction", ["mean", "none"])
@pytest.mark.parametrize("shape, axis", [((37, 3), -1), ((41, 10), -1), ((19, 16), -1),
                                         ((9, 33), -1), ((5, 1003), -1), ((3000, 10), -1),
                                         ((7, 5, 3), 1)])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_categorical_grad_out(dtype, shape, axis, dense, reduction, in_place):
    """``grad_out`` gets the bits of the call without it, on every kernel
    path (few classes flat, long rows, the total alone, a middle class axis,
    several threads): a separate buffer, ``probs`` itself, or the dense
    target (copied away before the kernel runs)."""
    ax = axis % len(shape)
    p = probs(shape, ax, dtype)
    p.flat[::7] = 0.0
    t = soft_target(shape, ax, dtype) if dense else labels_for(shape, ax)
    kw = dict(axis=axis, reduction=reduction, eps=1e-4, return_grad=True)
    want_loss, want_grad = fastce.categorical_cross_entropy(p, t, **kw)
    p, t = p.copy(), t.copy()
    if in_place == "probs":
        out = p
    elif in_place == "target":
        out = t
    else:
        out = np.full(shape, np.nan, dtype)
    loss, grad = fastce.categorical_cross_entropy(p, t, grad_out=out, **kw)
    assert grad is out
    np.testing.assert_array_equal(grad, want_grad)
    np.testing.assert_array_equal(loss, want_loss)


@pytest.mark.parametrize("in_place", ["probs", "target", "weight", "buffer"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_binary_grad_out(dtype, in_place):
    """As for the categorical loss, with the weight as a row of the buffer."""
    rng = np.random.default_rng(5)
    shape = (300, 300)  # weights shorter than 256 would be copied anyway
    p = rng.random(shape).astype(dtype)
    z = rng.random(shape).astype(dtype)
    w = rng.uniform(0.5, 2, 300).astype(dtype)
    kw = dict(eps=1e-4, return_grad=True)
    want_loss, want_grad = fastce.binary_cross_entropy(p, z, weight=w, **kw)
    out = {"probs": p, "target": z, "buffer": np.full(shape, np.nan, dtype)}.get(in_place)
    if in_place == "weight":
        out = np.full(shape, np.nan, dtype)
        out[0] = w
        w = out[0]
    loss, grad = fastce.binary_cross_entropy(p, z, weight=w, grad_out=out, **kw)
    assert grad is out
    np.testing.assert_array_equal(grad, want_grad)
    assert loss == want_loss
