"""The worked examples every tutorial uses, as exact values.

Two of the figures quoted in the issue (the 3x3 softmax example and the
sigmoid example) are the exact losses of the inputs *rounded to float32*
(0.7 -> 0.699999988...): mpmath confirms it, and that the float64 inputs give
1.0413765096410996 and 0.40318604888545791 instead. Those cases are checked
both ways: with float32-rounded inputs against the quoted figures, and with
float64 inputs against values computed with mpmath at 50 digits.
"""
import numpy as np
import pytest

import fastce
from fastce import reference

from helpers import assert_close

F64 = np.float64
PROBS = [[0.7, 0.1, 0.2], [0.1, 0.5, 0.4], [0.02, 0.9, 0.08]]
SIGMOID_X = [[0.5, 0.7, 0.3], [0.8, 0.2, 0.9]]


def as_f32_values(a):
    """float64 inputs holding the values of ``a`` rounded to float32."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def test_categorical_cross_entropy_sparse_and_one_hot():
    expected = 0.38506088005216804
    assert_close(fastce.categorical_cross_entropy(PROBS, [0, 1, 1]), expected, F64, k=2)
    one_hot = np.eye(3)[[0, 1, 1]]
    assert_close(fastce.categorical_cross_entropy(PROBS, one_hot), expected, F64, k=2)


def test_accuracy_two_of_three():
    scores = [[0.7, 0.2, 0.1], [0.5, 0.1, 0.4], [0.02, 0.9, 0.08]]
    assert fastce.accuracy(scores, [0, 1, 1]) == 2 / 3


def test_softmax_cross_entropy_one_row():
    assert_close(fastce.softmax_cross_entropy([[3.0, 1.0, -3.0]], [0]),
                 0.1291089088298506, F64, k=2)


def test_softmax_cross_entropy_three_rows():
    rows, y = [[0.3, 0.1, 0.3], [0.9, 0.2, 0.9], [0.5, 0.4, 0.2]], [1, 2, 0]
    assert_close(fastce.softmax_cross_entropy(as_f32_values(rows), y),
                 1.041376514844158, F64, k=2)
    # mpmath, 50 digits, float64 inputs:
    assert_close(fastce.softmax_cross_entropy(rows, y), 1.0413765096410996, F64, k=2)


def test_softmax_of_one_two_three():
    expected = [0.09003057317038045, 0.2447284710547976, 0.6652409557748218]
    assert_close(fastce.softmax([1.0, 2.0, 3.0]), expected, F64, k=2)


@pytest.mark.parametrize("target, expected_f32_inputs, expected_f64_inputs", [
    (1.0,
     [[0.4740769841801067, 0.4031860528409679, 0.5543552393954866],
      [0.37110066225198557, 0.5981388680399926, 0.3411538816235888]],
     [[0.47407698418010668, 0.40318604888545791, 0.55435524446852712],
      [0.37110066594777771, 0.59813886938159183, 0.34115387473208782]]),
    (0.0,
     [[0.9740769841801067, 1.103186040920039, 0.8543552513164155],
      [1.1711006741729144, 0.7981388710202248, 1.241153857781731]],
     [[0.97407698418010668, 1.1031860488854579, 0.85435524446852711],
      [1.1711006659477778, 0.79813886938159185, 1.2411538747320878]]),
], ids=["ones", "zeros"])
def test_sigmoid_cross_entropy_table(target, expected_f32_inputs, expected_f64_inputs):
    z = np.full((2, 3), target)
    got = fastce.sigmoid_cross_entropy(as_f32_values(SIGMOID_X), z, reduction="none")
    assert_close(got, expected_f32_inputs, F64, k=4)
    got = fastce.sigmoid_cross_entropy(SIGMOID_X, z, reduction="none")
    assert_close(got, expected_f64_inputs, F64, k=4)


def test_binary_cross_entropy_sum():
    got = fastce.binary_cross_entropy([0.1, 0.8, 0.1], [0, 1, 0], eps=1e-5, reduction="sum")
    assert_close(got, 0.43386458262986227, F64, k=4)


def test_binary_cross_entropy_clipped_extremes():
    """p = 0 and p = 1 clip to eps and fl(1 - eps). The issue quotes
    3.0000150000863473e-05, which is log(1 - p) with 1 - p rounded first;
    fastce evaluates log1p(-p) and gets the exact value of the formula on the
    clipped inputs: 2*(-log1p(-1e-5)) - log(fl(1 - 1e-5)) by mpmath."""
    got = fastce.binary_cross_entropy([0.0, 1.0, 0.0], [0, 1, 0], eps=1e-5, reduction="sum")
    assert_close(got, 3.0000150000954504e-05, F64, k=2)
    np.testing.assert_allclose(got, 3.0000150000863473e-05, rtol=1e-11)


def _minus_zero_weighted(loss: str, dtype, shape):
    """(function, args, kwargs, the weights) for one loss, with a weight of
    -0.0 on every other element or sample and +0.0 on every fourth; the binary losses mix
    soft targets (0.25) with hard ones, so vectors hold both kinds."""
    r = np.random.default_rng(7)
    n, c = shape
    x = r.standard_normal(shape).astype(dtype)
    p = r.dirichlet(np.ones(c), n).astype(dtype)
    z = (r.random(shape) < 0.5).astype(dtype)
    z[:, ::3] = 0.25
    w = np.ones(shape, dtype)
    w.ravel()[::2] = -0.0
    w.ravel()[1::4] = 0.0
    sw = np.ones(n, dtype)
    sw[::2] = -0.0
    sw[1::4] = 0.0
    y = r.integers(0, c, n)
    cases = {
        "binary": (fastce.binary_cross_entropy, (p, z), dict(weight=w), w),
        "sigmoid": (fastce.sigmoid_cross_entropy, (x, z), dict(weight=w), w),
        "sigmoid_pos_weight": (fastce.sigmoid_cross_entropy, (x, z),
                               dict(weight=w, pos_weight=np.full(c, 2.0, dtype)), w),
        "softmax_sparse": (fastce.softmax_cross_entropy, (x, y), dict(sample_weight=sw), sw),
        "softmax_smoothed": (fastce.softmax_cross_entropy, (x, y),
                             dict(sample_weight=sw, label_smoothing=0.1), sw),
        "softmax_dense": (fastce.softmax_cross_entropy, (x, p), dict(sample_weight=sw), sw),
        "categorical": (fastce.categorical_cross_entropy, (p, p[::-1].copy()),
                        dict(sample_weight=sw), sw),
        "nll": (fastce.nll_loss, (np.log(p), y), dict(sample_weight=sw), sw),
    }
    return cases[loss]


@pytest.mark.parametrize("shape", [(1000, 5), (300, 40), (37, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", ["binary", "sigmoid", "sigmoid_pos_weight", "softmax_sparse",
                                  "softmax_smoothed", "softmax_dense", "categorical", "nll"])
def test_a_weight_of_minus_zero_gives_minus_zero(loss, dtype, shape):
    """w * loss for w = -0.0 and a positive loss is -0.0, and +0.0 for
    w = +0.0, as fastce.reference computes it, on every kernel path and
    beside any neighbours. (The binary vectors negated w as 0 - w, which
    gave -0.0 for w = +0.0 too.) The float64
    binary and sigmoid kernels, and the weighted softmax rows, used to give
    +0.0 there from their double-double forms (only in vectors holding a soft
    target, for the binary losses)."""
    f, args, kwargs, weight = _minus_zero_weighted(loss, dtype, shape)
    got = f(*args, reduction="none", **kwargs)
    zero = weight == 0
    assert np.all(got[zero] == 0)
    minus, plus = zero & np.signbit(weight), zero & ~np.signbit(weight)
    assert np.all(np.signbit(got[minus])), f"{np.count_nonzero(~np.signbit(got[minus]))} of " \
                                           f"{np.count_nonzero(minus)} losses are +0.0"
    assert not np.any(np.signbit(got[plus])), f"{np.count_nonzero(np.signbit(got[plus]))} of " \
                                              f"{np.count_nonzero(plus)} losses are -0.0"
    assert np.all(got[~zero] > 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_smoothed_weighted_gradient_at_a_sure_target(dtype):
    # p_y = 1 exactly (the other logit 1e4 below), so with label smoothing e
    # and class weights w the target's gradient is (e/2) * w_other and the
    # other entry its negative. W*p_y - w_y cancelled: W = 3 + 1e-3 rounded
    # gave the float64 target entry hundreds of ulp off.
    e, w = 0.37, np.array([3.0, 1e-3], dtype)
    x = np.tile(np.array([[0.0, -1e4]], dtype), (17, 1))  # 17: the few-class kernels too
    y = np.zeros(17, np.int64)
    _, g = fastce.softmax_cross_entropy(x, y, weight=w, label_smoothing=e, reduction="sum",
                                        return_grad=True)
    exact = float(np.float64(e) / 2 * np.float64(w[1]))  # e/2 exact; one rounding
    want = np.tile(np.array([[exact, -exact]]), (17, 1)).astype(dtype)
    np.testing.assert_array_max_ulp(g, want, maxulp=1)


def test_weighted_subnormal_float64_loss_rounds_once():
    # the loss w_y * sw * exp(-744) is subnormal (14 units of 2^-1074):
    # taken from the rest scaled by 2^256, it rounds once; the subnormal rest
    # (2 units) times the weights was 4 units off
    import mpmath as mp
    x = np.array([[0.0, -744.0]] * 9)  # 9 rows: the few-class kernels' path too
    y = np.zeros(9, np.int64)
    w, sw = np.array([3.0, 1.0]), np.full(9, 3.0)
    exact = np.full(9, float(mp.mpf(9) * mp.log1p(mp.exp(-744))))
    for target in (y, np.eye(2)[y]):  # class indices, and one-hot dense targets
        loss = fastce.softmax_cross_entropy(x, target, weight=w, sample_weight=sw,
                                            reduction="none")
        np.testing.assert_array_max_ulp(loss, exact, maxulp=1)


def test_weighted_loss_of_a_rest_below_half_a_subnormal():
    # exp(-745.5) is under half of 2^-1074: the rest rounds to 0, and so did
    # the weighted loss, whose exact value 2^40 exp(-745.5) is 4e11 units
    import mpmath as mp
    x = np.array([[0.0, -745.5, -800.0]] * 9)
    y = np.zeros(9, np.int64)
    w = np.array([2.0 ** 40, 1.0, 1.0])
    exact = float(mp.mpf(2) ** 40 * (mp.exp(-745.5) + mp.exp(-800)))
    for target in (y, np.eye(3)[y]):
        loss = fastce.softmax_cross_entropy(x, target, weight=w, reduction="none")
        np.testing.assert_array_max_ulp(loss, np.full(9, exact), maxulp=1)


def _mean_cases(dtype, N, C, seed):
    """(name, args, kwargs) of every mean that divides by a weight sum."""
    r = np.random.default_rng(seed)
    x = r.standard_normal((N, C)).astype(dtype)
    y = r.integers(0, C, N)
    t = r.random((N, C)).astype(dtype)
    w = r.random(C).astype(dtype)
    p = fastce.softmax(x)
    return [
        ("softmax_cross_entropy", (x, y), dict(weight=w, label_smoothing=0.1)),
        ("softmax_cross_entropy", (x, t), dict(weight=w)),
        ("softmax_cross_entropy", (x, t), dict(label_smoothing=0.1)),
        ("nll_loss", (fastce.log_softmax(x), y), dict(weight=w)),
        ("categorical_cross_entropy", (p, y), {}),
        ("categorical_cross_entropy", (p, t), {}),
    ]


@pytest.mark.parametrize("N, C", [(6, 5), (40, 10), (9, 300)])
def test_mean_with_subnormal_sample_weights(N, C):
    # A mean divides by the weights' sum, so scaling every sample weight by
    # 2^1000 changes nothing, exactly. Subnormal float64 weights made the
    # products sw * w * loss lose their low bits, and dividing by the tiny
    # sum magnified that: means 1e-5 and gradients 1e-3 off, relatively.
    sw = np.random.default_rng(N).integers(1, 1000, N) * 5e-324
    for name, args, kw in _mean_cases(F64, N, C, seed=C):
        f = getattr(fastce, name)
        loss, grad = f(*args, sample_weight=sw, return_grad=True, **kw)
        want, want_grad = f(*args, sample_weight=sw * 2.0 ** 1000, return_grad=True, **kw)
        assert loss == want, (name, kw, loss, want)
        np.testing.assert_array_equal(grad, want_grad, err_msg=f"{name} {kw}")


def test_mean_with_subnormal_class_weights():
    # the class-index mean divides by sum w[y]: the same holds for class weights
    w = np.array([3.0, 7.0, 1.0, 5.0]) * 5e-324
    x = np.random.default_rng(4).standard_normal((20, 4))
    y = np.arange(20) % 4
    for name, args in (("softmax_cross_entropy", (x, y)),
                       ("nll_loss", (fastce.log_softmax(x), y))):
        f = getattr(fastce, name)
        for kw in ({}, dict(label_smoothing=0.2))[:1 if name == "nll_loss" else 2]:
            loss, grad = f(*args, weight=w, return_grad=True, **kw)
            want, want_grad = f(*args, weight=w * 2.0 ** 1000, return_grad=True, **kw)
            assert loss == want, (name, kw, loss, want)
            np.testing.assert_array_equal(grad, want_grad)


def test_mean_of_subnormal_weights_beside_normal_ones_not_in_use():
    # the raise is taken from the weights the mean uses: an ignored sample's
    # weight of 1, or an unused class's, left the others' products to
    # underflow (mean 2e-4 off, gradient entries by factors of 2)
    r = np.random.default_rng(7)
    x, y = r.standard_normal((12, 4)), np.arange(12) % 3  # class 3 unused
    sw = r.integers(1, 1000, 12) * 5e-324
    y_ign, sw_ign, sw_nan = y.copy(), sw.copy(), sw.copy()
    y_ign[5], sw_ign[5], sw_nan[5] = -100, 1.0, np.nan  # (a NaN blocked the raise)
    w = np.array([3.0, 7.0, 1.0, 0.0]) * 5e-324
    w_unused = w.copy()
    w_unused[3] = 1.0
    for args, kw, scaled in (
            ((x, y_ign), dict(sample_weight=sw_ign), dict(sample_weight=sw_ign * 2.0 ** 1000)),
            ((x, y_ign), dict(sample_weight=sw_nan), dict(sample_weight=sw_nan * 2.0 ** 1000)),
            ((x, y), dict(weight=w_unused), dict(weight=w_unused * 2.0 ** 1000))):
        loss, grad = fastce.softmax_cross_entropy(*args, return_grad=True, **kw)
        want, want_grad = fastce.softmax_cross_entropy(*args, return_grad=True, **scaled)
        assert loss == want, (kw, loss, want)
        np.testing.assert_array_equal(grad, want_grad)


@pytest.mark.parametrize("e", [0.0, 0.1])
def test_mean_of_subnormal_class_weights_beside_ordinary_sample_weights(e):
    # raising the sample weights alone (3b474fb) took sw = 1 to 2^999, whose
    # product with 1/denominator overflowed: every gradient entry inf or
    # NaN; each set is raised on its own now
    r = np.random.default_rng(11)
    x, y = r.standard_normal((6, 3)), np.arange(6) % 3
    w = np.array([3.0, 5.0, 7.0]) * 2.0 ** -1070
    for sw in (np.ones(6), np.full(6, 2.0 ** -1070)):
        loss, grad = fastce.softmax_cross_entropy(x, y, weight=w, sample_weight=sw,
                                                  label_smoothing=e, return_grad=True)
        want, want_grad = fastce.softmax_cross_entropy(
            x, y, weight=w * 2.0 ** 1000, sample_weight=sw * 2.0 ** 1000 if sw[0] < 1 else sw,
            label_smoothing=e, return_grad=True)
        assert loss == want, (sw[0], loss, want)
        np.testing.assert_array_equal(grad, want_grad)


def test_dense_mean_of_tiny_sample_and_class_weights():
    # the dense mean divides by sum sw only: the sample weights are raised
    # until their largest times the largest class weight is about 2^-60
    # (raised to 2^-60 alone, sw * w still underflowed: a mean of 0)
    r = np.random.default_rng(12)
    x, t = r.standard_normal((4, 3)), r.dirichlet(np.ones(3), 4)
    sw, w = 2.0 ** -1000 * np.arange(1.0, 5.0), 2.0 ** -1020 * np.array([3.0, 5.0, 7.0])
    loss, grad = fastce.softmax_cross_entropy(x, t, weight=w, sample_weight=sw,
                                              return_grad=True)
    want, want_grad = fastce.softmax_cross_entropy(x, t, weight=w, sample_weight=sw * 2.0 ** 1000,
                                                   return_grad=True)
    assert loss == want, (loss, want)
    np.testing.assert_array_equal(grad, want_grad)


def test_mean_of_tiny_weights_and_huge_losses_stays_finite():
    # raising weights of 1e-300 to [1, 2) made this mean of two finite
    # losses (8.5e307 each) overflow to inf; they are raised to 2^-60 now
    x = np.array([[1.7e308, 0.0], [0.0, 1.0]])
    want = fastce.softmax_cross_entropy(x, [1, 1])
    for target in ([1, 1], np.eye(2)[[1, 1]]):
        got = fastce.softmax_cross_entropy(x, target, sample_weight=[1e-300, 1e-300])
        assert got == want, (got, want)


def test_mean_whose_weight_products_underflow_to_zero():
    # 5e-324 * 0.25 rounds to 0: the denominator was 0 and the mean NaN,
    # where one weighted sample's mean is its own loss
    x = np.array([[2.0, -1.0, 0.5]])
    loss, grad = fastce.softmax_cross_entropy(x, [0], weight=[0.25, 1.0, 1.0],
                                              sample_weight=[5e-324], return_grad=True)
    want, want_grad = fastce.softmax_cross_entropy(x, [0], return_grad=True)
    assert loss == want
    np.testing.assert_array_equal(grad, want_grad)


def _exact_losses(x, target, w, sw, e=0.0):
    """Per-sample softmax CE at 60 digits: sw * sum_c w_c t'_c l_c, with
    t' = (1-e) t + e/C and t the one-hot rows of class indices."""
    import mpmath as mp
    mp.mp.dps = 60
    C = x.shape[1]
    t = np.eye(C)[target] if target.ndim == 1 else target
    out = []
    for row, trow, s in zip(x, t, sw):
        v = [mp.mpf(float(a)) for a in row]
        m = max(v)
        lse = m + mp.log(mp.fsum(mp.exp(a - m) for a in v))
        out.append(mp.mpf(float(s)) * mp.fsum(
            mp.mpf(float(wc)) * ((1 - mp.mpf(e)) * mp.mpf(float(tc)) + mp.mpf(e) / C) * (lse - a)
            for wc, tc, a in zip(w, trow, v)))
    return out


