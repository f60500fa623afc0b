"""Benchmark harness behind ``python -m fastce bench`` and the ``bench/`` suite.

The harness itself needs only NumPy and the standard library; peer libraries
(PyTorch, JAX, scikit-learn) and matplotlib are used when they are importable
and asked for, and are never requirements of fastce. The module defines

* the benchmarked **operations** (:data:`OPERATIONS`) and their input
  generators (:func:`make_inputs`, seeded per case, so any subset of cases
  reproduces the same arrays),
* the **case lists** of each profile (:func:`cases`: ``"full"``, ``"quick"``
  and ``"pytest"``, the last one used by ``bench/conftest.py``),
* the **contenders** (:class:`Contender`): the baseline ``NumPy``
  (``fastce.reference``), ``fastce``, the peers ``torch``, ``JAX`` and
  ``sklearn`` (:func:`peer_contenders`) and two ceilings on the same array
  (:func:`ceiling_contenders`): ``x.sum()``, the issue's yardstick (NumPy's
  pairwise sum, itself compute-bound), and ``x.max()``, one vectorised read
  at the speed of the memory or cache,
* the **correctness check** of a result against ``fastce.reference``
  (:func:`compare`, tolerance scaled by the dtype's machine epsilon),
* the **timer** (:func:`time_interleaved`: medians of auto-sized repeats,
  taken in bursts per contender over rounds of alternating order, each with
  its own share of the budget),
* the issue's **targets** (:data:`TARGETS`, :func:`evaluate_targets`),
* the **load meter** (:class:`LoadMeter`): the CPUs other processes used
  during each case, so that timings taken on a busy machine are flagged (and
  the case rerun, ``--retries``),
* the reports (tables, JSON, bar chart) and the command line
  (:func:`add_arguments`, :func:`run`).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import math
import os
import platform
import statistics
import sys
import time
import traceback
import zlib
from dataclasses import dataclass, field
from typing import (Any, Callable, ContextManager, Dict, Iterable, Iterator, List, Mapping,
                    Optional, Sequence, Tuple, Union)

import numpy as np

__all__ = [
    "BASELINE",
    "Bound",
    "CEILING",
    "CEILINGS",
    "READ",
    "Case",
    "CaseResult",
    "Contender",
    "DTYPES",
    "LoadMeter",
    "OPERATIONS",
    "Operation",
    "PEER_NAMES",
    "Profile",
    "PROFILES",
    "Row",
    "SUBJECT",
    "TARGETS",
    "Target",
    "Timing",
    "add_arguments",
    "as_arrays",
    "bind_call",
    "busy_cpus",
    "cases",
    "ceiling_contenders",
    "compare",
    "contender",
    "default_contenders",
    "evaluate_targets",
    "make_inputs",
    "peer_contenders",
    "run",
    "run_case",
    "time_interleaved",
]

Shape = Tuple[int, int]
Inputs = Tuple[np.ndarray, ...]
Call = Callable[[], Any]
Threads = Optional[int]  # None: the library default
Key = Tuple[str, Threads]  # (contender name, thread count; None for unthreaded contenders)

#: Seed of every generated input (mixed with the case id, see :func:`make_inputs`).
SEED = 20240611
#: The dtypes benchmarked by ``--dtype all``.
DTYPES: Tuple[str, ...] = ("float32", "float64")
#: Name of the contender every other one is checked against and compared to.
BASELINE = "NumPy"
#: Name of the library under test.
SUBJECT = "fastce"
#: Name of the ceiling the targets use: ``x.sum()`` on the same logits.
CEILING = "x.sum()"
#: Name of the read ceiling: ``x.max()``, which NumPy vectorises, so it runs
#: at the speed of one pass over memory (``x.sum()`` is 2-4x slower).
READ = "x.max()"
#: Both ceilings: computed on the input, not checked, never "rivals".
CEILINGS: Tuple[str, ...] = (CEILING, READ)
#: Peer libraries, in column order.
PEER_NAMES: Tuple[str, ...] = ("torch", "JAX", "sklearn")
#: Tolerance of the correctness check, in units of the dtype's machine epsilon.
TOLERANCE_ULPS = 64
#: CPUs used by other processes (before a run, or during a case) from which
#: the timings are flagged as unreliable (and the case rerun, see ``--retries``).
BUSY_WARNING = 0.25
#: Before rerunning a case that ran under other load, wait up to this many
#: seconds for the other processes to finish, and at most :data:`TOTAL_WAIT_S`
#: in a whole run.
RETRY_WAIT_S = 30.0
TOTAL_WAIT_S = 120.0


# --------------------------------------------------------------------------
# Input generators
# --------------------------------------------------------------------------

def _logits(rng: np.random.Generator, shape: Shape, dtype: np.dtype) -> np.ndarray:
    """Gaussian logits with standard deviation 2 (a few confident rows)."""
    x = rng.standard_normal(shape, dtype=np.float64)
    x *= 2.0
    return x.astype(dtype)


def _class_labels(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """One int64 class index in ``[0, C)`` per row of a ``(rows, C)`` shape."""
    return rng.integers(0, shape[1], size=shape[0], dtype=np.int64)


def _binary_targets(rng: np.random.Generator, shape: Shape, dtype: np.dtype) -> np.ndarray:
    """Hard 0/1 targets of the given float dtype."""
    return (rng.random(shape) < 0.5).astype(dtype)


def _log_probabilities64(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Rows of log-probabilities: the log-softmax of :func:`_logits`, in float64."""
    x = _logits(rng, shape, np.dtype(np.float64))
    x -= x.max(axis=1, keepdims=True)
    x -= np.log(np.exp(x).sum(axis=1, keepdims=True))
    return x


def _probabilities(rng: np.random.Generator, shape: Shape, dtype: np.dtype) -> np.ndarray:
    """Rows of class probabilities: the softmax of :func:`_logits`."""
    return np.exp(_log_probabilities64(rng, shape)).astype(dtype)


def _bernoulli_probs(rng: np.random.Generator, shape: Shape, dtype: np.dtype) -> np.ndarray:
    """Elementwise probabilities in (0, 1): the sigmoid of :func:`_logits`."""
    x = _logits(rng, shape, np.dtype(np.float64))
    return (1.0 / (1.0 + np.exp(-x))).astype(dtype)


def _sparse_softmax_inputs(rng: np.random.Generator, shape: Shape, dtype: np.dtype) -> Inputs:
    return _logits(rng, shape, dtype), _class_labels(rng, shape)


def _nll_inputs(rng: np.random.Generator, shape: Shape, dtype: np.dtype) -> Inputs:
    return _log_probabilities64(rng, shape).astype(dtype), _class_labels(rng, shape)


def _sigmoid_inputs(rng: np.random.Generator, shape: Shape, dtype: np.dtype) -> Inputs:
    return _logits(rng, shape, dtype), _binary_targets(rng, shape, dtype)


def _categorical_inputs(rng: np.random.Generator, shape: Shape, dtype: np.dtype) -> Inputs:
    # Dense soft targets: with class indices the kernel would read one
    # probability per row, which says nothing about its throughput.
    return _probabilities(rng, shape, dtype), _probabilities(rng, shape, dtype)


def _binary_inputs(rng: np.random.Generator, shape: Shape, dtype: np.dtype) -> Inputs:
    return _bernoulli_probs(rng, shape, dtype), _binary_targets(rng, shape, dtype)


def _logits_only(rng: np.random.Generator, shape: Shape, dtype: np.dtype) -> Inputs:
    return (_logits(rng, shape, dtype),)


# --------------------------------------------------------------------------
# Operations, cases and profiles
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Operation:
    """One benchmarked call: ``fastce.<func>(*inputs, **kwargs)``.

    ``family`` selects the shapes (see :class:`Profile`): ``"softmax"`` for
    softmax cross-entropy, the headline loss, benchmarked on every shape;
    ``"rowwise"`` for the other functions that reduce over the last axis;
    ``"elementwise"`` for the binary losses. ``outputs`` names the parts of
    the result (``("loss", "grad")`` when the call returns the gradient too).
    """

    name: str
    label: str
    family: str
    func: str
    make_inputs: Callable[[np.random.Generator, Shape, np.dtype], Inputs]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    outputs: Tuple[str, ...] = ("loss",)

    @property
    def with_grad(self) -> bool:
        """Whether the call returns the gradient too."""
        return "grad" in self.outputs

    @property
    def base(self) -> str:
        """The operation's name without the ``_grad`` suffix (what peers implement)."""
        return self.name[: -len("_grad")] if self.name.endswith("_grad") else self.name


def _loss_pair(name: str, label: str, family: str, func: str,
               make: Callable[[np.random.Generator, Shape, np.dtype], Inputs]) -> List[Operation]:
    """A loss forward-only and with its gradient (``<name>`` and ``<name>_grad``)."""
    return [
        Operation(name, f"{label} fwd{_label_suffix(label)}", family, func, make),
        Operation(f"{name}_grad", f"{label} fwd+grad{_label_suffix(label)}", family, func, make,
                  {"return_grad": True}, ("loss", "grad")),
    ]


def _label_suffix(label: str) -> str:
    """The parenthesised details of a loss label (reduction, target kind)."""
    details = {"softmax CE": "sparse, mean", "nll_loss": "mean", "sigmoid CE": "mean",
               "categorical CE": "dense, mean", "binary CE": "mean"}
    return f" ({details[label]})"


