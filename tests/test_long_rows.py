"""The long-row passes (C > 32: the row max, the rest sum with its exps, the
second pass that writes probabilities, log-probabilities or the gradient)
against fastce.reference at every tail length of a vector step (16 floats
or 8 doubles in AVX-512 lanes, 8 or 4 in AVX2; two vectors a step), with
ties, -inf, +inf and NaN placed in the first vector, in the middle and in
the masked tail. Up to 128 classes the row-parallel kernels take the
ordinary rows of a call and leave the special ones to these passes; above,
the passes take every row, a batch of rows at a time (FASTCE_ROW_BATCH in
csrc/row_impl.h)."""
import numpy as np
import pytest

import fastce
from fastce import reference as ref

from helpers import DTYPES, assert_close, logits

#: every C mod 32, 16 and 8, in the kernels' range and above it
CLASSES = [*range(33, 66), *range(97, 162)]


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


def far_rows(C, dtype):
    """Rows of finite entries at 0 and far below it: where exp(x - max)
    underflows to 0 (below -104 or -746), where an exp without clamps still
    gives 0 (to about -1.5e14), and beyond, to x - max overflowing."""
    info = np.finfo(dtype)
    spans = [-120.0, -800.0, -1e5, -3e7, -1e13, -1e15, -1e30, -0.9 * float(info.max)]
    r = np.random.default_rng(C)
    x = np.empty((len(spans) + 1, C), dtype)
    for i, span in enumerate(spans):
        row = logits((1, C), dtype, seed=C + i)[0]
        far = r.random(C) < 0.5
        row[far] = (span * r.uniform(1.0, 1.1, far.sum())).astype(dtype)
        x[i] = row
    x[-1] = logits((1, C), dtype, seed=2 * C)[0]
    x[-1, 1] = float(info.max)  # the max at +max, an entry at -0.9 max: x - max overflows
    x[-1, 0] = -0.9 * float(info.max)
    return x


@pytest.mark.parametrize("C", [2, 10, 16, 32, 33, 47, 64, 100, 128, 129, 1000])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_far_entries(dtype, C):
    # the vector paths run a first pass without the exp's clamps and NaN
    # guards and rerun a row or group whose sum is not finite or that had
    # an entry too far below its max: every regime of x - max, for the
    # few-class kernels (C <= 32) and the long rows
    x = far_rows(C, dtype)
    y = np.arange(len(x)) % C
    with np.errstate(invalid="ignore", over="ignore"):
        for name in ("logsumexp", "log_softmax", "softmax"):
            assert_close(getattr(fastce, name)(x, axis=1), getattr(ref, name)(x, axis=1), dtype)
        got = fastce.softmax_cross_entropy(x, y, reduction="none", return_grad=True)
        want = ref.softmax_cross_entropy(x, y, reduction="none", return_grad=True)
    assert_close(got[0], want[0], dtype)
    assert_close(got[1], want[1], dtype)
    p = fastce.softmax(x, axis=1)
    assert np.all(np.isfinite(p)) and np.all(p[x < x.max(axis=1, keepdims=True) - 1e3] == 0)