def _check_tiny_weight_losses(f, args, w, sw, exact, raised, **kw):
    """f's "none" and "sum" losses against the exact values (2 ulp), and its
    gradients against the gradient at weights raised by 2^raised (and
    multiplied back, one rounding)."""
    loss, grad = f(*args, weight=w, sample_weight=sw, reduction="none", return_grad=True, **kw)
    np.testing.assert_array_max_ulp(loss, np.array([float(v) for v in exact]), maxulp=2)
    total = f(*args, weight=w, sample_weight=sw, reduction="sum", **kw)
    np.testing.assert_array_max_ulp(total, float(sum(exact)), maxulp=2)
    half = raised // 2
    _, want = f(*args, weight=np.ldexp(w, raised - half), sample_weight=np.ldexp(sw, half),
                reduction="none", return_grad=True, **kw)
    np.testing.assert_array_max_ulp(grad, np.ldexp(want, -raised), maxulp=1)


@pytest.mark.parametrize("e", [0.0, 0.1])
@pytest.mark.parametrize("N", [5, 40])  # 40: the few-class kernels' path too
def test_none_and_sum_of_tiny_sample_and_class_weights(N, e):
    # sw * w[y] (about 2^-1069 here) rounded among the subnormals before the
    # loss (about 2^40) multiplied it: losses 0.2-0.9% off. "none" and "sum"
    # raise the weights as the mean does, and multiply the results back
    r = np.random.default_rng(N)
    x = r.standard_normal((N, 4)) * 2.0 ** 40
    y = np.argmin(x, axis=1)  # losses about 2^40: results of about 2^-1030
    w, sw = (1 + r.random(4)) * 2.0 ** -535, (1 + r.random(N)) * 2.0 ** -535
    exact = _exact_losses(x, y, w, sw, e)
    _check_tiny_weight_losses(fastce.softmax_cross_entropy, (x, y), w, sw, exact, 1000,
                              label_smoothing=e)
    import mpmath as mp
    lp = fastce.log_softmax(x)
    exact = [-mp.mpf(float(s)) * mp.mpf(float(w[c])) * mp.mpf(float(row[c]))
             for row, c, s in zip(lp, y, sw)]
    _check_tiny_weight_losses(fastce.nll_loss, (lp, y), w, sw, exact, 1000)