def _operations() -> Dict[str, Operation]:
    ops = [
        *_loss_pair("softmax_ce", "softmax CE", "softmax", "softmax_cross_entropy",
                    _sparse_softmax_inputs),
        *_loss_pair("nll_loss", "nll_loss", "rowwise", "nll_loss", _nll_inputs),
        *_loss_pair("sigmoid_ce", "sigmoid CE", "elementwise", "sigmoid_cross_entropy",
                    _sigmoid_inputs),
        *_loss_pair("categorical_ce", "categorical CE", "rowwise", "categorical_cross_entropy",
                    _categorical_inputs),
        *_loss_pair("binary_ce", "binary CE", "elementwise", "binary_cross_entropy",
                    _binary_inputs),
        Operation("log_softmax", "log_softmax", "rowwise", "log_softmax", _logits_only,
                  outputs=("output",)),
        Operation("logsumexp", "logsumexp", "rowwise", "logsumexp", _logits_only,
                  outputs=("output",)),
    ]
    return {op.name: op for op in ops}


#: The benchmarked operations, by name, in table order.
OPERATIONS: Dict[str, Operation] = _operations()

#: The shapes of the issue's targets (softmax CE) and its 4M-element binary case.
ISSUE_SHAPES: Tuple[Shape, ...] = ((65536, 10), (262144, 16), (16384, 1000),
                                  (2048, 32000), (256, 131072), (8, 262144))
ISSUE_ELEMENTWISE_SHAPE: Shape = (65536, 64)


@dataclass(frozen=True)
class Profile:
    """Shapes per operation family, and the per-case timing budget."""

    name: str
    shapes: Mapping[str, Tuple[Shape, ...]]
    budget: float  # seconds of timed calls per case and thread count (all contenders)
    min_repeats: int
    max_repeats: int = 200


PROFILES: Dict[str, Profile] = {
    # The default: the issue's shapes for softmax CE (those of --targets),
    # the extremes and a middle one for the other row-wise functions.
    "full": Profile(
        "full",
        {
            "softmax": ISSUE_SHAPES,
            "rowwise": ((65536, 10), (16384, 1000), (256, 131072)),
            "elementwise": (ISSUE_ELEMENTWISE_SHAPE,),
        },
        budget=0.8, min_repeats=3,
    ),
    # --quick: at most ~1M elements per case, a few repeats.
    "quick": Profile(
        "quick",
        {
            "softmax": ((65536, 10), (1024, 1000), (32, 32000)),
            "rowwise": ((65536, 10), (1024, 1000)),
            "elementwise": ((16384, 64),),
        },
        budget=0.15, min_repeats=3, max_repeats=50,
    ),
    # bench/ (pytest-benchmark does its own timing; only the shapes are used).
    "pytest": Profile(
        "pytest",
        {
            "softmax": ((16384, 16), (512, 1000), (16, 32000)),
            "rowwise": ((16384, 16), (512, 1000)),
            "elementwise": ((8192, 64),),
        },
        budget=0.5, min_repeats=5,
    ),
}


@dataclass(frozen=True)
class Case:
    """One operation on one input shape and dtype."""

    op: Operation
    shape: Shape
    dtype: str

    @property
    def id(self) -> str:
        """Stable identifier, e.g. ``softmax_ce-16384x1000-float32``."""
        return f"{self.op.name}-{self.shape[0]}x{self.shape[1]}-{self.dtype}"

    @property
    def elements(self) -> int:
        """Number of elements of the logits (or probabilities)."""
        return self.shape[0] * self.shape[1]


def _matches(op: Operation, filters: Optional[Sequence[str]]) -> bool:
    """True when no filter is given or one is a substring of the op's name or label."""
    if not filters:
        return True
    haystack = f"{op.name} {op.label}".lower()
    return any(f.lower() in haystack for f in filters)


def cases(profile: str = "full", dtypes: Iterable[str] = DTYPES,
          filters: Optional[Sequence[str]] = None) -> List[Case]:
    """The cases of a profile: operations (in table order) x shapes x dtypes."""
    shapes = PROFILES[profile].shapes
    dtypes = tuple(dtypes)
    return [
        Case(op, shape, dtype)
        for op in OPERATIONS.values() if _matches(op, filters)
        for shape in shapes[op.family]
        for dtype in dtypes
    ]


def make_inputs(case: Case, seed: int = SEED) -> Inputs:
    """The case's input arrays, from a generator seeded by ``seed`` and the case id."""
    rng = np.random.default_rng([seed, zlib.crc32(case.id.encode())])
    return case.op.make_inputs(rng, case.shape, np.dtype(case.dtype))


# --------------------------------------------------------------------------
# Contenders
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Bound:
    """A call ready to time, and the context each timed sample runs in.

    ``context()`` is entered around every sample (never inside the timed
    region's per-call loop), e.g. to set a peer's thread count or
    ``torch.inference_mode``.
    """

    call: Call
    context: Callable[[], ContextManager[Any]] = contextlib.nullcontext

    def run_once(self) -> Any:
        """One call inside the context (the check, which doubles as warm-up)."""
        with self.context():
            return self.call()


@dataclass(frozen=True)
class Contender:
    """An implementation timed on every case it supports.

    ``bind(case, inputs, threads)`` returns the :class:`Bound` call, or
    ``None`` when the contender does not implement the case (its cell then
    stays empty). ``role`` is ``"baseline"``, ``"subject"``, ``"peer"`` or
    ``"ceiling"`` (the ceiling is not checked: it computes something else).
    A ``threaded`` contender is timed once per thread count; the others once
    per case, their time shown on every thread count's row.
    """

    name: str
    role: str
    bind: Callable[[Case, Inputs, Threads], Optional[Bound]]
    threaded: bool = True
    version: str = ""
    note: str = ""

    @property
    def checked(self) -> bool:
        """Whether its result is compared with the baseline's."""
        return self.role != "ceiling"

    def key(self, threads: Threads) -> Key:
        """The key of its timing at ``threads``."""
        return (self.name, threads if self.threaded else None)


def bind_call(module: Any, case: Case, inputs: Inputs, **extra: Any) -> Call:
    """A no-argument callable running ``module.<func>(*inputs, **kwargs, **extra)``."""
    func = getattr(module, case.op.func)
    kwargs = {**case.op.kwargs, **extra}
    return lambda: func(*inputs, **kwargs)


def _threads_kwargs(threads: Threads) -> Dict[str, int]:
    return {} if threads is None else {"n_threads": threads}


def default_contenders() -> List[Contender]:
    """The baseline (``fastce.reference``, single-threaded NumPy) and ``fastce``."""
    import fastce
    from fastce import reference

    return [
        Contender(BASELINE, "baseline",
                  lambda case, inputs, threads: Bound(bind_call(reference, case, inputs)),
                  threaded=False, version=np.__version__, note="fastce.reference"),
        Contender(SUBJECT, "subject",
                  lambda case, inputs, threads: Bound(
                      bind_call(fastce, case, inputs, **_threads_kwargs(threads))),
                  version=getattr(fastce, "__version__", "")),
    ]


def ceiling_contenders() -> List[Contender]:
    """``x.sum()`` and ``x.max()`` on the case's first input, single-threaded."""
    return [Contender(CEILING, "ceiling", lambda case, inputs, threads: Bound(inputs[0].sum),
                      threaded=False, note="NumPy's pairwise sum of the logits (the targets' "
                      "yardstick)"),
            Contender(READ, "ceiling", lambda case, inputs, threads: Bound(inputs[0].max),
                      threaded=False, note="one vectorised NumPy read of the logits")]


def resolve_threads(threads: Threads) -> int:
    """A concrete thread count for peers: ``threads``, else fastce's default."""
    if threads is not None:
        return threads
    import fastce

    return int(fastce.show_config(print_out=False)["threads"])


# ---- PyTorch

def _torch_functions(torch: Any) -> Dict[str, Callable[..., Any]]:
    """torch equivalents of the operations (same inputs, mean reduction)."""
    F = torch.nn.functional
    return {
        "softmax_ce": F.cross_entropy,
        "nll_loss": F.nll_loss,
        "sigmoid_ce": F.binary_cross_entropy_with_logits,
        "log_softmax": lambda x: F.log_softmax(x, dim=-1),
        "logsumexp": lambda x: torch.logsumexp(x, dim=-1),
    }


@contextlib.contextmanager
def _torch_threads(torch: Any, threads: int, inference: bool) -> Iterator[None]:
    """``torch.set_num_threads(threads)`` (restored on exit), under inference mode if asked."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with (torch.inference_mode() if inference else contextlib.nullcontext()):
            yield
    finally:
        torch.set_num_threads(previous)


def _torch_backward_call(fn: Callable[..., Any], x: Any, rest: Sequence[Any]) -> Call:
    """Forward + ``.backward()`` from a fresh leaf sharing the logits' memory."""
    def call() -> Tuple[Any, Any]:
        leaf = x.detach().requires_grad_(True)
        loss = fn(leaf, *rest)
        loss.backward()
        return loss.detach(), leaf.grad
    return call


