"""Edge cases of the elementwise and categorical vector kernels (sigmoid,
binary and categorical cross-entropy) on every instruction set: every
tail length modulo 16 (the AVX-512 kernels step 8 doubles or 16 floats
and mask the rest), subnormal, infinite and NaN inputs, the clipping
bounds, zero coefficients; each against fastce.reference, and losses of
float64 against long double to 2 ulp."""
import numpy as np
import pytest

import fastce
from fastce import reference as ref

from helpers import DTYPES, assert_close, rng

LENGTHS = list(range(1, 34)) + [47, 64, 65]


def _probs(n, dtype, seed):
    r = rng(seed)
    p = r.uniform(0.0, 1.0, n)
    z = r.uniform(0.0, 1.0, n)
    z[r.random(n) < 0.5] = 1.0
    z[r.random(n) < 0.25] = 0.0
    w = r.uniform(0.0, 2.0, n)
    return p.astype(dtype), z.astype(dtype), w.astype(dtype)


@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_binary_every_tail_length(dtype, n):
    p, z, w = _probs(n, dtype, seed=n)
    for weight in (None, w):
        loss, grad = fastce.binary_cross_entropy(p, z, weight=weight, reduction="none",
                                                 return_grad=True)
        want_loss, want_grad = ref.binary_cross_entropy(p, z, weight=weight, reduction="none",
                                                        return_grad=True)
        assert_close(loss, want_loss, dtype)
        assert_close(grad, want_grad, dtype)
        total = fastce.binary_cross_entropy(p, z, weight=weight, reduction="sum")
        assert_close(total, ref.binary_cross_entropy(p, z, weight=weight, reduction="sum"), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_binary_special_values(dtype):
    tiny = np.finfo(dtype).smallest_subnormal
    cases = [  # (p, z, w)
        (np.nan, 1.0, 1.0), (np.nan, 0.0, 1.0), (np.nan, 0.5, 0.0),
        (np.inf, 0.5, 1.0), (-np.inf, 0.5, 1.0), (tiny, 1.0, 1.0), (tiny, 0.0, 1.0),
        (0.0, 0.0, 1.0), (1.0, 1.0, 1.0), (1.0, 0.0, 1.0), (0.5, np.nan, 1.0),
        (0.25, np.inf, 1.0), (0.75, -np.inf, 1.0), (0.3, 0.3, 1.0), (0.3, 0.7, np.inf),
        (0.3, 0.0, 0.0), (0.2928932, 0.5, 1.0), (0.2928933, 0.5, 1.0), (0.5, 0.5, 1.0),
        (np.nextafter(0.5, 0, dtype=dtype), 0.25, 3.0), (-0.0, 1.0, 1.0), (2.0, 0.0, 1.0),
    ]
    # every case in every lane position: repeated with a shift of one
    # element, 17 times (past a whole 16-float vector)
    base = np.array(cases, dtype=dtype)
    for shift in range(17):
        rows = np.concatenate([_probs(shift, dtype, seed=shift)[0][:, None].repeat(3, 1)
                               if shift else np.zeros((0, 3), dtype), base])
        p, z, w = rows[:, 0].copy(), rows[:, 1].copy(), rows[:, 2].copy()
        for eps in (1e-7, 1e-3, 0.25):
            kw = dict(weight=w, eps=eps, reduction="none", return_grad=True)
            loss, grad = fastce.binary_cross_entropy(p, z, **kw)
            want_loss, want_grad = ref.binary_cross_entropy(p, z, **kw)
            assert_close(loss, want_loss, dtype)
            assert_close(grad, want_grad, dtype)
            np.testing.assert_array_equal(np.isnan(loss), np.isnan(want_loss))


def test_binary_clip_bounds_are_double():
    # eps = 1e-20: 1 - eps is 1.0 in double, so p = 1 with z = 1 has
    # log1p(-pc) = -inf times a zero coefficient: 0; with z < 1: inf
    p = np.ones(19)
    z = np.ones(19)
    z[5] = 0.5
    loss = fastce.binary_cross_entropy(p, z, eps=1e-20, reduction="none")
    assert loss[5] == np.inf and np.all(loss[np.arange(19) != 5] == 0.0)
    # float32 probabilities clip to double bounds: 1 - 1e-9 is no float
    p32 = np.ones(21, np.float32)
    loss = fastce.binary_cross_entropy(p32, np.zeros(21, np.float32), eps=1e-9,
                                       reduction="none")
    np.testing.assert_allclose(loss, -np.log(1e-9), rtol=4e-7)


def _ulp_errors(got, exact, dtype):
    spacing = np.spacing(np.abs(exact.astype(dtype))).astype(np.longdouble)
    return np.abs(got.astype(np.longdouble) - exact) / spacing


def test_binary_float64_losses_within_2_ulp(isa):
    # every kernel assembles a soft target's loss in double-double and
    # rounds it once (in double it rounds up to five times: 2.5 ulp)
    r = rng(7)
    n = 20_000
    p = np.concatenate([r.uniform(0, 1, n), 10.0 ** r.uniform(-30, 0, n),
                        1 - 10.0 ** r.uniform(-15, 0, n), r.uniform(0.28, 0.52, n)])
    z = np.concatenate([(r.random(2 * n) < 0.5) * 1.0, r.random(2 * n)])
    w = r.uniform(0, 3, p.size)
    L = np.longdouble
    pc = np.clip(p, 1e-12, 1 - 1e-12).astype(L)
    with np.errstate(all="ignore"):
        exact = -w.astype(L) * (z.astype(L) * np.log(pc) + (1 - z.astype(L)) * np.log1p(-pc))
    got = fastce.binary_cross_entropy(p, z, weight=w, eps=1e-12, reduction="none")
    err = _ulp_errors(got, exact, np.float64)
    print(f"\n{isa:6s} binary_cross_entropy float64 max {float(err.max()):.3f} ulp")
    assert float(err.max()) <= 2.0, (p[err.argmax()], z[err.argmax()])


def test_binary_float32_losses_within_1_ulp(isa):
    # the float kernels compute in double with float-accuracy logs
    # (relative error < 2^-30) and round once: 0.5004 ulp measured
    r = rng(8)
    n = 20_000
    p = np.concatenate([r.uniform(0, 1, n), 10.0 ** r.uniform(-7, 0, n),
                        1 - 10.0 ** r.uniform(-7, 0, n), r.uniform(0.28, 0.52, n)])
    p = p.astype(np.float32)
    z = np.concatenate([(r.random(2 * n) < 0.5) * 1.0, r.random(2 * n)]).astype(np.float32)
    w = r.uniform(0, 3, p.size).astype(np.float32)
    L = np.longdouble
    pc = np.clip(p.astype(L), L(1e-7), 1 - L(1e-7))
    exact = -w.astype(L) * (z.astype(L) * np.log(pc) + (1 - z.astype(L)) * np.log1p(-pc))
    got = fastce.binary_cross_entropy(p, z, weight=w, eps=1e-7, reduction="none")
    err = _ulp_errors(got, exact, np.float32)
    print(f"\n{isa:6s} binary_cross_entropy float32 max {float(err.max()):.4f} ulp")
    assert float(err.max()) <= 1.0, (p[err.argmax()], z[err.argmax()])


@pytest.mark.parametrize("dtype, bound", [(np.float64, 4.0), (np.float32, 1.0)],
                         ids=["f64", "f32"])
def test_binary_gradients_within_bound(isa, dtype, bound):
    """w * (pc - z) / (pc * (1 - pc)) rounds four times (at most 4 ulp in
    double; a float32 gradient is computed in double and rounded once). The
    scalar and AVX2 kernels evaluated (1-z)/(1-pc) - z/pc, whose two
    quotients cancel where pc is near a soft target z: 3e6 ulp in double."""
    r = rng(10)
    n = 20_000
    z = r.random(3 * n).astype(dtype)
    z[:n] = r.random(n) < 0.5
    p = np.concatenate([r.uniform(0, 1, n), r.uniform(0, 1, n),
                        z[2 * n:] * (1 + r.uniform(-1e-3, 1e-3, n))]).astype(dtype)
    p[::101] = 10.0 ** r.uniform(-12, 0, p[::101].size)
    w = r.uniform(0.5, 2, p.size).astype(dtype)
    eps = 1e-12 if dtype == np.float64 else 1e-7
    L = np.longdouble
    pc = np.clip(p.astype(np.float64), eps, 1 - eps).astype(L)  # the kernels clip in double
    exact = w.astype(L) * (pc - z.astype(L)) / (pc * (1 - pc))
    _, got = fastce.binary_cross_entropy(p, z, weight=w, eps=eps, reduction="sum",
                                         return_grad=True)
    assert np.all(got[exact == 0] == 0)
    err = _ulp_errors(got[exact != 0], exact[exact != 0], dtype)
    print(f"\n{isa:6s} binary_cross_entropy gradient {np.dtype(dtype).name} "
          f"max {float(err.max()):.3f} ulp")
    assert float(err.max()) <= bound


@pytest.mark.parametrize("neighbour", ["soft target", "p = 0", "w = 0", "w = inf"])
@pytest.mark.parametrize("eps", [1e-7, 1e-20, 1e-310])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_binary_loss_does_not_depend_on_neighbours(dtype, eps, neighbour):
    """The kernels evaluate one log per element where every lane of a
    vector has a hard target (0 or 1), both logs otherwise, and the general
    log for a lane whose clipped p is subnormal (eps = 1e-310): an
    element's loss and gradient must not depend on what its neighbours in
    the vector hold. (With a subnormal eps, the AVX2 float kernel gave the
    whole vector of such a lane double-accuracy logs: 1 ulp off elsewhere.)"""
    r = rng(9)
    n = 100_000  # 1-ulp differences are rare: 28 in 300,000 elements
    p = np.concatenate([r.uniform(0, 1, n), 10.0 ** r.uniform(-12, 0, n),
                        1 - 10.0 ** r.uniform(-12, 0, n)]).astype(dtype)
    # the clip bounds, NaN and 1/2 too
    p[0::97], p[1::97], p[2::97], p[3::97] = 0.0, 1.0, np.nan, 0.5
    z = (r.random(p.size) < 0.5).astype(dtype)
    w = r.uniform(0.5, 2, p.size).astype(dtype)
    p2, z2, w2 = p.copy(), z.copy(), w.copy()
    changed = slice(None, None, 3)  # an element in every vector of 4, 8 or 16 lanes
    if neighbour == "soft target":
        z2[changed] = 0.25
    elif neighbour == "p = 0":
        p2[changed] = 0.0
    else:
        w2[changed] = 0.0 if neighbour == "w = 0" else np.inf
    same = np.arange(p.size) % 3 != 0
    kw = dict(eps=eps, reduction="none", return_grad=True)
    a = fastce.binary_cross_entropy(p, z, weight=w, **kw)
    b = fastce.binary_cross_entropy(p2, z2, weight=w2, **kw)
    np.testing.assert_array_equal(a[0][same], b[0][same])
    np.testing.assert_array_equal(a[1][same], b[1][same])
    assert_close(a[0], ref.binary_cross_entropy(p, z, weight=w, eps=eps, reduction="none"),
                 dtype)


# ------------------------------------------------------------ sigmoid


def _logits(n, dtype, seed):
    r = rng(seed)
    x = 4.0 * r.standard_normal(n)
    z = r.uniform(0.0, 1.0, n)
    z[r.random(n) < 0.5] = 1.0
    z[r.random(n) < 0.25] = 0.0
    return x.astype(dtype), z.astype(dtype), r.uniform(0, 2, n).astype(dtype), \
        r.uniform(0.5, 3, n).astype(dtype)


@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_sigmoid_every_tail_length(dtype, n):
    x, z, w, q = _logits(n, dtype, seed=n)
    x[n // 2] = 800.0 if n % 3 else -np.inf  # one lane off the fast path in half the cases
    for weight, pos_weight in ((None, None), (w, None), (w, q)):
        kw = dict(weight=weight, pos_weight=pos_weight, reduction="none", return_grad=True)
        loss, grad = fastce.sigmoid_cross_entropy(x, z, **kw)
        want_loss, want_grad = ref.sigmoid_cross_entropy(x, z, **kw)
        assert_close(loss, want_loss, dtype)
        assert_close(grad, want_grad, dtype)
        total = fastce.sigmoid_cross_entropy(x, z, weight=weight, pos_weight=pos_weight,
                                             reduction="sum")
        assert_close(total, ref.sigmoid_cross_entropy(x, z, weight=weight, pos_weight=pos_weight,
                                                      reduction="sum"), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_sigmoid_special_values_in_every_lane(dtype):
    tiny = np.finfo(dtype).smallest_subnormal
    big = np.finfo(dtype).max
    cases = [  # (x, z, w)
        (np.nan, 1.0, 1.0), (np.nan, 0.0, 0.0), (np.inf, 0.0, 1.0), (np.inf, 1.0, 1.0),
        (-np.inf, 1.0, 1.0), (-np.inf, 0.0, 1.0), (708.0, 0.5, 1.0), (-708.5, 0.5, 1.0),
        (709.5, 1.0, 1.0), (-1e30, 0.0, 1.0), (big, 0.5, 2.0), (tiny, 0.5, 1.0),
        (-tiny, 1.0, 1.0), (0.0, 0.5, 1.0), (-0.0, 0.5, 1.0), (3.0, np.nan, 1.0),
        (3.0, 0.5, np.inf), (-2.0, 0.5, 0.0), (30.0, 1.0, 1.0), (-30.0, 0.0, 3.0),
    ]
    base = np.array(cases, dtype=dtype)
    for shift in range(17):
        pad = _logits(shift, dtype, seed=shift)
        x = np.concatenate([pad[0], base[:, 0]])
        z = np.concatenate([pad[1], base[:, 1]])
        w = np.concatenate([pad[2], base[:, 2]])
        kw = dict(weight=w, reduction="none", return_grad=True)
        with np.errstate(all="ignore"):
            loss, grad = fastce.sigmoid_cross_entropy(x, z, **kw)
            want_loss, want_grad = ref.sigmoid_cross_entropy(x, z, **kw)
        assert_close(loss, want_loss, dtype)
        assert_close(grad, want_grad, dtype)
        np.testing.assert_array_equal(np.isnan(loss), np.isnan(want_loss))


# -------------------------------------------------------- categorical


def _rows(n, C, dtype, seed):
    r = rng(seed)
    p = r.dirichlet(np.full(C, 0.5), n) if C > 1 else r.uniform(0, 1, (n, 1))
    t = r.dirichlet(np.ones(C), n) if C > 1 else np.ones((n, 1))
    t[r.random((n, C)) < 0.3] = 0.0
    return p.astype(dtype), t.astype(dtype), r.uniform(0, 2, n).astype(dtype)


@pytest.mark.parametrize("C", list(range(1, 19)) + [31, 33])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_categorical_rows_every_shape(dtype, C):
    # row counts around 8 rows (one lane each) and past a block of rows
    for n in (1, 7, 8, 9, 250, 1100 // C + 13):
        p, t, sw = _rows(n, C, dtype, seed=10 * C + n)
        for weight in (None, sw):
            kw = dict(sample_weight=weight, reduction="none", return_grad=True)
            loss, grad = fastce.categorical_cross_entropy(p, t, **kw)
            want_loss, want_grad = ref.categorical_cross_entropy(p, t, **kw)
            assert_close(loss, want_loss, dtype)
            assert_close(grad, want_grad, dtype)
            total = fastce.categorical_cross_entropy(p, t, sample_weight=weight, reduction="sum")
            assert_close(total, ref.categorical_cross_entropy(p, t, sample_weight=weight,
                                                              reduction="sum"), dtype)
            # the strided loop rounds the gradient the same way
            _, grad_f = fastce.categorical_cross_entropy(
                np.asfortranarray(p), np.asfortranarray(t), sample_weight=weight,
                reduction="none", return_grad=True)
            np.testing.assert_array_equal(grad, grad_f)


@pytest.mark.parametrize("C", [3, 10, 16, 17])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_categorical_special_values_in_every_position(dtype, C):
    tiny = np.finfo(dtype).smallest_subnormal
    n = 24
    values = [(np.nan, 0.0), (np.nan, 0.5), (np.inf, 0.5), (-np.inf, 0.5), (0.3, np.nan),
              (0.3, np.inf), (tiny, 0.5), (0.0, 0.5), (1.0, 1.0), (0.5, -2.0)]
    for k, (pv, tv) in enumerate(values):
        p, t, sw = _rows(n, C, dtype, seed=k)
        # the value at a different flat position in each row
        for s in range(n):
            p[s, (s + k) % C], t[s, (s + k) % C] = pv, tv
        for eps in (1e-7, 1e-300 if dtype == np.float64 else 1e-40):
            kw = dict(sample_weight=sw, eps=eps, reduction="none", return_grad=True)
            with np.errstate(all="ignore"):
                loss, grad = fastce.categorical_cross_entropy(p, t, **kw)
                want_loss, want_grad = ref.categorical_cross_entropy(p, t, **kw)
            assert_close(loss, want_loss, dtype)
            assert_close(grad, want_grad, dtype)
            np.testing.assert_array_equal(np.isnan(loss), np.isnan(want_loss))