def test_dense_losses_of_subnormal_class_weights():
    # a dense term rounded w[c] * t[c] (subnormal) before multiplying by
    # l_c (about 2^40): losses 3e5 ulp off, whatever the sample weights
    r = np.random.default_rng(3)
    x = r.standard_normal((6, 4)) * 2.0 ** 40
    t = r.dirichlet(np.ones(4), 6)
    w = (1 + r.random(4)) * 2.0 ** -1040
    for sw in (np.ones(6), (1 + r.random(6)) * 2.0 ** -30):
        exact = _exact_losses(x, t, w, sw)
        _check_tiny_weight_losses(fastce.softmax_cross_entropy, (x, t), w, sw, exact, 1000)
        mean = fastce.softmax_cross_entropy(x, t, weight=w, sample_weight=sw)
        np.testing.assert_array_max_ulp(mean, float(sum(exact) / sum(map(float, sw))), maxulp=2)

@pytest.mark.parametrize("N", [3, 40])  # 40: the few-class kernels' path too
def test_weights_whose_sums_overflow(N):
    # with label smoothing the class weights' sum W overflowed: every
    # gradient entry inf (+inf at the target, whose true value is about
    # -8.7e306) and every loss inf; a mean's denominator sum sw * w[y]
    # overflowed too (NaN). The weights are lowered by a power of two now,
    # which leaves a mean unchanged and a sum exactly 2^k times smaller
    r = np.random.default_rng(N)
    x, y = r.standard_normal((N, 30)), r.integers(0, 30, N)
    w = np.full(30, 1e307)
    w[3] = 1.5e308
    kw = dict(weight=w, label_smoothing=0.1, return_grad=True)
    small = dict(kw, weight=np.ldexp(w, -10))
    for reduction, k in (("none", 10), ("sum", 10), ("mean", 0)):
        loss, grad = fastce.softmax_cross_entropy(x, y, reduction=reduction, **kw)
        want, want_grad = fastce.softmax_cross_entropy(x, y, reduction=reduction, **small)
        with np.errstate(over="ignore"):  # (the sum of 40 such losses is inf)
            np.testing.assert_array_equal(loss, np.ldexp(want, k))
        np.testing.assert_array_equal(grad, np.ldexp(want_grad, k))
        assert np.isfinite(grad).all() and (grad[np.arange(N), y] < 0).all()
    sw, w = np.full(N, 1e308), np.full(30, 3.0)
    for big, small in ((dict(weight=w, sample_weight=sw), dict(weight=w, sample_weight=sw / 1024)),
                       (dict(weight=sw[0] + 0 * w), dict(weight=sw[0] / 1024 + 0 * w))):
        loss, grad = fastce.softmax_cross_entropy(x, y, return_grad=True, **big)
        want, want_grad = fastce.softmax_cross_entropy(x, y, return_grad=True, **small)
        assert loss == want
        np.testing.assert_array_equal(grad, want_grad)


