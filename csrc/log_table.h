/* log_table.h: the table and polynomial of the AVX-512 float-accuracy
 * log (fastce512_log_ku_pd with float24, simd_avx512.h), printed by
 * tools/make_log_table.py (mpmath). For x = 2^k (1 + u), u exact in
 * [sqrt(1/2) - 1, sqrt(2) - 1]: v = round(16 (1 + u)) in 11..23, i = v mod 16
 * (one vpermt2pd each: sixteen doubles are two registers), INV[i] = 16/v
 * rounded, C[i] = -log(INV[i]) rounded, r = u INV + (INV - 1) (one FMA,
 * |r| <= 1/22), log x = k ln2 + C[i] + r + r^2 (P0 + P1 r + ... + P4 r^4),
 * P fitted for fastce to minimise the largest relative error of log1p(r):
 * 3.73e-11 (2^-34.6) with the coefficients rounded to double, on
 * [-0.04171, 0.04550] (0.1% margin). Entries 8..10 are never read. */
#ifndef FASTCE_LOG_TABLE_H
#define FASTCE_LOG_TABLE_H

#define FASTCE_LOG24_P0 -0.49999999921801636
#define FASTCE_LOG24_P1 0.333333117602121
#define FASTCE_LOG24_P2 -0.250002522668666
#define FASTCE_LOG24_P3 0.2003711221689446
#define FASTCE_LOG24_P4 -0.16543260704574184

#define FASTCE_LOG_INV0 1.0, 0.9411764705882353, 0.8888888888888888, 0.8421052631578947, 0.8, 0.7619047619047619, 0.7272727272727273, 0.6956521739130435
#define FASTCE_LOG_INV1 1.0, 1.0, 1.0, 1.4545454545454546, 1.3333333333333333, 1.2307692307692308, 1.1428571428571428, 1.0666666666666667
#define FASTCE_LOG_C0 0.0, 0.060624621816434854, 0.11778303565638351, 0.17185025692665928, 0.2231435513142097, 0.2719337154836418, 0.3184537311185346, 0.3629054936893685
#define FASTCE_LOG_C1 0.0, 0.0, 0.0, -0.3746934494414107, -0.28768207245178085, -0.20763936477824455, -0.13353139262452257, -0.06453852113757116

#endif /* FASTCE_LOG_TABLE_H */
