"""The row-parallel kernel for few classes (C <= 32, class axis last, many
rows; contiguous rows up to 128 classes) against fastce.reference, with every option, and with rows the generic
path must take (masked, +inf, NaN) scattered among ordinary ones. Class
counts that are not a multiple of the group's block (8 floats, 4 doubles in
AVX2; 16 and 8 in AVX-512)
take a partial block, and the last group of rows may be partial too."""
import numpy as np
import pytest

import fastce
from fastce import reference as ref

from helpers import DTYPES, assert_close, labels_for, logits, soft_target

N = 203  # whole groups (8 or 16 rows) plus a partial one
#: Every kind of class block: whole ones (8, 16, 24, 32), a partial one of
#: each size, C below a block; 33 to 128, which the kernels take as
#: contiguous rows only (one copy for any C in AVX-512), and 129 (the
#: generic path).
CLASSES = [1, 2, 3, 5, 7, 8, 10, 12, 16, 20, 24, 31, 32, 33, 40, 47, 64, 65, 100, 128, 129]


@pytest.mark.parametrize("C", CLASSES)
@pytest.mark.parametrize("option", ["plain", "all", "smoothing-only"])
@pytest.mark.parametrize("reduction", ["mean", "none"])
@pytest.mark.parametrize("target", ["sparse", "dense"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_matches_reference(dtype, target, reduction, option, C):
    """Class indices (some ignored with every option), or dense targets
    with exact zeros, a third of whose classes are masked (-inf) logits
    (dense_ce_rows)."""
    x = logits((N, C), dtype, seed=C)
    if target == "sparse":
        y = labels_for((N, C), 1, ignore_frac=0.2 if option == "all" else 0.0)
    else:
        y = dense_targets((N, C), dtype)
        x[y == 0] = np.where(np.arange(np.sum(y == 0)) % 3 == 0, -np.inf, x[y == 0])
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


@pytest.mark.parametrize("C", [3, 10, 32])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_smoothing_too_small_for_a_class_keeps_masked_classes_out(dtype, C):
    """label_smoothing = 5e-324 gives e/C = 0: no smoothing term, so a
    masked class adds nothing (the float row kernels made it 0 * inf = NaN
    for every row)."""
    x = logits((40, C), dtype)
    x[:, 1] = -np.inf
    y = labels_for((40, C), 1)
    y[y == 1] = 0
    kw = dict(label_smoothing=5e-324, reduction="none", return_grad=True)
    loss, grad = fastce.softmax_cross_entropy(x, y, **kw)
    want_loss, want_grad = ref.softmax_cross_entropy(x, y, **kw)
    assert np.all(np.isfinite(loss))
    assert_close(loss, want_loss, dtype)
    assert_close(grad, want_grad, dtype)


@pytest.mark.parametrize("C", [5, 10, 16])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_edge_rows_among_ordinary_ones(dtype, C):
    x = logits((64, C), dtype)
    y = labels_for((64, C), 1)
    x[3] = -np.inf                      # every class masked: loss inf, grad 0
    x[12, 4] = np.inf                   # a dominant +inf logit
    y[12] = 4
    x[21, C - 3] = np.nan               # NaN in a used row
    x[30] = np.nan                      # an ignored row full of NaN
    y[30] = -100
    x[45, [1, 2]] = 50.0                # ties at the max
    loss, grad = fastce.softmax_cross_entropy(x, y, reduction="none", return_grad=True)
    assert loss[3] == np.inf and np.all(grad[3] == 0)
    assert loss[12] == 0 and grad[12, 4] == 0 and np.all(grad[12][np.arange(C) != 4] == 0)
    assert np.isnan(loss[21])
    assert loss[30] == 0 and np.all(grad[30] == 0)
    ordinary = np.setdiff1d(np.arange(64), [3, 12, 21, 30])
    want_loss, want_grad = ref.softmax_cross_entropy(x[ordinary], y[ordinary],
                                                     reduction="none", return_grad=True)
    assert_close(loss[ordinary], want_loss, dtype)
    assert_close(grad[ordinary], want_grad, dtype)


@pytest.mark.parametrize("C", [3, 5, 10, 16, 31])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_in_place_gradient(dtype, C):
    x = logits((43, C), dtype)
    y = labels_for((43, C), 1, ignore_frac=0.2)
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
@pytest.mark.parametrize("C", CLASSES)
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


@pytest.mark.parametrize("C", [3, 10])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_every_row_count(dtype, C):
    """Whole and partial last groups: each row as the reference has it."""
    for n in range(1, 26):
        x = logits((n, C), dtype, seed=n)
        y = labels_for((n, C), 1, seed=n, ignore_frac=0.2)
        loss, grad = fastce.softmax_cross_entropy(x, y, reduction="none", return_grad=True)
        want_loss, want_grad = ref.softmax_cross_entropy(x, y, reduction="none", return_grad=True)
        assert_close(loss, want_loss, dtype)
        assert_close(grad, want_grad, dtype)
        for name in ("logsumexp", "log_softmax", "softmax"):
            assert_close(getattr(fastce, name)(x), getattr(ref, name)(x), dtype)


@pytest.mark.parametrize("view", ["columns", "rows", "reversed"])
@pytest.mark.parametrize("C", [5, 10, 12])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_sliced_inputs(dtype, C, view):
    """Views of a larger array give what their contiguous copy gives."""
    big = logits((2 * N + 1, C + 3), dtype, seed=C)
    x = {"columns": big[:N, 2:C + 2], "rows": big[1::2, :C], "reversed": big[N - 1::-1, C - 1::-1]}[view]
    y = labels_for(x.shape, 1, ignore_frac=0.1)
    dense = np.ascontiguousarray(x)
    before = big.copy()
    loss, grad = fastce.softmax_cross_entropy(x, y, reduction="none", return_grad=True)
    want_loss, want_grad = fastce.softmax_cross_entropy(dense, y, reduction="none",
                                                        return_grad=True)
    np.testing.assert_array_equal(loss, want_loss)
    np.testing.assert_array_equal(grad, want_grad)
    for name in ("logsumexp", "log_softmax", "softmax"):
        np.testing.assert_array_equal(getattr(fastce, name)(x), getattr(fastce, name)(dense))
    np.testing.assert_array_equal(big, before)  # inputs are never modified


@pytest.mark.parametrize("C", [1, 3, 5, 10, 16, 31])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_gradient_stays_in_its_rows(dtype, C):
    """grad_out inside a larger buffer: the rows around it keep their values."""
    n = 200  # whole groups only, so the last one ends at the buffer's last row
    x = logits((n, C), dtype, seed=C)
    y = labels_for((n, C), 1)
    buf = np.full((n + 2, C), 7.0, dtype)
    _, grad = fastce.softmax_cross_entropy(x, y, return_grad=True, grad_out=buf[1:-1])
    assert np.all(buf[0] == 7) and np.all(buf[-1] == 7)
    assert_close(grad, ref.softmax_cross_entropy(x, y, return_grad=True)[1], dtype)


@pytest.mark.parametrize("C", [5, 10, 16])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_wide_rows_near_underflow(dtype, C):
    """Rows whose smallest logit lies about where exp(x - max) underflows
    (87 below the max in float32, 708 in float64) among ordinary rows."""
    reach = 87.0 if dtype == np.float32 else 708.0
    r = np.random.default_rng(C)
    x = logits((N, C), dtype, seed=C)
    x[::3, 0] = x[::3].max(axis=1) - reach + r.uniform(-3, 3, x[::3].shape[0])
    x[1::5, -1] = 40.0 + r.uniform(-1, 1, x[1::5].shape[0])
    y = labels_for((N, C), 1)
    y[::6] = 0  # some targets on the far logit
    loss, grad = fastce.softmax_cross_entropy(x, y, reduction="none", return_grad=True)
    want_loss, want_grad = ref.softmax_cross_entropy(x, y, reduction="none", return_grad=True)
    assert_close(loss, want_loss, dtype)
    assert_close(grad, want_grad, dtype)
    for name in ("logsumexp", "log_softmax", "softmax"):
        assert_close(getattr(fastce, name)(x), getattr(ref, name)(x), dtype)


# ---- groups of 16 float rows (8 double rows) in AVX-512, and partial ones ----
#
# The AVX-512 kernels take groups of 16 float / 8 double rows; the last group
# of a call may be partial (masked), and a group holding a row the generic
# path must take (a max that is not finite, a NaN) still does the rows
# before that row. Row counts around those sizes, every class count (C <= 8
# floats and C <= 5 doubles go by permutes, wider rows by transposed blocks),
# and special rows at every position of a group.

ROW_COUNTS = [1, 5, 8, 9, 15, 16, 17, 24, 33, 47]


@pytest.mark.parametrize("C", [*range(1, 34), 41, 48, 57, 64, 65, 99, 127, 128, 129])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_every_class_count_and_partial_group(dtype, C):
    r = np.random.default_rng(C)
    w = r.uniform(0.5, 2, C)
    for n in ROW_COUNTS:
        x = logits((n, C), dtype, seed=n + 100 * C)
        y = labels_for((n, C), 1, seed=n, ignore_frac=0.25)
        for kw in ({}, {"weight": w, "sample_weight": r.uniform(0.5, 2, n), "label_smoothing": 0.1}):
            loss, grad = fastce.softmax_cross_entropy(x, y, reduction="none", return_grad=True, **kw)
            want_loss, want_grad = ref.softmax_cross_entropy(x, y, reduction="none",
                                                             return_grad=True, **kw)
            assert_close(loss, want_loss, dtype)
            assert_close(grad, want_grad, dtype)
            total = fastce.softmax_cross_entropy(x, y, reduction="sum", **kw)
            assert_close(total, ref.softmax_cross_entropy(x, y, reduction="sum", **kw), dtype)
        for name in ("logsumexp", "log_softmax", "softmax"):
            assert_close(getattr(fastce, name)(x), getattr(ref, name)(x), dtype)


#: Rows the generic path takes (masked, +inf, NaN), and rows the kernel keeps
#: that leave its fast path (a -inf entry, a logit far below the max, ties).
SPECIAL = ["masked", "plus-inf", "nan", "nan-ignored", "minus-inf-entry", "far", "ties"]
POSITIONS = [0, 1, 5, 7, 8, 9, 14, 15, 16, 17, 23, 31, 32, 38]


def _special_row(x, y, p, kind):
    C = x.shape[1]
    y[p] = max(y[p], 0)  # a row in use (labels_for may have ignored it)
    if kind == "masked":
        x[p] = -np.inf
    elif kind == "plus-inf":
        x[p, C // 2] = np.inf
        y[p] = C // 2
    elif kind == "nan":
        x[p, C - 1] = np.nan
    elif kind == "nan-ignored":
        x[p] = np.nan
        y[p] = -100
    elif kind == "minus-inf-entry":
        x[p, 0] = -np.inf
        y[p] = C - 1
    elif kind == "far":
        x[p, 0] = x[p].max() - (100.0 if x.dtype == np.float32 else 740.0)
    elif kind == "ties":
        x[p, :] = 0.0
        x[p, : (C + 1) // 2] = 7.0


@pytest.mark.parametrize("kind", SPECIAL)
@pytest.mark.parametrize("C", [2, 3, 8, 10, 20, 45, 64, 117])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_special_row_at_every_position(dtype, C, kind):
    n = 40
    r = np.random.default_rng(C)
    opts = {"weight": r.uniform(0.5, 2, C), "sample_weight": r.uniform(0.5, 2, n),
            "label_smoothing": 0.1}
    for p in POSITIONS:
        x = logits((n, C), dtype, seed=p)
        y = labels_for((n, C), 1, seed=p, ignore_frac=0.1)
        _special_row(x, y, p, kind)
        generic = kind in ("masked", "plus-inf", "nan", "nan-ignored")
        keep = np.setdiff1d(np.arange(n), [p]) if generic else np.arange(n)
        before = x.copy()
        loss, grad = fastce.softmax_cross_entropy(x, y, reduction="none", return_grad=True)
        want_loss, want_grad = ref.softmax_cross_entropy(x[keep], y[keep], reduction="none",
                                                         return_grad=True)
        assert_close(loss[keep], want_loss, dtype)
        assert_close(grad[keep], want_grad, dtype)
        for name in ("logsumexp", "log_softmax", "softmax"):
            assert_close(getattr(fastce, name)(x)[keep], getattr(ref, name)(x[keep]), dtype)
        # with every option: the same rows as the reference, and the special
        # row as the generic path gives it alone
        loss_o, grad_o = fastce.softmax_cross_entropy(x, y, reduction="none", return_grad=True,
                                                      **opts)
        kw = dict(opts, sample_weight=opts["sample_weight"][keep])
        want_loss, want_grad = ref.softmax_cross_entropy(x[keep], y[keep], reduction="none",
                                                         return_grad=True, **kw)
        assert_close(loss_o[keep], want_loss, dtype)
        assert_close(grad_o[keep], want_grad, dtype)
        if generic:  # (a row the kernel keeps is compared with the reference above)
            alone = dict(opts, sample_weight=opts["sample_weight"][p:p + 1])
            loss_1, grad_1 = fastce.softmax_cross_entropy(x[p:p + 1], y[p:p + 1], reduction="none",
                                                          return_grad=True, **alone)
            np.testing.assert_array_equal(loss_o[p:p + 1], loss_1)
            np.testing.assert_array_equal(grad_o[p:p + 1], grad_1)
        np.testing.assert_array_equal(x, before)
        if kind == "masked":
            assert loss[p] == np.inf and np.all(grad[p] == 0)
            assert fastce.logsumexp(x)[p] == -np.inf and np.all(fastce.softmax(x)[p] == 0)
        elif kind == "plus-inf":
            assert loss[p] == 0 and np.all(grad[p] == 0)
            assert fastce.logsumexp(x)[p] == np.inf and fastce.softmax(x)[p, C // 2] == 1
        elif kind == "nan":
            assert np.isnan(loss[p]) and np.isnan(fastce.logsumexp(x)[p])
            assert np.isnan(fastce.softmax(x)[p]).all()
        elif kind == "nan-ignored":
            assert loss[p] == 0 and np.all(grad[p] == 0)


def _exact_logsumexp(row):
    from mpmath import mp, mpf, exp, log
    with mp.workdps(40):
        return float(log(sum(exp(mpf(float(v))) for v in row)))


@pytest.mark.parametrize("C", [2, 3, 10, 20])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_cancelling_logsumexp_at_every_position(dtype, C):
    """Rows whose logsumexp is near 0 with a negative max (max + log1p(rest)
    cancels) are recomputed in extra precision (fastce_lse_cancelled),
    wherever they sit in a group; the rows around them stay the kernel's.
    Within 2 ulp of the exact value (a kernel that kept them would be off by
    about |max|/|lse| ulp)."""
    n = 40
    for p in POSITIONS:
        x = logits((n, C), np.float64, seed=p)
        z = x[p] - ref.logsumexp(x[p])
        x[p] = z + 1e-6  # lse(x[p]) ~ 1e-6, every entry negative
        x[(p + 3) % n] = x[(p + 3) % n] - ref.logsumexp(x[(p + 3) % n]) + 3e-4
        x = x.astype(dtype)
        got = fastce.logsumexp(x)
        for i in range(n):
            exact = _exact_logsumexp(x[i])
            err = abs(float(got[i]) - exact) / np.spacing(dtype(abs(exact)))
            assert err <= 2.0, (p, i, float(got[i]), exact, err)


# ------------------------------------------------------------ dense targets
# dense_ce_rows (float32: AVX-512 groups of 16, AVX2 groups of 8, up to 128
# classes in contiguous rows; float64: AVX-512 groups of 8 up to 32 classes,
# AVX2 the generic path).

def dense_targets(shape, dtype, seed=2):
    """Soft targets with exact zeros, every class of a few rows zero."""
    t = soft_target(shape, 1, dtype, seed=seed)
    t[5::37] = 0.0
    return t


@pytest.mark.parametrize("C", [5, 10, 16, 32, 70])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_dense_edge_rows_among_ordinary_ones(dtype, C):
    """Rows the generic path must take (or whose special values the group
    kernel must give as it would) inside groups of ordinary ones."""
    x = logits((64, C), dtype)
    t = dense_targets((64, C), dtype)
    t[2] = 0.0                          # no target mass: loss 0, grad 0
    x[2, 0] = np.nan                    # ... whatever the logits hold
    x[3] = -np.inf                      # every class masked: loss inf, grad 0
    x[12, 4] = np.inf                   # a dominant +inf logit
    t[21, 1] = np.nan                   # a NaN target
    t[26, 0] = np.inf                   # an infinite target
    x[33, 0], t[33, 0] = -np.inf, 0.5   # a masked class with mass: loss inf
    x[34, 1], t[34, 1] = -np.inf, 0.0   # a masked class without: finite
    x[45, [1, 2]] = 50.0                # ties at the max
    x[50] = x[50] * 1e-3 + 1e3          # near-equal logits far from 0
    t[55] = 0.0                         # signs that cancel: B = 0.365, not 0
    t[55, :4] = [-1e30, 0.35, 0.015, 1e30]
    t[57, 0] = -1e-45                   # a tiny negative target
    loss, grad = fastce.softmax_cross_entropy(x, t, reduction="none", return_grad=True)
    assert loss[2] == 0 and np.all(grad[2] == 0)
    assert loss[3] == np.inf and np.all(grad[3] == 0)
    assert np.isnan(loss[21]) and loss[26] == np.inf
    assert loss[33] == np.inf and np.all(np.isfinite(grad[33]))
    assert abs(loss[55]) > 1e29         # (the row kernels' plain sum made it 0)
    want_loss, want_grad = ref.softmax_cross_entropy(x, t, reduction="none", return_grad=True)
    assert_close(loss, want_loss, dtype)
    # (row 55: the reference's own plain sum of the targets cancels to 0,
    # and it returns a zero gradient)
    ordinary = np.setdiff1d(np.arange(64), [3, 12, 21, 26, 55])
    assert_close(grad[ordinary], want_grad[ordinary], dtype)
    # the mean: NaN from row 21; without it and row 26, inf (rows 3 and 33)
    keep = np.setdiff1d(np.arange(64), [21, 26])
    assert np.isnan(fastce.softmax_cross_entropy(x, t))
    assert fastce.softmax_cross_entropy(x[keep], t[keep]) == np.inf


@pytest.mark.parametrize("C", [3, 10, 16, 31, 90])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_dense_gradient_over_its_inputs(dtype, C):
    """grad_out may be the logits (each group reads its rows before it
    writes them) or the targets (which the Python layer copies first)."""
    x = logits((43, C), dtype)
    t = dense_targets((43, C), dtype)
    kw = dict(label_smoothing=0.1, sample_weight=np.linspace(0.5, 2, 43).astype(dtype))
    want_loss, want_grad = fastce.softmax_cross_entropy(x, t, return_grad=True, **kw)
    for over in ("logits", "targets"):
        xi, ti = x.copy(), t.copy()
        out = xi if over == "logits" else ti
        loss, grad = fastce.softmax_cross_entropy(xi, ti, return_grad=True, grad_out=out, **kw)
        assert grad is out and loss == want_loss
        np.testing.assert_array_equal(out, want_grad)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_dense_full_smoothing_with_a_masked_class(dtype):
    """label_smoothing = 1 leaves no target term, so a masked class with
    target mass gives inf (the smoothing term), as in fastce.reference,
    wherever the row sits: the generic path made it 0 * inf = NaN, and a
    NaN row (4) sends the rows after it there."""
    x = np.zeros((16, 3), dtype)
    t = np.full((16, 3), 1 / 3, dtype)
    x[:, 0] = -np.inf
    x[4, 1] = np.nan
    loss = fastce.softmax_cross_entropy(x, t, label_smoothing=1.0, reduction="none")
    want = ref.softmax_cross_entropy(x, t, label_smoothing=1.0, reduction="none")
    np.testing.assert_array_equal(loss, want)
    assert np.isnan(loss[4]) and np.all(np.delete(loss, 4) == np.inf)