def test_weights_near_the_top_leave_room_for_the_losses():
    # a review of the fix above: lowering the weights only until the
    # denominator fit left the sum of losses over it to overflow (a mean of
    # 1000 gave inf), did nothing for dense targets, and a NaN weight of an
    # ignored sample blocked it; a product of tiny sample and huge class
    # weights under smoothing gave inf
    f = fastce.softmax_cross_entropy
    x, y = np.array([[1000.0, 0.0], [0.0, 1000.0]]), np.array([1, 0])
    for kw in (dict(weight=[1e308, 1e308]), dict(sample_weight=[1e308, 1e308]),
               dict(sample_weight=[1e308, 1e308, np.nan], ignore_index=-1)):
        yy = np.append(y, -1) if "ignore_index" in kw else y
        xx = np.vstack([x, x[:1]]) if "ignore_index" in kw else x
        assert f(xx, yy, **kw) == 1000.0, kw
    xd, t = np.array([[0.0, 1.0], [1.0, 0.0]]), np.eye(2)
    assert f(xd, t, sample_weight=[1e308, 1e308]) == f(xd, t)
    x, kw = np.array([[0.0, 100.0, 100.0]]), dict(weight=[1e308] * 3, label_smoothing=0.1)
    want = f(x, [0], label_smoothing=0.1)  # (94.03: the weights cancel in a mean)
    assert_close(f(x, [0], sample_weight=[1e-300], **kw), want, F64, k=2)
    assert_close(f(x, [0], sample_weight=[1e-300], reduction="sum", **kw), want * 1e8, F64, k=2)


