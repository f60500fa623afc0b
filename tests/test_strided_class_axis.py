"""A class axis that is not the last: (N, C, H, W) batches, PyTorch's layout
for segmentation. The kernels take such samples through contiguous tiles
(csrc/row_impl.h, FASTCE_TILE = 1024 elements): runs of samples that share
their leading index, R = 1024 // C rows at a time, so the shapes here make
runs longer than a tile, runs cut by the parallel blocks, C = 1, C = 1024
(one row a tile) and C = 1025 (beyond a tile: the strided loops). Runs of
at least 16 samples go to kernels that read them as they are, side by side
(row_impl.h, side_by_side): the row-parallel ones up to 32 classes, the
planes ones beyond (AVX-512 float32 and float64, AVX2 float32); shorter
runs take tiles. Each
result is compared with the same call on the array moved to a last class
axis, within 4 eps, and with fastce.reference (within its usual 16)."""
import numpy as np
import pytest

import fastce
from fastce import reference as ref

from helpers import DTYPES, assert_close

#: (shape, C): n1 = H * W samples per leading index
SHAPES = [
    pytest.param((2, 1, 5, 7), id="C1"),
    pytest.param((3, 10, 9, 31), id="C10-long-runs"),  # R = 102 < n1 = 279
    pytest.param((2, 21, 4, 13), id="C21"),
    pytest.param((2, 32, 5, 7), id="C32-side-by-side"),  # the most the row kernels take
    pytest.param((3, 5, 3, 4), id="C5-short-runs"),  # n1 = 12 < 16: tiles
    pytest.param((2, 33, 3, 11), id="C33"),
    pytest.param((2, 40, 9, 31), id="C40-side-by-side"),  # blocks of 64 samples, and a part
    pytest.param((2, 150, 5, 7), id="C150-side-by-side"),
    pytest.param((2, 200, 3, 5), id="C200"),  # n1 = 15: tiles
    pytest.param((1, 1024, 3, 1), id="C1024-one-row-a-tile"),
    pytest.param((1, 1025, 2, 1), id="C1025-strided-loops"),
    pytest.param((1, 1100, 4, 5), id="C1100-side-by-side"),
]


def last(a):
    return np.ascontiguousarray(np.moveaxis(a, 1, -1))


def back(a):
    return np.moveaxis(a, -1, 1)


def logits(shape, dtype, seed=0):
    r = np.random.default_rng(seed)
    x = 3.0 * r.standard_normal(shape)
    x.flat[::17] = -np.inf  # masked classes
    x[0, :, 0, 0] = -np.inf  # a sample with every class masked
    return x.astype(dtype)


def close(a, b, dtype):
    """The same rows with the class axis last: the same computations."""
    assert_close(a, b, dtype, k=4)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_softmax_cross_entropy_sparse(dtype, shape):
    C = shape[1]
    x = logits(shape, dtype)
    r = np.random.default_rng(1)
    y = r.integers(0, C, (shape[0],) + shape[2:])
    y.flat[::5] = -100
    w = r.uniform(0.5, 2.0, C).astype(dtype)
    sw = r.uniform(0.5, 2.0, y.shape).astype(dtype)
    for kw in ({}, {"weight": w, "sample_weight": sw},
               {"weight": w, "sample_weight": sw, "label_smoothing": 0.1}):
        a, ga = fastce.softmax_cross_entropy(x, y, axis=1, reduction="none",
                                             return_grad=True, **kw)
        b, gb = fastce.softmax_cross_entropy(last(x), y, reduction="none",
                                             return_grad=True, **kw)
        close(a, b, dtype)
        close(ga, back(gb), dtype)
        assert_close(a, ref.softmax_cross_entropy(x, y, axis=1, reduction="none", **kw), dtype)
        mean = fastce.softmax_cross_entropy(x, y, axis=1, **kw)
        close(mean, fastce.softmax_cross_entropy(last(x), y, **kw), dtype)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_softmax_cross_entropy_dense_and_in_place(dtype, shape):
    C = shape[1]
    x = logits(shape, dtype)
    t = fastce.softmax(logits(shape, dtype, seed=2), axis=1)
    r = np.random.default_rng(6)
    sw = r.uniform(0.5, 2.0, (shape[0],) + shape[2:]).astype(dtype)
    w = r.uniform(0.5, 2.0, C).astype(dtype)
    for kw in ({}, {"sample_weight": sw}, {"weight": w, "label_smoothing": 0.2}):
        a, ga = fastce.softmax_cross_entropy(x, t, axis=1, reduction="none", return_grad=True,
                                             **kw)
        b, gb = fastce.softmax_cross_entropy(last(x), last(t), reduction="none",
                                             return_grad=True, **kw)
        close(a, b, dtype)
        close(ga, back(gb), dtype)
    # the gradient written over the logits: the tile holds the row first
    for target in (t, r.integers(0, C, sw.shape)):
        _, g = fastce.softmax_cross_entropy(x, target, axis=1, reduction="none",
                                            return_grad=True)
        xi = x.copy()
        fastce.softmax_cross_entropy(xi, target, axis=1, reduction="none", return_grad=True,
                                     grad_out=xi)
        np.testing.assert_array_equal(xi, g)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_softmax_log_softmax_logsumexp(dtype, shape):
    x = logits(shape, dtype)
    close(fastce.logsumexp(x, axis=1), fastce.logsumexp(last(x)), dtype)
    assert_close(fastce.logsumexp(x, axis=1), ref.logsumexp(x, axis=1), dtype)
    for f in (fastce.softmax, fastce.log_softmax):
        got = f(x, axis=1)
        close(got, back(f(last(x))), dtype)
        xi = x.copy()
        f(xi, axis=1, out=xi)  # in place
        np.testing.assert_array_equal(xi, got)
    assert_close(fastce.log_softmax(x, axis=1), ref.log_softmax(x, axis=1), dtype)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_probability_losses_and_metrics(dtype, shape):
    p = fastce.softmax(logits(shape, dtype), axis=1)
    q = fastce.softmax(logits(shape, dtype, seed=3), axis=1)
    t = fastce.softmax(logits(shape, dtype, seed=4), axis=1)
    sw = np.random.default_rng(7).uniform(0.5, 2.0, (shape[0],) + shape[2:]).astype(dtype)
    for kw in ({}, {"sample_weight": sw}):
        a, ga = fastce.categorical_cross_entropy(p, t, axis=1, reduction="none",
                                                 return_grad=True, **kw)
        b, gb = fastce.categorical_cross_entropy(last(p), last(t), reduction="none",
                                                 return_grad=True, **kw)
        close(a, b, dtype)
        close(ga, back(gb), dtype)
    assert_close(fastce.categorical_cross_entropy(p, t, axis=1),
                 ref.categorical_cross_entropy(p, t, axis=1), dtype)
    close(fastce.entropy(p, axis=1), fastce.entropy(last(p)), dtype)
    close(fastce.kl_divergence(p, q, axis=1), fastce.kl_divergence(last(p), last(q)), dtype)
    assert_close(fastce.entropy(p, axis=1), ref.entropy(p, axis=1), dtype)
    y = np.argmax(p, axis=1)
    y.flat[::3] = 0
    assert fastce.accuracy(p, y, axis=1) == ref.accuracy(p, y, axis=1)
    assert fastce.accuracy(p, q, axis=1) == ref.accuracy(p, q, axis=1)


