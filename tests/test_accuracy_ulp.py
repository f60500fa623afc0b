"""The accuracy contract, measured in ulp against mpmath.

Every value fastce returns is compared with the exact value of the same
function at the inputs *as stored* (float32 and float64 numbers are exact
rationals), computed by mpmath with 60 significant digits. The error of a
result r of dtype T against the exact value v is

    |r - v| / spacing(v rounded to T)      (np.spacing; an exact 0 gives the
                                            smallest subnormal spacing)

so 0.5 ulp means correctly rounded. The bounds (README "Numerics" and the
accuracy issue):

* per-sample losses of softmax_cross_entropy (class indices, also with label
  smoothing and class weights; dense soft targets), nll_loss,
  sigmoid_cross_entropy (also weighted), logsumexp and every log_softmax
  entry: 2 ulp, tiny losses of confident rows included;
* gradient entries, and softmax (the same quantity): 4 + |x_j - lse| ulp, the
  conditioning of exp(x_j - lse), for probabilities down to the smallest
  normal number (subnormal ones are held to the same bound, in ulp of the
  subnormal spacing). The hard-target entry p_y - 1 at the argmax is minus
  the sum of the other probabilities, so its |x_j - lse| is the
  probability-weighted mean over the other classes. Where a gradient entry is
  a difference B*p_j - c_j (soft targets, label smoothing, class weights, soft
  sigmoid targets) the bound is multiplied by the conditioning of that
  subtraction, (B*p_j + c_j) / |B*p_j - c_j| (at least 1);
* reductions "mean" and "sum" over 2**21 samples: 2 ulp of the exact mean
  (sum) of the exact per-sample losses.

The corpus (fixed seeds) is adversarial: random rows, confident rows (the
target at the argmax, margins 5..80), "deep" rows whose probabilities go down
to the smallest normal number, and "subnormal" ones below it (tiny losses
made of subnormal terms), confidently wrong rows, ties, rows whose
logsumexp is near 0, huge logits (+-1e4, and +-1e30 for float64), mixed
scales, C from 2 to 131072, soft targets, and sigmoid logits from -100 to
100 with hard and soft targets.

When fastce has several instruction sets (``fastce.select_isa``), every
check runs on each one this CPU supports.

    pytest tests/test_accuracy_ulp.py -s      # the table at the end
    python tests/test_accuracy_ulp.py [--slow] # the table alone, violations listed

The test marked ``slow`` uses a corpus about five times larger, with more
131072-class rows.
"""
from __future__ import annotations

import hashlib
import math
import sys
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pytest
from mpmath import libmp, mp, mpf

import fastce
from fastce import reference

DPS = 60
PREC = int(DPS * 3.33) + 8  # bits, for the libmp fast path
DTYPES = [np.float32, np.float64]
LOSS_ULP = 2.0
MEAN_ULP = 2.0
GRAD_BASE_ULP = 4.0
N_MEAN = 2**21  # samples in the reduction checks
BIG_C = 131072

mp.dps = DPS


# --------------------------------------------------------- instruction sets


def available_isas() -> List[Optional[str]]:
    """The instruction sets this build and CPU run ([None]: no choice)."""
    select = getattr(fastce, "select_isa", None)
    if select is None:
        return [None]
    from fastce import _config

    current = fastce.show_config(print_out=False)["isa"]
    found = []
    for name in getattr(_config, "ISAS", ()):
        try:
            select(name)
        except ValueError:
            continue
        found.append(name)
    select(current)
    return found or [None]


class use_isa:
    """Context manager: run with instruction set ``name`` (None: as is)."""

    def __init__(self, name: Optional[str]):
        self.name = name

    def __enter__(self):
        if self.name is not None:
            self.saved = fastce.show_config(print_out=False)["isa"]
            fastce.select_isa(self.name)

    def __exit__(self, *exc):
        if self.name is not None:
            fastce.select_isa(self.saved)


# ------------------------------------------------------------------ ulp


class Exact:
    """Exact values (mpf) held as double-double hi + lo: 106 bits, enough to
    resolve a thousandth of an ulp of float64."""

    def __init__(self, values: Sequence[mpf]):
        self.hi = np.array([float(v) for v in values], dtype=np.float64)
        self.lo = np.array([float(v - mpf(h)) for v, h in zip(values, self.hi.tolist())],
                           dtype=np.float64)


def ulp_errors(computed, exact: Exact, dtype) -> np.ndarray:
    """Errors of ``computed`` (converted to dtype) in ulp of the exact values
    rounded to dtype. NaN, or inf where the exact value is finite in dtype,
    is an infinite error; an inf matching an exact overflow is 0."""
    c = np.asarray(computed, dtype=dtype).astype(np.float64).ravel()
    assert c.size == exact.hi.size, (c.size, exact.hi.size)
    with np.errstate(over="ignore", invalid="ignore"):
        rounded = exact.hi.astype(dtype)  # hi is correctly rounded; then to T
        spacing = np.spacing(np.abs(rounded)).astype(np.float64)
        err = np.abs((c - exact.hi) - exact.lo) / spacing
    err[np.isnan(c) | np.isinf(c) | ~np.isfinite(rounded)] = np.inf
    err[np.isinf(c) & (c == rounded)] = 0.0
    return err


# --------------------------------------------------------------- records


@dataclass
class Record:
    """The worst case seen for one (function, dtype, isa)."""

    max_ulp: float = 0.0
    worst: str = ""
    count: int = 0
    bound: str = ""
    violations: List[str] = field(default_factory=list)


RECORDS: Dict[Tuple[str, str, str], Record] = {}


def _key(fn: str, dtype, isa: Optional[str]) -> Tuple[str, str, str]:
    return (fn, np.dtype(dtype).name, isa or "-")


def record(fn: str, dtype, isa, errs: np.ndarray, bounds: np.ndarray, what: str) -> None:
    errs = np.atleast_1d(errs)
    bounds = np.broadcast_to(bounds, errs.shape)
    rec = RECORDS.setdefault(_key(fn, dtype, isa), Record())
    rec.count += errs.size
    if errs.size:
        i = int(np.argmax(errs))
        if errs[i] > rec.max_ulp or not rec.worst:
            rec.max_ulp = float(errs[i])
            rec.worst = f"{what} [entry {i}, bound {bounds[i]:.3g}]"
    if not rec.bound:
        uniform = bool(np.all(bounds == bounds.flat[0])) if bounds.size else True
        rec.bound = f"{bounds.flat[0]:g}" if uniform and bounds.size else "conditioned"
    elif rec.bound != "conditioned" and bounds.size and not np.all(bounds == float(rec.bound)):
        rec.bound = "conditioned"
    bad = np.flatnonzero(~(errs <= bounds))
    for i in bad[:3]:
        rec.violations.append(f"{what}: entry {i}: {errs[i]:.4g} ulp > {bounds[i]:.4g}")
    if bad.size > 3:
        rec.violations.append(f"{what}: ... {bad.size} entries over the bound")


def table(records: Optional[Dict] = None) -> str:
    records = RECORDS if records is None else records
    lines = [f"{'function':<44} {'dtype':<8} {'isa':<7} {'max ulp':>10} {'bound':>12} "
             f"{'values':>7}  worst case"]
    for (fn, dt, isa), rec in sorted(records.items()):
        flag = "  <-- FAIL" if rec.violations else ""
        lines.append(f"{fn:<44} {dt:<8} {isa:<7} {rec.max_ulp:>10.3f} {rec.bound:>12} "
                     f"{rec.count:>7}  {rec.worst}{flag}")
    return "\n".join(lines)


# ------------------------------------------------------------- exact row


def _exp_terms(xs: List[float], m: float) -> List[mpf]:
    """exp(x_j - m) for the floats xs through libmp: exact to PREC bits, and
    about 1.5x faster than mp.exp for the 131072-class rows."""
    fm = libmp.from_float(m)
    exp, sub, frm, make = libmp.mpf_exp, libmp.mpf_sub, libmp.from_float, mp.make_mpf
    return [make(exp(sub(frm(v), fm, PREC), PREC)) for v in xs]


