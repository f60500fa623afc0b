"""Print csrc/exp_table.h: the table and polynomial of the AVX-512 double exp.

exp(x) = 2^(k/16) exp(r), k = round(16 x / ln2), r = x - k ln2/16, so
|r| <= ln2/32 (with 0.1% margin for the rounding of k). The table holds
2^(j/16), j = 0..15, as hi + lo (hi rounded to double, lo the rest rounded);
exp(r) = 1 + r + r^2 p(r) with p of degree 4 fitted to minimise the largest
|r^2 (p(r) - g(r))|, g(r) = (exp(r) - 1 - r)/r^2, by Lawson's iteratively
reweighted least squares on Chebyshev nodes at 50 digits; the error is then
measured with the coefficients rounded to double on 4001 evenly spaced
points.

    pip install mpmath && python tools/fit_exp_table.py > csrc/exp_table.h
"""
import mpmath as mp

from c_header import print_coefficients, print_register_tables
from lawson import lawson_fit

mp.mp.dps = 50
DEGREE, NODES, ROUNDS = 4, 200, 120


def g(r):
    if r == 0:
        return mp.mpf(1) / 2
    return (mp.exp(r) - 1 - r) / r ** 2


def fit(rmax):
    nodes = [rmax * mp.cos(mp.pi * (k + mp.mpf(0.5)) / NODES) for k in range(NODES)]
    return lawson_fit(nodes, [g(r) for r in nodes], lambda r: r ** 2, DEGREE, ROUNDS)


def main():
    rmax = mp.log(2) / 32 * mp.mpf("1.001")
    coeffs = fit(rmax)
    grid = [rmax * (2 * mp.mpf(k) / 4000 - 1) for k in range(4001)]
    worst = max(abs((1 + r + r ** 2 * sum(mp.mpf(coeffs[j]) * r ** j for j in range(DEGREE + 1)))
                    / mp.exp(r) - 1) for r in grid)
    hi = [float(mp.mpf(2) ** (mp.mpf(j) / 16)) for j in range(16)]
    lo = [float(mp.mpf(2) ** (mp.mpf(j) / 16) - mp.mpf(h)) for j, h in enumerate(hi)]
    c_hi = float(mp.log(2) / 16)
    c_lo = float(mp.log(2) / 16 - mp.mpf(c_hi))
    print(f"""/* exp_table.h: the table and polynomial of the AVX-512 double exp
 * (fastce512_exp_pd in simd_avx512.h), printed by tools/fit_exp_table.py
 * (mpmath). exp(x) = 2^(k/16) exp(r), k = round(16 x / ln2),
 * r = x - k (LN2_16_HI + LN2_16_LO), |r| <= ln2/32; 2^(j/16) = HI[j] + LO[j]
 * (j = k mod 16, one vpermt2pd each: sixteen doubles are two registers);
 * exp(r) = 1 + r + r^2 (P0 + P1 r + ... + P4 r^4), fitted for fastce to
 * minimise the largest |r^2 (p - g)|, g = (exp(r) - 1 - r)/r^2: relative
 * error {float(worst):.2e} (2^{float(mp.log(worst, 2)):.1f}) with the coefficients
 * rounded to double, on |r| <= ln2/32 with 0.1% margin. */
#ifndef FASTCE_EXP_TABLE_H
#define FASTCE_EXP_TABLE_H
""")
    print(f"#define FASTCE_EXP_LN2_16_HI {c_hi!r}")
    print(f"#define FASTCE_EXP_LN2_16_LO {c_lo!r}")
    print(f"#define FASTCE_EXP_16_LN2 {float(16 / mp.log(2))!r}")
    print_coefficients("FASTCE_EXP_P", coeffs)
    print()
    print_register_tables("FASTCE_EXP_", (("HI", hi), ("LO", lo)))
    print("\n#endif /* FASTCE_EXP_TABLE_H */")


if __name__ == "__main__":
    main()
