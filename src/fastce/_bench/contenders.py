"""The contenders: NumPy (``fastce.reference``), fastce, the peers (PyTorch, JAX,
scikit-learn) and the ceilings ``x.sum()`` and ``x.max()``."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import (Any, Callable, ContextManager, Dict, Iterable, Iterator, List, Optional,
                    Sequence, Tuple)

import numpy as np

from ._base import BASELINE, CEILING, Call, Inputs, Key, PEER_NAMES, READ, SUBJECT, Shape, Threads
from .cases import Case


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
