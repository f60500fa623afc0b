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


#: Shapes for ``out=``: every kernel (few-class rows of 1-32 classes, a
#: longer row, a class axis first and in the middle) and tail lengths.
OUT_SHAPES = [
    pytest.param((37, 1), -1, id="C1"),
    pytest.param((41, 10), -1, id="C10"),
    pytest.param((19, 32), -1, id="C32"),
    pytest.param((5, 1003), -1, id="C1003"),
    pytest.param((3, 4099), -1, id="C4099"),
    pytest.param((7, 5), 0, id="CN-first"),
    pytest.param((3, 4, 2, 3), 1, id="NCdd-middle"),
    # above the serial cutoff: rows split between threads
    pytest.param((3000, 70), -1, id="C70-threaded"),
    pytest.param((300, 1003), -1, id="C1003-threaded"),
]


@pytest.mark.parametrize("name", ["log_softmax", "softmax"])
@pytest.mark.parametrize("shape, axis", OUT_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("where", ["fresh", "in place", "overlapping"])
def test_out_gets_the_same_bits(name, dtype, shape, axis, where):
    """``out=`` returns the very array it was given, holding what the call
    returns without it, bit for bit: a separate buffer, x itself (the
    kernels write a row over itself), or a view overlapping x elsewhere."""
    fn = getattr(fastce, name)
    x = logits(shape, dtype, scale=8.0)
    want = fn(x, axis=axis)
    if where == "fresh":
        out = np.full(shape, np.nan, dtype)
    elif where == "in place":
        out = x = x.copy()
    else:  # out starts one element into the memory x starts at
        base = np.zeros(x.size + 1, dtype)
        base[:-1] = x.reshape(-1)
        x, out = base[:-1].reshape(shape), base[1:].reshape(shape)
    got = fn(x, axis=axis, out=out)
    assert got is out
    np.testing.assert_array_equal(got, want)
    assert_close(got, getattr(ref, name)(logits(shape, dtype, scale=8.0), axis=axis), dtype)


@pytest.mark.parametrize("special", ["-inf", "lowest", "-1e30", "nan"])
@pytest.mark.parametrize("shift", [0.0, 100.0, "huge"])
@pytest.mark.parametrize("C", [33, 1003])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_in_place_rows_with_masked_entries(dtype, C, shift, special):
    """In place, rows holding a masked entry (-inf, the lowest float, -1e30)
    or a NaN get the bits of the call with a separate output: softmax's
    ``out=x`` and softmax_cross_entropy's ``grad_out=x``. (The AVX-512
    long-row pass, whose first try fails on such rows, had rerun over the
    terms it had just stored in x.)"""
    value = {"-inf": -np.inf, "lowest": np.finfo(dtype).min, "-1e30": -1e30, "nan": np.nan}
    if shift == "huge":  # |max| beyond the tame pass's reach: guarded at once
        shift = 3e6 if dtype == np.float32 else 2e12
    x = logits((9, C), dtype, scale=8.0) + dtype(shift)
    x[::2, C // 3] = value[special]
    y = np.arange(9) % C
    want = fastce.softmax(x)
    z = x.copy()
    np.testing.assert_array_equal(fastce.softmax(z, out=z), want)
    if special != "nan":
        assert_close(want, ref.softmax(x), dtype)
    want_loss, want_grad = fastce.softmax_cross_entropy(x, y, reduction="none", return_grad=True)
    z = x.copy()
    loss, grad = fastce.softmax_cross_entropy(z, y, reduction="none", return_grad=True, grad_out=z)
    np.testing.assert_array_equal(loss, want_loss)
    np.testing.assert_array_equal(grad, want_grad)


def test_out_float16_and_n_threads():
    x = logits((300, 70), np.float16)
    out = np.empty_like(x)
    got = fastce.log_softmax(x, out=out, n_threads=2)
    assert got is out and out.dtype == np.float16
    np.testing.assert_array_equal(out, fastce.log_softmax(x))


@pytest.mark.parametrize("name", ["log_softmax", "softmax"])
@pytest.mark.parametrize("bad, error, words", [
    ([[0.0, 0.0]], TypeError, "out must be a NumPy array; got list"),
    (np.zeros((2, 3)), ValueError, "out must have shape (2, 2)"),
    (np.zeros((2, 2), np.float32), TypeError, "out must have dtype float64"),
    (np.zeros((2, 4))[:, ::2], ValueError, "out must be C-contiguous"),
    ("readonly", ValueError, "out must be writeable"),
])
def test_bad_out_is_refused_untouched(name, bad, error, words):
    x = np.array([[1.0, 2.0], [3.0, 5.0]])
    if isinstance(bad, str):
        bad = np.full((2, 2), 7.0)
        bad.flags.writeable = False
    before = np.array(bad, copy=True)
    with pytest.raises(error) as e:
        getattr(fastce, name)(x, out=bad)
    assert words in str(e.value)
    np.testing.assert_array_equal(np.asarray(bad), before)


def _exact_lse(row):
    from mpmath import mp, mpf, exp, log
    with mp.workprec(400):
        return log(sum(exp(mpf(float(v))) for v in row if v != -np.inf))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_logsumexp_of_log_probabilities(dtype):
    """Rows of log-probabilities cancel (lse ~ 0 with every entry negative):
    each is recomputed, in double-double where double does not settle it
    (every float64 row, most float32 ones; AVX2 and AVX-512: four or eight
    lanes at a time, lse_dd_rest), every row within 2 ulp of the exact value or, where that
    value is the rounding residue of the entries (|lse| < 2^-48 |max|), within
    2^-100 |max|. Widths around the eight-lane steps, a tie at the max,
    entries 800 (left out) and 740 below it and -inf (masked)."""
    rng = np.random.default_rng(11)
    rows = []
    for C in (2, 7, 8, 9, 17, 40, 1000):
        for scale in (0.5, 3.0):
            rows.append(ref.log_softmax(scale * rng.standard_normal(C)).astype(dtype))
    tie = rng.standard_normal(12)
    tie[[2, 9]] = tie.max() + 1
    far = rng.standard_normal(20)
    far[5], far[6] = -800.0, -740.0  # left out; a subnormal term (float64)
    masked = rng.standard_normal(24)
    masked[[0, 13]] = -np.inf
    for r in (tie, far, masked):
        rows.append(ref.log_softmax(r).astype(dtype))
    for row in rows:
        got = float(fastce.logsumexp(row))
        exact = _exact_lse(row)
        m = float(row.max())
        allowed = max(2 * float(np.spacing(dtype(abs(float(exact))))), 2.0 ** -100 * abs(m))
        assert abs(got - exact) <= allowed, (len(row), got, float(exact), allowed)
