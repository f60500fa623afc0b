"""What every function does with its inputs: dtype rules, errors that name
the argument, empty batches, grad_out, and never modifying a caller's array."""
import re

import numpy as np
import pytest

import fastce
from fastce import reference

from helpers import logits

X = logits((4, 3), np.float64)
Y = np.array([0, 2, 1, 2])

#: One call per public function, on small valid inputs.
CALLS = {
    "softmax_cross_entropy": lambda x, **k: fastce.softmax_cross_entropy(x, Y, **k),
    "softmax_cross_entropy_dense": lambda x, **k: fastce.softmax_cross_entropy(x, np.eye(3)[Y], **k),
    "nll_loss": lambda x, **k: fastce.nll_loss(x, Y, **k),
    "sigmoid_cross_entropy": lambda x, **k: fastce.sigmoid_cross_entropy(x, np.ones(x.shape), **k),
    "categorical_cross_entropy": lambda x, **k: fastce.categorical_cross_entropy(np.abs(x) / 4, Y, **k),
    "binary_cross_entropy": lambda x, **k: fastce.binary_cross_entropy(np.abs(x) / 4, np.ones(x.shape), **k),
}

#: Every loss, by name.
LOSSES = ["softmax_cross_entropy", "nll_loss", "sigmoid_cross_entropy",
          "categorical_cross_entropy", "binary_cross_entropy"]


@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize("dtype, result", [
    (np.float32, np.float32), (np.float64, np.float64), (np.float16, np.float16),
    (np.int64, np.float64), (np.bool_, np.float64)], ids=["f32", "f64", "f16", "int", "bool"])
def test_result_dtype(name, dtype, result):
    x = np.clip(X, -1, 1).astype(dtype) if dtype != np.bool_ else X > 0
    loss = CALLS[name](x)
    assert type(loss) is np.dtype(result).type
    per, grad = CALLS[name](x, reduction="none", return_grad=True)
    assert per.dtype == result and grad.dtype == result


