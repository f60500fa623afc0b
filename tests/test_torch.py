"""Agreement with torch.nn.functional on the same inputs (skipped when
torch is not importable: it is a peer, never a requirement)."""
import numpy as np
import pytest

import fastce

from helpers import assert_close, labels_for, logits, soft_target

torch = pytest.importorskip("torch")
F = torch.nn.functional


def t64(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.15])
@pytest.mark.parametrize("shape, axis", [((6, 5), 1), ((3, 4, 2, 3), 1)], ids=["NC", "NCdd"])
def test_cross_entropy_sparse(shape, axis, smoothing, reduction):
    x = logits(shape, np.float64)
    y = labels_for(shape, axis, ignore_frac=0.3)
    w = np.random.default_rng(0).uniform(0.5, 2, shape[axis])
    loss, grad = fastce.cross_entropy(x, y, axis=axis, weight=w, label_smoothing=smoothing,
                                      reduction=reduction, return_grad=True)
    tx = t64(x, grad=True)
    tl = F.cross_entropy(tx, torch.tensor(y), weight=t64(w), label_smoothing=smoothing,
                         reduction=reduction)
    tl.sum().backward()
    assert_close(loss, tl.detach().numpy(), np.float64, k=64)
    assert_close(grad, tx.grad.numpy(), np.float64, k=64)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_dense(reduction):
    x = logits((6, 5), np.float64)
    t = soft_target((6, 5), 1, np.float64)
    w = np.linspace(0.5, 2, 5)
    loss, grad = fastce.cross_entropy(x, t, weight=w, label_smoothing=0.1, reduction=reduction,
                                      return_grad=True)
    tx = t64(x, grad=True)
    tl = F.cross_entropy(tx, t64(t), weight=t64(w), label_smoothing=0.1, reduction=reduction)
    tl.sum().backward()
    assert_close(loss, tl.detach().numpy(), np.float64, k=64)
    assert_close(grad, tx.grad.numpy(), np.float64, k=64)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss(reduction):
    lp = fastce.log_softmax(logits((6, 5), np.float64))
    y = labels_for((6, 5), 1, ignore_frac=0.3)
    w = np.linspace(0.5, 2, 5)
    loss, grad = fastce.nll_loss(lp, y, weight=w, reduction=reduction, return_grad=True)
    tx = t64(lp, grad=True)
    tl = F.nll_loss(tx, torch.tensor(y), weight=t64(w), reduction=reduction)
    tl.sum().backward()
    assert_close(loss, tl.detach().numpy(), np.float64, k=64)
    assert_close(grad, tx.grad.numpy(), np.float64, k=64)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_with_logits(reduction):
    x = logits((6, 5), np.float64)
    z = np.random.default_rng(1).random((6, 5))
    w = np.random.default_rng(2).uniform(0.5, 2, (6, 1))
    q = np.linspace(0.5, 3, 5)
    loss, grad = fastce.binary_cross_entropy_with_logits(x, z, weight=w, pos_weight=q,
                                                         reduction=reduction, return_grad=True)
    tx = t64(x, grad=True)
    tl = F.binary_cross_entropy_with_logits(tx, t64(z), weight=t64(w), pos_weight=t64(q),
                                            reduction=reduction)
    tl.sum().backward()
    assert_close(loss, tl.detach().numpy(), np.float64, k=64)
    assert_close(grad, tx.grad.numpy(), np.float64, k=64)


def test_binary_cross_entropy_probabilities():
    p = np.random.default_rng(3).uniform(0.01, 0.99, (6, 5))
    z = np.random.default_rng(4).random((6, 5))
    loss, grad = fastce.binary_cross_entropy(p, z, reduction="sum", return_grad=True)
    tp = t64(p, grad=True)
    tl = F.binary_cross_entropy(tp, t64(z), reduction="sum")
    tl.backward()
    assert_close(loss, tl.item(), np.float64, k=64)
    assert_close(grad, tp.grad.numpy(), np.float64, k=64)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_softmax_family(name):
    x = logits((4, 7, 3), np.float32)
    got = getattr(fastce, name)(x, axis=1)
    want = getattr(torch, name)(torch.tensor(x), dim=1).numpy()
    assert_close(got, want, np.float32, k=16)
