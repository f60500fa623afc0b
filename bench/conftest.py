"""pytest-benchmark suite of fastce against ``fastce.reference`` (NumPy) and its peers.

Run explicitly (the project's ``testpaths`` only covers ``tests/``)::

    pytest bench/ --benchmark-only

Files named ``bench_*.py`` in this directory are collected as test modules
(see :func:`pytest_collect_file`), so a plain ``pytest`` from the repository
root never runs them. Cases, shapes, inputs, the contenders (fastce, NumPy,
the peers PyTorch, JAX and scikit-learn, and the ``x.sum()`` ceiling) and the
correctness check all come from :mod:`fastce._bench`, the package behind
``python -m fastce bench``. Each benchmark group is one case
(operation x shape x dtype); a peer that is not importable, or has no
equivalent of the operation, is skipped.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Dict, Optional

import pytest

from fastce import _bench

#: The cases of the suite: every operation, the "pytest" profile's shapes, both dtypes.
CASES = _bench.cases("pytest")
#: The implementations compared within each benchmark group: test id -> contender name.
IMPLEMENTATIONS: Dict[str, str] = {
    "fastce": _bench.SUBJECT,
    "numpy": _bench.BASELINE,
    "torch": "torch",
    "jax": "JAX",
    "sklearn": "sklearn",
    "sum": _bench.CEILING,
    "max": _bench.READ,
}


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(f"--fastce-threads must be >= 1; got {value}")
    return value


_positive_int.__name__ = "positive integer"  # (argparse's message names it)


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--fastce-threads N``: the thread count of fastce, torch and sklearn."""
    parser.addoption("--fastce-threads", type=_positive_int, default=None, metavar="N",
                     help="n_threads passed to fastce (and torch.set_num_threads, sklearn "
                          "n_threads); default: fastce's default")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> Optional[pytest.Module]:
    """Collect ``bench_*.py`` as test modules (explicitly named files already are)."""
    if (file_path.suffix == ".py" and file_path.name.startswith("bench_")
            and not parent.session.isinitpath(file_path)):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


@functools.lru_cache(maxsize=None)
def _contender(name: str) -> _bench.Contender:
    """The contender, built once per session (raises if its library is missing)."""
    return _bench.contender(name)


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


@pytest.fixture(params=list(IMPLEMENTATIONS), ids=list(IMPLEMENTATIONS))
def implementation(request: pytest.FixtureRequest) -> _bench.Contender:
    """The contender the test times; skipped when its library is not importable."""
    name = IMPLEMENTATIONS[request.param]
    try:
        return _contender(name)
    except Exception as exc:  # noqa: BLE001 - ImportError or a broken install
        pytest.skip(f"{name} is not importable: {type(exc).__name__}: {exc}")


@pytest.fixture
def bound(request: pytest.FixtureRequest, case: _bench.Case, inputs: _bench.Inputs,
          implementation: _bench.Contender) -> _bench.Bound:
    """The call to time for this case and implementation (skipped if it has none)."""
    threads = request.config.getoption("--fastce-threads")
    result = implementation.bind(case, inputs, threads)
    if result is None:
        pytest.skip(f"{implementation.name} has no equivalent of {case.op.label}")
    return result