def torch_contender() -> Contender:
    """PyTorch (``torch.nn.functional``); raises ``ImportError`` without torch."""
    import torch

    functions = _torch_functions(torch)

    def bind(case: Case, inputs: Inputs, threads: Threads) -> Optional[Bound]:
        fn = functions.get(case.op.base)
        if fn is None:
            return None
        tensors = [torch.from_numpy(a) for a in inputs]  # shares memory: no copy
        n = resolve_threads(threads)
        if case.op.with_grad:
            return Bound(_torch_backward_call(fn, tensors[0], tensors[1:]),
                         lambda: _torch_threads(torch, n, inference=False))
        return Bound(lambda: fn(*tensors), lambda: _torch_threads(torch, n, inference=True))

    return Contender("torch", "peer", bind, version=torch.__version__,
                     note="torch.nn.functional; forward under inference_mode, "
                          "fwd+grad via .backward(); torch.set_num_threads per row")


# ---- JAX

def _jax_functions(jax: Any) -> Dict[str, Callable[..., Any]]:
    """JAX equivalents of the operations (mean reduction), before ``jax.jit``."""
    jnp = jax.numpy

    def softmax_ce(x: Any, y: Any) -> Any:
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(x), y[:, None], axis=1))

    def nll_loss(log_probs: Any, y: Any) -> Any:
        return -jnp.mean(jnp.take_along_axis(log_probs, y[:, None], axis=1))

    def sigmoid_ce(x: Any, z: Any) -> Any:
        return -jnp.mean(z * jax.nn.log_sigmoid(x) + (1 - z) * jax.nn.log_sigmoid(-x))

    return {
        "softmax_ce": softmax_ce,
        "nll_loss": nll_loss,
        "sigmoid_ce": sigmoid_ce,
        "log_softmax": lambda x: jax.nn.log_softmax(x, axis=-1),
        "logsumexp": lambda x: jax.nn.logsumexp(x, axis=-1),
    }


def jax_contender() -> Contender:
    """JAX (``jax.jit``, CPU, float64 enabled); raises ``ImportError`` without jax."""
    import jax

    jax.config.update("jax_enable_x64", True)  # so that float64 inputs stay float64
    functions = _jax_functions(jax)

    def bind(case: Case, inputs: Inputs, threads: Threads) -> Optional[Bound]:
        fn = functions.get(case.op.base)
        if fn is None:
            return None
        compiled = jax.jit(jax.value_and_grad(fn) if case.op.with_grad else fn)
        args = [jax.device_put(a) for a in inputs]  # copied once, outside the timing
        # The first call (the check, before any timing) compiles.
        return Bound(lambda: jax.block_until_ready(compiled(*args)))

    return Contender("JAX", "peer", bind, version=jax.__version__,
                     note="jax.jit, value_and_grad for fwd+grad; XLA's own thread pool "
                          "(not settable per call), confined to the row's thread count "
                          "of CPUs while timed")


# ---- scikit-learn

def _sklearn_call(loss: Any, y_true: np.ndarray, raw: np.ndarray, shape: Shape,
                  with_grad: bool, threads: int) -> Call:
    """Mean of sklearn's per-sample losses and, if asked, the gradient of that mean."""
    if not with_grad:
        return lambda: loss.loss(y_true=y_true, raw_prediction=raw, n_threads=threads).mean()

    def call() -> Tuple[Any, np.ndarray]:
        losses, grad = loss.loss_gradient(y_true=y_true, raw_prediction=raw, n_threads=threads)
        grad *= 1.0 / losses.size
        return losses.mean(), grad.reshape(shape)
    return call


def sklearn_contender() -> Contender:
    """scikit-learn's private loss module; raises ``ImportError`` without it."""
    import sklearn
    from sklearn._loss.loss import HalfBinomialLoss, HalfMultinomialLoss

    def bind(case: Case, inputs: Inputs, threads: Threads) -> Optional[Bound]:
        if case.op.base not in ("softmax_ce", "sigmoid_ce"):
            return None
        x, target = inputs
        if case.op.base == "softmax_ce":
            # "Half" multinomial is the full cross-entropy; labels as floats of x's dtype.
            loss, y_true, raw = HalfMultinomialLoss(n_classes=x.shape[1]), target.astype(x.dtype), x
        else:
            loss, y_true, raw = HalfBinomialLoss(), target.reshape(-1), x.reshape(-1)
        return Bound(_sklearn_call(loss, y_true, raw, case.shape, case.op.with_grad,
                                   resolve_threads(threads)))

    return Contender("sklearn", "peer", bind, version=sklearn.__version__,
                     note="sklearn._loss HalfMultinomialLoss / HalfBinomialLoss "
                          "(.loss / .loss_gradient, n_threads), then the mean")


#: Builders of the peers, by name (each raises when its library is missing).
PEER_BUILDERS: Dict[str, Callable[[], Contender]] = {
    "torch": torch_contender,
    "JAX": jax_contender,
    "sklearn": sklearn_contender,
}


def peer_contenders(names: Iterable[str] = PEER_NAMES) -> Tuple[List[Contender], Dict[str, str]]:
    """The importable peers, and why each of the others is missing."""
    found: List[Contender] = []
    missing: Dict[str, str] = {}
    for name in names:
        try:
            found.append(PEER_BUILDERS[name]())
        except Exception as exc:  # noqa: BLE001 - ImportError, or a broken install
            missing[name] = f"{type(exc).__name__}: {exc}"
    return found, missing


def contender(name: str) -> Contender:
    """One contender by name (``NumPy``, ``fastce``, a peer or ``x.sum()``).

    Raises ``ImportError`` (or whatever the import raises) for a missing peer.
    """
    for c in default_contenders() + ceiling_contenders():
        if c.name == name:
            return c
    if name in PEER_BUILDERS:
        return PEER_BUILDERS[name]()
    raise KeyError(f"unknown contender {name!r}")


# --------------------------------------------------------------------------
# Correctness check
# --------------------------------------------------------------------------

def as_arrays(result: Any) -> Tuple[np.ndarray, ...]:
    """A result (array, scalar, tensor or tuple of them) as a tuple of NumPy arrays."""
    parts = result if isinstance(result, (tuple, list)) else (result,)
    return tuple(np.asarray(p) for p in parts)


def _compare_part(name: str, got: np.ndarray, expected: np.ndarray, rtol: float) -> Optional[str]:
    """Describe how ``got`` differs from ``expected``, or ``None`` when it agrees.

    ``|got - expected| <= rtol * (|expected| + max|expected|)``: a relative
    tolerance plus an absolute one scaled by the magnitude of the result.
    Non-finite values must match exactly (same positions, same values).
    """
    if got.shape != expected.shape:
        return f"{name}: shape {got.shape} != expected {expected.shape}"
    if got.ndim and got.dtype != expected.dtype:
        return f"{name}: dtype {got.dtype} != expected {expected.dtype}"
    g = got.astype(np.float64, copy=False)
    e = expected.astype(np.float64, copy=False)
    finite = np.isfinite(e)
    if not np.array_equal(np.isfinite(g), finite) or not np.array_equal(g[~finite], e[~finite]):
        return (f"{name}: non-finite values differ ({np.count_nonzero(~np.isfinite(g))} in "
                f"result, {np.count_nonzero(~finite)} expected)")
    if not finite.any():
        return None
    g, e = g[finite], e[finite]
    scale = float(np.max(np.abs(e)))
    err = np.abs(g - e)
    bad = err > rtol * (np.abs(e) + scale)
    if not bad.any():
        return None
    worst = int(np.argmax(np.where(bad, err, -1.0)))
    return (f"{name}: {np.count_nonzero(bad)} of {e.size} values out of tolerance; worst "
            f"{g[worst]:.17g} vs expected {e[worst]:.17g} (|diff| {err[worst]:.3g}, "
            f"rtol {rtol:.3g}, atol {rtol * scale:.3g})")


def compare(got: Sequence[np.ndarray], expected: Sequence[np.ndarray], dtype: str,
            names: Sequence[str] = ("loss", "grad")) -> Optional[str]:
    """Check a result against the reference one; ``None`` if it agrees, else why not.

    The tolerance is :data:`TOLERANCE_ULPS` machine epsilons of ``dtype``.
    """
    if len(got) != len(expected):
        return f"returned {len(got)} value(s), expected {len(expected)}"
    rtol = TOLERANCE_ULPS * float(np.finfo(dtype).eps)
    problems = [_compare_part(name, g, e, rtol)
                for name, g, e in zip(names, got, expected)]
    found = [p for p in problems if p]
    return "; ".join(found) if found else None


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------

@dataclass
class Timing:
    """Timed samples of one contender on one case (seconds per call)."""

    samples: List[float]
    number: int  # calls per sample

    @property
    def median(self) -> float:
        """Median seconds per call."""
        return statistics.median(self.samples)

    @property
    def repeats(self) -> int:
        """Number of samples."""
        return len(self.samples)

    def to_json(self) -> Dict[str, Any]:
        """Plain-data form, for ``--json``."""
        return {"median_s": self.median, "min_s": min(self.samples),
                "max_s": max(self.samples), "repeats": self.repeats,
                "calls_per_repeat": self.number, "samples_s": self.samples}


def _as_bound(call: Union[Bound, Call]) -> Bound:
    return call if isinstance(call, Bound) else Bound(call)


