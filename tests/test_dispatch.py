"""Run-time dispatch: choosing, forcing and refusing instruction sets, and
the paths agreeing with each other."""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastce
from fastce import _kernels
from fastce._config import ISAS

from helpers import assert_close, labels_for, logits


def test_select_isa_switches_the_kernels(isa):
    assert fastce.show_config(print_out=False)["isa"] == isa
    assert _kernels.current_isa() == isa


def test_unknown_isa_is_refused():
    # (the message named FASTCE_ISA where no variable was involved)
    with pytest.raises(ValueError, match="^name must be one of scalar, avx2, avx512; got 'avx1024'"):
        fastce.select_isa("avx1024")


def run_python(code, **env):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env})


def test_environment_variable_forces_a_path():
    done = run_python("import fastce; print(fastce.show_config(print_out=False)['isa'])",
                      FASTCE_ISA="scalar")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "scalar"


def test_bad_environment_variable_fails_at_import_with_a_clear_message():
    done = run_python("import fastce", FASTCE_ISA="bogus")
    assert done.returncode != 0
    assert "FASTCE_ISA must be one of" in done.stderr


@pytest.mark.skipif(_kernels.best_isa() == "scalar", reason="only the scalar path exists here")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(300, 10), (20, 1000)])
def test_paths_agree(dtype, shape):
    x = logits(shape, dtype)
    y = labels_for(shape, 1)
    z = (x > 0).astype(dtype)
    results = {}
    previous = _kernels.current_isa()
    try:
        for name in [i for i in ISAS if _kernels.isa_supported(i)]:
            fastce.select_isa(name)
            results[name] = (
                fastce.softmax_cross_entropy(x, y, reduction="none", return_grad=True),
                fastce.sigmoid_cross_entropy(x, z, reduction="none", return_grad=True),
                fastce.softmax(x))
    finally:
        fastce.select_isa(previous)
    a = results.pop("scalar")
    for b in results.values():  # every vector path against the portable one
        for pa, pb in zip(a[:2], b[:2]):
            for va, vb in zip(pa, pb):
                assert_close(va, vb, dtype, k=4)
        assert_close(a[2], b[2], dtype, k=4)
