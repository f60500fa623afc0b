"""Turning user inputs into kernel operands.

Everything a public function checks before it calls a kernel lives here, so
that every function validates the same way and every message names the
argument, what it got and what was expected. Nothing here writes to a caller's
array: all checks run before any kernel does.
"""
from __future__ import annotations

import math
import numbers
import operator
from typing import Any, Literal, Optional, cast

import numpy as np

from ._bindings import for_dtype

REDUCTIONS = ("none", "mean", "sum")
Reduction = Literal["mean", "sum", "none"]

F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
I64, U64 = np.dtype(np.int64), np.dtype(np.uint64)


_MASKED = np.ma.MaskedArray


def real_array(value: Any, name: str) -> np.ndarray:
    """``np.asarray(value)``, refusing anything that is not real numbers, and
    masked arrays (``np.asarray`` would drop the mask)."""
    if isinstance(value, _MASKED):
        raise TypeError(
            f"{name} is a masked array; fastce does not read masks: pass "
            f"np.ma.filled({name}, value) or use ignore_index / weights to leave "
            "entries out"
        )
    a = np.asarray(value)
    if a.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must be an array of real numbers; got dtype {a.dtype}"
        )
    return a


def dtypes(dt: np.dtype) -> tuple[np.dtype, np.dtype]:
    """``(compute, result)`` dtypes for an input of dtype ``dt``.

    float32 and float64 are computed as such; float16 is computed in float32
    and returned as float16; integers, bools and other floats (longdouble)
    are float64. Either byte order gives the native dtype, as NumPy's ufuncs
    return.
    """
    dt = native(dt)
    if dt == F32 or dt == F64:
        return dt, dt
    if dt == F16:
        return F32, F16
    return F64, F64


def native(dt: np.dtype) -> np.dtype:
    """``dt`` in this machine's byte order (``>f4`` is float32 here)."""
    return dt.newbyteorder("=") if dt.byteorder in "<>" else dt