def _seconds_per_call(bound: Bound, number: int) -> float:
    """Wall time of ``number`` back-to-back calls (inside the context), divided by ``number``."""
    call = bound.call
    with bound.context():
        start = time.perf_counter()
        for _ in range(number):
            call()
        return (time.perf_counter() - start) / number


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Disable the cyclic garbage collector for the duration (as ``timeit`` does)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _process_threads() -> List[int]:
    """The ids of this process's threads (Linux), else just this one."""
    try:
        return [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return [0]


@contextlib.contextmanager
def cpu_limit(threads: Threads) -> Iterator[None]:
    """Confine every thread of this process to ``threads`` CPUs for the duration.

    Thread pools that do not take a thread count (XLA's, OpenBLAS's) then
    share ``threads`` cores on a ``threads``-thread row like every other
    contender, instead of spreading over all of them. No-op for ``None``, for
    ``threads`` >= the usable CPUs, or where affinity cannot be set.
    """
    getter = getattr(os, "sched_getaffinity", None)
    if threads is None or getter is None:
        yield
        return
    usable = sorted(getter(0))
    if threads >= len(usable):
        yield
        return
    saved = {}
    for tid in _process_threads():  # a thread may end meanwhile: skip it
        with contextlib.suppress(OSError):
            saved[tid] = os.sched_getaffinity(tid)
            os.sched_setaffinity(tid, usable[:threads])
    try:
        yield
    finally:
        for tid in _process_threads():  # threads started meanwhile too
            with contextlib.suppress(OSError):
                os.sched_setaffinity(tid, saved.get(tid, usable))


#: Rounds of bursts per timing, and the pause before each burst (seconds).
BURST_ROUNDS = 2
SETTLE_S = 0.02


def _burst_rounds(n_calls: int, repeats: Sequence[int],
                  rounds: int = BURST_ROUNDS) -> List[List[Tuple[int, int]]]:
    """``(call, samples)`` bursts of each round: call ``i``'s ``repeats[i]``
    samples split over the rounds, the order of the calls reversed every
    other round."""
    schedule = []
    for r in range(rounds):
        order = list(range(n_calls)) if r % 2 == 0 else list(range(n_calls))[::-1]
        schedule.append([(i, (r + 1) * repeats[i] // rounds - r * repeats[i] // rounds)
                         for i in order])
    return schedule


def time_interleaved(calls: Sequence[Union[Bound, Call]], budget: float, min_repeats: int = 5,
                     max_repeats: int = 200, min_sample: float = 2e-3,
                     settle: float = SETTLE_S) -> List[Timing]:
    """Time several calls against each other; one :class:`Timing` per call.

    Each call is first timed once (after the caller's warm-up) to choose how
    many back-to-back calls make one sample (at least ``min_sample`` seconds,
    so fast calls are not lost in timer noise) and how many samples fit in
    its equal share of ``budget`` (clamped to ``[min_repeats, max_repeats]``:
    a slow baseline does not starve the fast calls of samples).

    The samples are taken in bursts: in each of :data:`BURST_ROUNDS` rounds
    every call takes its part of its samples back to back, after a pause of
    ``settle`` seconds and one discarded sample, and the order of the calls
    alternates between rounds, so slow drifts (clock boost, other load)
    affect every contender alike. Bursts, not samples taken in turn: the
    thread pools of OpenMP (fastce, torch, scikit-learn) keep spinning for
    milliseconds after a call, and a JAX sample taken right after a fastce
    one ran at half its speed (measured); each library is timed as a loop of
    its own calls runs, with the machine to itself.
    """
    if not calls:
        return []
    bounds = [_as_bound(c) for c in calls]
    share = budget / len(bounds)
    with _gc_paused():
        estimates = [max(_seconds_per_call(b, 1), 1e-9) for b in bounds]
        numbers = [max(1, min(10_000, math.ceil(min_sample / t))) for t in estimates]
        repeats = [max(min_repeats, min(max_repeats, int(share / (n * t))))
                   for n, t in zip(numbers, estimates)]
        samples: List[List[float]] = [[] for _ in bounds]
        for burst in _burst_rounds(len(bounds), repeats):
            for i, count in burst:
                if not count:
                    continue
                time.sleep(settle)
                _seconds_per_call(bounds[i], numbers[i])  # wakes its threads: not kept
                for _ in range(count):
                    samples[i].append(_seconds_per_call(bounds[i], numbers[i]))
    return [Timing(s, n) for s, n in zip(samples, numbers)]


# --------------------------------------------------------------------------
# Load from other processes
# --------------------------------------------------------------------------

def _cpu_jiffies() -> Optional[Tuple[float, float]]:
    """(busy, total) jiffies of all CPUs together from ``/proc/stat``; ``None`` elsewhere."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = [float(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


class LoadMeter:
    """How many CPUs *other* processes kept busy since the meter was made (Linux).

    The machine's busy time from ``/proc/stat`` minus this process's CPU
    time (all its threads, JAX's and torch's pools included). Timings taken
    while other processes compete for the CPUs, multi-threaded ones above
    all, say little about the code.
    """

    def __init__(self) -> None:
        self._start = self._sample()

    @staticmethod
    def _sample() -> Optional[Tuple[float, float, float]]:
        jiffies = _cpu_jiffies()
        return None if jiffies is None else (*jiffies, time.process_time())

    def others(self) -> Optional[float]:
        """Average number of CPUs used by other processes so far; ``None`` if unknown."""
        end = self._sample()
        if self._start is None or end is None or end[1] <= self._start[1]:
            return None
        busy, total = end[0] - self._start[0], end[1] - self._start[1]
        own = (end[2] - self._start[2]) * os.sysconf("SC_CLK_TCK")
        return max(0.0, (busy - own) / total * (os.cpu_count() or 1))


def busy_cpus(interval: float = 0.5) -> Optional[float]:
    """CPUs kept busy by other processes over the next ``interval`` seconds."""
    meter = LoadMeter()
    time.sleep(interval)
    return meter.others()


def wait_for_quiet(max_wait: float, poll: float = 1.0) -> float:
    """Wait until other processes use fewer than :data:`BUSY_WARNING` CPUs, at most ``max_wait`` s.

    Returns the seconds waited.
    """
    start = time.perf_counter()
    while time.perf_counter() - start < max_wait:
        load = busy_cpus(min(poll, max(0.05, max_wait - (time.perf_counter() - start))))
        if load is None or load < BUSY_WARNING:
            break
    return time.perf_counter() - start


def _load_note(load: Optional[float]) -> Optional[str]:
    """``"other load 1.0 CPU"`` when other processes used at least :data:`BUSY_WARNING` CPUs."""
    if load is None or load < BUSY_WARNING:
        return None
    return f"other load {load:.1f} CPU"


# --------------------------------------------------------------------------
# Running one case
# --------------------------------------------------------------------------

@dataclass
class CaseResult:
    """Outcome of one case at every thread count: timings and checks per contender.

    Keys are ``(contender, threads)``; an unthreaded contender's key has
    ``threads=None``.
    """

    case: Case
    threads: Tuple[Threads, ...] = (None,)
    timings: Dict[Key, Timing] = field(default_factory=dict)
    problems: Dict[Key, str] = field(default_factory=dict)  # what differs from the reference
    errors: Dict[Key, str] = field(default_factory=dict)  # the exception raised
    other_load: Optional[float] = None  # CPUs used by other processes meanwhile
    attempts: int = 1  # runs of the case (see --retries); this is the quietest

    def rows(self) -> List["Row"]:
        """One :class:`Row` per thread count."""
        return [Row(self, t) for t in self.threads]


def _lookup(table: Mapping[Key, Any], name: str, threads: Threads) -> Any:
    """The entry of ``name`` at ``threads``, else its unthreaded one."""
    if (name, threads) in table:
        return table[(name, threads)]
    return table.get((name, None))


@dataclass(frozen=True)
class Row:
    """One case at one thread count: a row of the tables and of the JSON."""

    result: CaseResult
    threads: Threads

    @property
    def case(self) -> Case:
        return self.result.case

    def timing(self, name: str) -> Optional[Timing]:
        return _lookup(self.result.timings, name, self.threads)

    def problem(self, name: str) -> Optional[str]:
        return _lookup(self.result.problems, name, self.threads)

    def error(self, name: str) -> Optional[str]:
        return _lookup(self.result.errors, name, self.threads)

    def median(self, name: str) -> Optional[float]:
        """Median seconds per call of a contender, if it was timed."""
        t = self.timing(name)
        return t.median if t else None

    def throughput(self, name: str) -> Optional[float]:
        """Giga-elements of logits per second."""
        t = self.median(name)
        return self.case.elements / t / 1e9 if t else None

    def speedup_over(self, name: str) -> Optional[float]:
        """``name``'s time over fastce's: how many times faster fastce is."""
        other, mine = self.median(name), self.median(SUBJECT)
        return other / mine if other and mine else None

    def speedup(self, name: str) -> Optional[float]:
        """Baseline time over ``name``'s time (the original ``speed-up`` column)."""
        base, other = self.median(BASELINE), self.median(name)
        return base / other if base and other else None

    def ceiling_ratio(self, name: str = CEILING) -> Optional[float]:
        """fastce's time over a ceiling's, ``x.sum()`` unless said (1.0 = as fast)."""
        mine, ceiling = self.median(SUBJECT), self.median(name)
        return mine / ceiling if mine and ceiling else None

    def scaling(self) -> Optional[float]:
        """fastce's 1-thread time over this row's (rows with more than one thread)."""
        if self.threads is None or self.threads <= 1 or 1 not in self.result.threads:
            return None
        one = self.result.timings.get((SUBJECT, 1))
        mine = self.median(SUBJECT)
        return one.median / mine if one and mine else None

    @property
    def status(self) -> str:
        """fastce's check: ``"ok"``, ``"MISMATCH"`` or ``"ERROR"`` (also if the baseline raised)."""
        if self.error(SUBJECT) or self.error(BASELINE):
            return "ERROR"
        return "MISMATCH" if self.problem(SUBJECT) else "ok"

    def peer_notes(self, names: Sequence[str]) -> List[str]:
        """``"<peer> mismatch"`` / ``"<peer> error"`` for the peers in ``names``."""
        notes = []
        for name in names:
            if name in (SUBJECT, BASELINE):
                continue
            if self.error(name):
                notes.append(f"{name} error")
            elif self.problem(name):
                notes.append(f"{name} mismatch")
        return notes

    def to_json(self, names: Sequence[str]) -> Dict[str, Any]:
        """Plain-data form, for ``--json``."""
        timings = {n: t for n in names if (t := self.timing(n)) is not None}
        timed = list(timings)
        peers = [n for n in timed if n not in (SUBJECT, BASELINE, *CEILINGS)]
        return {
            "id": self.case.id, "operation": self.case.op.name, "label": self.case.op.label,
            "function": self.case.op.func, "kwargs": dict(self.case.op.kwargs),
            "shape": list(self.case.shape), "dtype": self.case.dtype,
            "elements": self.case.elements, "threads": self.threads,
            "status": self.status, "other_cpu_load": self.result.other_load,
            "attempts": self.result.attempts,
            "check": {n: ("error" if self.error(n) else "mismatch" if self.problem(n) else
                          "not checked" if n in CEILINGS else "ok")
                      for n in names if self.timing(n) or self.error(n)},
            "problems": {n: self.problem(n) for n in names if self.problem(n)},
            "errors": {n: self.error(n) for n in names if self.error(n)},
            "timings": {n: t.to_json() for n, t in timings.items()},
            "throughput_Gelem_s": {n: self.throughput(n) for n in timed},
            "ratios": {
                "fastce_speedup_vs": {n: self.speedup_over(n) for n in [BASELINE, *peers]
                                      if n in timed},
                "fastce_time_over_sum": self.ceiling_ratio(),
                "fastce_time_over_max": self.ceiling_ratio(READ),
                "fastce_scaling_vs_1_thread": self.scaling(),
            },
            # The original column: baseline time over each contender's.
            "speedup": {n: self.speedup(n) for n in timed if n not in (BASELINE, *CEILINGS)},
        }


def _try_call(bound: Bound) -> Tuple[Optional[Tuple[np.ndarray, ...]], Optional[str]]:
    """Run a call once; ``(arrays, None)`` or ``(None, formatted exception)``."""
    try:
        return as_arrays(bound.run_once()), None
    except Exception as exc:  # noqa: BLE001 - reported, never swallowed
        return None, "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _bind_all(case: Case, inputs: Inputs, contenders: Sequence[Contender],
              threads: Sequence[Threads], result: CaseResult) -> Dict[Key, Bound]:
    """Every contender's call at every thread count it distinguishes."""
    bounds: Dict[Key, Bound] = {}
    for c in contenders:
        for t in (threads if c.threaded else (None,)):
            try:
                bound = c.bind(case, inputs, t)
            except Exception as exc:  # noqa: BLE001 - reported as an error of that cell
                result.errors[c.key(t)] = f"{type(exc).__name__}: {exc}"
                continue
            if bound is not None:
                bounds[c.key(t)] = bound
    return bounds


def _check_all(case: Case, bounds: Mapping[Key, Bound], checked: Mapping[str, bool],
               result: CaseResult) -> List[Key]:
    """Call each once (the warm-up), check against the baseline; the keys that ran.

    The baseline runs first and only its result is kept, so at most two
    results are held at a time.
    """
    base_key = (BASELINE, None)
    expected = None
    ran: List[Key] = []
    for key in sorted(bounds, key=lambda k: k != base_key):
        got, error = _try_call(bounds[key])
        if got is None:
            result.errors[key] = error or "no result"
            continue
        ran.append(key)
        if key == base_key:
            expected = got
        elif expected is not None and checked.get(key[0], True):
            problem = compare(got, expected, case.dtype, case.op.outputs)
            if problem:
                result.problems[key] = problem
        del got
    return ran


def run_case(case: Case, contenders: Sequence[Contender], profile: Profile,
             budget: Optional[float] = None,
             threads: Sequence[Threads] = (None,)) -> CaseResult:
    """Check every contender against the baseline, then time them all together.

    Each thread count's calls are timed in interleaved rounds, under
    :func:`cpu_limit` (a 1-thread row runs on one CPU, whatever thread pools
    a contender keeps); the unthreaded contenders are timed with the first
    thread count. The checking call doubles as the warm-up (and as JAX's
    compilation). A contender that raises is reported and left out of the
    timing; a mismatching one is still timed. ``budget`` is per thread count.
    """
    result = CaseResult(case, tuple(threads))
    meter = LoadMeter()
    inputs = make_inputs(case)
    bounds = _bind_all(case, inputs, contenders, threads, result)
    ran = _check_all(case, bounds, {c.name: c.checked for c in contenders}, result)
    share = profile.budget if budget is None else budget
    timings: Dict[Key, Timing] = {}
    for i, t in enumerate(threads):
        keys = [k for k in ran if k[1] == t or (i == 0 and k[1] is None)]
        with cpu_limit(t):
            got = time_interleaved([bounds[k] for k in keys], share,
                                   profile.min_repeats, profile.max_repeats)
        timings.update(zip(keys, got))
    result.timings = {k: timings[k] for k in ran}
    result.other_load = meter.others()
    return result


# --------------------------------------------------------------------------
# Targets (the issue's table)
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """One line of the issue's targets: a ratio over the matching rows.

    ``metric`` is ``"ceiling"`` (fastce time / x.sum() time, at most
    ``bound``), ``"scaling"`` (fastce 1-thread time / 2-thread time, at least
    ``bound``) or a contender's name (its time / fastce's, at least ``bound``).
    """

    title: str
    ops: Tuple[str, ...]
    dtype: Optional[str]  # None: both
    where: str  # the shape condition, as printed
    shape_ok: Callable[[Shape], bool]
    metric: str
    bound: float
    threads: Optional[int] = None  # only rows at this thread count

    @property
    def at_most(self) -> bool:
        return self.metric == "ceiling"

    def describe(self) -> str:
        """E.g. ``time / x.sum() <= 1.5x`` or ``>= 8x torch``."""
        if self.metric == "ceiling":
            return f"fastce time / x.sum() time <= {self.bound:g}x"
        if self.metric == "scaling":
            return f"fastce 2 threads vs 1 >= {self.bound:g}x"
        return f"fastce >= {self.bound:g}x faster than {self.metric}"

    def value(self, row: Row) -> Optional[float]:
        if self.metric == "ceiling":
            return row.ceiling_ratio()
        if self.metric == "scaling":
            return row.scaling()
        return row.speedup_over(self.metric)

    def applies(self, row: Row) -> bool:
        return (row.case.op.name in self.ops
                and (self.dtype is None or row.case.dtype == self.dtype)
                and (self.threads is None or row.threads == self.threads)
                and self.shape_ok(row.case.shape))

    def passes(self, value: float) -> bool:
        return value <= self.bound if self.at_most else value >= self.bound


def _targets() -> Tuple[Target, ...]:
    big_c = lambda s: s[1] >= 1000  # noqa: E731
    small_c = lambda s: s[1] in (10, 16)  # noqa: E731
    any_shape = lambda s: True  # noqa: E731
    four_m = lambda s: s[0] * s[1] >= 4_000_000  # noqa: E731
    million = lambda s: s[0] * s[1] >= 1_000_000  # noqa: E731
    fwd, grad, sig = ("softmax_ce",), ("softmax_ce_grad",), ("sigmoid_ce", "sigmoid_ce_grad")
    f32 = "float32"
    return (
        Target("softmax CE fwd (mean) float32", fwd, f32, "C >= 1000", big_c, "ceiling", 1.5),
        Target("softmax CE fwd (mean) float32", fwd, f32, "C >= 1000", big_c, "JAX", 4.0),
        Target("softmax CE fwd (mean) float32", fwd, f32, "C >= 1000", big_c, "torch", 8.0),
        Target("softmax CE fwd (mean) float32", fwd, f32, "C = 10, 16", small_c, "ceiling", 3.0),
        Target("softmax CE fwd (mean) float32", fwd, f32, "C = 10, 16", small_c, "JAX", 2.0),
        Target("softmax CE fwd+grad float32", grad, f32, "all shapes", any_shape, "JAX", 4.0),
        Target("softmax CE fwd+grad float32", grad, f32, "all shapes", any_shape, "torch", 8.0),
        Target("sigmoid CE fwd / fwd+grad float32", sig, f32, "4M elements", four_m, "JAX", 2.0),
        Target("sigmoid CE fwd / fwd+grad float32", sig, f32, "4M elements", four_m, "torch", 8.0),
        Target("softmax CE fwd (mean) float64", fwd, "float64", "C >= 1000", big_c, "torch", 8.0),
        Target("everything", tuple(OPERATIONS), None, "all shapes", any_shape, BASELINE, 10.0),
        Target("2 threads vs 1 (every operation)", tuple(OPERATIONS), None, "N*C >= 1e6",
               million, "scaling", 1.7, threads=2),
    )


#: The targets of the issue, checked by ``--targets``.
TARGETS: Tuple[Target, ...] = _targets()


@dataclass
class TargetOutcome:
    """A target evaluated on a run: its rows' values, and the verdict."""

    target: Target
    values: List[Tuple[Row, Optional[float]]]
    peer_mismatch: List[Row]

    @property
    def measured(self) -> List[Tuple[Row, float]]:
        return [(r, v) for r, v in self.values if v is not None]

    @property
    def failures(self) -> List[Tuple[Row, float]]:
        return [(r, v) for r, v in self.measured if not self.target.passes(v)]

    @property
    def verdict(self) -> str:
        """``PASS`` (every row), ``FAIL`` (any row) or ``n/a`` (nothing measured)."""
        if not self.measured:
            return "n/a"
        return "FAIL" if self.failures else "PASS"

    def worst(self) -> Optional[Tuple[Row, float]]:
        pick = max if self.target.at_most else min
        return pick(self.measured, key=lambda rv: rv[1]) if self.measured else None

    def to_json(self) -> Dict[str, Any]:
        return {
            "target": f"{self.target.title}, {self.target.where}: {self.target.describe()}",
            "metric": self.target.metric, "bound": self.target.bound,
            "verdict": self.verdict,
            "rows": [{"id": r.case.id, "threads": r.threads, "value": v,
                      "pass": None if v is None else self.target.passes(v),
                      "peer_mismatch": r in self.peer_mismatch}
                     for r, v in self.values],
        }


def evaluate_targets(rows: Sequence[Row],
                     targets: Sequence[Target] = TARGETS) -> List[TargetOutcome]:
    """Every target's values on the matching rows of one run."""
    outcomes = []
    for target in targets:
        matching = [r for r in rows if target.applies(r)]
        values = [(r, target.value(r)) for r in matching]
        peer_mismatch = [r for r in matching if target.metric in PEER_NAMES
                         and (r.problem(target.metric) or r.error(target.metric))]
        outcomes.append(TargetOutcome(target, values, peer_mismatch))
    return outcomes


def _row_tag(row: Row) -> str:
    threads = "" if row.threads is None else f" {row.threads}T"
    return f"{row.case.op.name} {_shape_str(row.case.shape)} {row.case.dtype}{threads}"


def _missing_reason(outcome: TargetOutcome) -> str:
    """Why a target has no measured value."""
    metric = outcome.target.metric
    if not outcome.values:
        return "no matching row in this run"
    if metric == "scaling":
        return "needs --threads with 1 and 2"
    if metric == "ceiling":
        return "x.sum() not timed (run with --peers)"
    return f"{metric} not timed (not importable, or it raised: see above)"


def _outcome_lines(outcome: TargetOutcome, max_listed: int) -> List[str]:
    """The checklist lines of one target: a summary, then rows (all, or the failing ones)."""
    t = outcome.target
    head = f"[{outcome.verdict:>4}] {t.title}, {t.where}: {t.describe()}"
    worst = outcome.worst()
    if worst is None:
        return [f"{head} -- {_missing_reason(outcome)}"]
    n, fails = len(outcome.measured), len(outcome.failures)
    head += f" -- worst {worst[1]:.2f}x ({_row_tag(worst[0])}); {n - fails}/{n} rows pass"
    loaded = sum(bool(_load_note(r.result.other_load)) for r, _ in outcome.measured)
    if loaded:
        head += f" ({loaded} measured under other load: unreliable)"
    listed = outcome.measured if n <= max_listed else outcome.failures
    lines = [head]
    for row, value in listed[:max_listed]:
        flag = "PASS" if t.passes(value) else "FAIL"
        notes = [f"{t.metric} result mismatched the reference"] * (row in outcome.peer_mismatch)
        notes += [n for n in [_load_note(row.result.other_load)] if n]
        mark = f" ({'; '.join(notes)})" if notes else ""
        lines.append(f"         {flag}  {value:8.2f}x  {_row_tag(row)}{mark}")
    if len(listed) > max_listed:
        lines.append(f"         ... and {len(listed) - max_listed} more failing rows")
    return lines


def format_targets(outcomes: Sequence[TargetOutcome], max_listed: int = 12) -> str:
    """The ``--targets`` checklist."""
    counts = {v: sum(o.verdict == v for o in outcomes) for v in ("PASS", "FAIL", "n/a")}
    lines = [f"Targets (issue), from this run: {counts['PASS']} PASS, {counts['FAIL']} FAIL, "
             f"{counts['n/a']} n/a (a target passes when every matching row does)"]
    for outcome in outcomes:
        lines += _outcome_lines(outcome, max_listed)
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------

def format_seconds(t: Optional[float]) -> str:
    """Seconds in a readable unit (``"12.3 ms"``); ``"-"`` when missing."""
    if t is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if t >= scale:
            return f"{t / scale:.3g} {unit}" if t / scale < 100 else f"{t / scale:.0f} {unit}"
    return f"{t * 1e9:.0f} ns"


def _fmt(value: Optional[float], spec: str, suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def _shape_str(shape: Shape) -> str:
    return f"({shape[0]}, {shape[1]})"


def _threads_str(threads: Threads) -> str:
    return "default" if threads is None else str(threads)


def _mark(row: Row, name: str) -> str:
    """``"!"`` after a value whose result disagreed with the reference."""
    return "!" if row.problem(name) else ""


def _row_label(row: Row) -> List[str]:
    return [row.case.op.label, _shape_str(row.case.shape), row.case.dtype,
            _threads_str(row.threads)]


_LABEL_HEADER = ["operation", "shape", "dtype", "threads"]


def time_table_rows(rows: Sequence[Row], names: Sequence[str]) -> List[List[str]]:
    """Header and body of the time table: seconds per call of every contender, and the check."""
    table = [_LABEL_HEADER + [f"{n} time" for n in names] + ["check"]]
    for row in rows:
        cells = [format_seconds(row.median(n)) + _mark(row, n) for n in names]
        load = _load_note(row.result.other_load)
        check = ", ".join([row.status] + row.peer_notes(names) + ([load] if load else []))
        table.append(_row_label(row) + cells + [check])
    return table


def ratio_table_rows(rows: Sequence[Row], names: Sequence[str]) -> List[List[str]]:
    """Header and body of the throughput table: G elements/s and every ratio of the row."""
    rivals = [n for n in names if n not in (SUBJECT, *CEILINGS)]
    ceilings = [n for n in CEILINGS if n in names]
    show_scaling = any(r.scaling() is not None for r in rows)
    header = _LABEL_HEADER + [f"{n} Gel/s" for n in names]
    header += [f"vs {n}" for n in rivals]
    header += [f"/ {n}" for n in ceilings] + ["vs 1 thread"] * show_scaling
    table = [header]
    for row in rows:
        cells = [_fmt(row.throughput(n), ".3f") + _mark(row, n) for n in names]
        cells += [_fmt(row.speedup_over(n), ".2f", "x") for n in rivals]
        cells += [_fmt(row.ceiling_ratio(n), ".2f", "x") for n in ceilings]
        cells += [_fmt(row.scaling(), ".2f", "x")] * show_scaling
        table.append(_row_label(row) + cells)
    return table


RATIO_LEGEND = ("Gel/s = 1e9 logits elements per second. 'vs X' = X's time / fastce's time "
                "(fastce's speed-up); '/ x.sum()' = fastce's time / x.sum()'s (the targets' "
                "yardstick, NumPy's pairwise sum); '/ x.max()' = fastce's time / one vectorised "
                "read's (1.00x = as fast as reading the array); 'vs 1 thread' = fastce's 1-thread time / this row's. "
                "'!' = the result differs from fastce.reference beyond the tolerance.")


def format_table(rows: Sequence[Sequence[str]], left: int = 4, text_last: bool = False) -> str:
    """Align rows into a plain-text table.

    The first ``left`` columns (and the last one if ``text_last``) are text,
    left-aligned; the others are numbers, right-aligned.
    """
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    left_columns = set(range(left)) | ({len(widths) - 1} if text_last else set())

    def line(row: Sequence[str]) -> str:
        cells = [c.ljust(w) if i in left_columns else c.rjust(w)
                 for i, (c, w) in enumerate(zip(row, widths))]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(rows[0]), rule] + [line(r) for r in rows[1:]])


