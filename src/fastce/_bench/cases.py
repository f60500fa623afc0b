"""The benchmarked operations, their input generators, and the case lists of each profile."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ._base import DTYPES, Inputs, SEED, Shape


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
