"""Benchmarks: one group per operation x shape x dtype, fastce and NumPy side by side.

Every benchmark checks its result against the ``fastce.reference`` one with
the tolerance of ``python -m fastce bench`` (see :func:`fastce._bench.compare`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastce import _bench


def test_operation(benchmark: Any, case: _bench.Case, implementation: str,
                   call: _bench.Call, expected: tuple) -> None:
    """Time one implementation on one case, then check what it returned."""
    benchmark.group = case.id
    benchmark.extra_info.update(operation=case.op.label, shape=list(case.shape),
                                dtype=case.dtype, elements=case.elements)
    got = _bench.as_arrays(benchmark(call))
    assert all(np.all(np.isfinite(part)) for part in got), "non-finite result"
    problem = _bench.compare(got, expected, case.dtype, case.op.outputs)
    assert problem is None, f"{implementation} disagrees with fastce.reference: {problem}"