def progress_line(index: int, total: int, row: Row, names: Sequence[str]) -> str:
    """One line per finished case and thread count, for stderr."""
    width = len(str(total))
    parts = [f"fastce {format_seconds(row.median(SUBJECT))}"]
    parts += [f"{row.speedup_over(n):.2f}x vs {n}{_mark(row, n)}" for n in names
              if n not in (SUBJECT, *CEILINGS) and row.speedup_over(n) is not None]
    if row.ceiling_ratio() is not None:
        parts.append(f"{row.ceiling_ratio():.2f}x x.sum()")
    if row.scaling() is not None:
        parts.append(f"{row.scaling():.2f}x vs 1 thread")
    load = _load_note(row.result.other_load)
    threads = "" if row.threads is None else f" {row.threads}T"
    return (f"[{index:>{width}}/{total}] {row.case.op.label} {_shape_str(row.case.shape)} "
            f"{row.case.dtype}{threads}: " + " | ".join(parts) + f" | {row.status}"
            + (f" ({load}!)" if load else ""))


def _show_config_text(module: Any) -> Optional[str]:
    """Whatever ``module.show_config()`` prints or returns, if it exists."""
    show = getattr(module, "show_config", None)
    if not callable(show):
        return None
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            returned = show()
    except Exception as exc:  # noqa: BLE001 - informative only
        return f"show_config() raised {exc!r}"
    text = buffer.getvalue().rstrip()
    if not text and returned is not None:  # it returned its report instead of printing it
        if isinstance(returned, Mapping):
            text = "\n".join(f"{key}: {value}" for key, value in returned.items())
        else:
            text = str(returned).rstrip()
    return text or None


