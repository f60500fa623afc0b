"""Results do not depend on the number of threads, to the last bit."""
import threading

import numpy as np
import pytest

import fastce

from helpers import labels_for, logits, soft_target


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_bitwise_identical_for_any_thread_count(reduction):
    x = logits((20000, 37), np.float32)
    y = labels_for((20000, 37), 1)
    runs = [fastce.softmax_cross_entropy(x, y, reduction=reduction, return_grad=True, n_threads=n)
            for n in (1, 2, 3, None)]
    for loss, grad in runs[1:]:
        np.testing.assert_array_equal(loss, runs[0][0])
        np.testing.assert_array_equal(grad, runs[0][1])
    z = (x > 0).astype(np.float32)
    sig = [fastce.sigmoid_cross_entropy(x, z, n_threads=n) for n in (1, 2, 4)]
    assert sig[0] == sig[1] == sig[2]


@pytest.mark.parametrize("C", [10, 50])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dense", [False, True], ids=["sparse", "dense"])
def test_few_class_kernels_bitwise_identical_for_any_thread_count(dense, dtype, C):
    """The row-parallel kernels group rows from each parallel block's start;
    the blocks do not depend on the thread count, nor do the rows they
    leave to the one-by-one path (masked ones here). (C = 50: in the
    kernels' range for contiguous rows only.)"""
    x = logits((30001, C), dtype)
    x[::97] = -np.inf
    y = soft_target(x.shape, 1, dtype) if dense else labels_for(x.shape, 1)
    kw = dict(label_smoothing=0.1, sample_weight=np.linspace(0.5, 2, 30001).astype(dtype))
    runs = [fastce.softmax_cross_entropy(x, y, reduction=r, return_grad=True, n_threads=n, **kw)
            for n in (1, 2, 3) for r in ("none", "mean")]
    for k in range(2, len(runs)):
        np.testing.assert_array_equal(runs[k][0], runs[k % 2][0])
        np.testing.assert_array_equal(runs[k][1], runs[k % 2][1])


def test_concurrent_python_threads_agree_with_serial_calls():
    x = logits((5000, 50), np.float64)
    y = labels_for((5000, 50), 1)
    want = fastce.softmax_cross_entropy(x, y, reduction="none")
    results = [None] * 8

    def work(i):
        results[i] = fastce.softmax_cross_entropy(x, y, reduction="none")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        np.testing.assert_array_equal(r, want)


def test_show_config_reports_openmp_and_threads():
    info = fastce.show_config(print_out=False)
    assert isinstance(info["openmp"], bool) and info["threads"] >= 1
