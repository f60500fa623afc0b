"""softmax_cross_entropy (and its alias cross_entropy) against
fastce.reference: sparse and dense targets, every option alone and combined,
every reduction, three class axes, four memory layouts, loss and gradient."""
import numpy as np
import pytest

import fastce
from fastce import reference as ref

from helpers import (AXES, DTYPES, LAYOUTS, assert_close, central_difference,
                     in_layout, labels_for, logits, soft_target)

REDUCTIONS = ["mean", "sum", "none"]

#: keyword options; "ignore" marks ~30% of labels with ignore_index.
OPTIONS = {
    "plain": {},
    "weight": {"weight": True},
    "ignore": {"ignore": True},
    "smoothing": {"label_smoothing": 0.2},
    "sample_weight": {"sample_weight": True},
    "all": {"weight": True, "ignore": True, "label_smoothing": 0.1, "sample_weight": True},
}


def make_case(shape, axis, dtype, option, dense=False, seed=0):
    """(logits, target, kwargs) for one option set; weights drawn in (0.5, 2)."""
    opts = dict(OPTIONS[option])
    x = logits(shape, dtype, seed)
    ax = axis % len(shape)
    C = shape[ax]
    sample_shape = shape[:ax] + shape[ax + 1:]
    r = np.random.default_rng(seed + 10)
    kwargs = {"axis": axis}
    if opts.pop("weight", False):
        kwargs["weight"] = r.uniform(0.5, 2.0, C)
    if opts.pop("sample_weight", False):
        kwargs["sample_weight"] = r.uniform(0.5, 2.0, sample_shape)
    ignore = opts.pop("ignore", False)
    kwargs.update(opts)
    if dense:
        target = soft_target(shape, ax, dtype, seed + 1)
    else:
        target = labels_for(shape, ax, seed + 1, ignore_frac=0.3 if ignore else 0.0)
    return x, target, kwargs


#: ignore_index applies to class-index targets only.
TARGET_OPTIONS = [pytest.param(dense, option, id=f"{'dense' if dense else 'sparse'}-{option}")
                  for dense in (False, True) for option in OPTIONS
                  if not (dense and option == "ignore")]


