"""Print csrc/log_table.h: the table and polynomial of the AVX-512 float-accuracy log.

The float32 kernels' log (fastce512_log_ku_pd with float24 in simd_avx512.h)
takes x = 2^k (1 + u), u exact in [sqrt(1/2) - 1, sqrt(2) - 1]. With
v = round(16 (1 + u)), an integer in 11..23, and INV = 16/v rounded to double,
    log(1 + u) = log1p(r) - log(INV),  r = (1 + u) INV - 1 = u INV + (INV - 1),
one FMA (INV - 1 is exact by Sterbenz), so that |r| <= 1/22 and no division
is needed. The table is indexed by the low four bits of v (vpermt2pd reads
those), so v = 16..23 sit at 0..7 and v = 11..15 at 11..15; 8..10 are never
read (they hold v = 16). C[i] = -log(INV[i]) rounded to double, so the two
agree whatever the rounding of INV. log1p(r) = r + r^2 (P0 + P1 r + ... + P4 r^4)
with P fitted to minimise the largest relative error
|r^2 (p(r) - g(r))| / log1p(r), g(r) = (log1p(r) - r)/r^2, by Lawson's
iteratively reweighted least squares on Chebyshev nodes at 50 digits; the
error is then measured with the coefficients rounded to double on 4001
evenly spaced points.

    pip install mpmath && python tools/make_log_table.py > csrc/log_table.h
"""
import mpmath as mp

from c_header import print_coefficients, print_register_tables
from lawson import lawson_fit

mp.mp.dps = 50
DEGREE, NODES, ROUNDS = 4, 200, 80


def g(r):
    if r == 0:
        return mp.mpf(-1) / 2
    return (mp.log1p(r) - r) / r ** 2


def v_of(i):
    """The v = round(16 (1 + u)) whose low four bits are i."""
    if i < 8:
        return i + 16
    return i if i >= 11 else 16


def main():
    # the widest r: v = 11 from 1 + u >= sqrt(1/2) up to 11.5/16, and v = 12
    # down to 11.5/16 (0.1% margin)
    lo = -mp.mpf(1) / 24 * mp.mpf("1.001")
    hi = (mp.mpf("11.5") / 11 - 1) * mp.mpf("1.001")
    nodes = [(lo + hi) / 2 + (hi - lo) / 2 * mp.cos(mp.pi * (k + mp.mpf(0.5)) / NODES)
             for k in range(NODES)]
    coeffs = lawson_fit(nodes, [g(r) for r in nodes],
                        lambda r: r ** 2 / mp.log1p(r) if r else r, DEGREE, ROUNDS)
    grid = [lo + (hi - lo) * k / 4000 for k in range(4001)]
    worst = max(abs((r + r ** 2 * sum(mp.mpf(coeffs[j]) * r ** j for j in range(DEGREE + 1)))
                    / mp.log1p(r) - 1) for r in grid if r)
    inv = [float(mp.mpf(16) / v_of(i)) for i in range(16)]
    logc = [float(-mp.log(mp.mpf(x))) for x in inv]
    print(f"""/* log_table.h: the table and polynomial of the AVX-512 float-accuracy
 * log (fastce512_log_ku_pd with float24, simd_avx512.h), printed by
 * tools/make_log_table.py (mpmath). For x = 2^k (1 + u), u exact in
 * [sqrt(1/2) - 1, sqrt(2) - 1]: v = round(16 (1 + u)) in 11..23, i = v mod 16
 * (one vpermt2pd each: sixteen doubles are two registers), INV[i] = 16/v
 * rounded, C[i] = -log(INV[i]) rounded, r = u INV + (INV - 1) (one FMA,
 * |r| <= 1/22), log x = k ln2 + C[i] + r + r^2 (P0 + P1 r + ... + P4 r^4),
 * P fitted for fastce to minimise the largest relative error of log1p(r):
 * {float(worst):.2e} (2^{float(mp.log(worst, 2)):.1f}) with the coefficients rounded to double, on
 * [{float(lo):.5f}, {float(hi):.5f}] (0.1% margin). Entries 8..10 are never read. */
#ifndef FASTCE_LOG_TABLE_H
#define FASTCE_LOG_TABLE_H
""")
    print_coefficients("FASTCE_LOG24_P", coeffs)
    print()
    print_register_tables("FASTCE_LOG_", (("INV", inv), ("C", logc)))
    print("\n#endif /* FASTCE_LOG_TABLE_H */")


if __name__ == "__main__":
    main()
