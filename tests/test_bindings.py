"""The binding layer: dtype specialisations, absent operands, required ones."""
import numpy as np
import pytest

from fastce import _kernels
from fastce._bindings import for_dtype

FUSED = sorted(name for name, fn in vars(_kernels).items()
               if getattr(fn, "__signatures__", None))


def test_every_fused_binding_has_both_specialisations():
    assert "softmax_ce_sparse" in FUSED and "check_labels" in FUSED
    for dt, ctype in ((np.float32, "float"), (np.float64, "double")):
        table = for_dtype(np.dtype(dt))
        for name in FUSED:
            assert getattr(table, name) is not None
            assert ctype in getattr(_kernels, name).__signatures__


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_specialisation_matches_fused_dispatch_and_none_is_absent(dt):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(4 * 5).astype(dt)
    y = rng.integers(0, 5, 4)
    empty = np.empty(0, dt)
    # fused dispatch with empty arrays for the absent operands, against the
    # specialisation with None for them: the same kernel, the same bits
    a = _kernels.softmax_ce_sparse(x, y, 4, 5, 1, empty, empty, -100, 0.0, empty, empty, 1.0, 1)
    b = for_dtype(np.dtype(dt)).softmax_ce_sparse(x, y, 4, 5, 1, None, None, -100, 0.0,
                                                  None, None, 1.0, 1)
    assert a == b and np.isfinite(a)
    w = np.array([1.0, 2.0, 0.5, 1.0, 3.0], dt)
    c = for_dtype(np.dtype(dt)).softmax_ce_sparse(x, y, 4, 5, 1, w, None, -100, 0.0,
                                                  None, None, 1.0, 1)
    assert c != b  # a given operand is used


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_a_required_operand_given_as_none_raises(dt):
    k = for_dtype(np.dtype(dt))
    y = np.zeros(2, np.int64)
    with pytest.raises(TypeError):
        k.softmax_ce_sparse(None, y, 2, 1, 1, None, None, -100, 0.0, None, None, 1.0, 1)
    with pytest.raises(TypeError):
        k.logsumexp(np.zeros(2, dt), 2, 1, 1, None, 1)
    with pytest.raises(TypeError):
        k.check_labels(None, 3, False, 0, None, None)