@pytest.mark.parametrize("C", [21, 150])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_tiles_bitwise_same_for_any_thread_count(dtype, C):
    """Above the serial limit (2^17 work units), blocks cut the runs of
    samples at places that depend only on the shape (at least 1024 samples
    a block for the planes kernels, C = 150)."""
    x = logits((4, C, 47, 53), dtype)  # 2491 samples a leading index
    y = np.random.default_rng(5).integers(0, C, (4, 47, 53))
    one = fastce.softmax_cross_entropy(x, y, axis=1, return_grad=True, n_threads=1)
    for n in (2, 3):
        other = fastce.softmax_cross_entropy(x, y, axis=1, return_grad=True, n_threads=n)
        assert one[0] == other[0]
        np.testing.assert_array_equal(one[1], other[1])
    ls = fastce.log_softmax(x, axis=1, n_threads=1)
    np.testing.assert_array_equal(ls, fastce.log_softmax(x, axis=1, n_threads=2))


@pytest.mark.parametrize("C", [7, 150])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_side_by_side_kernels_resume_after_special_samples(dtype, C):
    """A sample the row-parallel kernels leave to the one-by-one path (a NaN,
    a +inf, every class masked), here in the middle and at the end of runs
    of samples side by side: it is taken there, and the kernel resumes after
    it."""
    shape = (2, C, 5, 41)  # runs of 205 samples
    x = logits(shape, dtype)
    x[0, 3, 1, 7] = np.nan
    x[0, :, 2, 30] = -np.inf
    x[1, 2, 0, 17] = np.inf
    x[1, :, 4, 40] = -np.inf
    y = np.random.default_rng(8).integers(0, C, (2, 5, 41))
    y[1, 0, 17] = 2  # the +inf class is the target: loss 0
    a, ga = fastce.softmax_cross_entropy(x, y, axis=1, reduction="none", return_grad=True)
    b, gb = fastce.softmax_cross_entropy(last(x), y, reduction="none", return_grad=True)
    close(a, b, dtype)
    close(ga, back(gb), dtype)
    assert np.isnan(a[0, 1, 7]) and a[1, 0, 17] == 0 and a[0, 2, 30] == np.inf
    close(fastce.logsumexp(x, axis=1), fastce.logsumexp(last(x)), dtype)
    for f in (fastce.softmax, fastce.log_softmax):
        close(f(x, axis=1), back(f(last(x))), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_side_by_side_max_far_above_the_first_chunks(dtype):
    """The planes kernels read 16 classes at a time; the double ones take
    every term against the max of a sample's first chunk, and leave a
    sample whose max is more than 512 above it to the one-by-one path:
    here a max 1000 above (left), one 400 above (kept: terms up to e^400),
    and a max in the last chunk of a confident sample."""
    shape = (2, 150, 5, 41)
    x = logits(shape, dtype)
    x[0, 100, 3, 5] = 1000.0
    x[1, 140, 2, 2] = 400.0
    x[1, 149, 4, 9] = 60.0
    y = np.random.default_rng(9).integers(0, 150, (2, 5, 41))
    y[1, 4, 9] = 149
    a, ga = fastce.softmax_cross_entropy(x, y, axis=1, reduction="none", return_grad=True)
    b, gb = fastce.softmax_cross_entropy(last(x), y, reduction="none", return_grad=True)
    close(a, b, dtype)
    close(ga, back(gb), dtype)
    assert_close(a, ref.softmax_cross_entropy(x, y, axis=1, reduction="none"), dtype)
    assert 0 < a[1, 4, 9] < 1e-20
    close(fastce.logsumexp(x, axis=1), fastce.logsumexp(last(x)), dtype)
    for f in (fastce.softmax, fastce.log_softmax):
        close(f(x, axis=1), back(f(last(x))), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_side_by_side_logsumexp_of_log_probabilities(dtype):
    """logsumexp of log-probabilities is near 0, where max + log1p(rest)
    cancels: the row kernels redo those samples in extra precision, reading
    them where they are (side by side, classes n1 apart)."""
    lp = fastce.log_softmax(logits((2, 12, 6, 11), dtype), axis=1)
    got = fastce.logsumexp(lp, axis=1)
    close(got, fastce.logsumexp(last(lp)), dtype)
    assert_close(got, ref.logsumexp(lp, axis=1), dtype)
    assert np.max(np.abs(got[np.isfinite(got)])) < 8 * np.finfo(dtype).eps


@pytest.mark.parametrize("C", [3, 21, 150])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_side_by_side_argmax_is_numpys(dtype, C):
    """accuracy of samples side by side takes their argmax in one pass over
    the class planes (argmax_planes in vec.h): numpy.argmax's answer, the
    first of tied maxima and the first NaN, also when a NaN comes after the
    maximum or in class 0; 0 for a sample of only -inf."""
    r = np.random.default_rng(9)
    x = r.integers(-3, 3, (2, C, 5, 41)).astype(dtype)  # many ties
    x[0, :, 1, :] = -np.inf
    x[1, C - 1, 2, ::3] = np.nan
    x[1, 0, 3, ::4] = np.nan
    x[0, C // 2, 4, ::5] = np.nan
    y = np.argmax(x, axis=1)
    assert fastce.accuracy(x, y, axis=1) == 1.0
    assert fastce.accuracy(x, (y + 1) % C, axis=1) == 0.0
    t = r.integers(-3, 3, x.shape).astype(dtype)
    assert fastce.accuracy(x, t, axis=1) == ref.accuracy(x, t, axis=1)
    assert fastce.accuracy(x, t, axis=1) == np.mean(np.argmax(x, axis=1) == np.argmax(t, axis=1))


@pytest.mark.parametrize("C", [21, 40, 150])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_results_do_not_depend_on_the_arrays_address(dtype, C):
    """The planes kernels start each call with a partial group up to a
    64-byte boundary of the logits, so which samples share a vector depends
    on the array's address; the per-sample results and the reduced loss
    must not (the sum is taken in sample order). Runs of 16 to 19 samples
    are shorter than or close to that first group."""
    r = np.random.default_rng(11)
    for shape in ((2, C, 4, 4), (3, C, 19, 1), (2, C, 9, 37)):
        values = logits(shape, dtype, seed=int(r.integers(1000)))
        y = r.integers(0, C, (shape[0],) + shape[2:])
        results = []
        for offset in range(0, 64, np.dtype(dtype).itemsize * 2):
            buf = np.empty(values.size + 64, dtype)
            k = (-buf.ctypes.data % 64 + offset) // np.dtype(dtype).itemsize
            x = buf[k:k + values.size].reshape(shape)
            x[...] = values
            assert x.ctypes.data % 64 == offset
            loss, g = fastce.softmax_cross_entropy(x, y, axis=1, return_grad=True)
            per = fastce.softmax_cross_entropy(x, y, axis=1, reduction="none")
            results.append((loss, g, per, fastce.logsumexp(x, axis=1), fastce.log_softmax(x, axis=1)))
        for other in results[1:]:
            assert other[0] == results[0][0]
            for a, b in zip(other[1:], results[0][1:]):
                np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_mean_does_not_depend_on_the_arrays_address(dtype):
    """A review's case: with the losses summed in vector lanes, the same
    values 16 bytes further on gave a float64 mean one ulp off in about 4%
    of random (1, 40, 64) draws."""
    r = np.random.default_rng(2)
    for _ in range(100):
        values = (r.standard_normal((1, 40, 64)) * r.choice([1, 5, 20])).astype(dtype)
        y = r.integers(0, 40, (1, 64))
        buf = np.empty(values.size + 16, dtype)
        means = []
        for k in (0, 16 // np.dtype(dtype).itemsize):
            x = buf[k:k + values.size].reshape(values.shape)
            x[...] = values
            means.append(fastce.softmax_cross_entropy(x, y, axis=1))
        assert means[0] == means[1]
