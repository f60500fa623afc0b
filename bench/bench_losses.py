"""Benchmarks: one group per operation x shape x dtype, every implementation side by side.

Before timing, every implementation's result is checked against the
``fastce.reference`` one with the tolerance of ``python -m fastce bench``
(see :func:`fastce._bench.compare`): fastce and NumPy must agree (the test
fails otherwise); a peer that disagrees is timed all the same, with a warning
and ``check`` in the benchmark's ``extra_info``; the ``x.sum()`` ceiling
computes something else and is not checked.
"""

from __future__ import annotations

import warnings

from fastce import _bench


def _check(contender: _bench.Contender, case: _bench.Case, got: tuple,
           expected: tuple) -> str:
    """``"ok"``, ``"not checked"`` or what differs; fails the test for fastce and NumPy."""
    if not contender.checked:
        return "not checked"
    problem = _bench.compare(got, expected, case.dtype, case.op.outputs)
    if problem is None:
        return "ok"
    if contender.role == "peer":
        warnings.warn(f"{contender.name} disagrees with fastce.reference on {case.id}: {problem}",
                      stacklevel=2)
        return f"mismatch: {problem}"
    raise AssertionError(f"{contender.name} disagrees with fastce.reference: {problem}")


def test_operation(benchmark, case: _bench.Case, implementation: _bench.Contender,
                   bound: _bench.Bound, expected: tuple) -> None:
    """Check one implementation on one case (the warm-up, and JAX's compilation), then time it."""
    check = _check(implementation, case, _bench.as_arrays(bound.run_once()), expected)
    benchmark.group = case.id
    benchmark.extra_info.update(operation=case.op.label, shape=list(case.shape),
                                dtype=case.dtype, elements=case.elements,
                                implementation=implementation.name,
                                version=implementation.version, check=check)
    with bound.context():
        benchmark(bound.call)