def environment(threads: Sequence[Threads], contenders: Sequence[Contender] = (),
                missing: Optional[Mapping[str, str]] = None) -> Dict[str, Any]:
    """Versions and machine facts printed in the header and saved in the JSON."""
    import fastce

    affinity = getattr(os, "sched_getaffinity", None)
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "numpy": np.__version__,
        "fastce": getattr(fastce, "__version__", "unknown"),
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(affinity(0)) if affinity else None,
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "busy_cpus_before": busy_cpus(),
        "n_threads": list(threads),
        "contenders": {c.name: {"role": c.role, "version": c.version, "threaded": c.threaded,
                                "note": c.note} for c in contenders},
        "missing_peers": dict(missing or {}),
        "show_config": _show_config_text(fastce),
    }


def _contender_lines(env: Mapping[str, Any]) -> List[str]:
    lines = []
    for name, info in env["contenders"].items():
        if info["role"] in ("peer", "ceiling"):
            version = f" {info['version']}" if info["version"] else ""
            lines.append(f"  {name}{version}: {info['note']}")
    lines += [f"  {name}: not importable ({why}); column absent"
              for name, why in env["missing_peers"].items()]
    return (["contenders:"] + lines) if lines else []


def _unthreaded_note(env: Mapping[str, Any]) -> str:
    """Which contenders ignore the thread count (timed once per case)."""
    names = [n for n, info in env["contenders"].items() if not info["threaded"]]
    verb = "ignores" if len(names) == 1 else "ignore"
    return (f"{', '.join(names)} {verb} the thread count: timed once per case, "
            f"shown on each thread count's row")


