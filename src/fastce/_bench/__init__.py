"""Benchmark harness behind ``python -m fastce bench`` and the ``bench/`` suite.

The harness itself needs only NumPy and the standard library; peer libraries
(PyTorch, JAX, scikit-learn) and matplotlib are used when they are importable
and asked for, and are never requirements of fastce. Its modules, in the
order a run uses them:

* ``cases``: the benchmarked **operations** (:data:`OPERATIONS`), their input
  generators (:func:`make_inputs`, seeded per case, so any subset of cases
  reproduces the same arrays) and the **case lists** of each profile
  (:func:`cases`: ``"full"``, ``"quick"`` and ``"pytest"``, the last one
  used by ``bench/conftest.py``);
* ``contenders``: the **contenders** (:class:`Contender`): the baseline
  ``NumPy`` (``fastce.reference``), ``fastce``, the peers ``torch``, ``JAX``
  and ``sklearn`` (:func:`peer_contenders`) and two ceilings on the same
  array (:func:`ceiling_contenders`): ``x.sum()``, the issue's yardstick
  (NumPy's pairwise sum, itself compute-bound), and ``x.max()``, one
  vectorised read at the speed of the memory or cache;
* ``check``: the **correctness check** of a result against
  ``fastce.reference`` (:func:`compare`, tolerance scaled by the dtype's
  machine epsilon);
* ``timing``: the **timer** (:func:`time_interleaved`: medians of
  auto-sized repeats, taken in bursts per contender over rounds of
  alternating order, each with its own share of the budget) and the CPU
  confinement of a row's thread count (:func:`cpu_limit`);
* ``load``: the **load meter** (:class:`LoadMeter`): the CPUs other
  processes used during each case, so that timings taken on a busy machine
  are flagged (and the case rerun, ``--retries``);
* ``results``: one case run by every contender (:func:`run_case`) and its
  rows of results;
* ``targets``: the issue's **targets** (:data:`TARGETS`,
  :func:`evaluate_targets`);
* ``report``, ``plot``, ``cli``: the tables, JSON, bar chart and the
  command line (:func:`add_arguments`, :func:`run`); ``_base``, the names
  and constants they share.
"""

from ._base import BASELINE, CEILING, CEILINGS, DTYPES, Inputs, PEER_NAMES, READ, SEED, SUBJECT
from .cases import Case, cases, make_inputs, Operation, OPERATIONS, Profile, PROFILES
from .contenders import (bind_call, Bound, ceiling_contenders, Contender, contender,
                         default_contenders, peer_contenders)
from .check import as_arrays, compare
from .timing import cpu_limit, time_interleaved, Timing
from .load import busy_cpus, LoadMeter
from .results import CaseResult, Row, run_case
from .targets import evaluate_targets, Target, TARGETS
from .cli import add_arguments, run

__all__ = [
    "add_arguments",
    "as_arrays",
    "BASELINE",
    "bind_call",
    "Bound",
    "busy_cpus",
    "Case",
    "CaseResult",
    "cases",
    "CEILING",
    "ceiling_contenders",
    "CEILINGS",
    "compare",
    "Contender",
    "contender",
    "cpu_limit",
    "default_contenders",
    "DTYPES",
    "evaluate_targets",
    "Inputs",
    "LoadMeter",
    "make_inputs",
    "Operation",
    "OPERATIONS",
    "peer_contenders",
    "PEER_NAMES",
    "Profile",
    "PROFILES",
    "READ",
    "Row",
    "run",
    "run_case",
    "SEED",
    "SUBJECT",
    "Target",
    "TARGETS",
    "time_interleaved",
    "Timing",
]
