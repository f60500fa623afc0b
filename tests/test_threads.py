"""Results do not depend on the number of threads, to the last bit."""
import threading

import numpy as np
import pytest

import fastce

from helpers import labels_for, logits


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
