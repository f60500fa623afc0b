"""Print csrc/dd_exp_table.h: the constants of the double-double exp
(fastce_dd_exp in csrc/ddmath.h).

exp(a) = 2^n 2^(j/64) exp(r) with k = 64 n + j = round(64 a / ln2) and
r = a - k ln2/64, |r| <= ln2/128 (a little more from the rounding of k).
ln2/64 is split in three: the first part has 36 significant bits, so k times
it is exact for |k| < 2^17 (|a| < 1000); 2^(j/64) is rounded to three
parts (exp uses the first two, expm1 all three).
All from mpmath at 400 bits.

    pip install mpmath && python tools/make_dd_exp_table.py > csrc/dd_exp_table.h
"""
import math

import mpmath as mp

mp.mp.prec = 400


def dd(v):
    hi = float(v)
    return hi, float(v - mp.mpf(hi))


def td(v):
    hi = float(v)
    mid = float(v - mp.mpf(hi))
    return hi, mid, float(v - mp.mpf(hi) - mp.mpf(mid))


def main():
    L = mp.log(2) / 64
    e = int(mp.floor(mp.log(L, 2)))
    L1 = mp.nint(L / mp.mpf(2) ** (e - 35)) * mp.mpf(2) ** (e - 35)  # 36 bits
    L2 = float(L - L1)
    L3 = float(L - L1 - mp.mpf(L2))
    print("""/* dd_exp_table.h: the constants of the double-double exp (fastce_dd_exp in
 * ddmath.h), printed by tools/make_dd_exp_table.py (mpmath, 400 bits).
 * exp(a) = 2^n 2^(j/64) exp(r), k = 64 n + j = round(a * 64/ln2),
 * r = a - k (LN2_64_1 + LN2_64_2 + LN2_64_3): LN2_64_1 has 36 significant
 * bits, so k LN2_64_1 is exact for |k| < 2^17; 2^(j/64) = EXP2_64[j][0] +
 * EXP2_64[j][1] + EXP2_64[j][2] (three parts: expm1 subtracts 1 from it,
 * and the third keeps that difference exact to far below its size);
 * INV_FACT[i] = 1/i! as hi + lo, i = 2..6. */
#ifndef FASTCE_DD_EXP_TABLE_H
#define FASTCE_DD_EXP_TABLE_H
""")
    print("#define FASTCE_DD_64_LN2 %s" % float(64 / mp.log(2)).hex())
    print("#define FASTCE_DD_LN2_64_1 %s" % float(L1).hex())
    print("#define FASTCE_DD_LN2_64_2 %s" % L2.hex())
    print("#define FASTCE_DD_LN2_64_3 %s" % L3.hex())
    print()
    print("static const double FASTCE_DD_INV_FACT[7][2] = {")
    rows = ["    {0x0.0p+0, 0x0.0p+0}", "    {0x1.0p+0, 0x0.0p+0}"]
    for i in range(2, 7):
        hi, lo = dd(1 / mp.mpf(math.factorial(i)))
        rows.append("    {%s, %s}" % (hi.hex(), lo.hex()))
    print(",\n".join(rows) + "};")
    print()
    print("static const double FASTCE_DD_EXP2_64[64][3] = {")
    rows = []
    for j in range(64):
        rows.append("    {%s, %s, %s}" % tuple(v.hex() for v in td(mp.mpf(2) ** (mp.mpf(j) / 64))))
    print(",\n".join(rows) + "};")
    print()
    print("#endif /* FASTCE_DD_EXP_TABLE_H */")


if __name__ == "__main__":
    main()