def edge_rows(C, dtype):
    """Ordinary rows with three entries at the max plus d, around where the
    dtype's exp(d) leaves the normal range (and a vector's tame pass ends),
    at a head, middle or tail position, and with -inf and NaN entries; then
    rows with all but one entry far below, and a masked row."""
    if dtype == np.float32:
        ds = [-86.9, -87.4, -95.0, -103.5, -110.0, -1e6]
    else:
        ds = [-707.9, -708.6, -730.0, -745.5, -800.0, -1e12]
    ds += [-np.inf, np.nan]
    x = logits((3 * len(ds), C), dtype, seed=C)
    for i in range(x.shape[0]):
        j = [0, C // 2, C - 3][i % 3]
        x[i, j:j + 3] = x[i].max() + ds[i // 3]
    # and rows whose every other entry is that far: tiny losses of subnormal
    # terms (float64 takes them again from the logits, which in place are
    # about to be overwritten), and a masked row with one live entry
    far = -100.0 if dtype == np.float32 else -744.0
    r = np.random.default_rng(C)
    tiny = (far - r.random((3, C))).astype(dtype)
    tiny[np.arange(3), [0, C // 2, C - 1]] = 0.5
    masked = np.full((1, C), -np.inf, dtype)
    masked[0, C // 3] = 2.0
    return np.concatenate([x, tiny, masked])


@pytest.mark.parametrize("C", [10, 33, 47, 64, 100, 128, 129, 1000])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_in_place_matches(dtype, C):
    # out-of-place, a long row's pass runs unchecked and is rerun when an
    # entry was too far below the max; in place (out is x, or grad_out is
    # the logits) every vector is checked before it stores: the same bits
    x = edge_rows(C, dtype)
    y = (np.arange(len(x)) * 5) % C
    y[-4:-1] = [0, C // 2, C - 1]  # the tiny rows' maxima: tiny losses
    with np.errstate(invalid="ignore", over="ignore"):
        for name in ("log_softmax", "softmax"):
            want = getattr(fastce, name)(x, axis=1)
            assert_close(want, getattr(ref, name)(x, axis=1), dtype)
            got = x.copy()
            getattr(fastce, name)(got, axis=1, out=got)
            np.testing.assert_array_equal(got, want)
        loss, grad = fastce.softmax_cross_entropy(x, y, reduction="none", return_grad=True)
        g = x.copy()
        loss2, grad2 = fastce.softmax_cross_entropy(g, y, reduction="none", return_grad=True,
                                                    grad_out=g)
    assert grad2 is g
    np.testing.assert_array_equal(grad2, grad)
    np.testing.assert_array_equal(loss2, loss)


@pytest.mark.parametrize("C", [5, 40])
def test_in_place_softmax_of_far_rows(C):
    # float64 rows whose other entries are all far below the max: in place,
    # a loss keeps the logits for its tiny rest, softmax needs no more than
    # its stored terms, and gives the bits of the call out of place (a row
    # where the two paths differed by an ulp)
    row = np.full(C, -760.0)
    row[:5] = [0.0, -709.14, -758.4, -715.08, -754.23]
    x = np.tile(row, (9, 1))
    want = fastce.softmax(x)
    got = x.copy()
    fastce.softmax(got, out=got)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("C", [5, 40, 100])
def test_in_place_gradient_of_deep_rows(C):
    # float64 rows whose other entries all lie 670-745 below the max, where
    # the rest is below 2^-968 and is taken again from x: in place such a
    # row keeps its logits until then and takes each gradient entry from x;
    # out of place it did too only since a review found the stored vector
    # exps giving other last bits
    r = np.random.default_rng(C)
    x = r.uniform(-745.0, -670.0, (64, C)) + r.uniform(-3, 3, (64, 1))
    y = r.integers(0, C, 64)
    x[np.arange(64), y] = x.max(axis=1) + 700.0
    x[::5, 0] = x[::5].max(axis=1) + 700.0  # every fifth row: its target far below the max
    for kw in ({}, {"weight": r.uniform(0.5, 2, C), "sample_weight": r.uniform(0.5, 2, 64)}):
        loss, grad = fastce.softmax_cross_entropy(x, y, reduction="none", return_grad=True, **kw)
        g = x.copy()
        loss2, grad2 = fastce.softmax_cross_entropy(g, y, reduction="none", return_grad=True,
                                                    grad_out=g, **kw)
        np.testing.assert_array_equal(loss2, loss)
        np.testing.assert_array_equal(grad2, grad)


@pytest.mark.parametrize("C", [129, 150, 300])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_rows_in_a_batch_give_the_bits_of_rows_alone(dtype, C):
    # the generic path takes its rows a batch at a time, each step for every
    # row of the batch before the next: a row's results are those of the row
    # alone (ignored, masked, NaN and tiny-rest rows among them; in place
    # too). (Up to 128 classes a call's ordinary rows are the row-parallel
    # kernels', whose last bits may differ from this path's.)
    x = special_rows(C, dtype)
    x = np.concatenate([x, logits((9, C), dtype, seed=C + 1)])
    n = len(x)
    y = (np.arange(n) * 7) % C
    y[[0, 13]] = -100
    r = np.random.default_rng(C)
    opts = {"weight": r.uniform(0.5, 2, C).astype(dtype),
            "sample_weight": r.uniform(0.5, 2, n).astype(dtype), "label_smoothing": 0.1}
    with np.errstate(invalid="ignore", over="ignore"):
        for kw in ({}, opts):
            loss, grad = fastce.softmax_cross_entropy(x, y, reduction="none", return_grad=True,
                                                      **kw)
            g = x.copy()
            loss_in, _ = fastce.softmax_cross_entropy(g, y, reduction="none", return_grad=True,
                                                      grad_out=g, **kw)
            np.testing.assert_array_equal(loss_in, loss)
            np.testing.assert_array_equal(g, grad)
            for i in range(n):
                one = dict(kw, sample_weight=kw["sample_weight"][i:i + 1]) if kw else {}
                li, gi = fastce.softmax_cross_entropy(x[i:i + 1], y[i:i + 1], reduction="none",
                                                      return_grad=True, **one)
                np.testing.assert_array_equal(li, loss[i:i + 1])
                np.testing.assert_array_equal(gi, grad[i:i + 1])
        for name in ("logsumexp", "log_softmax", "softmax"):
            got = getattr(fastce, name)(x)
            for i in range(n):
                np.testing.assert_array_equal(getattr(fastce, name)(x[i:i + 1]), got[i:i + 1])