def operand(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A flat, C-contiguous array of ``dtype`` (a copy only when needed). A
    value beyond the range of ``dtype`` (a float64 weight past float32's)
    becomes inf, as the README says, without NumPy's cast warning."""
    if a.dtype.kind == "f" and a.dtype.itemsize > np.dtype(dtype).itemsize:
        with np.errstate(over="ignore", under="ignore"):  # (1e-50 becomes 0 in float32)
            a = np.ascontiguousarray(a, dtype=dtype)
    else:  # (no cast, or one that cannot leave the range: errstate costs ~1 us)
        a = np.ascontiguousarray(a, dtype=dtype)
    return a if a.ndim == 1 else a.ravel()


def check_reduction(reduction: Any) -> Reduction:
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(
            f"reduction must be one of 'none', 'mean' or 'sum'; got {reduction!r}"
        )
    return cast(Reduction, reduction)


#: What the kernels take: n_threads is a C int, labels and ignore_index int64.
INT_MAX = 2**31 - 1
INT64_MIN, INT64_MAX = -2**63, 2**63 - 1


def check_bool(value: Any, name: str) -> bool:
    """True or False (a Python or NumPy bool): not a truthy string or number."""
    if value is True or value is False:  # the common case, checked cheaper
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    raise TypeError(f"{name} must be True or False; got {value!r}")


def check_int(value: Any, name: str, what: str = "an integer") -> int:
    """A Python or NumPy integer (anything with ``__index__``), not a bool;
    ``what`` is the expectation the message states."""
    if type(value) is int:  # the common case, checked cheaper
        return value
    if not isinstance(value, (bool, np.bool_)):
        try:
            return operator.index(value)
        except TypeError:
            pass
    raise TypeError(f"{name} must be {what}; got {value!r}")


def check_real(value: Any, name: str, what: str = "a real number") -> float:
    """A Python or NumPy int or float (or a 0-d array of one), as a float:
    not a bool, nor a string such as ``'0.1'``."""
    if type(value) is float or type(value) is int:  # the common case, checked cheaper
        return float(value)
    real = (isinstance(value, numbers.Real)
            or (isinstance(value, np.ndarray) and value.ndim == 0
                and value.dtype.kind in "iuf"))
    if not real or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be {what}; got {value!r}")
    return float(value)


def check_threads(n_threads: Any) -> int:
    """0 for None (let OpenMP decide), else a positive thread count."""
    if n_threads is None:
        return 0
    n = check_int(n_threads, "n_threads", "a positive integer or None")
    if not 1 <= n <= INT_MAX:
        raise ValueError(
            f"n_threads must be a positive integer (at most {INT_MAX}) or None; got {n}"
        )
    return n


def check_interval(value: Any, name: str, lo: float, hi: float,
                   closed: bool) -> float:
    """A float in [lo, hi] (closed) or (lo, hi) (open)."""
    v = check_real(value, name)
    if not (lo <= v <= hi if closed else lo < v < hi):
        bounds = f"[{lo}, {hi}]" if closed else f"({lo}, {hi})"
        raise ValueError(f"{name} must lie in {bounds}; got {value!r}")
    return v


def check_ignore_index(value: Any) -> Optional[int]:
    """An integer label to ignore (int64, as the labels), or None to ignore nothing."""
    if value is None:
        return None
    v = check_int(value, "ignore_index", "an integer or None")
    if not INT64_MIN <= v <= INT64_MAX:
        raise ValueError(
            "ignore_index must be an integer in the int64 range "
            f"[-2**63, 2**63 - 1] or None; got {v}"
        )
    return v


def kernel_ignore_index(ignore: Optional[int]) -> int:
    """What the kernels compare labels with: -1 stands for "none", as labels
    are checked to lie in [0, C) when nothing is ignored."""
    return -1 if ignore is None else ignore


class Layout:
    """An array seen as a C-contiguous (n0, C, n1) block around its class axis.

    A plain class with slots, every attribute computed once: made on every
    call, where a frozen dataclass with properties cost a microsecond."""

    __slots__ = ("shape", "axis", "n0", "C", "n1", "sample_shape", "n_samples", "dims")

    def __init__(self, shape: tuple, axis: int):
        self.shape, self.axis, self.C = shape, axis, shape[axis]
        if axis == len(shape) - 1:  # the class axis last (the common case): n1 = 1
            self.sample_shape = shape[:-1]
            self.n0 = self.n_samples = math.prod(self.sample_shape)
            self.n1 = 1
        else:
            self.sample_shape = shape[:axis] + shape[axis + 1:]
            self.n0, self.n1 = math.prod(shape[:axis]), math.prod(shape[axis + 1:])
            self.n_samples = self.n0 * self.n1
        self.dims = (self.n0, self.C, self.n1)


def class_layout(shape: tuple, axis: Any, name: str) -> Layout:
    ndim = len(shape)
    if ndim == 0:
        raise ValueError(
            f"{name} must have at least one dimension (the class axis); got a scalar"
        )
    ax = check_int(axis, "axis")
    if not -ndim <= ax < ndim:
        raise np.exceptions.AxisError(
            f"axis {ax} is out of range for {name} of shape {shape}: "
            f"expected an integer in [{-ndim}, {ndim - 1}]"
        )
    ax %= ndim
    if shape[ax] == 0:
        raise ValueError(
            f"{name} of shape {shape} has no classes: its class axis (axis {ax}) "
            "has length 0"
        )
    return Layout(shape, ax)


def check_shape(a: np.ndarray, shape: tuple, name: str, what: str, hint: str = "") -> None:
    if a.shape != shape:
        raise ValueError(f"{name} must have shape {shape} ({what}); got shape {a.shape}"
                         + (f" ({hint})" if hint else ""))


def class_weight(weight: Any, layout: Layout, dtype: np.dtype) -> Optional[np.ndarray]:
    if weight is None:
        return None
    w = real_array(weight, "weight")
    check_shape(w, (layout.C,), "weight", "one weight per class")
    return operand(w, dtype)


def sample_weights(sample_weight: Any, shape: tuple, dtype: np.dtype) -> Optional[np.ndarray]:
    if sample_weight is None:
        return None
    sw = real_array(sample_weight, "sample_weight")
    check_shape(sw, shape, "sample_weight", "one weight per sample")
    return operand(sw, dtype)


def is_labels(target: np.ndarray) -> bool:
    """Integer targets are class indices; floating ones are probabilities."""
    if target.dtype.kind in "iu":
        return True
    if target.dtype.kind == "f":
        return False
    raise TypeError(
        "target must hold integer class indices or floating-point probabilities; "
        f"got dtype {target.dtype}"
    )


def labels(target: np.ndarray, layout: Layout, ignore_index: Optional[int],
           weight: Optional[np.ndarray], sample_weight: Optional[np.ndarray],
           compute: np.dtype) -> tuple[np.ndarray, float, int]:
    """Checked int64 labels, the sparse denominator sum(sw * w[y]) (the
    weights, when given, of dtype ``compute``), and whether every class
    weight is finite (1; 2 when the sum of their magnitudes overflows; 0
    when one is not).

    Raises IndexError naming the first label outside [0, C) that is not
    ``ignore_index`` (None: nothing is ignored).
    """
    if target.shape != layout.sample_shape:
        shape, axis = layout.shape, layout.axis
        torch_layout = (len(shape) >= 3 and axis == len(shape) - 1
                        and target.shape == shape[:1] + shape[2:])
        check_shape(target, layout.sample_shape, "target",
                    f"the shape of the input without its class axis {axis}",
                    "PyTorch puts the classes on axis 1: pass axis=1" if torch_layout else "")
    if target.dtype == I64 and target.ndim == 1 and target.flags.c_contiguous:
        y = target  # what operand() would return (the common case, checked cheaper)
    else:
        if native(target.dtype) == U64 and target.size and target.max() > np.iinfo(np.int64).max:
            big = np.flatnonzero(target.reshape(-1) > np.iinfo(np.int64).max)[0]
            _raise_bad_label(target, layout, ignore_index, int(big))
        y = operand(target, I64)
    has_ignore = ignore_index is not None
    den, bad, finite = for_dtype(compute).check_labels(
        y, layout.C, has_ignore, ignore_index if has_ignore else 0,
        weight, sample_weight)
    if bad >= 0:
        _raise_bad_label(target, layout, ignore_index, bad)
    return y, den, finite


def _raise_bad_label(target, layout, ignore_index, flat_pos):
    pos = np.unravel_index(flat_pos, layout.sample_shape) if layout.sample_shape else ()
    value = target[pos] if pos else target[()]
    where = "target[" + ", ".join(str(int(i)) for i in pos) + "]" if pos else "target"
    also = f" or ignore_index={ignore_index}" if ignore_index is not None else ""
    raise IndexError(
        f"{where} = {value} is not a valid class index: expected "
        f"0 <= target < {layout.C} (the length of the class axis){also}"
    )


def out_array(out: Any, name: str, shape: tuple, result: np.dtype) -> np.ndarray:
    """Check a caller's output array (``out``, ``grad_out``): an ndarray of
    the result's shape and dtype, C-contiguous and writeable. Subclasses
    (np.matrix) are written through a base-class view and handed back as
    given, as NumPy's ``out=`` does; masked arrays are refused (their mask
    would be left as it was)."""
    if isinstance(out, _MASKED):
        raise TypeError(f"{name} is a masked array; fastce does not write masks: "
                        "pass a plain ndarray (e.g. its .data)")
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array; got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (the shape of the input); "
                         f"got shape {out.shape}")
    if native(out.dtype) != result:  # (either byte order: written through a copy)
        raise TypeError(f"{name} must have dtype {result} (the result dtype); "
                        f"got dtype {out.dtype}")
    if not out.flags.c_contiguous:
        if out.flags.f_contiguous:
            raise ValueError(
                f"{name} must be C-contiguous; got a Fortran-ordered array: pass a "
                "C-ordered one, e.g. from np.ascontiguousarray (to write over an "
                "input in place, make that input C-ordered first)")
        raise ValueError(f"{name} must be C-contiguous; got a non-contiguous array")
    if not out.flags.writeable:
        raise ValueError(f"{name} must be writeable; got a read-only array")
    return out


def grad_out_array(return_grad: bool, grad_out: Any, shape: tuple,
                   result: np.dtype) -> Optional[np.ndarray]:
    """Check a caller's gradient array; None when the function allocates."""
    if grad_out is None:
        return None
    if not return_grad:
        raise ValueError("grad_out was given but return_grad is False; "
                         "pass return_grad=True to receive the gradient")
    return out_array(grad_out, "grad_out", shape, result)


class Grad:
    """The gradient buffer of one call: where the kernel writes, and the
    array handed back (``grad_out`` when the caller gave one)."""

    __slots__ = ("grad_out", "shape", "direct", "zeroed", "buffer")

    def __init__(self, wanted: bool, grad_out: Any, shape: tuple, compute: np.dtype,
                 result: np.dtype, zeroed: bool = False):
        self.shape = shape
        #: ``buffer`` is a fresh zeroed allocation (``zeroed`` asked for one):
        #: np.zeros gets its pages zeroed by the OS, so a kernel that writes
        #: few entries need not write the zeros itself
        self.zeroed = self.direct = False
        self.buffer: Optional[np.ndarray] = None
        self.grad_out = None
        if not wanted and grad_out is None:  # the forward-only call: nothing to check
            return
        grad_out = grad_out_array(wanted, grad_out, shape, result)  # the caller's, checked
        self.grad_out = grad_out
        self.direct = grad_out is not None and grad_out.dtype == compute
        if self.direct:
            # a base-class view: the binding takes a flat ndarray, and a
            # subclass's reshape (np.matrix) may keep two dimensions
            self.buffer = np.asarray(grad_out).reshape(-1)
        else:
            self.zeroed = zeroed
            alloc = np.zeros if zeroed else np.empty
            self.buffer = alloc(math.prod(shape), compute)

    def detach(self, x: np.ndarray,
               *others: Optional[np.ndarray]) -> tuple[Any, ...]:
        """Copies of the operands the kernel would see half-overwritten.

        Only a caller's ``grad_out`` (``direct``) can overlap them: callers
        skip the call otherwise, as it costs a tenth of a small call's time.
        The kernel may write the gradient over the logits ``x`` when both are
        the very same memory; any other overlap is removed by copying."""
        b = self.buffer
        if b is None or not self.direct or not b.size:  # none, or a fresh one: no overlap
            return (x, *others)
        same = (x.size == b.size and x.ctypes.data == b.ctypes.data)
        out: list[Optional[np.ndarray]] = [
            x if same or not np.may_share_memory(x, b) else x.copy()]
        out += [o.copy() if o is not None and o.size and np.may_share_memory(o, b) else o
                for o in others]
        return tuple(out)

    def result(self, result: np.dtype, reduction: str, denominator: float) -> np.ndarray:
        """The gradient to return, after the kernel scaled it by
        ``grad_scale(reduction, denominator)``: all zeros for a mean over
        nothing (no gradient, whatever the inputs held), and divided here
        when 1/denominator overflowed (a subnormal denominator)."""
        assert self.buffer is not None, "result() of a gradient nobody asked for"
        if reduction == "mean" and self.buffer.size:
            if denominator == 0:
                self.buffer.fill(0)
            elif not math.isfinite(1.0 / denominator):
                np.divide(self.buffer, denominator, out=self.buffer)
        g = self.buffer.reshape(self.shape)
        if self.grad_out is None:
            return g.astype(result, copy=False)
        if not self.direct:
            np.copyto(self.grad_out, g, casting="unsafe")
        return self.grad_out


def per_sample_buffer(reduction: str, n: int, compute: np.dtype) -> Optional[np.ndarray]:
    """The kernel's per-sample losses: only for ``'none'`` (None: not wanted)."""
    return np.empty(n, compute) if reduction == "none" else None


def grad_scale(reduction: str, denominator: float) -> float:
    """The kernels' gradient scale: 1/denominator for a mean, else 1.

    0 for a mean over nothing (no gradient), and 1 when 1/denominator
    overflows: ``Grad.result`` then divides instead."""
    if reduction != "mean":
        return 1.0
    if denominator == 0:
        return 0.0
    inv = 1.0 / denominator
    return inv if math.isfinite(inv) else 1.0


def as_result(a: np.ndarray) -> Any:
    """An array to return, or the NumPy scalar it holds when it has no
    dimensions (one row's logsumexp, one sample's loss), as NumPy's own
    reductions return one (``np.max`` of a 1-D array is a ``np.float64``)."""
    return a[()] if a.ndim == 0 else a


def reduce(reduction: str, total: float, per_sample: Optional[np.ndarray],
           denominator: float, shape: tuple, result: np.dtype, scaled: int = 0):
    """The returned loss: per-sample array, sum, or mean (NaN over nothing).
    ``scaled``: the total is of weights multiplied by 2^scaled (_weights.py),
    so the sum or mean is multiplied by 2^-scaled (the mean after its
    division, which keeps its bits where the total would be subnormal)."""
    if reduction == "none":
        assert per_sample is not None
        return as_result(per_sample.reshape(shape).astype(result, copy=False))
    if reduction == "sum":
        return result.type(_ldexp(total, -scaled))
    return result.type(_ldexp(total / denominator, -scaled) if denominator != 0 else math.nan)


def _ldexp(v: float, k: int) -> float:
    """``v * 2^k``, inf where that overflows (math.ldexp raises)."""
    try:
        return math.ldexp(v, k)
    except OverflowError:
        return math.copysign(math.inf, v)


def broadcast_operands(shape: tuple, dtype: np.dtype, **operands: Any):
    """Weights that broadcast against an elementwise input, as one period.

    Returns ``(P, arrays)``: every operand that was given, materialised only
    over the trailing dimensions it varies along, as a flat array of length P
    (the product of those trailing dimensions of ``shape``); element k of the
    flattened input then uses entry ``k % P``. A ``(C,)`` pos_weight costs C
    values, not an array the size of the input.
    """
    ndim = len(shape)
    given: dict[str, Optional[np.ndarray]] = {}
    k = 0  # how many trailing dimensions the operands vary along
    for name, value in operands.items():
        if value is None:
            given[name] = None
            continue
        a = real_array(value, name)
        try:
            ok = a.ndim <= ndim and np.broadcast_shapes(a.shape, shape) == shape
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"{name} of shape {a.shape} does not broadcast to the "
                             f"input's shape {shape}")
        full = (1,) * (ndim - a.ndim) + a.shape
        lead = next((i for i, s in enumerate(full) if s != 1), ndim)
        k = max(k, ndim - lead)
        given[name] = a.reshape(full)
    tail = shape[ndim - k:] if k else ()
    arrays = [None if a is None else
              operand(np.broadcast_to(a.reshape(a.shape[ndim - k:]) if k else a.reshape(()), tail), dtype)
              for a in given.values()]
    return max(1, math.prod(tail)), arrays