@pytest.mark.parametrize("name", list(CALLS) + ["logsumexp", "softmax", "entropy"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_either_byte_order_gives_the_native_dtype(name, dtype):
    # a big-endian float32 (.npy files, FITS, np.frombuffer) was computed and
    # returned as float64, and a big-endian grad_out refused as not float64
    call = CALLS.get(name) or (lambda x, **k: getattr(fastce, name)(np.abs(x), **k))
    x = np.clip(X, -1, 1).astype(dtype)
    swapped = x.astype(np.dtype(dtype).newbyteorder("S"))
    want, got = call(x), call(swapped)
    assert np.asarray(got).dtype == dtype
    assert np.asarray(got).dtype.isnative and type(got) is type(want)
    np.testing.assert_array_equal(got, want)
    if name in CALLS:
        want_grad = call(x, return_grad=True)[1]
        grad_out = np.zeros(X.shape, swapped.dtype)
        loss, grad = call(swapped, return_grad=True, grad_out=grad_out)
        assert grad is grad_out and loss == want
        np.testing.assert_array_equal(grad, want_grad)
    elif name == "softmax":
        out = np.zeros(X.shape, swapped.dtype)
        assert fastce.softmax(np.abs(swapped), out=out) is out
        np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("name", list(CALLS))
def test_inputs_never_modified(name):
    x = X.copy()
    CALLS[name](x, return_grad=True)
    CALLS[name](x, reduction="none")
    np.testing.assert_array_equal(x, X)


def test_no_input_modified_for_every_function():
    arrays = [X.copy(), Y.copy(), np.full(3, 2.0), np.ones(4)]
    saved = [a.copy() for a in arrays]
    x, y, w, sw = arrays
    fastce.softmax_cross_entropy(x, y, weight=w, sample_weight=sw, label_smoothing=0.1, return_grad=True)
    fastce.nll_loss(x, y, weight=w, sample_weight=sw, return_grad=True)
    fastce.logsumexp(x), fastce.log_softmax(x), fastce.softmax(x)
    fastce.accuracy(x, y), fastce.entropy(np.abs(x)), fastce.kl_divergence(np.abs(x), np.abs(x) + 1)
    for a, b in zip(arrays, saved):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grad_out_receives_the_gradient(dtype):
    x = X.astype(dtype)
    out = np.full(x.shape, 7.0, dtype)
    loss, grad = fastce.softmax_cross_entropy(x, Y, return_grad=True, grad_out=out)
    assert grad is out
    _, want = fastce.softmax_cross_entropy(x, Y, return_grad=True)
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("name", ["softmax_cross_entropy", "sigmoid_cross_entropy", "nll_loss",
                                  "categorical_cross_entropy", "binary_cross_entropy"])
def test_grad_out_may_be_the_logits(name):
    fn = getattr(fastce, name)
    sparse = name in ("softmax_cross_entropy", "nll_loss", "categorical_cross_entropy")
    target = Y if sparse else np.ones(X.shape)
    x0 = np.abs(X) / 4 if "categorical" in name or name == "binary_cross_entropy" else X
    want_loss, want_grad = fn(x0, target, return_grad=True)
    x = x0.copy()
    loss, grad = fn(x, target, return_grad=True, grad_out=x)
    assert grad is x
    np.testing.assert_array_equal(x, want_grad)
    assert loss == want_loss


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
@pytest.mark.parametrize("name", [*CALLS, "log_softmax", "softmax"])
def test_out_may_be_an_ndarray_subclass(name, dtype):
    """An np.matrix as ``grad_out`` (or softmax's ``out``) is filled and
    handed back as given, as NumPy's own ``out=`` does. (The binding had
    received the subclass's two-dimensional reshape and raised a buffer
    error.)"""
    x = np.clip(X, -1, 1).astype(dtype)
    if name in CALLS:
        want = CALLS[name](x, return_grad=True)[1]
        out = np.asmatrix(np.full(x.shape, 7, dtype))
        got = CALLS[name](x, return_grad=True, grad_out=out)[1]
    else:
        want = getattr(fastce, name)(x)
        out = np.asmatrix(np.full(x.shape, 7, dtype))
        got = getattr(fastce, name)(x, out=out)
    assert got is out and type(got) is np.matrix
    np.testing.assert_array_equal(np.asarray(out), want)


#: (function, operand) pairs: every weight and dense target a loss with a
#: gradient reads
INSIDE_GRAD_OUT = [
    (name, which) for name, kinds in {
        "softmax_cross_entropy": ("weight", "sample_weight", "target"),
        "nll_loss": ("weight", "sample_weight"),
        "sigmoid_cross_entropy": ("weight", "pos_weight", "target"),
        "categorical_cross_entropy": ("sample_weight", "target"),
        "binary_cross_entropy": ("weight", "target"),
    }.items() for which in kinds]


@pytest.mark.parametrize("name, which", INSIDE_GRAD_OUT)
def test_operands_inside_grad_out_are_read_before_it_is_written(name, which):
    """A weight (or a dense target) that lies in grad_out's memory gives the
    result of the call with a separate copy: the kernel must not read
    weights it has already overwritten with the gradient. (Class weights in
    a row of grad_out gave wrong softmax CE and nll_loss results.)"""
    r = np.random.default_rng(1)
    # square, so that a weight of either kind is a row of grad_out; weights
    # of the elementwise losses shorter than 256 are copied to a stack buffer
    n = C = 300
    probabilities = name in ("categorical_cross_entropy", "binary_cross_entropy")
    x = r.uniform(0.05, 0.95, (n, C)) if probabilities else r.normal(size=(n, C))
    sparse = name in ("softmax_cross_entropy", "nll_loss", "categorical_cross_entropy")
    target = np.arange(n) % C if sparse and which != "target" else r.uniform(0, 1, (n, C))
    fn = getattr(fastce, name)
    if which == "target":
        want = fn(x, target, reduction="none", return_grad=True)
        out = target.copy()
        got = fn(x, out, reduction="none", return_grad=True, grad_out=out)
    else:
        w = r.uniform(0.5, 2, C)
        want = fn(x, target, reduction="none", return_grad=True, **{which: w})
        out = np.full((n, C), np.nan)
        out[n // 2] = w
        got = fn(x, target, reduction="none", return_grad=True, grad_out=out,
                 **{which: out[n // 2]})
    assert got[1] is out
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_grad_out_float16():
    x = X.astype(np.float16)
    out = np.empty(x.shape, np.float16)
    _, grad = fastce.softmax_cross_entropy(x, Y, return_grad=True, grad_out=out)
    assert grad is out and np.all(np.isfinite(out))


@pytest.mark.parametrize("bad, exc, match", [
    (np.empty((3, 3)), ValueError, "shape"),
    (np.empty((4, 3), np.float32), TypeError, "dtype"),
    (np.empty((3, 4)).T, ValueError, "C-contiguous"),
    ([[0.0] * 3] * 4, TypeError, "NumPy array"),
], ids=["shape", "dtype", "layout", "list"])
def test_bad_grad_out_is_refused_and_untouched(bad, exc, match):
    if isinstance(bad, np.ndarray):
        bad[...] = 5.0
    with pytest.raises(exc, match=match):
        fastce.softmax_cross_entropy(X, Y, return_grad=True, grad_out=bad)
    if isinstance(bad, np.ndarray):
        assert np.all(bad == 5.0)


@pytest.mark.parametrize("name", [*LOSSES, "softmax", "log_softmax"])
def test_fortran_ordered_output_is_named_as_such(name):
    """An F-ordered grad_out (or out), e.g. the F-ordered logits themselves
    for an in-place call, is called Fortran-ordered, with the way out; the
    message had said "non-contiguous". It is left untouched."""
    x = np.asfortranarray(np.abs(X) / 4)
    before = x.copy()
    arg = "out" if name in ("softmax", "log_softmax") else "grad_out"
    if arg == "out":
        call = lambda: getattr(fastce, name)(x, out=x)  # noqa: E731
    else:
        target = np.ones(x.shape) if "binary" in name or "sigmoid" in name else Y
        call = lambda: getattr(fastce, name)(x, target, return_grad=True, grad_out=x)  # noqa: E731
    with pytest.raises(ValueError, match=rf"^{arg} must be C-contiguous; got a "
                                         r"Fortran-ordered array: .*np\.ascontiguousarray"):
        call()
    np.testing.assert_array_equal(x, before)


def test_read_only_grad_out_is_refused():
    out = np.zeros(X.shape)
    out.setflags(write=False)
    with pytest.raises(ValueError, match="writeable"):
        fastce.softmax_cross_entropy(X, Y, return_grad=True, grad_out=out)


def test_grad_out_without_return_grad_is_refused():
    with pytest.raises(ValueError, match="return_grad"):
        fastce.softmax_cross_entropy(X, Y, grad_out=np.empty(X.shape))


def test_bad_label_raises_index_error_and_leaves_in_place_logits_intact():
    x = X.copy()
    with pytest.raises(IndexError, match=r"target\[2\] = 3 .*0 <= target < 3"):
        fastce.softmax_cross_entropy(x, [0, 1, 3, 1], return_grad=True, grad_out=x)
    np.testing.assert_array_equal(x, X)
    with pytest.raises(IndexError, match=r"target\[0\] = -1"):
        fastce.nll_loss(X, [-1, 0, 0, 0])
    with pytest.raises(IndexError, match=r"target\[1, 0\] = 5"):
        fastce.softmax_cross_entropy(np.zeros((2, 3, 2)), [[0, 1], [5, 0]], axis=1)
    with pytest.raises(IndexError):
        fastce.categorical_cross_entropy(np.full((2, 3), 1 / 3), [0, -100])
    with pytest.raises(IndexError):
        fastce.accuracy(X, [0, 1, 2, 9])
    with pytest.raises(IndexError, match=r"^target = 5 "):  # (was "target[] = 5")
        fastce.softmax_cross_entropy(X[0], 5)
    big = np.array([0, 1, 2**63 + 5, 1], dtype=">u8")  # (big-endian: was taken as 5)
    with pytest.raises(IndexError, match=r"target\[2\] = 9223372036854775813"):
        fastce.softmax_cross_entropy(X, big)


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"reduction": "avg"}, ValueError, "reduction"),
    ({"axis": 2}, ValueError, "axis"),
    ({"axis": 1.5}, TypeError, "axis"),
    ({"label_smoothing": 1.5}, ValueError, "label_smoothing"),
    ({"label_smoothing": -0.1}, ValueError, "label_smoothing"),
    ({"weight": np.ones(4)}, ValueError, "weight"),
    ({"sample_weight": np.ones(3)}, ValueError, "sample_weight"),
    ({"n_threads": 0}, ValueError, "n_threads"),
    ({"n_threads": "two"}, TypeError, "n_threads"),
    ({"ignore_index": 1.5}, TypeError, "ignore_index"),
], ids=lambda v: str(v) if not isinstance(v, dict) else "-".join(v))
def test_bad_options(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fastce.softmax_cross_entropy(X, Y, **kwargs)


@pytest.mark.parametrize("logits_, target, exc, match", [
    (X, np.zeros((4, 2)), ValueError, "target must have shape"),
    (X, [0, 1, 2], ValueError, "target must have shape"),
    (X, np.zeros(4, bool), TypeError, "target"),
    (X, np.array(["a"] * 4), TypeError, "target"),
    (X.astype(complex), Y, TypeError, "logits"),
    (np.array([[object()] * 3] * 4), Y, TypeError, "logits"),
    (np.zeros((4, 0)), np.zeros(4, int), ValueError, "no classes"),
    (np.float64(1.0), 0, ValueError, "at least one dimension"),
], ids=["dense-shape", "sparse-shape", "bool-target", "str-target", "complex",
        "object", "no-classes", "scalar"])
def test_bad_arrays(logits_, target, exc, match):
    with pytest.raises(exc, match=match):
        fastce.softmax_cross_entropy(logits_, target)


@pytest.mark.parametrize("name", ["softmax_cross_entropy", "nll_loss",
                                  "categorical_cross_entropy", "accuracy"])
@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 3, 4, 5)])
def test_pytorch_layout_gets_a_hint(name, shape):
    """Class indices for classes on axis 1 (PyTorch's (N, C, d1, ...)) with
    the default last class axis: the shape error says to pass axis=1."""
    x = np.full(shape, 0.2)
    y = np.zeros(shape[:1] + shape[2:], int)
    with pytest.raises(ValueError, match=r"^target must have shape .*; got shape "
                                         rf"{re.escape(str(y.shape))} \(PyTorch puts the "
                                         r"classes on axis 1: pass axis=1\)$"):
        getattr(fastce, name)(x, y)
    getattr(fastce, name)(x, y, axis=1)  # as the hint says
    with pytest.raises(ValueError, match=r"got shape \(2, 4\)$"):  # no hint otherwise
        getattr(fastce, name)(x, np.zeros((2, 4), int))
    with pytest.raises(ValueError, match=r"got shape \(2, 3\)$"):  # nor for 2-d input
        getattr(fastce, name)(np.full((2, 5), 0.2), np.zeros((2, 3), int))