def _threads_means(env: Mapping[str, Any]) -> str:
    """What the thread count of a row sets, for the contenders of this run."""
    setters = {SUBJECT: "fastce n_threads", "torch": "torch.set_num_threads",
               "sklearn": "sklearn n_threads", "JAX": "the CPUs JAX's pool may use"}
    parts = [text for name, text in setters.items() if name in env["contenders"]]
    return ", ".join(parts) + "; 'default' = fastce's default"


def format_header(env: Mapping[str, Any], profile: Profile, budget: Optional[float] = None,
                  retries: int = 0) -> str:
    """The lines printed before the tables (``budget``: the ``--budget`` override)."""
    threads = ", ".join(_threads_str(t) for t in env["n_threads"])
    cpus = env["cpu_count"] if env["usable_cpus"] in (None, env["cpu_count"]) \
        else f"{env['cpu_count']} ({env['usable_cpus']} usable)"
    load = env["load_average_1min"]
    lines = [
        f"fastce {env['fastce']} benchmark ({profile.name} profile) -- "
        f"NumPy = fastce.reference on the same inputs",
        f"python {env['python']}, numpy {env['numpy']}, {env['platform']}",
        f"CPUs: {cpus}; threads per row: {threads} ({_threads_means(env)})"
        + ("" if load is None else f"; load average {load:.2f}"),
        f"timing: medians of repeats in bursts per contender, {BURST_ROUNDS} rounds "
        f"(>= {profile.min_repeats} each, "
        f"~{profile.budget if budget is None else budget:g} s per case and thread count); "
        + _unthreaded_note(env),
        f"other load: a case during which other processes used >= {BUSY_WARNING:g} CPU "
        + (f"is rerun up to {retries} time(s), each after waiting up to {RETRY_WAIT_S:g} s "
           f"for quiet, keeping the quietest run" if retries
           else "is only marked (--retries 0)"),
        f"check: rtol = atol/max|ref| = {TOLERANCE_ULPS} eps of the dtype, every contender "
        f"against fastce.reference before timing",
    ]
    busy = env["busy_cpus_before"]
    if busy is not None and busy >= BUSY_WARNING:
        lines.append(f"WARNING: other processes kept {busy:.1f} CPU(s) busy just before the run: "
                     f"timings, multi-threaded ones above all, are unreliable")
    lines += _contender_lines(env)
    if env["show_config"]:
        lines.append("fastce.show_config():")
        lines += ["  " + line for line in env["show_config"].splitlines()]
    return "\n".join(lines)


def _problem_lines(rows_or_results: Sequence[CaseResult], roles: Mapping[str, str],
                   peers: bool) -> List[str]:
    """Mismatches and errors of fastce and the baseline (``peers=False``) or of the peers."""
    lines = []
    for r in rows_or_results:
        for kind, table in (("MISMATCH", r.problems), ("ERROR   ", r.errors)):
            for (name, threads), text in table.items():
                if (roles.get(name) == "peer") != peers:
                    continue
                at = "" if threads is None else f" at {threads} threads"
                lines.append(f"{kind} {r.case.id} [{name}{at}]: {text}")
    return lines


def write_json(path: str, env: Mapping[str, Any], profile: Profile,
               results: Sequence[CaseResult], names: Sequence[str],
               targets: Optional[Sequence[TargetOutcome]] = None,
               settings: Optional[Mapping[str, Any]] = None) -> None:
    """Save the run in machine-readable form: one entry per case and thread count.

    ``settings`` adds to (or overrides) the profile's settings, e.g. ``--budget``.
    """
    payload = {
        "environment": dict(env),
        "settings": {"profile": profile.name, "budget_s": profile.budget,
                     "min_repeats": profile.min_repeats, "tolerance_eps": TOLERANCE_ULPS,
                     "seed": SEED, "baseline": BASELINE, "contenders": list(names),
                     **(settings or {})},
        "results": [row.to_json(names) for r in results for row in r.rows()],
    }
    if targets is not None:
        payload["targets"] = [o.to_json() for o in targets]
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=2)
        fh.write("\n")


# --------------------------------------------------------------------------
# Bar chart (matplotlib, optional)
# --------------------------------------------------------------------------

#: Bar colours per contender (the peers in muted tones, fastce stands out).
_COLOURS = {BASELINE: "#9e9e9e", SUBJECT: "#d62728", "torch": "#1f77b4", "JAX": "#2ca02c",
            "sklearn": "#ff7f0e", CEILING: "#000000", READ: "#555555"}


def _import_pyplot() -> Any:
    """matplotlib's pyplot on the non-interactive Agg backend; ``ImportError`` if missing."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_group_label(row: Row, many_threads: bool) -> str:
    n, c = row.case.shape
    dtype = "f32" if row.case.dtype == "float32" else "f64"
    threads = f" {_threads_str(row.threads)}T" if many_threads else ""
    return f"{n}x{c}\n{dtype}{threads}"


def _plot_operation(ax: Any, op: Operation, rows: Sequence[Row], names: Sequence[str]) -> None:
    """One subplot: for each row of the operation, a bar per contender timed on it."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    names = [n for n in names if any(row.timing(n) for row in rows)]
    many_threads = len({r.threads for r in rows}) > 1
    width = 0.8 / len(names)
    for j, name in enumerate(names):
        xs = [i + (j - (len(names) - 1) / 2) * width for i in range(len(rows))]
        ys = [row.throughput(name) or 0.0 for row in rows]
        ax.bar(xs, ys, width, label=name, color=_COLOURS.get(name),
               hatch="//" if name in CEILINGS else None,
               fill=name not in CEILINGS, edgecolor=_COLOURS.get(name))
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_title(op.label, fontsize=10, loc="left")
    ax.set_ylabel("G elements/s")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([_plot_group_label(r, many_threads) for r in rows], fontsize=7)
    ax.grid(axis="y", which="major", alpha=0.4)
    ax.set_xlim(-0.6, len(rows) - 0.4)


def write_plot(path: str, results: Sequence[CaseResult], names: Sequence[str],
               title: str) -> None:
    """Grouped bar chart of throughput per case (log scale), one subplot per operation."""
    plt = _import_pyplot()
    by_op: Dict[str, List[Row]] = {}
    for r in results:
        by_op.setdefault(r.case.op.name, []).extend(r.rows())
    shown = [n for n in names if any(row.timing(n) for rows in by_op.values() for row in rows)]
    widest = max(len(rows) for rows in by_op.values())
    fig, axes = plt.subplots(len(by_op), 1, squeeze=False,
                             figsize=(min(24.0, max(8.0, 0.25 * widest * len(shown) + 2)),
                                      2.6 * len(by_op) + 1.0))
    for ax, (op_name, rows) in zip(axes[:, 0], by_op.items()):
        _plot_operation(ax, OPERATIONS[op_name], rows, shown)
    handles = [plt.Rectangle((0, 0), 1, 1, color=_COLOURS.get(n), fill=n not in CEILINGS,
                             hatch="//" if n in CEILINGS else None) for n in shown]
    fig.legend(handles, shown, ncol=len(shown), loc="upper left",
               bbox_to_anchor=(0.01, 1.0 - 0.3 / fig.get_figheight()),
               fontsize=9, frameon=False)
    top = 1.0 - 0.5 / fig.get_figheight()  # room for the title and the legend
    fig.suptitle(title, fontsize=11, x=0.01, y=1.0 - 0.05 / fig.get_figheight(), ha="left",
                 va="top")
    fig.tight_layout(rect=(0, 0, 1, top))
    fig.savefig(path, dpi=100)
    plt.close(fig)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------