class ExactRow:
    """Exact statistics of one finite row of logits (the values as stored).

    With m the max at the first argmax k, d_j = x_j - m and e_j = exp(d_j),
    rest = sum_{j != k} e_j and L = log1p(rest): lse = m + L and
    lse - x_j = L - d_j, so nothing cancels (mpmath's precision is relative:
    m + L - x_j would lose a tiny loss next to a huge m).
    """

    def __init__(self, x: np.ndarray):
        self.x = np.asarray(x, dtype=np.float64)
        self.xs = self.x.tolist()
        self.C = len(self.xs)
        self.k = int(np.argmax(self.x))
        self.m = self.xs[self.k]
        self.e = _exp_terms(self.xs, self.m)
        self.e[self.k] = mpf(1)
        self.rest = mp.fsum(self.e[: self.k] + self.e[self.k + 1:])
        self.L = mp.log1p(self.rest)
        self.S = 1 + self.rest
        # |x_j - lse| and p_j in double: only for bounds.
        lse = float(self.lse())
        self.cond = np.abs(self.x - lse)
        with np.errstate(under="ignore"):
            self.p_approx = np.exp(self.x - lse)

    def lse(self) -> mpf:
        return mpf(self.m) + self.L

    def d(self, j: int) -> mpf:
        return mpf(self.xs[j]) - mpf(self.m)

    def nlp(self, j: int) -> mpf:
        """-log_softmax_j = lse - x_j."""
        return self.L - self.d(j)

    def p(self, j: int) -> mpf:
        return self.e[j] / self.S

    def one_minus_p(self, j: int) -> mpf:
        """1 - p_j: the sum of the other probabilities, without cancelling
        (for j != k, 1 + rest - e_j >= 1)."""
        other = self.rest if j == self.k else self.S - self.e[j]
        return other / self.S

    def cond_rest(self, j: int) -> float:
        """The conditioning of 1 - p_j = sum_{i != j} p_i: the p-weighted
        mean of |x_i - lse| over i != j."""
        w = np.delete(self.p_approx, j)
        c = np.delete(self.cond, j)
        keep = w > 0  # a masked class (-inf) weighs nothing, whatever its |x_i - lse|
        return float((w[keep] * c[keep]).sum() / w.sum()) if w.sum() > 0 else 0.0


def subtraction_factor(a: mpf, b: mpf) -> float:
    """(a + b) / |a - b| for a, b >= 0: how much the subtraction a - b
    magnifies the relative errors of its operands (>= 1; inf if a == b)."""
    diff = abs(a - b)
    if diff == 0:
        return math.inf
    return max(1.0, float((a + b) / diff))


def _softplus(t: mpf) -> mpf:
    return mp.log1p(mp.exp(t))


# ----------------------------------------------------------------- corpus


def _rng(*parts) -> np.random.Generator:
    """A generator seeded by a stable digest of ``parts``: a fixed corpus."""
    h = hashlib.sha256(repr(parts).encode()).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "little"))


@dataclass
class Row:
    what: str
    x: np.ndarray  # (C,) of the dtype
    y: int


def softmax_corpus(dtype, heavy: bool = False) -> List[Row]:
    """Rows of logits, each with a class index, for the softmax family."""
    f64 = dtype == np.float64
    reps = 5 if heavy else 1
    rows: List[Row] = []

    def add(what, x, y):
        rows.append(Row(what, np.asarray(x, dtype=dtype), int(y)))

    def argmax(x):
        return int(np.argmax(np.asarray(x, dtype=dtype)))

    r = _rng("random", dtype)
    for C in (2, 3, 10, 50, 100, 1000):
        for scale in (1.0, 3.0, 10.0):
            for _ in range(reps * (2 if C <= 100 else 1)):
                x = scale * r.standard_normal(C) + r.uniform(-5, 5)
                y = int(r.integers(C))
                add(f"random C={C} scale={scale} y={y}", x, y)
                add(f"random C={C} scale={scale} y=argmax", x, argmax(x))

    # Tiny losses: the target at the argmax, margins 5..80 (non-integer
    # logits, so that x_j - max is not exact in float64).
    r = _rng("confident", dtype)
    for C in (2, 10, 50, 100, 1000):
        for margin in (5.0, 10.0, 20.0, 40.0, 80.0):
            for _ in range(reps):
                M = margin if r.random() < 0.5 else r.uniform(5.0, 80.0)
                a = r.uniform(-5, 5) + (math.pi if f64 else 0.0)
                x = a - M - 2.0 * np.abs(r.standard_normal(C))
                y = int(r.integers(C))
                x[y] = a
                add(f"confident C={C} margin={M:.4g} y=argmax", x, y)
                wrong = int((y + 1 + r.integers(C - 1)) % C)
                add(f"confident-wrong C={C} margin={M:.4g}", x, wrong)

    # Probabilities down to the smallest normal number, and the tiny losses
    # of those rows: margins up to ~86 (float32) or ~700 (float64).
    r = _rng("deep", dtype)
    deepest = 86.0 if dtype == np.float32 else 700.0
    for C in (2, 10, 50, 100):
        for M in np.linspace(80.0, deepest, 4 * reps):
            a = r.uniform(-3, 3) + 0.1234567
            x = a - M - 0.25 * np.abs(r.standard_normal(C))
            y = int(r.integers(C))
            x[y] = a
            add(f"deep C={C} margin={M:.4g} y=argmax", x, y)

    # Beyond: tiny losses below the smallest normal number, made of terms
    # that are subnormal in the dtype (margins ~87.5..103 or ~708.6..744).
    # A float kernel that rounds each term to float, or a double one that
    # keeps them as subnormal doubles, loses the loss's digits (up to 450
    # ulp at C = 1000).
    r = _rng("subnormal", dtype)
    lo, hi = (87.5, 103.0) if dtype == np.float32 else (708.6, 744.0)
    for C in (2, 10, 32, 64, 100, 1000):
        for M in np.linspace(lo, hi, 3 * reps):
            a = r.uniform(-3, 3) + 0.1234567
            x = a - M - 0.25 * np.abs(r.standard_normal(C))
            y = int(r.integers(C))
            x[y] = a
            add(f"subnormal C={C} margin={M:.4g} y=argmax", x, y)

    # Samples side by side with more than 32 classes are read in chunks of
    # 16 classes (vec_avx512_planes*.c): a max that rises chunk after
    # chunk (each rise rescales what came before, or, in double, adds the
    # old maximum as a term), a target in the last chunk far above the
    # rest (the whole rest is then one rescaling of terms taken against an
    # earlier chunk's max), and tiny losses made of subnormal terms, where
    # only the test for a term that may be subnormal sends the sample to
    # the generic path: the float kernels take each chunk's terms against
    # its own max, so those terms sit in the target's chunk, the classes
    # after it masked; the double ones take every term against the first
    # chunk's max, the target's.
    r = _rng("chunks", dtype)
    for C in (100, 1000):
        for span in (1.0, 30.0, 500.0 if f64 else 80.0):
            x = np.sort(span * r.random(C) + 0.01 * r.standard_normal(C))
            add(f"rising C={C} span={span:g} y=argmax", x, argmax(x))
            add(f"rising C={C} span={span:g}", x, int(r.integers(C)))
        for M in (20.0, 80.0, 400.0 if f64 else 60.0):
            a = r.uniform(-3, 3) + 0.1234567
            x = a - M - 2.0 * np.abs(r.standard_normal(C))
            x[-1] = a
            add(f"late confident C={C} margin={M:g} y=argmax", x, C - 1)
    # one term far above the first chunk's max makes the whole rest (the
    # double kernels scale it back by exp(ref - max): a review's case, 2.35
    # ulp before the product's low part went into log1p)
    for a, top in ((260.21034261213583, 261.49509466291084), (37.7, 39.2), (400.3, 403.1)):
        x = np.full(40, -np.inf)
        x[0], x[20], x[39] = 0.0, a, top
        add(f"one term far above the first chunk C=40 a={a:g} y=argmax", x, 39)
    C, n_terms = (200, 200) if f64 else (40, 16)
    for M in (720.0, 730.0, 740.0) if f64 else (87.5, 95.0, 102.5):
        x = np.full(C, -np.inf)
        a = r.uniform(-3, 3) + 0.1234567
        x[:n_terms] = a - M - 0.25 * np.abs(r.standard_normal(n_terms))
        x[5] = a
        add(f"subnormal terms against the target's chunk C={C} margin={M:g} y=argmax", x, 5)

    r = _rng("ties", dtype)
    for C in (2, 3, 10, 50, 100):
        for _ in range(2 * reps):
            x = r.standard_normal(C) * 3
            top = r.choice(C, size=min(C, int(r.integers(2, 4))), replace=False)
            x[top] = x.max() + 1.0
            add(f"ties C={C} n_ties={len(top)}", x, top[0])

    # logsumexp near 0: lse = max + log1p(rest) cancels, down to rows of
    # log-probabilities (a log_softmax output), whose lse is only the
    # rounding of their entries.
    r = _rng("lse0", dtype)
    for C in (2, 10, 50, 100, 1000):
        for target in (0.3, -0.2, 0.05, -0.01, 1e-3, -1e-6, 1e-9):
            for _ in range(reps):
                x = r.standard_normal(C) * 2
                x = x - float(reference.logsumexp(x)) + target
                add(f"lse~{target:g} C={C}", x, int(r.integers(C)))
        for scale in (0.3, 3.0, 10.0):
            for _ in range(2 * reps):
                x = reference.log_softmax(scale * r.standard_normal(C).astype(dtype))
                add(f"log-probabilities C={C} scale={scale}", x, int(r.integers(C)))

    r = _rng("huge", dtype)
    for H in [1e4] + ([1e30] if f64 else []):
        for C in (2, 10, 100):
            for _ in range(2 * reps):
                x = r.uniform(-H, H, C)
                y = int(r.integers(C))
                add(f"huge +-{H:g} C={C} y={y}", x, y)
                add(f"huge +-{H:g} C={C} y=argmax", x, argmax(x))
                # a cluster near +-H: huge values, small differences
                if H == 1e4:
                    x = r.choice([-H, H]) + 3.0 * r.standard_normal(C)
                else:  # 1e30: neighbours one spacing apart, or tied
                    x = np.nextafter(np.full(C, r.choice([-H, H])),
                                     np.inf * r.choice([-1.0, 1.0], C))
                add(f"huge cluster {x[0]:.3g} C={C} y=argmax", x, argmax(x))

    r = _rng("mixed", dtype)
    for C in (3, 10, 50, 100, 1000):
        for _ in range(2 * reps):
            x = r.choice([-1.0, 1.0], C) * 10.0 ** r.uniform(-3, 3, C)
            y = int(r.integers(C))
            add(f"mixed scales C={C} y={y}", x, y)
            add(f"mixed scales C={C} y=argmax", x, argmax(x))

    r = _rng("big", dtype)
    for i in range(3 if heavy else 1):
        x = 3.0 * r.standard_normal(BIG_C) + 0.1
        add(f"random C={BIG_C}", x, int(r.integers(BIG_C)))
        if f64 or heavy:
            M = 20.0 + 5 * i
            x = 1.7 - M - 2.0 * np.abs(r.standard_normal(BIG_C))
            y = int(r.integers(BIG_C))
            x[y] = 1.7
            add(f"confident C={BIG_C} margin={M:g} y=argmax", x, y)
    return rows