def test_binary_loss_errors():
    with pytest.raises(ValueError, match="eps"):
        fastce.binary_cross_entropy([0.5], [1], eps=0.5)
    with pytest.raises(ValueError, match="eps"):
        fastce.categorical_cross_entropy([[0.5, 0.5]], [1], eps=0.0)
    with pytest.raises(ValueError, match="pos_weight of shape"):
        fastce.sigmoid_cross_entropy(np.zeros((4, 3)), np.zeros((4, 3)), pos_weight=np.ones(4))
    with pytest.raises(ValueError, match="weight of shape"):
        fastce.binary_cross_entropy(np.zeros((4, 3)), np.zeros((4, 3)), weight=np.ones((2, 4, 3)))
    with pytest.raises(ValueError, match="target must have shape"):
        fastce.sigmoid_cross_entropy(np.zeros((4, 3)), np.zeros(3))


@pytest.mark.parametrize("name", ["softmax_cross_entropy", "categorical_cross_entropy",
                                  "sigmoid_cross_entropy", "binary_cross_entropy", "nll_loss"])
def test_empty_batch(name):
    fn = getattr(fastce, name)
    x = np.zeros((0, 3))
    t = np.zeros((0, 3)) if name in ("sigmoid_cross_entropy", "binary_cross_entropy") else np.zeros(0, int)
    assert fn(x, t, reduction="sum") == 0
    assert np.isnan(fn(x, t, reduction="mean"))
    assert fn(x, t, reduction="none").shape == t.shape
    loss, grad = fn(x, t, return_grad=True)
    assert grad.shape == (0, 3)