@pytest.mark.parametrize("w_small, sw", [(2.0 ** -340, 1.0), (2.0 ** -100, 2.0 ** -900)])
def test_small_weights_beside_huge_ones_keep_their_range(w_small, sw):
    # lowering every class weight to 2^256 whenever their sum passed 2^959
    # (a second try at the fix above) sent 2^-340 below the normal range
    # beside 2^1000: a NaN mean, which the unlowered weights had not given
    x, w = np.array([[277.0, 0.0]]), np.array([2.0 ** 1000, w_small])
    kw = dict(sample_weight=[sw], label_smoothing=0.1)
    got = fastce.softmax_cross_entropy(x, [1], weight=w, **kw)
    want = fastce.softmax_cross_entropy(x, [1], weight=w * 2.0 ** -600, **kw)
    assert got == want and np.isfinite(got)


def test_rescaled_weights_never_raise_after_writing_the_gradient():
    # multiplying back a gradient of tiny weights underflowed; under
    # np.errstate(under="raise") that raised after the kernel had written
    # the caller's grad_out (here the logits, in place)
    x = np.random.default_rng(0).standard_normal((3, 4))
    want = fastce.softmax_cross_entropy(x, [0, 1, 2], weight=np.full(4, 1e-160),
                                        sample_weight=np.full(3, 1e-160), reduction="none",
                                        return_grad=True)[1]
    g = x.copy()
    with np.errstate(all="raise"):
        fastce.softmax_cross_entropy(g, [0, 1, 2], weight=np.full(4, 1e-160),
                                     sample_weight=np.full(3, 1e-160), reduction="none",
                                     return_grad=True, grad_out=g)
    np.testing.assert_array_equal(g, want)

