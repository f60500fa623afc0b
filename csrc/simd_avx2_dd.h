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
#include "log_series.h"

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

/* fastce512_log1p_dd (simd_avx512_dd.h) in four lanes: log1p(u) as hi + lo
 * for u >= 0 finite; the exponent and significand of 1 + u from its bits. */
static inline fastce256_dd fastce256_log1p_dd(__m256d u) {
    const __m256d one = _mm256_set1_pd(1.0), half = _mm256_set1_pd(0.5);
    const __m256d ln2_hi = _mm256_set1_pd(6.93147180559945286e-01);
    const __m256d ln2_lo = _mm256_set1_pd(2.31904681384629956e-17);
    __m256d w = _mm256_add_pd(one, u);
    __m256d c = _mm256_sub_pd(u, _mm256_sub_pd(w, one)); /* exact: w >= 1 */
    __m256i bits = _mm256_castpd_si256(w);
    /* the biased exponent as a double, exactly: the bits of 2^52 + e, less
     * 2^52 + 1023; the significand with the exponent of 1 */
    __m256d k = _mm256_sub_pd(
        _mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(bits, 52),
                                            _mm256_set1_epi64x(0x4330000000000000LL))),
        _mm256_set1_pd(4503599627371519.0));
    __m256d f = _mm256_castsi256_pd(_mm256_or_si256(
        _mm256_and_si256(bits, _mm256_set1_epi64x(0x000fffffffffffffLL)),
        _mm256_set1_epi64x(0x3ff0000000000000LL)));
    __m256d big = _mm256_cmp_pd(f, _mm256_set1_pd(1.4142135623730951), _CMP_GE_OQ);
    f = _mm256_blendv_pd(f, _mm256_mul_pd(f, half), big);
    k = _mm256_add_pd(k, _mm256_and_pd(big, one));
    __m256d v = _mm256_sub_pd(f, one); /* exact */
    fastce256_dd h = fastce256_two_prod(_mm256_mul_pd(half, v), v);
    __m256d s = _mm256_div_pd(v, _mm256_add_pd(_mm256_set1_pd(2.0), v)), z = _mm256_mul_pd(s, s);
    __m256d R = _mm256_set1_pd(FASTCE_LOG_G6);
    R = _mm256_fmadd_pd(z, R, _mm256_set1_pd(FASTCE_LOG_G5));
    R = _mm256_fmadd_pd(z, R, _mm256_set1_pd(FASTCE_LOG_G4));
    R = _mm256_fmadd_pd(z, R, _mm256_set1_pd(FASTCE_LOG_G3));
    R = _mm256_fmadd_pd(z, R, _mm256_set1_pd(FASTCE_LOG_G2));
    R = _mm256_fmadd_pd(z, R, _mm256_set1_pd(FASTCE_LOG_G1));
    R = _mm256_mul_pd(z, _mm256_fmadd_pd(z, R, _mm256_set1_pd(FASTCE_LOG_G0)));
    fastce256_dd lf = fastce256_two_sum(v, _mm256_sub_pd(_mm256_setzero_pd(), h.hi));
    /* c/w as q + q_lo: one division (1/w), the residual c - q w by fma */
    const __m256d inv_w = _mm256_div_pd(_mm256_set1_pd(1.0), w);
    __m256d q = _mm256_mul_pd(c, inv_w), q_lo = _mm256_mul_pd(_mm256_fnmadd_pd(q, w, c), inv_w);
    __m256d small = _mm256_add_pd(
        _mm256_add_pd(_mm256_sub_pd(_mm256_mul_pd(s, _mm256_add_pd(h.hi, R)), h.lo), lf.lo),
        _mm256_sub_pd(q_lo, _mm256_mul_pd(_mm256_mul_pd(half, q), q)));
    fastce256_dd kl = fastce256_two_prod(k, ln2_hi);
    fastce256_dd t = fastce256_two_sum(kl.hi, lf.hi);
    fastce256_dd t2 = fastce256_two_sum(t.hi, q);
    fastce256_dd r = fastce256_fast_two_sum(
        t2.hi, _mm256_add_pd(t2.lo, _mm256_add_pd(t.lo, _mm256_add_pd(kl.lo, _mm256_fmadd_pd(
                                                                   k, ln2_lo, small)))));
    __m256d tiny = _mm256_cmp_pd(u, _mm256_set1_pd(0x1p-60), _CMP_LT_OQ);
    if (_mm256_movemask_pd(tiny)) {
        fastce256_dd a = fastce256_two_sum(u, _mm256_mul_pd(_mm256_mul_pd(_mm256_set1_pd(-0.5), u), u));
        r.hi = _mm256_blendv_pd(r.hi, a.hi, tiny);
        r.lo = _mm256_blendv_pd(r.lo, a.lo, tiny);
    }
    return r;
}

#endif /* FASTCE_SIMD_AVX2_DD_H */