def test_empty_batch_other_functions():
    assert np.isnan(fastce.accuracy(np.zeros((0, 3)), np.zeros(0, int)))
    assert fastce.softmax(np.zeros((0, 3))).shape == (0, 3)
    assert fastce.logsumexp(np.zeros((0, 3))).shape == (0,)
    assert fastce.entropy(np.zeros((2, 0, 3)), axis=0).shape == (0, 3)


def test_lists_are_accepted():
    assert np.isclose(fastce.softmax_cross_entropy([[1.0, 2.0]], [1]),
                      np.log1p(np.exp(-1.0)))


@pytest.mark.parametrize("n", [1, 3, 4, 5, 8, 11, 64, 67])
@pytest.mark.parametrize("ignore_index", [None, -100, 2])
def test_labels_counted_and_checked_at_every_position(n, ignore_index):
    """The label check (vectorised four labels at a time) finds the first bad
    label wherever it sits, counts the used ones for the mean, and lets an
    ignored label be anything."""
    r = np.random.default_rng(n)
    x = r.standard_normal((n, 3))
    y = r.integers(0, 3, n)
    if ignore_index is not None:
        y[r.random(n) < 0.3] = ignore_index
    used = y != ignore_index if ignore_index is not None else np.ones(n, bool)
    kw = {} if ignore_index is None else dict(ignore_index=ignore_index)
    got = fastce.softmax_cross_entropy(x, y, **kw)
    expect = reference.softmax_cross_entropy(x, y, **kw)
    if used.any():
        np.testing.assert_allclose(got, expect, rtol=1e-13)
    else:
        assert np.isnan(got) and np.isnan(expect)
    for pos in {0, n // 2, n - 1}:
        for bad in (3, -1, 2**40):
            if bad == ignore_index:
                continue
            yb = y.copy()
            yb[pos] = bad
            yb[pos + 1:][r.random(n - pos - 1) < 0.5] = 7  # later bad labels too
            with pytest.raises(IndexError, match=rf"target\[{pos}\] = {bad} "):
                fastce.softmax_cross_entropy(x, yb, **kw)


def test_annotations_say_what_is_accepted():
    """``ignore_index=None`` is documented, so the hint is Optional[int]
    (it was ``int``, which type checkers flagged on a documented call)."""
    import typing

    for fn in (fastce.softmax_cross_entropy, fastce.nll_loss):
        hints = typing.get_type_hints(fn)
        assert hints["ignore_index"] == typing.Optional[int]
        assert hints["reduction"] == typing.Literal["mean", "sum", "none"]
    assert typing.get_type_hints(fastce.show_config)["return"] == typing.Dict[str, typing.Any]


def _every_array_argument():
    """(function, valid keyword arguments, extra options) for every public
    function: every array argument it takes, by name."""
    p = np.abs(X) / np.abs(X).sum(-1, keepdims=True)
    T = np.ones(X.shape)
    return {
        "softmax_cross_entropy": (dict(logits=X, target=Y, weight=np.ones(3),
                                       sample_weight=np.ones(4), grad_out=np.zeros(X.shape)),
                                  dict(return_grad=True)),
        "softmax_cross_entropy_dense": (dict(logits=X, target=p), {}),
        "nll_loss": (dict(log_probs=np.log(p), target=Y, weight=np.ones(3),
                          sample_weight=np.ones(4), grad_out=np.zeros(X.shape)),
                     dict(return_grad=True)),
        "sigmoid_cross_entropy": (dict(logits=X, target=T, weight=np.ones(3),
                                       pos_weight=np.ones(3), grad_out=np.zeros(X.shape)),
                                  dict(return_grad=True)),
        "categorical_cross_entropy": (dict(probs=p, target=Y, sample_weight=np.ones(4),
                                           grad_out=np.zeros(X.shape)),
                                      dict(return_grad=True)),
        "binary_cross_entropy": (dict(probs=p, target=T, weight=np.ones(3),
                                      grad_out=np.zeros(X.shape)),
                                 dict(return_grad=True)),
        "logsumexp": (dict(x=X), {}),
        "log_softmax": (dict(x=X, out=np.zeros(X.shape)), {}),
        "softmax": (dict(x=X, out=np.zeros(X.shape)), {}),
        "accuracy": (dict(scores=X, target=Y), {}),
        "entropy": (dict(p=p), {}),
        "kl_divergence": (dict(p=p, q=p[::-1].copy()), {}),
    }


@pytest.mark.parametrize("name, arg", [
    (name, arg) for name, (kw, _) in _every_array_argument().items() for arg in kw])
def test_masked_arrays_are_refused(name, arg):
    """A masked array would be used without its mask (np.asarray drops it):
    every array argument of every function refuses one, naming it, and
    nothing is written. (They were silently read as their data.)"""
    kw, extra = _every_array_argument()[name]
    kw = {k: v.copy() for k, v in kw.items()}
    kw[arg] = np.ma.masked_array(kw[arg], mask=np.zeros(np.shape(kw[arg]), bool))
    kw[arg].mask.flat[0] = True
    saved = {k: v.copy() for k, v in kw.items()}
    fn = getattr(fastce, name.replace("_dense", ""))
    fn(**{k: np.array(v) for k, v in kw.items()}, **extra)  # valid without the mask
    with pytest.raises(TypeError, match=rf"^{arg} is a masked array; fastce does not"):
        fn(**kw, **extra)
    for k, v in kw.items():
        np.testing.assert_array_equal(np.asarray(v), np.asarray(saved[k]))


def _option_id(value):
    """``name`` and ``option=value`` in the test ids (not the expectations)."""
    if isinstance(value, dict):
        return ",".join(f"{k}={v!r}" for k, v in value.items())
    return value if value in dir(fastce) else ""


@pytest.mark.parametrize("name, kwargs, exc, match", [
    ("softmax_cross_entropy", {"label_smoothing": "0.1"}, TypeError,
     "label_smoothing must be a real number; got '0.1'"),
    ("softmax_cross_entropy", {"label_smoothing": True}, TypeError, "label_smoothing must be"),
    ("softmax_cross_entropy", {"label_smoothing": np.array([0.1])}, TypeError, "label_smoothing"),
    ("categorical_cross_entropy", {"eps": "1e-3"}, TypeError, "eps must be a real number"),
    ("binary_cross_entropy", {"eps": "1e-3"}, TypeError, "eps must be a real number"),
    *[(name, {"return_grad": bad}, TypeError, "return_grad must be True or False; got")
      for name in LOSSES for bad in ("yes", 1, None)],
    ("logsumexp", {"keepdims": "no"}, TypeError, "keepdims must be True or False; got 'no'"),
    ("show_config", {"print_out": "no"}, TypeError, "print_out must be True or False"),
    ("softmax_cross_entropy", {"n_threads": True}, TypeError,
     "n_threads must be a positive integer or None; got True"),
    ("softmax", {"n_threads": np.True_}, TypeError, "n_threads must be"),
    ("softmax_cross_entropy", {"n_threads": 2**31}, ValueError,
     r"n_threads must be a positive integer \(at most 2147483647\) or None; got 2147483648"),
    ("softmax_cross_entropy", {"ignore_index": 2**70}, ValueError,
     r"ignore_index must be an integer in the int64 range \[-2\*\*63, 2\*\*63 - 1\]"),
    ("nll_loss", {"ignore_index": -2**63 - 1}, ValueError, "ignore_index .* int64 range"),
    ("nll_loss", {"ignore_index": True}, TypeError, "ignore_index must be an integer or None"),
    ("softmax_cross_entropy", {"axis": True}, TypeError, "axis must be an integer; got True"),
], ids=_option_id)
def test_scalar_options_are_checked_alike(name, kwargs, exc, match):
    """Strings, bools and out-of-range integers are refused as scalar options
    with a message naming the option. (label_smoothing='0.1' and eps='1e-3'
    were parsed, return_grad='yes' counted as true, n_threads=True as 1, and
    ignore_index=2**70 and n_threads=2**31 raised a bare OverflowError.)"""
    kw = _every_array_argument()[name][0] if name in LOSSES else {}
    inputs = [v for k, v in kw.items() if k not in ("weight", "sample_weight", "pos_weight",
                                                     "grad_out")]
    args = () if name == "show_config" else inputs or [X]
    with pytest.raises(exc, match=match):
        getattr(fastce, name)(*args, **kwargs)


@pytest.mark.parametrize("name, kwargs, plain", [
    ("softmax_cross_entropy", {"label_smoothing": np.float32(0.25)}, {"label_smoothing": 0.25}),
    ("softmax_cross_entropy", {"label_smoothing": np.array(0.25)}, {"label_smoothing": 0.25}),
    ("softmax_cross_entropy", {"label_smoothing": 0}, {"label_smoothing": 0.0}),
    ("softmax_cross_entropy", {"label_smoothing": np.int8(1)}, {"label_smoothing": 1.0}),
    ("categorical_cross_entropy", {"eps": np.float64(1e-3)}, {"eps": 1e-3}),
    ("nll_loss", {"ignore_index": np.int64(2)}, {"ignore_index": 2}),
    ("nll_loss", {"ignore_index": np.uint8(2)}, {"ignore_index": 2}),
    ("nll_loss", {"ignore_index": 2**63 - 1}, {"ignore_index": None}),
    ("nll_loss", {"ignore_index": -2**63}, {"ignore_index": None}),
    ("softmax_cross_entropy", {"n_threads": np.int32(1)}, {"n_threads": 1}),
    ("softmax_cross_entropy", {"axis": np.int64(-1)}, {"axis": -1}),
    ("sigmoid_cross_entropy", {"return_grad": np.bool_(True)}, {"return_grad": True}),
    ("binary_cross_entropy", {"return_grad": np.False_}, {"return_grad": False}),
], ids=_option_id)
def test_numpy_scalars_are_accepted_as_options(name, kwargs, plain):
    kw = _every_array_argument()[name][0]
    inputs = [kw[k] for k in kw if k not in ("weight", "sample_weight", "pos_weight",
                                             "grad_out")]
    fn = getattr(fastce, name)
    got, want = fn(*inputs, **kwargs), fn(*inputs, **plain)
    for g, w in zip(got, want) if isinstance(want, tuple) else [(got, want)]:
        np.testing.assert_array_equal(g, w)


_ONE_ROW = np.array([0.5, -1.0, 2.0])
_ONE_ROW_P = np.array([0.2, 0.3, 0.5])


@pytest.mark.parametrize("call", [
    lambda dt: fastce.logsumexp(_ONE_ROW.astype(dt)),
    lambda dt: fastce.entropy(_ONE_ROW_P.astype(dt)),
    lambda dt: fastce.kl_divergence(_ONE_ROW_P.astype(dt), _ONE_ROW_P[::-1].astype(dt)),
    lambda dt: fastce.cross_entropy(_ONE_ROW.astype(dt), 2, reduction="none"),
    lambda dt: fastce.nll_loss(_ONE_ROW.astype(dt), 1, reduction="none"),
    lambda dt: fastce.categorical_cross_entropy(_ONE_ROW_P.astype(dt), 0, reduction="none"),
    lambda dt: fastce.sigmoid_cross_entropy(dt(0.5), dt(1.0), reduction="none"),
    lambda dt: fastce.binary_cross_entropy(dt(0.25), dt(1.0), reduction="none"),
], ids=["logsumexp", "entropy", "kl_divergence", "cross_entropy", "nll_loss",
        "categorical_cross_entropy", "sigmoid_cross_entropy", "binary_cross_entropy"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_result_without_dimensions_is_a_numpy_scalar(call, dtype):
    """One row (or one element) leaves no dimension: the result is a NumPy
    scalar of the result dtype, as NumPy's own reductions give (np.max of a
    1-D array), not a 0-d array."""
    got = call(dtype)
    assert isinstance(got, dtype), type(got)


def test_a_result_with_dimensions_stays_an_array():
    x = _ONE_ROW.reshape(1, 3)
    assert fastce.logsumexp(x).shape == (1,)
    assert fastce.logsumexp(_ONE_ROW, keepdims=True).shape == (1,)
    assert fastce.cross_entropy(x, [2], reduction="none").shape == (1,)
