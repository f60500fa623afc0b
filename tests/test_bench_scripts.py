"""The bench/ scripts that other measurements are quoted from still run."""
import subprocess
import sys
from pathlib import Path

import pytest

AB = Path(__file__).resolve().parent.parent / "bench" / "ab.py"


@pytest.fixture(autouse=True, scope="module")
def isa():
    """Once, not once per instruction set (conftest.py): the scripts run in
    processes of their own, on the path FASTCE_ISA or the CPU picks."""
    yield None


def test_ab_times_a_build_against_itself():
    out = subprocess.run([sys.executable, str(AB), sys.executable, sys.executable,
                          "--rounds", "1", "--repeats", "1", "--cases", "softmax_ce_c10_f32,kl_f64"],
                         capture_output=True, text=True, check=True).stdout
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:]}
    assert set(rows) == {"softmax_ce_c10_f32", "kl_f64"}
    assert all(float(a) > 0 and float(b) > 0 and float(r) > 0 for a, b, r in rows.values())


def test_ab_refuses_an_unknown_case():
    done = subprocess.run([sys.executable, str(AB), sys.executable, sys.executable,
                           "--cases", "no_such_case"], capture_output=True, text=True)
    assert done.returncode == 2 and "no_such_case" in done.stderr
