"""pytest-benchmark suite of fastce against ``fastce.reference`` (NumPy).

Run explicitly (the project's ``testpaths`` only covers ``tests/``)::

    pytest bench/ --benchmark-only

Files named ``bench_*.py`` in this directory are collected as test modules
(see :func:`pytest_collect_file`), so a plain ``pytest`` from the repository
root never runs them. Cases, shapes, inputs and the correctness check all
come from :mod:`fastce._bench`, the module behind ``python -m fastce bench``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import pytest

from fastce import _bench

#: The cases of the suite: every operation, the "pytest" profile's shapes, both dtypes.
CASES = _bench.cases("pytest")
#: The implementations compared within each benchmark group.
IMPLEMENTATIONS = ("fastce", "numpy")


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--fastce-threads N``: the ``n_threads`` passed to fastce."""
    parser.addoption("--fastce-threads", type=int, default=None, metavar="N",
                     help="n_threads passed to the fastce functions (default: library default)")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> Optional[pytest.Module]:
    """Collect ``bench_*.py`` as test modules (explicitly named files already are)."""
    if (file_path.suffix == ".py" and file_path.name.startswith("bench_")
            and not parent.session.isinitpath(file_path)):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


@pytest.fixture(scope="module", params=CASES, ids=[c.id for c in CASES])
def case(request: pytest.FixtureRequest) -> _bench.Case:
    """One operation x shape x dtype (module-scoped, so its inputs are made once)."""
    return request.param


@pytest.fixture(scope="module")
def inputs(case: _bench.Case) -> _bench.Inputs:
    """The case's input arrays, generated from the fixed seed :data:`fastce._bench.SEED`."""
    return _bench.make_inputs(case)


@pytest.fixture(scope="module")
def expected(case: _bench.Case, inputs: _bench.Inputs) -> tuple:
    """The reference (``fastce.reference``) result of the case, as arrays."""
    from fastce import reference

    return _bench.as_arrays(_bench.bind_call(reference, case, inputs)())


@pytest.fixture(params=IMPLEMENTATIONS)
def implementation(request: pytest.FixtureRequest) -> str:
    """Which implementation the test times: ``"fastce"`` or ``"numpy"``."""
    return request.param


@pytest.fixture
def call(request: pytest.FixtureRequest, case: _bench.Case, inputs: _bench.Inputs,
         implementation: str) -> _bench.Call:
    """The no-argument call to time for this case and implementation."""
    import fastce
    from fastce import reference

    if implementation == "numpy":
        return _bench.bind_call(reference, case, inputs)
    threads: Any = request.config.getoption("--fastce-threads")
    extra = {} if threads is None else {"n_threads": threads}
    return _bench.bind_call(fastce, case, inputs, **extra)
