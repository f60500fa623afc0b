/* simd_avx2_dd.h: double-double arithmetic and exp in four double lanes
 * (AVX2 + FMA), the twins of simd_avx512_dd.h: the same steps as ddmath.h's
 * scalar fastce_two_sum, fastce_dd_add, fastce_dd_mul, fastce_dd_exp and
 * fastce_dd_acc_add, lane by lane. AVX2 has no 64-bit integer conversions
 * and no vscalef: k comes from the 1.5*2^52 shift as a double, n = floor(k/64)
 * and j = k - 64 n exactly in double, the table is gathered with 32-bit
 * indices, and 2^n is applied in two exact halves (so that a subnormal
 * result rounds once, as ldexp has it). Included only by vec_avx2.c. */
#ifndef FASTCE_SIMD_AVX2_DD_H
#define FASTCE_SIMD_AVX2_DD_H

#include <immintrin.h>

#include "dd_exp_table.h"

typedef struct {
    __m256d hi, lo;
} fastce256_dd;

static inline fastce256_dd fastce256_two_sum(__m256d a, __m256d b) {
    __m256d s = _mm256_add_pd(a, b), bb = _mm256_sub_pd(s, a);
    return (fastce256_dd){s, _mm256_add_pd(_mm256_sub_pd(a, _mm256_sub_pd(s, bb)),
                                           _mm256_sub_pd(b, bb))};
}

static inline fastce256_dd fastce256_fast_two_sum(__m256d a, __m256d b) {
    __m256d s = _mm256_add_pd(a, b);
    return (fastce256_dd){s, _mm256_sub_pd(b, _mm256_sub_pd(s, a))};
}

static inline fastce256_dd fastce256_two_prod(__m256d a, __m256d b) {
    __m256d p = _mm256_mul_pd(a, b);
    return (fastce256_dd){p, _mm256_fmsub_pd(a, b, p)};
}

static inline fastce256_dd fastce256_dd_add(fastce256_dd x, fastce256_dd y) {
    fastce256_dd s = fastce256_two_sum(x.hi, y.hi), t = fastce256_two_sum(x.lo, y.lo);
    s = fastce256_fast_two_sum(s.hi, _mm256_add_pd(s.lo, t.hi));
    return fastce256_fast_two_sum(s.hi, _mm256_add_pd(s.lo, t.lo));
}

static inline fastce256_dd fastce256_dd_mul(fastce256_dd x, fastce256_dd y) {
    fastce256_dd p = fastce256_two_prod(x.hi, y.hi);
    __m256d cross = _mm256_add_pd(_mm256_mul_pd(x.hi, y.lo), _mm256_mul_pd(x.lo, y.hi));
    return fastce256_fast_two_sum(p.hi, _mm256_add_pd(p.lo, cross));
}

/* 2^n for integral n in [-1022, 1023], as a double built from its bits. */
static inline __m256d fastce256_pow2(__m256d n) {
    __m128i ni = _mm256_cvtpd_epi32(n);
    __m256i e = _mm256_slli_epi64(_mm256_add_epi64(_mm256_cvtepi32_epi64(ni),
                                                   _mm256_set1_epi64x(1023)), 52);
    return _mm256_castsi256_pd(e);
}

/* exp(a) as hi + lo, a in [-746, 0] in every lane (fastce_dd_exp). Other
 * lanes give unspecified values but index the table within its bounds. */
