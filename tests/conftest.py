"""Every test module runs once per instruction set this machine supports
(the portable scalar kernels and, where the CPU has them, AVX2 and AVX-512), so every
dispatch path is checked against the reference. FASTCE_ISA=<name> pins one."""
import os

import pytest

import fastce
from fastce import _kernels
from fastce._config import ISAS


def available_isas():
    if os.environ.get("FASTCE_ISA"):
        return [os.environ["FASTCE_ISA"]]
    return [isa for isa in ISAS if _kernels.isa_supported(isa)]


@pytest.fixture(autouse=True, scope="module", params=available_isas())
def isa(request):
    previous = _kernels.current_isa()
    fastce.select_isa(request.param)
    yield request.param
    fastce.select_isa(previous)