def soft_target(r: np.random.Generator, C: int, dtype) -> np.ndarray:
    t = r.random(C)
    t[r.random(C) < 0.3] = 0.0
    if t.sum() == 0:
        t[r.integers(C)] = 1.0
    return (t / t.sum()).astype(dtype)


def sigmoid_corpus(dtype, heavy: bool = False):
    """(what, logits, targets): -100..100 and around 0, hard and soft targets."""
    r = _rng("sigmoid", dtype)
    n = 2000 if heavy else 400
    x = np.concatenate([np.linspace(-100, 100, n // 2), r.uniform(-100, 100, n // 4),
                        r.standard_normal(n // 4) * 3,
                        [0.0, 1e-30, -1e-30, 1e-6, -1e-6, 36.7, -36.7, 17.3, -17.3]])
    x = x.astype(dtype)
    z4 = r.choice(np.array([0.0, 0.25, 0.5, 1.0]), x.size)
    return [("logits -100..100, target 1", x, np.ones_like(x)),
            ("logits -100..100, target 0", x, np.zeros_like(x)),
            ("logits -100..100, soft target", x, r.random(x.size).astype(dtype)),
            ("logits -100..100, target in {0,1/4,1/2,1}", x, z4.astype(dtype))]


# ------------------------------------------------------------------ cases


@dataclass
class Case:
    """One fastce call and the exact values of (some entries of) its result."""

    fn: str  # the row of the table
    what: str  # the input, for reports
    call: Callable[[], np.ndarray]  # -> the checked entries, flat
    exact: Exact
    bounds: np.ndarray


def _entries(C: int, y: int, k: int, r: np.random.Generator) -> np.ndarray:
    """The entries checked: all for small C, else the target, the argmax
    and 300 others."""
    if C <= 2048:
        return np.arange(C)
    pick = r.choice(C, 300, replace=False)
    return np.unique(np.concatenate([[y, k], pick]))


def lse_bound(lse: mpf, max_x, dt) -> float:
    """2 ulp, or 2^-100 |max| where lse < 2^-48 |max| (rows of log-probabilities
    normalised to the last bit: lse is the rounding residue of the entries,
    beyond the 106 bits of double-double; see lse_cancelled in softmax_impl.h)."""
    spacing = float(np.spacing(dt(abs(float(lse))))) if lse != 0 else np.inf
    return max(LOSS_ULP, 2.0**-100 * abs(float(max_x)) / spacing)


def lse_fn(bound: float) -> str:
    """The table row: the 2-ulp regime, or normalised log-probabilities."""
    return "logsumexp" if bound <= LOSS_ULP else "logsumexp, lse < 2^-48 |max|"


def softmax_cases(rows: List[Row], exact: List[ExactRow], dt) -> List[Case]:
    """logsumexp, log_softmax, softmax, sparse CE (loss and gradient), nll."""
    r = _rng("entries", dt)
    cases = []
    for row, ex in zip(rows, exact):
        X, y, C, what = row.x[None, :], row.y, row.x.size, row.what
        Y = np.array([y])
        js = _entries(C, y, ex.k, r)
        bound = lse_bound(ex.lse(), row.x.max(), dt)
        cases.append(Case(lse_fn(bound), what, lambda X=X: fastce.logsumexp(X),
                          Exact([ex.lse()]), np.array([bound])))
        cases.append(Case("log_softmax", what, lambda X=X, js=js: fastce.log_softmax(X)[0, js],
                          Exact([-ex.nlp(j) for j in js]), np.full(js.size, LOSS_ULP)))
        cases.append(Case("softmax", what, lambda X=X, js=js: fastce.softmax(X)[0, js],
                          Exact([ex.p(j) for j in js]), GRAD_BASE_ULP + ex.cond[js]))
        cases.append(Case("softmax_cross_entropy", what,
                          lambda X=X, Y=Y: fastce.softmax_cross_entropy(X, Y, reduction="none"),
                          Exact([ex.nlp(y)]), np.array([LOSS_ULP])))
        # gradient (of the sum): p_j - [j == y]
        values = [-ex.one_minus_p(j) if j == y else ex.p(j) for j in js]
        bounds = GRAD_BASE_ULP + ex.cond[js]
        if y == ex.k:
            bounds[js == y] = GRAD_BASE_ULP + ex.cond_rest(y)
        cases.append(Case(
            "softmax_cross_entropy grad", what,
            lambda X=X, Y=Y, js=js: fastce.softmax_cross_entropy(
                X, Y, reduction="none", return_grad=True)[1][0, js],
            Exact(values), bounds))
        # nll_loss of given log-probabilities: exactly -lp[y]
        lp = reference.log_softmax(row.x)[None, :]
        cases.append(Case("nll_loss", what,
                          lambda lp=lp, Y=Y: fastce.nll_loss(lp, Y, reduction="none"),
                          Exact([-mpf(float(lp[0, y]))]), np.array([LOSS_ULP])))
    # The rows above go one at a time; few classes in a batch take the
    # row-parallel kernels (8 or 4 rows per group), which must find the
    # cancelling rows too.
    by_c: Dict[int, List[int]] = {}
    for i, row in enumerate(rows):
        if row.what.startswith(("lse~", "log-probabilities")):
            by_c.setdefault(row.x.size, []).append(i)
    for C, idx in by_c.items():
        idx = (idx * 16)[:16]
        X = np.stack([rows[i].x for i in idx])
        bounds = np.array([lse_bound(exact[i].lse(), rows[i].x.max(), dt) for i in idx])
        cases.append(Case(lse_fn(bounds.max()), f"batch of {len(idx)} rows near 0, C={C}",
                          lambda X=X: fastce.logsumexp(X, axis=1),
                          Exact([exact[i].lse() for i in idx]), bounds))
    cases += side_by_side_cases(rows, exact, dt)
    # ... and the tiny losses of subnormal terms, among ordinary rows (the
    # row-parallel kernels take whole groups of contiguous rows up to 128
    # classes)
    sub = [i for i, row in enumerate(rows) if row.x.size <= 128 and row.what.startswith("subnormal")]
    for C in sorted({rows[i].x.size for i in sub}):
        others = [i for i, row in enumerate(rows) if row.x.size == C and row.what.startswith("random")]
        idx = ((others[:8] + [i for i in sub if rows[i].x.size == C]) * 32)[:32]
        X = np.stack([rows[i].x for i in idx])
        Y = np.array([rows[i].y for i in idx])
        cases.append(Case("softmax_cross_entropy", f"batch of {len(idx)} rows, subnormal terms, C={C}",
                          lambda X=X, Y=Y: fastce.softmax_cross_entropy(X, Y, reduction="none"),
                          Exact([exact[i].nlp(rows[i].y) for i in idx]),
                          np.full(len(idx), LOSS_ULP)))
    return cases


def side_by_side_cases(rows: List[Row], exact: List[ExactRow], dt) -> List[Case]:
    """Every row again, 16 of the same C side by side: the class axis of a
    (1, C, 16) array is not the last, and the kernels read such samples
    where they are (row_impl.h, side_by_side), the row-parallel ones for
    C <= 32, the planes ones (sparse_ce_planes, softmax_planes) for more,
    with the samples they leave (non-finite, tiny rests) among the others."""
    r = _rng("side by side", dt)
    by_c: Dict[int, List[int]] = {}
    for i, row in enumerate(rows):
        by_c.setdefault(row.x.size, []).append(i)
    cases = []
    for C, all_idx in by_c.items():
        for start in range(0, len(all_idx), 16):
            idx = (all_idx[start:start + 16] * 16)[:16]
            X = np.stack([rows[i].x for i in idx], axis=-1)[None]
            Y = np.array([[rows[i].y for i in idx]])
            js = [_entries(C, rows[i].y, exact[i].k, r) for i in idx]
            cols = (np.concatenate(js), np.concatenate([np.full(j.size, k) for k, j in enumerate(js)]))
            what = f"16 rows side by side, C={C}, from {rows[idx[0]].what}"
            bounds = np.array([lse_bound(exact[i].lse(), rows[i].x.max(), dt) for i in idx])
            cases.append(Case(lse_fn(bounds.max()), what,
                              lambda X=X: fastce.logsumexp(X, axis=1).ravel(),
                              Exact([exact[i].lse() for i in idx]), bounds))
            cases.append(Case("softmax_cross_entropy", what,
                              lambda X=X, Y=Y: fastce.softmax_cross_entropy(
                                  X, Y, axis=1, reduction="none").ravel(),
                              Exact([exact[i].nlp(rows[i].y) for i in idx]),
                              np.full(len(idx), LOSS_ULP)))
            cases.append(Case("log_softmax", what,
                              lambda X=X, cols=cols: fastce.log_softmax(X, axis=1)[0][cols],
                              Exact([-exact[i].nlp(j) for i, jj in zip(idx, js) for j in jj]),
                              np.full(cols[0].size, LOSS_ULP)))
            cases.append(Case("softmax", what,
                              lambda X=X, cols=cols: fastce.softmax(X, axis=1)[0][cols],
                              Exact([exact[i].p(j) for i, jj in zip(idx, js) for j in jj]),
                              np.concatenate([GRAD_BASE_ULP + exact[i].cond[jj]
                                              for i, jj in zip(idx, js)])))
            values, grad_bounds = [], []
            for i, jj in zip(idx, js):
                ex, y = exact[i], rows[i].y
                values += [-ex.one_minus_p(j) if j == y else ex.p(j) for j in jj]
                b = GRAD_BASE_ULP + ex.cond[jj]
                if y == ex.k:
                    b[jj == y] = GRAD_BASE_ULP + ex.cond_rest(y)
                grad_bounds.append(b)
            cases.append(Case("softmax_cross_entropy grad", what,
                              lambda X=X, Y=Y, cols=cols: fastce.softmax_cross_entropy(
                                  X, Y, axis=1, reduction="none", return_grad=True)[1][0][cols],
                              Exact(values), np.concatenate(grad_bounds)))
    return cases


def _formula_rows(rows: List[Row], exact: List[ExactRow]):
    """The rows for the weighted and dense checks, which test formulas more
    than row statistics: C < 1000, and the first four rows with C = 1000,
    all of whose logits are finite (a masked class makes a smoothed loss
    inf, and its formula here NaN)."""
    n_big = 0
    for row, ex in zip(rows, exact):
        if not np.all(np.isfinite(row.x)):
            continue
        if row.x.size >= 1000:
            n_big += 1
            if row.x.size > 1000 or n_big > 4:
                continue
        yield row, ex


def _dense_grad(ex: ExactRow, cs: List[mpf], scale: mpf) -> Tuple[List[mpf], np.ndarray]:
    """Exact gradient scale * (B p_j - c_j), B = sum c, and its bounds:
    (4 + |x_j - lse|) times the conditioning of the subtraction (at the
    argmax, of c_rest - B (1 - p_k), the form that avoids 1 - p_k)."""
    B = mp.fsum(cs)
    values, bounds = [], []
    for j in range(ex.C):
        if j == ex.k:
            a = mp.fsum(cs[i] for i in range(ex.C) if i != j)
            b = B * ex.one_minus_p(j)
            base = GRAD_BASE_ULP + ex.cond_rest(j)
        else:
            a, b = B * ex.p(j), cs[j]
            base = GRAD_BASE_ULP + ex.cond[j]
        values.append(scale * (a - b))
        bounds.append(base * subtraction_factor(a, b))
    return values, np.array(bounds)


def weighted_cases(rows: List[Row], exact: List[ExactRow], dt) -> List[Case]:
    """Sparse CE with label smoothing, class and sample weights; weighted nll."""
    r = _rng("weighted", dt)
    cases = []
    for row, ex in _formula_rows(rows, exact):
        C, y = row.x.size, row.y
        e = float(r.choice([0.0, 0.1, 0.37]))
        w = r.uniform(0.1, 3.0, C).astype(dt)
        sw = r.uniform(0.1, 3.0, 1).astype(dt)
        X, Y = row.x[None, :], np.array([y])
        what = f"{row.what} smoothing={e} weighted"
        kw = dict(weight=w, sample_weight=sw, label_smoothing=e, reduction="none")
        W = [mpf(v) for v in w.tolist()]
        E, S = mpf(e), mpf(float(sw[0]))
        nl = [ex.nlp(j) for j in range(C)]
        loss = S * ((1 - E) * W[y] * nl[y] + E / C * mp.fsum(W[j] * nl[j] for j in range(C)))
        cases.append(Case("softmax_cross_entropy smoothing+weights", what,
                          lambda X=X, Y=Y, kw=kw: fastce.softmax_cross_entropy(X, Y, **kw),
                          Exact([loss]), np.array([LOSS_ULP])))
        # gradient S * (B p_j - c_j), c_j = (1-E) W_y [j==y] + E/C W_j
        cs = [E / C * W[j] + ((1 - E) * W[y] if j == y else 0) for j in range(C)]
        values, bounds = _dense_grad(ex, cs, S)
        cases.append(Case(
            "softmax_cross_entropy smoothing+weights grad", what,
            lambda X=X, Y=Y, kw=kw: fastce.softmax_cross_entropy(
                X, Y, return_grad=True, **kw)[1][0],
            Exact(values), bounds))
        lp = reference.log_softmax(row.x)[None, :]
        cases.append(Case(
            "nll_loss weighted", what,
            lambda lp=lp, Y=Y, w=w, sw=sw: fastce.nll_loss(lp, Y, weight=w, sample_weight=sw,
                                                           reduction="none"),
            Exact([-S * W[y] * mpf(float(lp[0, y]))]), np.array([LOSS_ULP])))
    # few classes in a batch: the row-parallel kernels' weighted loss (and
    # contiguous rows of 50 and 100 classes, which they take too)
    for C in (3, 10, 50, 100):
        idx = [i for i, row in enumerate(rows) if row.x.size == C][:16]
        X = np.stack([rows[i].x for i in idx])
        Y = np.array([rows[i].y for i in idx])
        w = r.uniform(0.1, 3.0, C).astype(dt)
        sw = r.uniform(0.1, 3.0, len(idx)).astype(dt)
        W, E = [mpf(v) for v in w.tolist()], mpf(0.1)
        losses = []
        for i, k in enumerate(idx):
            nl = [exact[k].nlp(j) for j in range(C)]
            y = rows[k].y
            losses.append(mpf(float(sw[i])) * ((1 - E) * W[y] * nl[y]
                                               + E / C * mp.fsum(W[j] * nl[j] for j in range(C))))
        kw = dict(weight=w, sample_weight=sw, label_smoothing=0.1, reduction="none")
        cases.append(Case("softmax_cross_entropy smoothing+weights",
                          f"batch of {len(idx)} rows C={C} smoothing=0.1 weighted",
                          lambda X=X, Y=Y, kw=kw: fastce.softmax_cross_entropy(X, Y, **kw),
                          Exact(losses), np.full(len(idx), LOSS_ULP)))
    return cases


def dense_cases(rows: List[Row], exact: List[ExactRow], dt) -> List[Case]:
    """Dense soft targets (with some zeros), with and without smoothing."""
    r = _rng("dense", dt)
    cases = []
    for row, ex in _formula_rows(rows, exact):
        C = row.x.size
        t = soft_target(r, C, dt)
        e = float(r.choice([0.0, 0.0, 0.2]))
        X, T = row.x[None, :], t[None, :]
        what = f"{row.what} soft target smoothing={e}"
        E = mpf(e)
        cs = [(1 - E) * mpf(v) + E / C for v in t.tolist()]
        loss = mp.fsum(cs[j] * ex.nlp(j) for j in range(C) if cs[j] != 0)
        cases.append(Case("softmax_cross_entropy dense", what,
                          lambda X=X, T=T, e=e: fastce.softmax_cross_entropy(
                              X, T, label_smoothing=e, reduction="none"),
                          Exact([loss]), np.array([LOSS_ULP])))
        values, bounds = _dense_grad(ex, cs, mpf(1))
        cases.append(Case("softmax_cross_entropy dense grad", what,
                          lambda X=X, T=T, e=e: fastce.softmax_cross_entropy(
                              X, T, label_smoothing=e, reduction="none", return_grad=True)[1][0],
                          Exact(values), bounds))
    # few classes in a batch, with class and sample weights: the row-parallel
    # kernels (16 rows: whole groups for AVX2 and AVX-512), which take
    # contiguous rows of 50 and 100 classes too; rows of 1000 classes take
    # the generic path's vector passes, class weights included
    for C in (2, 3, 10, 50, 100, 1000):
        finite = [i for i, row in enumerate(rows)
                  if row.x.size == C and np.all(np.isfinite(row.x))]
        # half of them confident, where a lone maximum's gradient cancels
        sure = [i for i in finite if not rows[i].what.startswith("random")][:8]
        idx = sure + [i for i in finite if i not in sure][:16 - len(sure)]
        X = np.stack([rows[i].x for i in idx])
        T = np.stack([soft_target(r, C, dt) for _ in idx])
        w = r.uniform(0.1, 3.0, C).astype(dt)
        sw = r.uniform(0.1, 3.0, len(idx)).astype(dt)
        W, E = [mpf(v) for v in w.tolist()], mpf(0.1)
        losses, values, bounds = [], [], []
        for i, k in enumerate(idx):
            S = mpf(float(sw[i]))
            cs = [W[j] * ((1 - E) * mpf(v) + E / C) for j, v in enumerate(T[i].tolist())]
            losses.append(S * mp.fsum(cs[j] * exact[k].nlp(j) for j in range(C) if cs[j] != 0))
            v, b = _dense_grad(exact[k], cs, S)
            values += v
            bounds.append(b)
        what = f"batch of {len(idx)} rows C={C} soft targets smoothing=0.1 weighted"
        kw = dict(weight=w, sample_weight=sw, label_smoothing=0.1, reduction="none")
        cases.append(Case("softmax_cross_entropy dense", what,
                          lambda X=X, T=T, kw=kw: fastce.softmax_cross_entropy(X, T, **kw),
                          Exact(losses), np.full(len(idx), LOSS_ULP)))
        cases.append(Case("softmax_cross_entropy dense grad", what,
                          lambda X=X, T=T, kw=kw: fastce.softmax_cross_entropy(
                              X, T, return_grad=True, **kw)[1].ravel(),
                          Exact(values), np.concatenate(bounds)))
    return cases


def sigmoid_cases(dt, heavy: bool = False) -> List[Case]:
    r = _rng("sigmoid-weights", dt)
    cases = []
    for what, x, z in sigmoid_corpus(dt, heavy):
        for weighted in (False, True):
            fn, kw = "sigmoid_cross_entropy", {}
            w = q = np.ones(x.size, dt)
            if weighted:
                w = r.uniform(0.1, 3.0, x.size).astype(dt)
                q = r.uniform(0.1, 5.0, x.size).astype(dt)
                fn, kw = fn + " weighted", dict(weight=w, pos_weight=q)
            losses, grads, bounds = [], [], []
            for X, Z, W, Q in zip(*(map(mpf, a.tolist()) for a in (x, z, w, q))):
                sp_neg, sp_pos = _softplus(-X), _softplus(X)
                terms = ([Q * Z * sp_neg] if Q * Z != 0 else []) + \
                        ([(1 - Z) * sp_pos] if Z != 1 else [])
                losses.append(W * mp.fsum(terms))
                # W ((1-Z) sigmoid(x) - Q Z sigmoid(-x)), sigmoid(x) = exp(-softplus(-x))
                a, b = (1 - Z) * mp.exp(-sp_neg), Q * Z * mp.exp(-sp_pos)
                grads.append(W * (a - b))
                cond = float(sp_neg if b == 0 else sp_pos if a == 0 else max(sp_neg, sp_pos))
                bounds.append((GRAD_BASE_ULP + cond) * subtraction_factor(a, b))
            bound = LOSS_ULP
            cases.append(Case(fn, what, lambda x=x, z=z, kw=kw: fastce.sigmoid_cross_entropy(
                x, z, reduction="none", **kw), Exact(losses), np.full(x.size, bound)))
            cases.append(Case(fn + " grad", what,
                              lambda x=x, z=z, kw=kw: fastce.sigmoid_cross_entropy(
                                  x, z, reduction="none", return_grad=True, **kw)[1],
                              Exact(grads), np.array(bounds)))
    return cases


def mean_cases(dt) -> List[Case]:
    """Reductions over N_MEAN samples: K distinct rows (C = 8), losses from
    ~1e-30 to ~60, repeated with random counts in random order, so the exact
    mean is sum_k n_k l_k / N with mpmath needed only for the K rows."""
    r = _rng("mean", dt)
    C, K = 8, 24
    X = np.empty((K, C))
    Y = r.integers(C, size=K)
    for i in range(K):
        a = r.uniform(-3, 3) + 0.1
        if i % 3 == 0:  # confident: tiny loss
            X[i] = a - r.uniform(5, 70) - np.abs(r.standard_normal(C))
            X[i, Y[i]] = a
        elif i % 3 == 1:  # random
            X[i] = 3 * r.standard_normal(C) + a
        else:  # confidently wrong: big loss
            X[i] = a + r.standard_normal(C)
            X[i, Y[i]] = a - r.uniform(5, 60)
    X = X.astype(dt)
    counts = r.multinomial(N_MEAN - K, np.full(K, 1.0 / K)) + 1
    idx = r.permutation(np.repeat(np.arange(K), counts))
    n = [mpf(int(c)) for c in counts]
    N = mpf(N_MEAN)
    L = [ExactRow(x).nlp(int(y)) for x, y in zip(X, Y)]
    total = mp.fsum(nk * lk for nk, lk in zip(n, L))
    what = f"{N_MEAN} samples, {K} distinct rows"
    big = {}  # the 2**21-row arrays, built on first use

    def arrays():
        if not big:
            big["x"], big["y"] = X[idx], Y[idx]
        return big["x"], big["y"]

    def ce(**kw):
        return lambda: fastce.softmax_cross_entropy(*arrays(), **kw)

    w = (np.linspace(0.3, 2.9, C) + 1 / 3).astype(dt)
    Wy = [mpf(float(w[int(y)])) for y in Y]
    wnum = mp.fsum(nk * wk * lk for nk, wk, lk in zip(n, Wy, L))
    wden = mp.fsum(nk * wk for nk, wk in zip(n, Wy))

    def dense_mean():
        x, y = arrays()
        return fastce.softmax_cross_entropy(x, np.eye(C, dtype=dt)[y], reduction="mean")

    xs = np.array([-37.3, -5.1, -0.3, 0.0, 0.7, 3.3, 17.9, 41.1], dtype=dt)
    zs = np.array([1.0, 0.0, 1.0, 0.5, 0.25, 0.0, 1.0, 0.0], dtype=dt)
    sl = []
    for a, b in zip(xs.tolist(), zs.tolist()):
        Xs, Zs = mpf(a), mpf(b)
        sl.append(mp.fsum(([Zs * _softplus(-Xs)] if Zs else [])
                          + ([(1 - Zs) * _softplus(Xs)] if Zs != 1 else [])))
    sidx = idx % xs.size
    stotal = mp.fsum(mpf(int(c)) * v for c, v in zip(np.bincount(sidx, minlength=8), sl))
    one = np.array([MEAN_ULP])
    return [
        Case("softmax_cross_entropy mean", what, ce(reduction="mean"), Exact([total / N]), one),
        Case("softmax_cross_entropy sum", what, ce(reduction="sum"), Exact([total]), one),
        Case("softmax_cross_entropy weighted mean", what, ce(weight=w, reduction="mean"),
             Exact([wnum / wden]), one),
        Case("softmax_cross_entropy dense mean", what, dense_mean, Exact([total / N]), one),
        Case("sigmoid_cross_entropy mean", what,
             lambda: fastce.sigmoid_cross_entropy(xs[sidx], zs[sidx], reduction="mean"),
             Exact([stotal / N]), one),
        Case("sigmoid_cross_entropy sum", what,
             lambda: fastce.sigmoid_cross_entropy(xs[sidx], zs[sidx], reduction="sum"),
             Exact([stotal]), one),
    ]


# ---------------------------------------------------------------- groups

GROUPS = {
    "softmax": ["logsumexp", "logsumexp, lse < 2^-48 |max|", "log_softmax", "softmax", "softmax_cross_entropy",
                "softmax_cross_entropy grad", "nll_loss"],
    "weighted": ["softmax_cross_entropy smoothing+weights",
                 "softmax_cross_entropy smoothing+weights grad", "nll_loss weighted"],
    "dense": ["softmax_cross_entropy dense", "softmax_cross_entropy dense grad"],
    "sigmoid": ["sigmoid_cross_entropy", "sigmoid_cross_entropy grad",
                "sigmoid_cross_entropy weighted", "sigmoid_cross_entropy weighted grad"],
    "mean": ["softmax_cross_entropy mean", "softmax_cross_entropy sum",
             "softmax_cross_entropy weighted mean", "softmax_cross_entropy dense mean",
             "sigmoid_cross_entropy mean", "sigmoid_cross_entropy sum"],
}

_ROWS: Dict[Tuple[str, bool], Tuple[List[Row], List[ExactRow]]] = {}
_CASES: Dict[Tuple[str, str, bool], List[Case]] = {}


def _rows(dt, heavy):
    key = (np.dtype(dt).name, heavy)
    if key not in _ROWS:
        rows = softmax_corpus(dt, heavy)
        cache: Dict[bytes, ExactRow] = {}  # rows that differ only in y share x
        exact = []
        for row in rows:
            key_x = row.x.tobytes()
            if key_x not in cache:
                cache[key_x] = ExactRow(row.x)
            exact.append(cache[key_x])
        _ROWS[key] = (rows, exact)
    return _ROWS[key]


def cases(group: str, dt, heavy: bool = False) -> List[Case]:
    key = (group, np.dtype(dt).name, heavy)
    if key not in _CASES:
        if group == "sigmoid":
            _CASES[key] = sigmoid_cases(dt, heavy)
        elif group == "mean":
            _CASES[key] = mean_cases(dt)
        else:
            build = {"softmax": softmax_cases, "weighted": weighted_cases,
                     "dense": dense_cases}[group]
            _CASES[key] = build(*_rows(dt, heavy), dt)
    return _CASES[key]


def run(group: str, dt, isa: Optional[str], heavy: bool = False) -> None:
    """Evaluate a group's cases with one instruction set; fills RECORDS."""
    with use_isa(isa):
        for case in cases(group, dt, heavy):
            errs = ulp_errors(case.call(), case.exact, dt)
            record(case.fn, dt, isa, errs, case.bounds, case.what)


_DONE = set()


def check(request, group: str, fn: str, dt, isa: Optional[str]) -> None:
    """Evaluate ``group`` once per (dtype, isa) and assert ``fn``'s bound; a
    known kernel issue turns the test into a strict xfail."""
    reason = (KNOWN_FAILURES.get((fn, np.dtype(dt).name, isa))
              or KNOWN_FAILURES.get((fn, np.dtype(dt).name, None)))
    if reason:
        request.node.add_marker(pytest.mark.xfail(strict=True, raises=AssertionError,
                                                  reason=reason))
    if (group, dt, isa) not in _DONE:
        _DONE.add((group, dt, isa))
        run(group, dt, isa)
    if _key(fn, dt, isa) not in RECORDS:
        pytest.skip(f"no {fn} values in the {np.dtype(dt).name} corpus")
    rec = RECORDS[_key(fn, dt, isa)]
    assert not rec.violations, (
        f"{fn} {np.dtype(dt).name} isa={isa}: max {rec.max_ulp:.4g} ulp\n"
        + "\n".join(rec.violations[:20]))


@pytest.fixture(scope="module", autouse=True)
def _print_table_and_free():
    yield
    if RECORDS:
        print("\n\naccuracy against mpmath (ulp of the result dtype)\n" + table())
    _CASES.clear()  # the 2**21-row arrays
    _ROWS.clear()


# ------------------------------------------------------------------ tests
# The instruction set comes from the ``isa`` fixture of conftest.py: each
# module runs once per instruction set the machine supports.

#: (function, dtype name, isa or None for every isa) -> reason, for contract
#: violations that are known kernel issues: the test becomes
#: xfail(strict=True), so the entry has to go when the kernel is fixed.
KNOWN_FAILURES: Dict[Tuple[str, str, Optional[str]], str] = {}


def _params(group: str):
    return [pytest.param(fn, dt, id=f"{fn.replace(' ', '_')}-{np.dtype(dt).name}")
            for dt in DTYPES for fn in GROUPS[group]]


@pytest.mark.parametrize("fn, dtype", _params("softmax"))
def test_softmax_family(request, fn, dtype, isa):
    check(request, "softmax", fn, dtype, isa)


@pytest.mark.parametrize("fn, dtype", _params("weighted"))
def test_label_smoothing_and_weights(request, fn, dtype, isa):
    check(request, "weighted", fn, dtype, isa)


@pytest.mark.parametrize("fn, dtype", _params("dense"))
def test_dense_soft_targets(request, fn, dtype, isa):
    check(request, "dense", fn, dtype, isa)


@pytest.mark.parametrize("fn, dtype", _params("sigmoid"))
def test_sigmoid(request, fn, dtype, isa):
    check(request, "sigmoid", fn, dtype, isa)


@pytest.mark.parametrize("fn, dtype", _params("mean"))
def test_reductions_over_two_million_samples(request, fn, dtype, isa):
    check(request, "mean", fn, dtype, isa)


@pytest.mark.parametrize("target", ["sparse", "dense one-hot at the max"])
def test_weighted_float64_loss_of_many_random_rows(isa, target):
    """Weights move the loss's significand away from lse_rel's, which can
    double an error counted in ulp: with lse_rel from libm's log1p and the
    AVX-512 exp of 1.02 ulp, 2.45 ulp on these 3000 sparse rows, and 2.1-2.5
    on the dense ones (the corpus above, fewer rows, stayed under 2). The
    float64 weighted losses take lse_rel as hi + lo now
    (fastce_log1p_dd_fast), and that exp is within 0.64 ulp. One row a call,
    each with its own class and sample weight."""
    r = np.random.default_rng(12 if target == "sparse" else 13)
    worst = 0.0
    for _ in range(3000):
        x = 3 * r.standard_normal(10)
        if target == "sparse":
            y = int(r.integers(0, 10))
            t = np.zeros(10)
            t[y] = 1.0
            tgt = np.array([y])
        else:
            r.dirichlet(np.ones(10) * 0.3)  # (the draw the 2.1-2.5 ulp were measured with)
            t = np.zeros(10)
            t[int(np.argmax(x))] = 1.0
            tgt = t[None, :]
        w, sw = r.uniform(0.1, 3.0, 10), r.uniform(0.1, 3.0, 1)
        got = fastce.softmax_cross_entropy(x[None, :], tgt, weight=w, sample_weight=sw,
                                           reduction="none")[0]
        m = mpf(float(x.max()))
        lse = m + mp.log(mp.fsum(mp.exp(mpf(float(v)) - m) for v in x))
        exact = mpf(float(sw[0])) * mp.fsum(mpf(float(w[j])) * (lse - mpf(float(x[j])))
                                             for j in range(10) if t[j])
        err = abs(mpf(float(got)) - exact) / mpf(float(np.spacing(float(exact))))
        worst = max(worst, float(err))
    print(f"\n{isa:6s} weighted float64 softmax CE, {target}, 3000 random rows: "
          f"max {worst:.3f} ulp")
    assert worst <= LOSS_ULP


@pytest.mark.parametrize("e", [0.0, 0.1])
def test_weighted_float64_loss_of_a_batch(isa, e):
    """The same in one call of 3000 rows (shared class weights, a sample
    weight a row): the row-parallel kernels' weighted loss in double-double
    (weighted_loss8 and weighted_loss4). In plain double lanes, rounding
    each product, AVX-512 was 2.24 ulp off without smoothing and 2.65 with
    it (a build with those lanes, commit message of this test)."""
    r = np.random.default_rng(14)
    N, C = 3000, 10
    x = 3 * r.standard_normal((N, C))
    y = r.integers(0, C, N)
    w, sw = r.uniform(0.1, 3.0, C), r.uniform(0.1, 3.0, N)
    got = fastce.softmax_cross_entropy(x, y, weight=w, sample_weight=sw, label_smoothing=e,
                                       reduction="none")
    W, E = [mpf(float(v)) for v in w], mpf(e)
    worst = 0.0
    for i in range(N):
        m = mpf(float(x[i].max()))
        lse = m + mp.log(mp.fsum(mp.exp(mpf(float(v)) - m) for v in x[i]))
        nl = [lse - mpf(float(v)) for v in x[i]]
        exact = mpf(float(sw[i])) * ((1 - E) * W[y[i]] * nl[y[i]]
                                     + E / C * mp.fsum(W[j] * nl[j] for j in range(C)))
        err = abs(mpf(float(got[i])) - exact) / mpf(float(np.spacing(float(exact))))
        worst = max(worst, float(err))
    print(f"\n{isa:6s} weighted float64 softmax CE, smoothing {e}, a batch of {N} rows: "
          f"max {worst:.3f} ulp")
    assert worst <= LOSS_ULP


@pytest.mark.parametrize("C, seed", [(31, 643), (31, 2321), (32, 489), (32, 655),
                                     (64, 98), (100, 12)])
def test_float64_dense_gradient_at_tied_maxima_with_weights(isa, C, seed):
    """A batch of 8 rows, each with 2-4 tied maxima, soft targets, class and
    sample weights and smoothing: float64 rows the row-parallel kernels take
    (contiguous rows up to 128 classes). With rest >= 1 there, the gradient
    is sw B / (1 + rest) - w t'; AVX-512's kernel summed B = sum w t'
    plainly and took 1 / (1 + rest) and a product where dense_row divides
    once, which put these batches' worst entry at 1.08-1.13 times its
    bound at 31 and 32 classes (seeds found by a search of 3000 a class
    count), and at 1.18 and 1.30 at 64 and 100 classes (a build that took
    those rows, without the fix; search of 600). With B compensated and
    one division, the kernel's entries are the generic path's."""
    r = np.random.default_rng(seed)
    X = 3 * r.standard_normal((8, C))
    for i in range(8):
        top = r.choice(C, size=int(r.integers(2, 5)), replace=False)
        X[i, top] = X[i].max() + 1.0
    T = np.stack([soft_target(r, C, np.float64) for _ in range(8)])
    w, sw = r.uniform(0.1, 3.0, C), r.uniform(0.1, 3.0, 8)
    g = fastce.softmax_cross_entropy(X, T, weight=w, sample_weight=sw, label_smoothing=0.1,
                                     reduction="none", return_grad=True)[1]
    E, W = mpf(0.1), [mpf(float(v)) for v in w]
    for i in range(8):
        cs = [W[j] * ((1 - E) * mpf(float(v)) + E / C) for j, v in enumerate(T[i].tolist())]
        values, bounds = _dense_grad(ExactRow(X[i]), cs, mpf(float(sw[i])))
        errs = ulp_errors(g[i], Exact(values), np.float64)
        j = int(np.argmax(errs / bounds))
        assert errs[j] <= bounds[j], f"row {i} class {j}: {errs[j]:.3f} ulp > {bounds[j]:.3f}"


def _rest_above_a_power_of_two(C: int, n: int, seed: int):
    """n rows of C logits whose max is 0 (class 0) and whose rest lies
    just above 2^-k, k = 3..44: class 1 holds it, the others lie 25-40
    below and add a little. log1p(rest), the tiny loss of class 0, lies
    just below 2^-k, where its last place is half the rest's."""
    r = np.random.default_rng(seed)
    k = r.integers(3, 45, n)
    x = r.uniform(-40.0, -25.0, (n, C))
    x[:, 0] = 0.0
    x[:, 1] = -k * math.log(2.0) + np.log1p(r.uniform(0.0, 2.0 ** -8, n))
    lse = [mp.log(mp.fsum(mp.exp(mpf(float(v))) for v in row)) for row in x]
    return x, lse


@pytest.mark.parametrize("C", [2, 4, 16, 40, 300])
@pytest.mark.parametrize("layout", ["rows", "side by side"])
def test_float64_rest_just_above_a_power_of_two(isa, C, layout):
    """The rest of a row in double, rounded before its log1p was taken,
    lost two units of the result's last place where the rest lies just
    above a power of two and log1p(rest), the loss of a confident row and
    its logsumexp, just below it: 2.1-2.2 ulp on the portable path, 2.2
    (AVX2, AVX-512) with few classes, 2.8-3.5 with more. Every float64
    path now carries the rest as hi + lo into a double-double log1p. The
    sample weight of the weighted loss puts its significand near 2 too."""
    n = 400
    x, lse = _rest_above_a_power_of_two(C, n, 100 + C)
    y = np.zeros(n, dtype=np.int64)
    sw = np.array([1.9999 * 2.0 ** math.floor(math.log2(float(v))) / float(v) for v in lse])
    onehot = np.eye(C)[y]
    axis = -1
    if layout == "side by side":  # (n, C) -> (C, n): class axis 0
        x, onehot, axis = np.ascontiguousarray(x.T), np.ascontiguousarray(onehot.T), 0
    results = {
        "loss": (fastce.softmax_cross_entropy(x, y, axis=axis, reduction="none"), lse),
        "loss with gradient": (fastce.softmax_cross_entropy(
            x, y, axis=axis, reduction="none", return_grad=True)[0], lse),
        "weighted loss": (fastce.softmax_cross_entropy(
            x, y, axis=axis, sample_weight=sw, weight=np.ones(C), reduction="none"),
            [mpf(float(s)) * v for s, v in zip(sw, lse)]),
        "dense loss": (fastce.softmax_cross_entropy(x, onehot, axis=axis, reduction="none"), lse),
        "logsumexp": (fastce.logsumexp(x, axis=axis), lse),
        "-log_softmax": (-np.take(fastce.log_softmax(x, axis=axis), 0, axis=axis), lse),
    }
    worst = {}
    for what, (got, exact) in results.items():
        worst[what] = max(float(abs(mpf(float(g)) - e) / mpf(float(np.spacing(float(e)))))
                          for g, e in zip(got, exact))
    print(f"\n{isa:6s} C={C} {layout}: " + ", ".join(f"{k} {v:.2f}" for k, v in worst.items()))
    assert max(worst.values()) <= LOSS_ULP, worst


@pytest.mark.parametrize("C, margin", [(1000, 25.3), (4000, 29.173), (10000, 22.765)])
@pytest.mark.parametrize("layout", ["rows", "side by side"])
def test_float64_many_equal_terms(isa, C, margin, layout):
    """One logit above C - 1 equal ones: every term of the rest the same,
    so whatever rounds in the sum rounds the same way each time. Summed as
    parts of up to 2.3% of each term in plain lanes (the exp's table value
    and the rest apart), the loss, logsumexp and log_softmax came out 3.7
    ulp off with the class axis last and 45 with it not last, a review
    found; each term rounded, its rounding error in those lanes, they are
    within an ulp."""
    x = np.full((16, C), -margin)
    x[:, 0] = 0.0
    exact = mp.log1p((C - 1) * mp.exp(-mpf(margin)))
    y = np.zeros(16, dtype=np.int64)
    axis = -1
    if layout == "side by side":
        x, axis = np.ascontiguousarray(x.T), 0
    got = {
        "loss": fastce.softmax_cross_entropy(x, y, axis=axis, reduction="none"),
        "loss with gradient": fastce.softmax_cross_entropy(
            x, y, axis=axis, reduction="none", return_grad=True)[0],
        "logsumexp": fastce.logsumexp(x, axis=axis),
        "-log_softmax": -np.take(fastce.log_softmax(x, axis=axis), 0, axis=axis),
    }
    spacing = mpf(float(np.spacing(float(exact))))
    worst = {k: max(float(abs(mpf(float(g)) - exact) / spacing) for g in v) for k, v in got.items()}
    print(f"\n{isa:6s} C={C} {layout}: " + ", ".join(f"{k} {v:.2f}" for k, v in worst.items()))
    assert max(worst.values()) <= LOSS_ULP, worst


def test_float64_deep_weighted_row(isa):
    """A row whose rest is far below the normal range (its other entries
    670-745 below the max) takes its terms scaled by 2^256; its weighted
    loss multiplies that scaled rest, which was rounded first: 2.84 ulp
    on every path (a review's row). Now hi + lo."""
    x = np.array([[-740.0720483783172, 2.717938710113507, -672.8023959922111,
                   -685.8231820081571]])
    wy, sw = 1.1774246751338793, 1.260614180647822
    m = mpf(float(x[0, 1]))
    rest = mp.fsum(mp.exp(mpf(float(v)) - m) for v in x[0] if v != x[0, 1])
    exact = mpf(sw) * mpf(wy) * mp.log1p(rest)
    for n in (1, 40):  # alone, and in a batch (the row kernels leave such rows to this path)
        X, Y = np.repeat(x, n, axis=0), np.ones(n, dtype=np.int64)
        got = fastce.softmax_cross_entropy(X, Y, weight=np.array([1.0, wy, 1.0, 1.0]),
                                           sample_weight=np.full(n, sw), reduction="none")
        err = max(float(abs(mpf(float(g)) - exact) / mpf(float(np.spacing(float(exact)))))
                  for g in got)
        assert err <= LOSS_ULP, (n, err)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", DTYPES)
def test_heavy_corpus(dtype, isa):
    """Five times the rows, three 131072-class rows of each kind: every
    bound but those of KNOWN_FAILURES (the default tests track those)."""
    saved = {k: len(v.violations) for k, v in RECORDS.items()}
    for group in ("softmax", "weighted", "dense", "sigmoid"):
        run(group, dtype, isa, heavy=True)
        _CASES.pop((group, np.dtype(dtype).name, True), None)
    _ROWS.pop((np.dtype(dtype).name, True), None)
    known = {k for k in RECORDS if (k[0], k[1], k[2]) in KNOWN_FAILURES
             or (k[0], k[1], None) in KNOWN_FAILURES}
    new = [f"{k[0]} {k[1]} isa={k[2]}: {v}" for k, rec in RECORDS.items() if k not in known
           for v in rec.violations[saved.get(k, 0):]]
    assert not new, "\n".join(new[:40])


def test_the_yardstick():
    """A correctly rounded value is within 0.5 ulp, the next float between
    0.5 and 1.5 ulp; an exact 0 is matched only by 0; exp(-1e30) is seen."""
    v = mp.log(2)
    for dt in DTYPES:
        r = dt(float(v))
        assert ulp_errors(np.array([r]), Exact([v]), dt)[0] <= 0.5
        nxt = np.nextafter(r, dt(1))
        assert 0.5 < ulp_errors(np.array([nxt]), Exact([v]), dt)[0] <= 1.5
        assert ulp_errors(np.array([dt(0)]), Exact([mpf(0)]), dt)[0] == 0
        tiny = np.finfo(dt).smallest_subnormal
        assert ulp_errors(np.array([tiny]), Exact([mpf(0)]), dt)[0] == 1
        assert ulp_errors(np.array([np.nan]), Exact([v]), dt)[0] == np.inf
    ex = ExactRow(np.array([0.0, -1e30]))
    assert 0 < ex.rest < mpf(10) ** -10**29
    assert ex.nlp(0) == ex.L and abs(ex.nlp(1) - mpf(1e30)) < 1


# ------------------------------------------------------------ script mode


def main(argv: List[str]) -> int:
    heavy = "--slow" in argv
    isas = available_isas()
    for isa in isas:
        for dt in DTYPES:
            for group in GROUPS:
                run(group, dt, isa, heavy=heavy and group != "mean")
    print(f"accuracy against mpmath ({DPS} digits), ulp of the result dtype; "
          f"corpus: {'heavy' if heavy else 'default'}; isas: {isas}")
    print(table())
    bad = [(k, v) for k, v in sorted(RECORDS.items()) if v.violations]
    for (fn, dt, isa), rec in bad:
        print(f"\n{fn} {dt} isa={isa}: {len(rec.violations)} violation(s)")
        for line in rec.violations[:10]:
            print("   ", line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
