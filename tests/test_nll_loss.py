"""nll_loss against fastce.reference and its relation to softmax CE."""
import numpy as np
import pytest

import fastce
from fastce import reference as ref

from helpers import (AXES, DTYPES, LAYOUTS, assert_close, central_difference,
                     in_layout, labels_for, logits)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape, axis", AXES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_matches_reference(dtype, shape, axis, reduction):
    lp = fastce.log_softmax(logits(shape, dtype), axis=axis)
    ax = axis % len(shape)
    y = labels_for(shape, ax, ignore_frac=0.3)
    r = np.random.default_rng(5)
    kw = dict(axis=axis, weight=r.uniform(0.5, 2, shape[ax]),
              sample_weight=r.uniform(0.5, 2, y.shape), reduction=reduction)
    loss, grad = fastce.nll_loss(lp, y, return_grad=True, **kw)
    want_loss, want_grad = ref.nll_loss(lp, y, return_grad=True, **kw)
    assert_close(loss, want_loss, dtype)
    assert_close(grad, want_grad, dtype)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_layouts_and_equivalence_with_softmax_ce(layout):
    x = logits((6, 5), np.float64)
    y = labels_for((6, 5), 1)
    got = fastce.nll_loss(in_layout(fastce.log_softmax(x), layout), in_layout(y, layout))
    assert_close(got, fastce.softmax_cross_entropy(x, y), np.float64)


def test_gradient_central_differences():
    lp = logits((3, 4), np.float64)
    y = np.array([1, -100, 3])
    w = np.array([1.0, 2.0, 0.5, 1.5])
    _, g = fastce.nll_loss(lp, y, weight=w, return_grad=True)
    num = central_difference(lambda z: fastce.nll_loss(z, y, weight=w), lp)
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-9)


def test_floating_target_is_refused():
    with pytest.raises(TypeError, match="target"):
        fastce.nll_loss(np.zeros((2, 3)), np.zeros((2, 3)))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("how", ["fresh", "grad_out", "grad_out is lp"])
@pytest.mark.parametrize("n, threads", [(40, 1), (1000, 1), (1001, 2)])
def test_gradient_is_zero_off_target_whoever_allocates_it(dtype, how, n, threads):
    # a fresh gradient comes zeroed from np.zeros and the kernel writes only
    # the target entries; a caller's grad_out (garbage-filled here, or the
    # log-probabilities themselves) is zero-filled by the kernel, 256 rows
    # at a time after their losses are read (1000 rows: chunks and a tail;
    # two threads: a block that starts inside a chunk)
    lp = fastce.log_softmax(logits((n, 7), dtype))
    y = labels_for((n, 7), 1, ignore_frac=0.3)
    r = np.random.default_rng(n)
    kw = dict(weight=r.random(7).astype(dtype), sample_weight=r.random(n).astype(dtype),
              reduction="none", return_grad=True, n_threads=threads)
    want_loss, want = ref.nll_loss(lp, y, **{k: v for k, v in kw.items() if k != "n_threads"})
    if how == "fresh":
        loss, g = fastce.nll_loss(lp, y, **kw)
    else:
        src = lp.copy()
        out = src if how == "grad_out is lp" else np.full(lp.shape, np.nan, dtype)
        loss, g = fastce.nll_loss(src, y, grad_out=out, **kw)
        assert g is out
    assert_close(loss, want_loss, dtype)
    assert_close(g, want, dtype)
    assert np.count_nonzero(g) == np.count_nonzero(y != -100)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, C", [(1, 3), (2, 5), (7, 10), (45, 64), (4098, 9), (9000, 70),
                                  (2051, 1000)])
@pytest.mark.parametrize("weighted", [False, True])
def test_forward_alone_is_the_exact_sum(dtype, n, C, weighted):
    """The loss without a gradient or per-sample output takes its own loop
    (four sums, entries prefetched when rows are far apart): every tail
    length, ignored samples, weights, and the same bits for any thread
    count. The sum of the per-sample losses is checked against math.fsum."""
    import math
    r = np.random.default_rng(n + C)
    lp = fastce.log_softmax(logits((n, C), dtype))
    y = labels_for((n, C), 1, ignore_frac=0.2)
    kw = dict(weight=r.uniform(0.5, 2, C).astype(dtype),
              sample_weight=r.uniform(0.5, 2, n).astype(dtype)) if weighted else {}
    per = fastce.nll_loss(lp, y, reduction="none", **kw)
    want_sum = math.fsum(per.astype(np.float64))
    got = [fastce.nll_loss(lp, y, reduction="sum", n_threads=t, **kw) for t in (1, 2)]
    assert got[0].tobytes() == got[1].tobytes()
    assert_close(got[0], dtype(want_sum), dtype, k=2)
    assert_close(fastce.nll_loss(lp, y, **kw), ref.nll_loss(lp, y, **kw), dtype)