@pytest.mark.filterwarnings("error")  # (NumPy's sum of the sample weights warned)
@pytest.mark.parametrize("n", [25, 32, 33, 100])
@pytest.mark.parametrize("where", ["weight", "sample_weight"])
def test_weighted_sum_past_the_range_is_inf_not_nan(n, where):
    """Per-sample losses of 6.6e307 summing past float64's range give inf,
    as the scalar path, the reference and PyTorch do. The vector paths'
    compensated lanes kept an infinite compensation after the overflowing
    add, and the next add took inf - inf: NaN from 25 samples on."""
    x = np.zeros((n, 2))
    x[:, 1] = -1.0  # every sample: target class 1, loss 1.3133 times the weight
    y = np.ones(n, dtype=np.int64)
    kw = ({"weight": np.array([1.0, 5e307])} if where == "weight"
          else {"sample_weight": np.full(n, 5e307)})
    each = fastce.softmax_cross_entropy(x, y, reduction="none", **kw)
    assert np.isfinite(each).all()
    assert fastce.softmax_cross_entropy(x, y, reduction="sum", **kw) == np.inf
    t = np.eye(2)[y]
    assert fastce.softmax_cross_entropy(x, t, reduction="sum", **kw) == np.inf
    if where == "weight":  # (a dense mean divides by n: still past the range)
        assert fastce.softmax_cross_entropy(x, t, reduction="mean", **kw) == np.inf