def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def _thread_list(text: str) -> List[int]:
    """``"1,2"`` -> ``[1, 2]`` (distinct, in the given order)."""
    try:
        values = [_positive_int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected e.g. 1,2: {exc}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one thread count, e.g. 1,2")
    return list(dict.fromkeys(values))


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``fastce bench``."""
    parser.add_argument("--quick", action="store_true",
                        help="small shapes (<= ~1M elements) and few repeats; under a minute")
    parser.add_argument("--dtype", choices=(*DTYPES, "all"), default="all",
                        help="dtype(s) to benchmark (default: all)")
    parser.add_argument("--threads", type=_thread_list, default=None, metavar="N[,N...]",
                        help="thread counts, e.g. 1,2: every case runs at each (fastce "
                             "n_threads, torch.set_num_threads, sklearn n_threads); "
                             "default: fastce's default")
    parser.add_argument("--peers", action="store_true",
                        help="add PyTorch, JAX and scikit-learn columns (those importable) "
                             "and the x.sum() and x.max() ceilings")
    parser.add_argument("--targets", action="store_true",
                        help="after the tables, check the issue's targets on this run "
                             "(implies --peers)")
    parser.add_argument("--filter", action="append", default=None, metavar="SUBSTRING",
                        help="only operations whose name or label contains SUBSTRING "
                             "(case-insensitive; repeat for several)")
    parser.add_argument("--json", default=None, metavar="FILE",
                        help="also write the results as JSON to FILE")
    parser.add_argument("--plot", default=None, metavar="FILE.png",
                        help="also draw a bar chart of the throughputs (needs matplotlib)")
    parser.add_argument("--budget", type=_positive_float, default=None, metavar="SECONDS",
                        help="timing budget per case and thread count "
                             "(default: 0.15 with --quick, else 0.8)")
    parser.add_argument("--retries", type=_non_negative_int, default=2, metavar="N",
                        help="rerun a case up to N times when other processes kept the CPUs "
                             "busy during it, after waiting for them (up to "
                             f"{RETRY_WAIT_S:g} s per rerun, {TOTAL_WAIT_S:g} s per run); "
                             "the quietest run is kept (default: 2)")
    parser.add_argument("--list", action="store_true",
                        help="list the selected cases and exit")


def _contenders(want_peers: bool) -> Tuple[List[Contender], Dict[str, str]]:
    """NumPy and fastce, plus (if asked) the importable peers and the ceiling."""
    contenders = default_contenders()
    if not want_peers:
        return contenders, {}
    peers, missing = peer_contenders()
    return contenders + peers + ceiling_contenders(), missing


@dataclass
class _WaitBudget:
    """Seconds a run may still spend waiting for a quiet machine."""

    left: float = TOTAL_WAIT_S


def _quietest_run(case: Case, contenders: Sequence[Contender], profile: Profile,
                  budget: Optional[float], threads: Sequence[Threads],
                  retries: int, waits: _WaitBudget) -> CaseResult:
    """Run a case; rerun it (up to ``retries`` times) while other processes load the CPUs.

    Before each rerun, waits (within ``waits``) for the other processes to
    finish. Keeps the attempt during which they used the fewest CPUs.
    """
    best = run_case(case, contenders, profile, budget, threads)
    for attempt in range(1, retries + 1):
        if not _load_note(best.other_load):
            break
        wait = min(RETRY_WAIT_S, waits.left)
        print(f"  .. other processes used {best.other_load:.1f} CPU during {case.id}: "
              f"rerunning it ({attempt}/{retries}) once they stop (waiting up to {wait:.0f} s)",
              file=sys.stderr, flush=True)
        waits.left -= wait_for_quiet(wait)
        again = run_case(case, contenders, profile, budget, threads)
        again.attempts = best.attempts + 1
        if (again.other_load or 0.0) < (best.other_load or 0.0):
            best = again
        else:
            best.attempts = again.attempts
    return best


def _run_all(selected: Sequence[Case], contenders: Sequence[Contender], profile: Profile,
             budget: Optional[float], threads: Sequence[Threads],
             retries: int = 0) -> Tuple[List[CaseResult], bool]:
    """Run the cases with progress on stderr; the results and whether it was interrupted."""
    names = [c.name for c in contenders]
    roles = {c.name: c.role for c in contenders}
    total = len(selected) * len(threads)
    results: List[CaseResult] = []
    waits = _WaitBudget()
    try:
        for i, case in enumerate(selected):
            result = _quietest_run(case, contenders, profile, budget, threads, retries, waits)
            results.append(result)
            for j, row in enumerate(result.rows()):
                print(progress_line(i * len(threads) + j + 1, total, row, names),
                      file=sys.stderr, flush=True)
            for line in _problem_lines([result], roles, peers=False):
                print(f"  !! {line}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted: reporting the finished cases", file=sys.stderr)
        return results, True
    return results, False


def _report(results: Sequence[CaseResult], names: Sequence[str]) -> None:
    """Both tables."""
    rows = [row for r in results for row in r.rows()]
    print("Time per call")
    print(format_table(time_table_rows(rows, names), text_last=True))
    print("\nThroughput (G elements/s) and ratios")
    print(format_table(ratio_table_rows(rows, names)))
    print(RATIO_LEGEND)


def _loaded_cases_line(results: Sequence[CaseResult]) -> Optional[str]:
    """A warning naming how many cases ran while other processes used the CPUs."""
    loaded = [r for r in results if _load_note(r.other_load)]
    if not loaded:
        return None
    worst = max(r.other_load or 0.0 for r in loaded)
    return (f"WARNING: {len(loaded)} case(s) ran while other processes kept >= {BUSY_WARNING:g} "
            f"CPU busy (up to {worst:.1f}; marked 'other load' in the check column): "
            f"their timings are unreliable, rerun on a quiet machine")


def _check_plot_available(path: Optional[str]) -> Optional[str]:
    """An error message if ``--plot`` was given but matplotlib is missing."""
    if path is None:
        return None
    try:
        _import_pyplot()
    except ImportError as exc:
        return (f"fastce bench: --plot needs matplotlib ({exc}); install it with "
                f"'pip install matplotlib' or leave out --plot")
    return None


def run(args: argparse.Namespace) -> int:
    """Run ``fastce bench``; the exit status (1 if fastce disagreed with the reference or raised).

    Peers that disagree or raise are reported but do not change the status.
    """
    profile = PROFILES["quick" if args.quick else "full"]
    dtypes = DTYPES if args.dtype == "all" else (args.dtype,)
    selected = cases(profile.name, dtypes, args.filter)
    if not selected:
        print(f"fastce bench: no operation matches {args.filter}; known: "
              f"{', '.join(OPERATIONS)}", file=sys.stderr)
        return 2
    if args.list:
        print("\n".join(c.id for c in selected))
        return 0
    plot_error = _check_plot_available(args.plot)
    if plot_error:
        print(plot_error, file=sys.stderr)
        return 2

    threads: List[Threads] = list(args.threads) if args.threads else [None]
    contenders, missing = _contenders(args.peers or args.targets)
    names = [c.name for c in contenders]
    roles = {c.name: c.role for c in contenders}
    env = environment(threads, contenders, missing)
    print(format_header(env, profile, args.budget, args.retries), flush=True)

    start = time.perf_counter()
    results, interrupted = _run_all(selected, contenders, profile, args.budget, threads,
                                    args.retries)
    elapsed = time.perf_counter() - start

    print()
    if results:
        _report(results, names)
    print(f"\n{len(results)} of {len(selected)} cases x {len(threads)} thread count(s) "
          f"in {elapsed:.1f} s")
    loaded = _loaded_cases_line(results)
    if loaded:
        print(loaded)
    outcomes = None
    if args.targets and results:
        outcomes = evaluate_targets([row for r in results for row in r.rows()])
        if profile.name != "full":
            print("\nnote: --quick shapes are not the issue's; the checklist is indicative only")
        print()
        print(format_targets(outcomes))
    if args.json:
        write_json(args.json, env, profile, results, names, outcomes,
                   {"budget_s": profile.budget if args.budget is None else args.budget,
                    "retries": args.retries, "threads": threads,
                    "dtypes": list(dtypes), "filters": args.filter})
        print(f"results written to {args.json}")
    if args.plot and results:
        write_plot(args.plot, results, names,
                   f"fastce {env['fastce']} ({profile.name} profile): throughput, "
                   f"G elements/s (log scale; higher is better)")
        print(f"bar chart written to {args.plot}")

    peer_lines = _problem_lines(results, roles, peers=True)
    if peer_lines:
        print(f"\npeers that disagree with fastce.reference or raised ({len(peer_lines)}; "
              f"informational, their cells are marked '!' or '-'):")
        for line in peer_lines:
            print(f"  {line}")
    failures = _problem_lines(results, roles, peers=False)
    if failures:
        print(f"\nFAILED: {len(failures)} problem(s) -- fastce disagrees with "
              f"fastce.reference or raised:", file=sys.stderr)
        for line in failures:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 130 if interrupted else 0