@pytest.mark.parametrize("dense, option", TARGET_OPTIONS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape, axis", AXES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_matches_reference(dtype, shape, axis, reduction, option, dense):
    x, t, kw = make_case(shape, axis, dtype, option, dense)
    loss, grad = fastce.softmax_cross_entropy(x, t, reduction=reduction, return_grad=True, **kw)
    want_loss, want_grad = ref.softmax_cross_entropy(x, t, reduction=reduction, return_grad=True, **kw)
    assert np.asarray(loss).dtype == dtype and grad.dtype == dtype
    assert grad.shape == x.shape
    assert_close(loss, want_loss, dtype)
    assert_close(grad, want_grad, dtype)
    # The loss alone agrees with the loss computed alongside the gradient.
    only = fastce.softmax_cross_entropy(x, t, reduction=reduction, **kw)
    np.testing.assert_array_equal(only, loss)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_layouts(dtype, layout):
    x, t, kw = make_case((3, 6, 4), 1, dtype, "all")
    xl, tl = in_layout(x, layout), in_layout(t, layout)
    kw["sample_weight"] = in_layout(kw["sample_weight"], layout)
    loss, grad = fastce.softmax_cross_entropy(xl, tl, return_grad=True, **kw)
    want_loss, want_grad = ref.softmax_cross_entropy(x, t, return_grad=True, **kw)
    assert_close(loss, want_loss, dtype)
    assert_close(grad, want_grad, dtype)


@pytest.mark.parametrize("dense", [False, True], ids=["sparse", "dense"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradient_central_differences(reduction, dense):
    x, t, kw = make_case((4, 5), -1, np.float64, "all" if not dense else "smoothing", dense, seed=3)
    if dense:
        kw["weight"] = np.array([0.5, 1.0, 1.5, 2.0, 0.7])

    def total(z):
        out = fastce.softmax_cross_entropy(z, t, reduction=reduction, **kw)
        return np.sum(out)

    _, grad = fastce.softmax_cross_entropy(x, t, reduction=reduction, return_grad=True, **kw)
    np.testing.assert_allclose(grad, central_difference(total, x), rtol=1e-6, atol=1e-8)


def test_alias():
    assert fastce.cross_entropy is fastce.softmax_cross_entropy


def test_ignore_index_rows_give_zero_whatever_their_logits():
    x = logits((4, 3), np.float64)
    x[1] = [np.nan, np.inf, -np.inf]
    y = np.array([0, -100, 2, 1])
    loss, grad = fastce.softmax_cross_entropy(x, y, reduction="none", return_grad=True)
    assert loss[1] == 0 and np.all(grad[1] == 0)
    assert np.all(np.isfinite(loss))


def test_all_ignored_mean_is_nan_and_gradient_zero():
    x = logits((3, 4), np.float64)
    loss, grad = fastce.softmax_cross_entropy(x, [-100] * 3, return_grad=True)
    assert np.isnan(loss)
    assert np.all(grad == 0)
    assert fastce.softmax_cross_entropy(x, [-100] * 3, reduction="sum") == 0


def test_custom_ignore_index():
    x = logits((3, 4), np.float64)
    got = fastce.softmax_cross_entropy(x, [0, 7, 2], ignore_index=7)
    want = fastce.softmax_cross_entropy(x[[0, 2]], [0, 2])
    assert_close(got, want, np.float64, k=2)


def test_zero_target_on_masked_class_contributes_nothing():
    x = np.array([[0.0, -np.inf, 1.0]])
    t = np.array([[0.5, 0.0, 0.5]])
    loss, grad = fastce.softmax_cross_entropy(x, t, return_grad=True)
    want = 0.5 * (np.log1p(np.exp(-1.0)) + 1.0) + 0.5 * np.log1p(np.exp(-1.0))
    assert_close(loss, want, np.float64, k=4)
    assert grad[0, 1] == 0 and np.all(np.isfinite(grad))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_target_on_masked_class_is_inf(reduction):
    """An inf per-sample loss stays inf through the compensated sums."""
    loss = fastce.softmax_cross_entropy([[0.0, -np.inf], [1.0, 2.0]], [1, 0], reduction=reduction)
    assert np.ravel(loss)[0] == np.inf


def test_compensated_mean_over_many_samples():
    """A mean of 10^6 per-sample losses is within 2 ulp of the exact one."""
    x = np.zeros((1_000_000, 2))
    x[::2, 0] = 0.1
    loss = fastce.softmax_cross_entropy(x, np.zeros(1_000_000, int))
    exact = (np.log1p(np.exp(-0.1)) + np.log(2.0)) / 2  # two distinct rows, half each
    assert abs(loss - exact) <= 2 * np.spacing(exact)


def test_confident_row_keeps_its_tiny_loss():
    """True class 25 above 99 others: the loss is 99*exp(-25) ~ 1.4e-9, not 0."""
    x = np.zeros((1, 100))
    x[0, 3] = 25.0
    exact = np.log1p(99 * np.exp(-25.0))
    for dtype in DTYPES:
        got = fastce.softmax_cross_entropy(x.astype(dtype), [3])
        assert_close(got, exact, dtype, k=2)
        _, g = fastce.softmax_cross_entropy(x.astype(dtype), [3], return_grad=True)
        assert_close(g[0, 3], -99 * np.exp(-25.0) / (1 + 99 * np.exp(-25.0)), dtype, k=4)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_dense_smoothing_too_small_for_a_class_keeps_masked_classes_out(dtype):
    """label_smoothing = 5e-324 gives e/C = 0: no smoothing term at all, so a
    masked class with a zero target still contributes nothing (the vector
    sums of dense rows, ones times inf, must not make it 0 * inf = NaN)."""
    x = np.array([[0.0, -np.inf, 1.0] + [0.5] * 40] * 2, dtype)
    t = np.zeros_like(x)
    t[:, 0] = 1
    for e, finite in ((5e-324, True), (0.1, False)):
        got, g = fastce.softmax_cross_entropy(x, t, label_smoothing=e, reduction="none",
                                              return_grad=True)
        want, g_ref = ref.softmax_cross_entropy(x, t, label_smoothing=e, reduction="none",
                                                return_grad=True)
        assert np.all(np.isfinite(got)) == finite and not np.any(np.isnan(got))
        assert_close(got, want, dtype)
        if finite:
            assert_close(g, g_ref, dtype)


@pytest.mark.parametrize("C", [4, 40, 70, 200])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_dense_targets_of_both_signs(dtype, C):
    """Negative targets (no probabilities, but PyTorch takes them too) of
    mass 0.365 = -1e30 + 0.35 + 0.015 + 1e30: the loss is 0.365 lse_rel +
    0.03 at tied maxima, and -1.5e30 + ... without. The vector passes'
    plain sums cancelled to a mass of 0 (loss 0) or 0.015 (loss 0.047)
    on the generic path (AVX2 at 70 classes; a review's row at 4)."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 80
    rows = [[2.0, 2.0, 0.0, 2.0], [0.5, 1.0, -1.0, 2.0]]
    x = np.full((40, C), -np.inf, dtype)  # masked classes, zero targets: no terms
    x[:, :4] = np.tile(rows, (20, 1))
    x[::4, 4:] = 0.0  # (rows of C classes among them: the same four terms and more)
    t = np.zeros_like(x)
    t[:, :4] = np.array([-1e30, 0.35, 0.015, 1e30], dtype)
    loss = fastce.softmax_cross_entropy(x, t, reduction="none")
    for i in range(len(x)):
        xs = [mpmath.mpf(float(v)) for v in x[i] if v != -np.inf]
        lse = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in xs))
        exact = mpmath.fsum(mpmath.mpf(float(t[i, j])) * (lse - mpmath.mpf(float(x[i, j])))
                            for j in range(C) if t[i, j] != 0)
        assert abs(float(loss[i]) - float(exact)) <= 4 * np.spacing(dtype(abs(float(exact)))), (
            i, float(loss[i]), float(exact))


@pytest.mark.parametrize("C", [8, 300])
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weights"])
def test_dense_smoothing_of_logits_spread_near_the_double_range(C, weighted):
    """Float64 logits spread over +-8e307 (a review's rows): each max - x_j
    is finite, their sum is not, and the smoothing term, (e/C) times that
    sum, is finite again. The generic path's vector passes summed first
    and returned inf on AVX2 and AVX-512 (the scalar loop, which scales
    each term first, 4.376e307); a row with tied maxima, which the
    row-parallel kernels take, among them."""
    r = np.random.default_rng(5)
    x = np.clip(r.standard_normal((6, C)) * 3e307, -8e307, 8e307)
    x[1, :2] = x[1].max()  # tied maxima: rest >= 1
    t = r.dirichlet(np.ones(C), 6)
    kw = {"label_smoothing": 0.1}
    if weighted:
        kw["weight"] = np.linspace(0.5, 1.5, C)
    loss = fastce.softmax_cross_entropy(x, t, reduction="none", **kw)
    with np.errstate(over="ignore"):  # (the reference's own sums, on the way)
        want = ref.softmax_cross_entropy(x, t, reduction="none", **kw)
    assert np.all(np.isfinite(want))
    assert_close(loss, want, np.float64)


def _on_scalar_path(fn):
    """fn() computed by the portable scalar kernels, the behaviour the vector
    paths match."""
    saved = fastce.show_config(print_out=False)["isa"]
    fastce.select_isa("scalar")
    try:
        return fn()
    finally:
        fastce.select_isa(saved)


@pytest.mark.parametrize("C", [3, 200])
@pytest.mark.parametrize("case", ["infinite weight", "weights summing past the range"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_dense_class_weights_infinite_or_summing_past_the_range(dtype, case, C):
    """A review's rows. The generic path's vector passes sum w_j t_j and w_j
    over the classes before scaling by keep and e/C; the loop takes each
    wt_j = w_j (keep t_j + e/C) first. With class weights in the passes
    (715bed0), an infinite weight on a zero target made 0 * inf = NaN
    there (loss and every gradient entry NaN, the loop's loss inf), and
    float64 weights of 1e308, whose sum overflows, made the loss and the
    gradient inf where the loop's are finite (1.1e305)."""
    if case == "weights summing past the range" and dtype == np.float32:
        pytest.skip("float32 weights sum in double without overflow")
    x = np.tile(np.linspace(0.0, -1.0, C).astype(dtype), (3, 1))
    t = np.zeros((3, C), dtype)
    t[:, C - 1] = 1.0
    w = np.ones(C, dtype)
    if case == "infinite weight":
        w[0] = np.inf
    else:
        x[:, 0] = 0.0
        x[:, 1:] = -40.0
        x[:, 1:3] = -1e-3
        t[:, :] = 0.0
        t[:, 0] = 1.0
        w[1:3] = 1e308

    def call():
        return fastce.softmax_cross_entropy(x, t, weight=w, label_smoothing=0.1,
                                            reduction="none", return_grad=True)

    with np.errstate(all="ignore"):
        loss, grad = call()
        want_loss, want_grad = _on_scalar_path(call)
    for got, want in ((loss, want_loss), (grad, want_grad)):
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_array_equal(np.isinf(got) * np.sign(got), np.isinf(want) * np.sign(want))
        fin = np.isfinite(want)
        assert_close(got[fin], want[fin], dtype)


@pytest.mark.parametrize("C", [3, 33, 129, 1000])
@pytest.mark.parametrize("axis", [-1, 0])
@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_class_weight_that_no_target_uses_is_never_read(bad, axis, C):
    # without label smoothing only the targets' weights enter the loss and
    # its gradient (PyTorch's gradient is finite here); the kernels' absent
    # smoothing terms 0 * w_j and 0 * sum(w) made every gradient entry NaN
    r = np.random.default_rng(C)
    x = r.standard_normal((20, C))
    y = r.integers(0, C - 1, 20)
    y[3] = C - 1  # class C - 1 is named by an ignored sample only
    kw = dict(ignore_index=C - 1, axis=axis)
    w = r.uniform(0.5, 2.0, C)
    w_bad = w.copy()
    w_bad[C - 1] = bad
    xx = x if axis == -1 else np.ascontiguousarray(x.T)
    # a smoothing so small that e/C rounds to 0 is none too (a test of
    # e > 0 instead of e/C > 0 read the weights)
    kw["label_smoothing"] = 5e-324 if bad != bad else 0.0
    for reduction in ("mean", "none"):
        got = fastce.softmax_cross_entropy(xx, y, weight=w_bad, reduction=reduction,
                                           return_grad=True, **kw)
        want = fastce.softmax_cross_entropy(xx, y, weight=w, reduction=reduction,
                                            return_grad=True, **kw)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        ref_grad = ref.softmax_cross_entropy(xx, y, weight=w_bad, reduction=reduction,
                                             return_grad=True, **kw)[1]
        assert_close(got[1], ref_grad, np.float64)


@pytest.mark.parametrize("C", [3, 33, 1000])
@pytest.mark.parametrize("axis", [-1, 0])
@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_class_weight_not_finite_spoils_only_its_own_rows(bad, axis, C):
    # without smoothing a sample's loss and gradient read only its target's
    # weight, so an inf or NaN weight spoils the rows whose target has it
    # (as in PyTorch); the group kernels took 0 * W and 0 * w_j for the
    # absent smoothing terms, making every gradient entry NaN
    r = np.random.default_rng(C + 1)
    x = r.standard_normal((20, C))
    y = r.integers(0, C, 20)
    y[:2] = 1
    w = r.uniform(0.5, 2.0, C)
    w[1] = bad
    xx = x if axis == -1 else np.ascontiguousarray(x.T)
    loss, grad = fastce.softmax_cross_entropy(xx, y, weight=w, axis=axis, reduction="none",
                                              return_grad=True)
    want_loss, want_grad = ref.softmax_cross_entropy(xx, y, weight=w, axis=axis,
                                                     reduction="none", return_grad=True)
    spoiled = y == 1
    rows = np.moveaxis(grad, axis, -1)
    assert not np.isfinite(loss[spoiled]).any() and not np.isfinite(rows[spoiled]).any()
    assert np.isfinite(rows[~spoiled]).all()
    assert_close(loss[~spoiled], want_loss[~spoiled], np.float64)
    assert_close(rows[~spoiled], np.moveaxis(want_grad, axis, -1)[~spoiled], np.float64)


@pytest.mark.parametrize("C", [4, 33, 200])
@pytest.mark.parametrize("axis", [-1, 0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_class_weight_inf_with_smoothing_gives_inf_losses(dtype, axis, C):
    # with label smoothing every loss takes e/C * w_j * l_j for every class,
    # and l_j > 0: an infinite w_j makes every loss inf, as in PyTorch and
    # the reference. The kernels split sum_j w_j l_j into sum_j w_j (max -
    # x_j) + W lse_rel and took inf * 0 at a row whose max has that weight:
    # NaN there (a masked class in the row too)
    r = np.random.default_rng(C)
    x = r.standard_normal((24, C)).astype(dtype)
    x[::2, 2] = 5.0   # the inf-weight class is the max of every other row
    x[1, 3] = -np.inf  # a masked class
    y = r.integers(0, C, 24)
    y[5] = -100  # ignored: loss 0
    w = r.uniform(0.5, 2.0, C).astype(dtype)
    w[2] = np.inf
    xx = x if axis == -1 else np.ascontiguousarray(x.T)
    dense = np.where((y >= 0)[:, None], np.eye(C, dtype=dtype)[np.maximum(y, 0)], 0).astype(dtype)
    for target in (y, dense):
        tt = target if target.ndim == 1 or axis == -1 else np.ascontiguousarray(target.T)
        loss = fastce.softmax_cross_entropy(xx, tt, weight=w, axis=axis, label_smoothing=0.1,
                                            reduction="none")
        with np.errstate(all="ignore"):
            want = ref.softmax_cross_entropy(xx, tt, weight=w, axis=axis, label_smoothing=0.1,
                                             reduction="none")
        np.testing.assert_array_equal(loss, want.astype(dtype))
        assert (loss[y >= 0] == np.inf).all()
        assert fastce.softmax_cross_entropy(xx, tt, weight=w, axis=axis, label_smoothing=0.1,
                                            reduction="sum") == np.inf


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_class_weight_inf_with_smoothing_where_the_rest_underflows(dtype):
    # lse_rel = log1p(rest) is 0 when every other logit lies 745 or more
    # below the max: sum_j w_j l_j was taken as sum_j w_j (max - x_j) +
    # W * 0, inf + NaN; the exact loss (and PyTorch's) is inf. Where the
    # infinite weight is the max's own, its term is inf * 0: NaN, as PyTorch
    w = np.array([np.inf, 1.0, 1.0], dtype)
    for x, want in (([[-800.0, 0.0, -900.0]], np.inf), ([[0.0, -800.0, -900.0]], np.nan)):
        x = np.array(x, dtype)
        for t in (np.array([1]), np.eye(3, dtype=dtype)[[1]]):
            loss = fastce.softmax_cross_entropy(x, t, weight=w, label_smoothing=0.1,
                                                reduction="none")
            np.testing.assert_array_equal(loss, np.array([want], dtype))


def test_class_weight_inf_with_smoothing_dense_gradient_as_sparse():
    # the dense gradient's entry at a lone max, B_rest - B rest/(1+rest),
    # was inf - inf (NaN) where the sparse one (and PyTorch's) is inf
    x = np.array([[0.0, 1.0, 3.0], [-np.inf, 0.0, 1.0]])
    w = np.array([1.0, np.inf, 1.0])
    for y in ([0, 2], [0, 1]):
        kw = dict(weight=w, label_smoothing=0.1, reduction="sum", return_grad=True)
        with np.errstate(all="ignore"):
            sparse = fastce.softmax_cross_entropy(x, np.array(y), **kw)[1]
            dense = fastce.softmax_cross_entropy(x, np.eye(3)[y], **kw)[1]
        np.testing.assert_array_equal(dense, sparse)


def test_dense_gradient_entry_that_cancels():
    """Hypothesis's example (tests/test_fuzz.py, K_ABS): a dense one-hot
    target with class weights, whose gradient entry B p_0 - c_0 = 1.488 -
    1.5 cancels. fastce and the reference are each within a few ulp of 1.5
    of the exact value, which is all either can promise there; they were 4
    apart, over the fuzz test's old absolute tolerance of 2."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    x = np.array([1.0, 1.0, 0.0, 1.0, 1.0])[:, None]  # classes along axis 0
    t = np.array([1.0, 1.0, 0.0, 1.0, 1.0])[:, None]
    w = np.array([1.5, 1.0, 1.0, 1.0, 3.0])
    S = mpmath.fsum(mpmath.exp(v) for v in x[:, 0])
    B = mpmath.fsum(mpmath.mpf(a) * b for a, b in zip(w, t[:, 0]))
    exact = [float(B * mpmath.exp(x[j, 0]) / S - w[j] * t[j, 0]) for j in range(5)]
    ulp = np.spacing(1.5)
    _, g = fastce.softmax_cross_entropy(x, t, axis=0, weight=w, reduction="sum", return_grad=True)
    assert np.max(np.abs(g[:, 0] - exact)) <= 2 * ulp
    _, g_ref = ref.softmax_cross_entropy(x, t, axis=0, weight=w, reduction="sum", return_grad=True)
    assert np.max(np.abs(g_ref[:, 0] - exact)) <= 4 * ulp
    assert_close(g, g_ref, np.float64, k=16, abs_k=8)  # the fuzz test's tolerance


def test_huge_logits_do_not_overflow():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], dtype=np.float32)
    loss = fastce.softmax_cross_entropy(x, [0, 1], reduction="none")
    assert_close(loss, [0.0, np.log(2.0)], np.float32, k=2)


@pytest.mark.parametrize("dense", [False, True], ids=["sparse", "dense"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_long_rows_every_option_in_place(dtype, dense):
    """Rows longer than a vector, every option, the gradient over the logits."""
    x, t, kw = make_case((9, 1003), -1, dtype, "all" if not dense else "smoothing", dense)
    if dense:
        kw["weight"] = np.linspace(0.5, 2.0, 1003)
    want_loss, want_grad = ref.softmax_cross_entropy(x, t, return_grad=True, **kw)
    buf = x.copy()
    loss, grad = fastce.softmax_cross_entropy(buf, t, return_grad=True, grad_out=buf, **kw)
    assert grad is buf
    assert_close(loss, want_loss, dtype)
    assert_close(buf, want_grad, dtype)


@pytest.mark.parametrize("C", [3, 16, 33, 100, 1000])
@pytest.mark.parametrize("axis", [-1, 0])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_loss_bits_do_not_depend_on_return_grad(dtype, axis, C):
    # with a gradient the passes also store exp(x_j - max); the loss must
    # come from the same sums (a float64 long row's rest, split into hi +
    # lo differently when its terms were stored, once differed in its last
    # bit in about 1 row of 200)
    r = np.random.default_rng(C)
    x = (r.standard_normal((2000, C)) * r.choice([1.0, 10.0], (2000, 1))).astype(dtype)
    y = r.integers(0, C, 2000)
    x[::7, 0] = x[::7].max(axis=1) + 30  # confident rows
    y[::7] = 0
    if axis == 0:
        x = np.ascontiguousarray(x.T)
    for kw in ({}, {"weight": np.linspace(0.5, 2, C), "label_smoothing": 0.1}):
        plain = fastce.softmax_cross_entropy(x, y, axis=axis, reduction="none", **kw)
        loss, _ = fastce.softmax_cross_entropy(x, y, axis=axis, reduction="none",
                                               return_grad=True, **kw)
        np.testing.assert_array_equal(loss, plain)