@pytest.mark.parametrize("target, weight, loss, grad", [
    ([[0.5, 0.5, 0.0]], [1.0, -1.0, 1.0], 0.5, [-0.5, 0.5, 0.0]),  # weights cancel
    ([[1.0, -1.0, 0.0]], None, 1.0, [-1.0, 1.0, 0.0]),             # targets cancel
    ([[0.0, 0.5, 0.5]], [1.0, 1.0, -1.0], 0.5, [0.0, -0.5, 0.5]),  # the max's term too
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_target_mass_cancelling_to_zero_keeps_loss_and_gradient(target, weight, loss,
                                                                       grad, dtype):
    """A dense row whose terms w_c t_c are not all 0 but sum to 0 (negative
    weights or targets, accepted as in PyTorch) is not a row without target
    mass: with B = sum w_c t_c = 0 the loss is sum_c w_c t_c (lse - x_c) =
    -sum_c w_c t_c x_c and the gradient -w_j t_j. Both were 0 (the reference's
    gradient too), where PyTorch gives these values."""
    x = np.array([[0.0, 1.0, 2.0]], dtype)
    w = None if weight is None else np.array(weight, dtype)
    t = np.array(target, dtype)
    for module in (fastce, reference):
        got_loss, got_grad = module.softmax_cross_entropy(x, t, weight=w, reduction="sum",
                                                          return_grad=True)
        assert_close(got_loss, loss, dtype, k=4)
        assert_close(got_grad, np.array([grad]), dtype, k=4)
    # every term 0 (a zero weight on the only target): still loss 0, gradient 0
    z_loss, z_grad = fastce.softmax_cross_entropy(x, np.array([[0.0, 1.0, 0.0]], dtype),
                                                  weight=np.array([1.0, 0.0, -1.0], dtype),
                                                  reduction="sum", return_grad=True)
    assert z_loss == 0 and not z_grad.any()


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("shape", [(64, 64), (3, 1000)])
def test_elementwise_sum_past_the_range_is_inf_not_nan(shape):
    """The binary losses' sums of finite per-element losses of about 7e306
    past float64's range give inf: the AVX2 loops' compensated lanes took
    inf - inf after the overflowing add (NaN), as the softmax CE's did."""
    z = np.zeros(shape)
    w = np.full(shape[-1], 1e307)
    for loss in (fastce.sigmoid_cross_entropy(np.zeros(shape), z, weight=w, reduction="sum"),
                 fastce.binary_cross_entropy(np.full(shape, 0.5), z, weight=w, reduction="sum"),
                 fastce.sigmoid_cross_entropy(np.zeros(shape), z, weight=w)):
        assert loss == np.inf


@pytest.mark.parametrize("target, weight, loss", [
    ([[1.0, -1.0, 0.0]], None, np.nan),              # terms of both signs
    ([[0.5, 0.5, 0.0]], [1.0, -1.0, 1.0], np.nan),
    ([[-1.0, 0.0, 0.0]], None, -np.inf),             # negative mass only
    ([[0.2, 0.8, 0.0]], None, np.inf),
])
def test_dense_masked_row_takes_the_sign_of_its_terms(target, weight, loss):
    """A row of -inf logits has every l_c = +inf, so each term w_c t_c l_c is
    +inf or -inf by its sign (NaN where both are there), as in the reference
    and PyTorch; a mass that cancels to 0 had made it +inf."""
    x = np.full((1, 3), -np.inf)
    w = None if weight is None else np.array(weight)
    got, grad = fastce.softmax_cross_entropy(x, np.array(target), weight=w, reduction="sum",
                                             return_grad=True)
    np.testing.assert_array_equal(got, loss)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(reference.softmax_cross_entropy(
            x, np.array(target), weight=w, reduction="sum"), loss)
    assert not grad.any()


@pytest.mark.filterwarnings("error")
def test_dense_sample_weights_of_both_signs_past_the_range_do_not_warn():
    n = 64
    x = np.zeros((n, 2))
    x[:, 1] = -1.0
    t = np.eye(2)[np.ones(n, dtype=np.int64)]
    sw = np.where(np.arange(n) % 2 == 0, 5e307, -5e307)
    for reduction in ("none", "sum", "mean"):
        fastce.softmax_cross_entropy(x, t, sample_weight=sw, reduction=reduction)
