"""Results do not depend on the number of threads, to the last bit; the
kernels run on a small stack."""
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import fastce

from helpers import labels_for, logits, soft_target, under_asan


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


_SMALL_STACK_CALLS = textwrap.dedent("""
    import numpy as np
    import fastce

    r = np.random.default_rng(0)
    for dt in (np.float32, np.float64):
        for C in (3, 16, 31, 32, 64, 128, 1000):
            x = r.standard_normal((40, C)).astype(dt)
            t = r.dirichlet(np.ones(C), 40).astype(dt)
            y = t.argmax(1)
            w = np.linspace(0.5, 2.0, C).astype(dt)
            for ax in (-1, 0):  # rows, and samples side by side
                xs, ts = (x, t) if ax == -1 else (x.T, t.T)
                fastce.softmax_cross_entropy(xs, ts, axis=ax, weight=w, label_smoothing=0.1,
                                             return_grad=True, n_threads=1)
                fastce.softmax_cross_entropy(xs, ts, axis=ax, return_grad=True, n_threads=1)
                fastce.softmax_cross_entropy(xs, y, axis=ax, weight=w, label_smoothing=0.1,
                                             return_grad=True, n_threads=1)
                fastce.logsumexp(xs, axis=ax, n_threads=1)
                fastce.log_softmax(xs, axis=ax, n_threads=1)
                fastce.softmax(xs, axis=ax, n_threads=1)
            fastce.sigmoid_cross_entropy(x, t, return_grad=True, n_threads=1)
    print("done")
""")

#: The child's whole stack: its environment, Python's frames and the kernels'.
SMALL_STACK_KB = 160


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_STACK semantics of Linux")
@pytest.mark.skipif(under_asan(), reason="ASan's redzones enlarge every frame")
def test_kernels_fit_in_a_small_stack(isa):
    """musl gives a new thread 128 KB of stack, and the kernels run on the
    calling thread with n_threads=1. AVX-512's float64 dense-target kernel,
    its 32 widths inlined into one switch, had a 176 KB frame. The child
    runs every kernel family on its main thread, whose stack RLIMIT_STACK
    caps at 160 KB, with a guard gap below it, so an overflow faults every
    time (a 128 KB thread stack on glibc let the old frame land on mapped
    memory in 3 runs of 20). Before: SIGSEGV in 8 runs of 8 at 96-160 KB;
    now it runs at 112 KB, and no kernel frame is above 64 KB (gcc
    -fstack-usage)."""
    import resource

    def cap():
        limit = SMALL_STACK_KB * 1024
        resource.setrlimit(resource.RLIMIT_STACK, (limit, limit))

    env = {"FASTCE_ISA": isa}  # a small environment: it sits on that stack too
    if "PYTHONPATH" in os.environ:
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    proc = subprocess.run([sys.executable, "-c", _SMALL_STACK_CALLS], env=env,
                          preexec_fn=cap, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "done", (
        f"return code {proc.returncode}: {proc.stderr[-2000:]}")


def test_show_config_reports_openmp_and_threads():
    info = fastce.show_config(print_out=False)
    assert isinstance(info["openmp"], bool) and info["threads"] >= 1