static inline fastce256_dd fastce256_dd_exp(__m256d a) {
    const __m256d shift = _mm256_set1_pd(0x1.8p52);
    __m256d kd = _mm256_sub_pd(_mm256_add_pd(_mm256_mul_pd(a, _mm256_set1_pd(FASTCE_DD_64_LN2)),
                                             shift), shift);
    __m256d n = _mm256_floor_pd(_mm256_mul_pd(kd, _mm256_set1_pd(1.0 / 64)));
    __m256d jd = _mm256_fnmadd_pd(n, _mm256_set1_pd(64.0), kd); /* exact, 0..63 */
    /* a lane outside [-746, 0] (NaN, which callers leave out) must not
     * index outside the table: max gives 0 for NaN */
    jd = _mm256_min_pd(_mm256_max_pd(jd, _mm256_setzero_pd()), _mm256_set1_pd(63.0));
    __m256d r1 = _mm256_fnmadd_pd(kd, _mm256_set1_pd(FASTCE_DD_LN2_64_1), a); /* exact */
    fastce256_dd p2 = fastce256_two_prod(kd, _mm256_set1_pd(FASTCE_DD_LN2_64_2));
    fastce256_dd r = fastce256_two_sum(r1, _mm256_sub_pd(_mm256_setzero_pd(), p2.hi));
    r = fastce256_fast_two_sum(r.hi, _mm256_sub_pd(r.lo, _mm256_add_pd(
        p2.lo, _mm256_mul_pd(kd, _mm256_set1_pd(FASTCE_DD_LN2_64_3)))));
    __m256d t = _mm256_set1_pd(1.0 / 39916800.0);
    t = _mm256_add_pd(_mm256_set1_pd(1.0 / 3628800.0), _mm256_mul_pd(r.hi, t));
    t = _mm256_add_pd(_mm256_set1_pd(1.0 / 362880.0), _mm256_mul_pd(r.hi, t));
    t = _mm256_add_pd(_mm256_set1_pd(1.0 / 40320.0), _mm256_mul_pd(r.hi, t));
    t = _mm256_add_pd(_mm256_set1_pd(1.0 / 5040.0), _mm256_mul_pd(r.hi, t));
    fastce256_dd u = fastce256_dd_mul(r, (fastce256_dd){t, _mm256_setzero_pd()});
    for (int i = 6; i >= 1; i--)
        u = fastce256_dd_mul(r, fastce256_dd_add((fastce256_dd){_mm256_set1_pd(FASTCE_DD_INV_FACT[i][0]),
                                                                _mm256_set1_pd(FASTCE_DD_INV_FACT[i][1])},
                                                 u));
    /* T = 2^(j/64): its first two parts (rows of three doubles: index 3j) */
    __m128i j3 = _mm256_cvtpd_epi32(_mm256_mul_pd(jd, _mm256_set1_pd(3.0)));
    fastce256_dd T = {_mm256_i32gather_pd(&FASTCE_DD_EXP2_64[0][0], j3, 8),
                      _mm256_i32gather_pd(&FASTCE_DD_EXP2_64[0][1], j3, 8)};
    fastce256_dd e = fastce256_dd_add(T, fastce256_dd_mul(T, u));
    /* 2^n in two halves n1 + n2, each a normal power of two (n >= -1077) */
    __m256d n1 = _mm256_floor_pd(_mm256_mul_pd(n, _mm256_set1_pd(0.5)));
    __m256d s1 = fastce256_pow2(n1), s2 = fastce256_pow2(_mm256_sub_pd(n, n1));
    return (fastce256_dd){_mm256_mul_pd(_mm256_mul_pd(e.hi, s1), s2),
                          _mm256_mul_pd(_mm256_mul_pd(e.lo, s1), s2)};
}

/* Lane-wise fastce_dd_acc_add: a sum of double-doubles in three words. */
static inline void fastce256_dd_acc_add(__m256d *hi, __m256d *mid, __m256d *lo, fastce256_dd t) {
    fastce256_dd h = fastce256_two_sum(*hi, t.hi);
    fastce256_dd m = fastce256_two_sum(*mid, t.lo);
    fastce256_dd m2 = fastce256_two_sum(m.hi, h.lo);
    *hi = h.hi;
    *mid = m2.hi;
    *lo = _mm256_add_pd(*lo, _mm256_add_pd(m.lo, m2.lo));
}

#endif /* FASTCE_SIMD_AVX2_DD_H */
